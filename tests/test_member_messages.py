"""What members and leaders receive reads well: a title that says what a PM is about,
links they can click, weeks as dates, the ring explained, an appeal route.

The story of ``test_rules_placeholders._tour`` is told once per language and every PM
the engines plan is collected.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.test_message_languages import speaking
from tests.test_rules_placeholders import _tour
from worker import actions as a


def _pms(monkeypatch: pytest.MonkeyPatch, lang: str) -> list[a.SendPrivateMessage]:
    sent: list[a.SendPrivateMessage] = []

    class Recorded(a.SendPrivateMessage):  # the engines build PMs as a.SendPrivateMessage
        __slots__ = ()

        def __post_init__(self) -> None:
            sent.append(self)

    monkeypatch.setattr(a, "SendPrivateMessage", dataclass(frozen=True, kw_only=True)(Recorded))
    _tour(speaking(lang))
    return sent


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_pm_is_titled_with_the_bare_community_name(
    monkeypatch: pytest.MonkeyPatch, lang: str
) -> None:
    rules = speaking(lang)
    pms = _pms(monkeypatch, lang)
    assert len(pms) > 10
    bare = [pm.key for pm in pms if pm.title.strip() == rules.community.name]
    assert bare == []
