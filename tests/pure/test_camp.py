"""The probation camp: days in the community time zone, tasks, verdicts and their writes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from worker.engine.camp import (
    Camper,
    CampPost,
    camp_end,
    evaluate_camp,
    verdict_actions,
    welcome_actions,
)
from worker.rules import Rules, load_rules

RULES = load_rules(Path(__file__).resolve().parents[2] / "rules")
SH = ZoneInfo("Asia/Shanghai")
# Approved on Monday 2026-11-02 at 10:00 in Shanghai: camp days are Nov 2 .. Nov 8 (local),
# the camp ends at Nov 9 00:00 Shanghai = Nov 8 16:00 UTC.
START = datetime(2026, 11, 2, 10, 0, tzinfo=SH)
END = datetime(2026, 11, 9, 0, 0, tzinfo=SH)
FELLOWS = frozenset({"alice", "bob", "carol", "dave", "newbie"})
CAMPER = Camper(user_id=7, username="newbie", started_at=START, referrer="mentor")
_ids = count(1)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SH)


def post(at: datetime, **kw: Any) -> CampPost:
    base: dict[str, Any] = {"id": next(_ids), "created_at": at.astimezone(UTC), "units": 30}
    base.update(kw)
    return CampPost(**base)


def intro(at: datetime | None = None) -> CampPost:
    return post(at or local(2, 11), category="introductions", is_topic=True, units=150)


def checkin(at: datetime) -> CampPost:
    return post(at, category="checkins", is_topic=False)


def reply(at: datetime, to: str, units: int = 30) -> CampPost:
    return post(at, category="introductions", reply_to=to, units=units)


def complete(days: int = 5, fellows: tuple[str, ...] = ("alice", "bob", "carol")) -> list[CampPost]:
    posts = [intro()]
    posts += [checkin(local(2 + d, 20)) for d in range(days)]
    posts += [reply(local(3, 12), f) for f in fellows]
    return posts


def with_camp(rules: Rules = RULES, **changes: Any) -> Rules:
    return rules.model_copy(update={"camp": rules.camp.model_copy(update=changes)})


def test_camp_ends_at_local_midnight_after_its_seventh_day() -> None:
    assert camp_end(RULES, START) == END
    assert camp_end(RULES, START, extensions=1) == END + timedelta(days=7)
    # Approved at 23:30 Shanghai on Nov 1 (15:30 UTC): Nov 1 is day 1 all the same.
    late = datetime(2026, 11, 1, 15, 30, tzinfo=UTC)
    assert camp_end(RULES, late) == datetime(2026, 11, 8, 0, 0, tzinfo=SH)
    # Approved at 00:30 Shanghai on Nov 2 (Nov 1 16:30 UTC): Nov 2 is day 1.
    early = datetime(2026, 11, 1, 16, 30, tzinfo=UTC)
    assert camp_end(RULES, early) == END


@pytest.mark.parametrize(
    ("behaviour", "now", "verdict"),
    [
        (
            "one second before the end it is still in progress",
            END - timedelta(seconds=1),
            "in_progress",
        ),
        ("at the end's local midnight the verdict is given", END, "pass"),
        ("a day later the verdict still stands", END + timedelta(days=1), "pass"),
    ],
)
def test_verdict_comes_at_the_end(behaviour: str, now: datetime, verdict: str) -> None:
    result = evaluate_camp(RULES, CAMPER, complete(), FELLOWS, now)
    assert result.verdict == verdict


CHECKIN_CASES = [
    ("five days pass", [local(d, 20) for d in range(2, 7)], 5),
    ("four days are not enough", [local(d, 20) for d in range(2, 6)], 4),
    (
        "two posts on one day are one day",
        [local(2, 20), local(2, 21)] + [local(d, 20) for d in range(3, 6)],
        4,
    ),
    (
        "23:30 and 00:30 local are two days though one UTC date",
        [local(3, 23, 30), local(4, 0, 30), local(5, 20), local(6, 20), local(7, 20)],
        5,
    ),
    (
        "07:00 and 09:00 local are one day though two UTC dates",
        [local(4, 7), local(4, 9), local(5, 20), local(6, 20), local(7, 20)],
        4,
    ),
    (
        "23:59 local on the last day counts",
        [local(d, 20) for d in range(2, 6)] + [local(8, 23, 59)],
        5,
    ),
    (
        "00:00 local after the last day does not count",
        [local(d, 20) for d in range(2, 6)] + [local(9, 0, 0)],
        4,
    ),
    (
        "a check-in before the approval does not count",
        [local(2, 9)] + [local(d, 20) for d in range(3, 7)],
        4,
    ),
]


@pytest.mark.parametrize(
    ("behaviour", "times", "days"), CHECKIN_CASES, ids=[c[0] for c in CHECKIN_CASES]
)
def test_checkin_days_are_local_days(behaviour: str, times: list[datetime], days: int) -> None:
    posts = [
        intro(),
        *(checkin(t) for t in times),
        *(reply(local(3, 12), f) for f in ("alice", "bob", "carol")),
    ]
    result = evaluate_camp(RULES, CAMPER, posts, FELLOWS, END)
    assert len(result.progress.checkin_days) == days
    assert result.verdict == ("pass" if days >= 5 else "extend")


def test_checkin_days_are_reported_as_local_dates() -> None:
    posts = [checkin(local(3, 23, 30)), checkin(local(4, 0, 30))]
    result = evaluate_camp(RULES, CAMPER, posts, FELLOWS, END)
    assert result.progress.checkin_days == (date(2026, 11, 3), date(2026, 11, 4))


INTRO_CASES = [
    ("a long topic in introductions counts", intro(), True),
    (
        "a short topic does not count",
        post(local(2, 11), category="introductions", is_topic=True, units=99),
        False,
    ),
    (
        "a reply in introductions is no introduction",
        post(local(2, 11), category="introductions", units=300),
        False,
    ),
    (
        "a topic in another category does not count",
        post(local(2, 11), category="checkins", is_topic=True, units=300),
        False,
    ),
    (
        "a deleted introduction does not count",
        post(local(2, 11), category="introductions", is_topic=True, units=300, deleted=True),
        False,
    ),
]


@pytest.mark.parametrize(("behaviour", "p", "done"), INTRO_CASES, ids=[c[0] for c in INTRO_CASES])
def test_introduction_task(behaviour: str, p: CampPost, done: bool) -> None:
    result = evaluate_camp(RULES, CAMPER, [p], FELLOWS, END)
    assert result.progress.introduction is done


REPLY_CASES = [
    ("three fellow campers count", [("alice", 30), ("bob", 30), ("carol", 30)], 3),
    ("three replies to one camper are one camper", [("alice", 30)] * 3, 1),
    ("replies to non-campers do not count", [("stranger", 30), ("alice", 30)], 1),
    ("replying to oneself does not count", [("newbie", 30), ("alice", 30)], 1),
    ("short replies do not count", [("alice", 19), ("bob", 20)], 1),
    ("names match case-insensitively", [("Alice", 30)], 1),
]


@pytest.mark.parametrize(
    ("behaviour", "targets", "fellows"), REPLY_CASES, ids=[c[0] for c in REPLY_CASES]
)
def test_replies_to_fellow_campers(behaviour: str, targets: list, fellows: int) -> None:
    posts = [reply(local(3, 12), to, units) for to, units in targets]
    result = evaluate_camp(RULES, CAMPER, posts, FELLOWS, END)
    assert len(result.progress.fellows_replied) == fellows


def test_a_first_failure_is_extended_once_with_a_new_end() -> None:
    result = evaluate_camp(RULES, CAMPER, complete(days=4), FELLOWS, END)
    assert result.verdict == "extend"
    assert result.ends_at == END + timedelta(days=7)
    assert result.missing == ("checkins",)


def test_work_done_during_the_extension_counts() -> None:
    camper = Camper(7, "newbie", START, extensions=1)
    posts = [*complete(days=4), checkin(local(12, 20))]
    result = evaluate_camp(RULES, camper, posts, FELLOWS, END + timedelta(days=7))
    assert result.verdict == "pass"


def test_a_failure_after_the_extension_removes() -> None:
    camper = Camper(7, "newbie", START, extensions=1)
    result = evaluate_camp(RULES, camper, complete(days=4), FELLOWS, END + timedelta(days=7))
    assert result.verdict == "fail"


def test_on_fail_remove_removes_at_once() -> None:
    rules = with_camp(on_fail="remove")
    assert evaluate_camp(rules, CAMPER, complete(days=4), FELLOWS, END).verdict == "fail"


def test_missing_lists_every_open_task() -> None:
    result = evaluate_camp(RULES, CAMPER, [], FELLOWS, END)
    assert len(result.missing) == 3


def test_activity_counts_qualifying_posts() -> None:
    result = evaluate_camp(RULES, CAMPER, complete(), FELLOWS, END)
    assert result.progress.activity == 1 + 5 + 3


# --- writes ------------------------------------------------------------------------


def test_welcome_lists_the_tasks_and_the_last_day() -> None:
    (pm,) = welcome_actions(RULES, CAMPER)
    assert pm.recipients == ("newbie",)
    assert "2026-11-08" in pm.raw and "#checkins" in pm.raw and "5" in pm.raw


def test_pass_promotes_leaves_camp_and_tells_the_referrer() -> None:
    result = evaluate_camp(RULES, CAMPER, complete(), FELLOWS, END)
    acts = verdict_actions(RULES, CAMPER, result, audit_category_id=3)
    assert [x.kind for x in acts] == [
        "CreateTopic",
        "AddToGroup",
        "RemoveFromGroup",
        "SendPrivateMessage",
        "SendPrivateMessage",
    ]
    assert acts[0].affects_members is False and "打卡天数:5/5" in acts[0].raw
    assert (acts[1].group, acts[2].group) == ("members", "camp")
    assert acts[4].recipients == ("mentor",)


def test_fail_moves_to_alumni_with_the_reasons() -> None:
    camper = Camper(7, "newbie", START, extensions=1, referrer="mentor")
    result = evaluate_camp(RULES, camper, complete(days=4), FELLOWS, END + timedelta(days=7))
    acts = verdict_actions(RULES, camper, result, audit_category_id=None)
    assert [x.kind for x in acts] == [
        "AddToGroup",
        "RemoveFromGroup",
        "SendPrivateMessage",
        "SendPrivateMessage",
    ]
    assert acts[0].group == "alumni" and acts[1].group == "camp"
    assert "在 #checkins 打卡:4 天 (至少 5 天)" in acts[2].raw  # the camper's language (zh)
    assert acts[3].recipients == ("mentor",)


def test_extension_only_tells_the_camper_the_new_last_day() -> None:
    result = evaluate_camp(RULES, CAMPER, complete(days=4), FELLOWS, END)
    (pm,) = verdict_actions(RULES, CAMPER, result, audit_category_id=None)
    assert pm.kind == "SendPrivateMessage" and "2026-11-15" in pm.raw


def test_in_progress_writes_nothing() -> None:
    result = evaluate_camp(RULES, CAMPER, [], FELLOWS, START)
    assert verdict_actions(RULES, CAMPER, result, audit_category_id=3) == []


def test_a_second_period_has_new_keys() -> None:
    first = verdict_actions(
        RULES, CAMPER, evaluate_camp(RULES, CAMPER, [], FELLOWS, END), audit_category_id=3
    )
    camper = Camper(7, "newbie", START, extensions=1)
    later = evaluate_camp(RULES, camper, [], FELLOWS, END + timedelta(days=7))
    second = verdict_actions(RULES, camper, later, audit_category_id=3)
    assert {x.key for x in first}.isdisjoint({x.key for x in second})


def test_an_english_camper_reads_english_and_the_staff_log_stays_in_the_default_language() -> None:
    camper = Camper(7, "newbie", START, extensions=1, language="en")
    result = evaluate_camp(RULES, camper, complete(days=4), FELLOWS, END + timedelta(days=7))
    audit, *_groups, pm = verdict_actions(RULES, camper, result, audit_category_id=3)
    assert "check-ins in #checkins: 4 days (at least 5)" in pm.raw
    assert "打卡天数:4/5" in audit.raw and "在 #checkins 打卡:4 天 (至少 5 天)" in audit.raw
    assert "check" not in audit.raw.replace("#checkins", "")
