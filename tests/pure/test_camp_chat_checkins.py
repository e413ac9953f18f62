"""Camp check-ins by chat: a message in the camp channel checks in for its day when the
rules allow it (camp.yml ``tasks.checkins.chat``), counted in the community time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from worker.engine.camp import CampChat, Camper, CampPost, evaluate_camp, welcome_actions
from worker.rules import Rules, load_rules

ROOT = Path(__file__).resolve().parents[2]
RULES = load_rules(ROOT / "rules")
SH = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 2, 10, 0, tzinfo=SH)  # camp days Nov 2 .. Nov 8 (Shanghai)
END = datetime(2026, 11, 9, 0, 0, tzinfo=SH)
FELLOWS = frozenset({"alice", "bob", "carol", "newbie"})
CAMPER = Camper(user_id=7, username="newbie", started_at=START)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SH)


def _rules(chat: bool, chat_min_length: int = 10) -> Rules:
    checkins = RULES.camp.tasks.checkins.model_copy(
        update={"chat": chat, "chat_min_length": chat_min_length}
    )
    tasks = RULES.camp.tasks.model_copy(update={"checkins": checkins})
    camp = RULES.camp.model_copy(update={"tasks": tasks, "chat_channel": True})
    return RULES.model_copy(update={"camp": camp})


def _other_tasks() -> list[CampPost]:
    """Introduction and replies done: only the check-ins decide."""
    posts = [
        CampPost(1, local(2, 11).astimezone(UTC), 150, category="introductions", is_topic=True)
    ]
    posts += [
        CampPost(10 + i, local(3, 12).astimezone(UTC), 30, category="introductions", reply_to=f)
        for i, f in enumerate(("alice", "bob", "carol"))
    ]
    return posts


def said(*moments: datetime, units: int = 12) -> list[CampChat]:
    return [CampChat(m.astimezone(UTC), units) for m in moments]


FIVE_DAYS = said(*(local(d, 20) for d in range(2, 7)))


@pytest.mark.parametrize(
    ("behaviour", "chat_counts", "chat", "extra_posts", "days", "verdict"),
    [
        ("chat on five days passes when chat counts", True, FIVE_DAYS, [], 5, "pass"),
        ("the same chat does not count when the rules say no", False, FIVE_DAYS, [], 0, "fail"),
        (
            "two messages on one day are one check-in",
            True,
            said(local(2, 9 + 2), local(2, 22), local(3, 8), local(4, 8), local(5, 8)),
            [],
            4,
            "fail",
        ),
        (
            "a message shorter than chat_min_length does not check in",
            True,
            [*FIVE_DAYS[:4], *said(local(7, 8), units=9)],
            [],
            4,
            "fail",
        ),
        (
            "chat and topic check-ins add up to the days",
            True,
            FIVE_DAYS[:3],
            [
                CampPost(99, local(7, 9).astimezone(UTC), 5, category="checkins"),
                CampPost(98, local(8, 9).astimezone(UTC), 5, category="checkins"),
            ],
            5,
            "pass",
        ),
        (
            "the day is the community's: 23:30 Shanghai is that day, not the next",
            True,
            said(local(2, 23, 30), local(3, 0, 10), local(4, 23, 59), local(5, 1), local(6, 1)),
            [],
            5,
            "pass",
        ),
        (
            "messages before the approval or after the camp's end do not count",
            True,
            [*said(local(2, 9), local(9, 1)), *FIVE_DAYS[1:]],
            [],
            4,
            "fail",
        ),
    ],
)
def test_chat_checkins(
    behaviour: str,
    chat_counts: bool,
    chat: list[CampChat],
    extra_posts: list[CampPost],
    days: int,
    verdict: str,
) -> None:
    rules = _rules(chat_counts)
    rules = rules.model_copy(update={"camp": rules.camp.model_copy(update={"on_fail": "remove"})})
    result = evaluate_camp(rules, CAMPER, [*_other_tasks(), *extra_posts], FELLOWS, END, chat=chat)
    assert len(result.progress.checkin_days) == days, behaviour
    assert result.verdict == verdict, behaviour


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_welcome_says_a_chat_message_checks_in_only_when_it_does(lang: str) -> None:
    camper = Camper(user_id=7, username="newbie", started_at=START, language=lang)
    (told,) = welcome_actions(_rules(chat=True, chat_min_length=12), camper)
    (silent,) = welcome_actions(_rules(chat=False), camper)
    assert "12" in told.raw and "#checkins" in told.raw
    assert told.raw != silent.raw
    assert "{" not in told.raw and "{" not in silent.raw
