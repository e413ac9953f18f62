"""Camp passes as one PM shared by up to 30 campers of the same check (pass_message: shared)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.world import RULES
from worker import actions as a
from worker.engine import camp
from worker.engine.limits import MAX_MESSAGE_RECIPIENTS

NOW = datetime(2026, 3, 30, 1, tzinfo=UTC)
STARTED = NOW - timedelta(days=RULES.camp.duration_days + 1)
PROGRESS = camp.CampProgress(True, (), (), 0)


def _rules(pass_message: str):
    return RULES.model_copy(
        update={"camp": RULES.camp.model_copy(update={"pass_message": pass_message})}
    )


def _run(verdicts: list[str], *, languages: dict[int, str] | None = None, referrer=None):
    languages = languages or {}
    return [
        (
            camp.Camper(
                100 + i, f"camper{i:03d}", STARTED, referrer=referrer, language=languages.get(i)
            ),
            camp.CampVerdict(v, PROGRESS, (), NOW),
        )
        for i, v in enumerate(verdicts)
    ]


def _pms(actions) -> list[a.SendPrivateMessage]:
    return [x for x in actions if isinstance(x, a.SendPrivateMessage)]


def test_the_shipped_rules_share_the_pass_message() -> None:
    assert RULES.camp.pass_message == "shared"


@pytest.mark.parametrize(
    ("passed", "expected_sizes"),
    [
        pytest.param(1, [1], id="one pass: one PM"),
        pytest.param(30, [30], id="thirty: one PM, Discourse's recipient limit"),
        pytest.param(65, [30, 30, 5], id="sixty-five: three PMs of at most thirty"),
    ],
)
def test_passes_of_one_check_share_pms_of_at_most_thirty(passed, expected_sizes) -> None:
    actions = camp.run_actions(
        _rules("shared"), _run(["pass"] * passed), audit_category_id=9, now=NOW
    )
    pms = _pms(actions)
    assert [len(x.recipients) for x in pms] == expected_sizes
    assert all(len(x.recipients) <= MAX_MESSAGE_RECIPIENTS for x in pms)
    everyone = [r for x in pms for r in x.recipients]
    assert sorted(everyone) == [f"camper{i:03d}" for i in range(passed)]  # each once
    assert not [x for x in actions if x.key.startswith("camp-passed:")]


def test_extensions_removals_and_referrers_stay_individual() -> None:
    decided = _run(["pass", "pass", "extend", "fail"], referrer="founder")
    pms = _pms(camp.run_actions(_rules("shared"), decided, audit_category_id=9, now=NOW))
    assert sorted(x.recipients for x in pms) == sorted(
        [
            ("camper000", "camper001"),  # the shared pass
            ("camper002",),  # extended
            ("camper003",),  # removed
            ("founder",),  # told of camper000's pass
            ("founder",),  # ... camper001's
            ("founder",),  # ... camper003's removal
        ]
    )


def test_each_language_gets_its_own_shared_pm() -> None:
    decided = _run(["pass"] * 4, languages={0: "en", 2: "en"})
    pms = _pms(camp.run_actions(_rules("shared"), decided, audit_category_id=9, now=NOW))
    by_recipients = {x.recipients: x for x in pms}
    assert set(by_recipients) == {("camper000", "camper002"), ("camper001", "camper003")}
    assert by_recipients[("camper000", "camper002")].title == "You passed the camp"


def test_a_shared_pm_mentions_nobody_and_names_each_recipient() -> None:
    [pm] = _pms(
        camp.run_actions(_rules("shared"), _run(["pass"] * 3), audit_category_id=9, now=NOW)
    )
    assert "@" not in pm.raw
    assert all(f"camper{i:03d}" in pm.raw for i in range(3))


def test_a_retry_of_the_run_is_the_same_pms_and_another_run_another() -> None:
    rules = _rules("shared")
    once = _pms(camp.run_actions(rules, _run(["pass"] * 40), audit_category_id=9, now=NOW))
    again = _pms(camp.run_actions(rules, _run(["pass"] * 40), audit_category_id=9, now=NOW))
    other = _pms(camp.run_actions(rules, _run(["pass"] * 41), audit_category_id=9, now=NOW))
    assert [x.key for x in once] == [x.key for x in again]
    assert len({x.key for x in once}) == 2
    assert [x.key for x in other][1] != [x.key for x in once][1]


def test_individual_pass_messages_are_one_pm_each() -> None:
    pms = _pms(
        camp.run_actions(_rules("individual"), _run(["pass"] * 3), audit_category_id=9, now=NOW)
    )
    assert [x.recipients for x in pms] == [("camper000",), ("camper001",), ("camper002",)]
    assert [x.key for x in pms] == ["camp-passed:100", "camp-passed:101", "camp-passed:102"]
