"""What members and leaders receive reads well: a title that says what a PM is about,
links they can click, weeks as dates, the ring explained, an appeal route.

The story of ``test_rules_placeholders._tour`` is told once per language and every PM
the engines plan is collected.
"""

from __future__ import annotations

import dataclasses
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


# The words that say the ring wraps, per language.
RING_WRAPS = {"zh": "最后一位点评第一位", "en": "the last reviews the first"}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_weekly_thread_explains_that_the_last_reviews_the_first(lang: str) -> None:
    from tests.test_obligations_support import W47, squad
    from worker.engine.obligations import plan_weekly_threads

    rules = speaking(lang)
    sq = dataclasses.replace(squad("lead", "alice", "bob", leader="lead"), category_id=5)
    (thread,) = plan_weekly_threads(rules, [sq], W47, {})
    assert isinstance(thread, a.CreateTopic)
    assert RING_WRAPS[lang] in thread.raw
