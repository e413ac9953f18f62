"""Chat in recognition: a reminder in the squad channel may count for the homework badge
(the criterion's ``chat`` option), and each member's chat messages reach the report."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import datetime

import pytest

from tests.support.recognition_world import BASE, WEEK, World, at, rules_with, shipped_rules
from worker import actions as a
from worker.engine.health import HealthFacts, build_report
from worker.engine.recognition import badge_actions, detect, evaluate_badges
from worker.rules.models import HomeworkReminder
from worker.state.chat import ChatMessage

IDS = {"ann": 1, "bob": 2, "cat": 3, "xia": 4}
_ids = itertools.count(500)


def msg(user: str, when: datetime, *mentions: str, deleted: bool = False) -> ChatMessage:
    return ChatMessage(
        message_id=next(_ids),
        channel_id=70,
        category_id=7,
        user_id=IDS[user],
        username=user,
        created_at=when,
        units=10,
        mentioned_user_ids=tuple(IDS[m] for m in mentions),
        deleted=deleted,
    )


def world_with_chat(*messages: ChatMessage) -> World:
    """ann, bob, cat in red; bob posts his article on Saturday; bob and cat wrote in chat
    before (so their ids are known)."""
    w = World()
    w.squad("red", "ann", "bob", "cat")
    bob_article = w.topic("bob", at(WEEK, 5, 10))
    w.result(WEEK, "bob", "met", bob_article)
    w.result(WEEK, "ann", "met", w.topic("ann", at(WEEK, 1)))
    w.result(WEEK, "cat", "met", w.topic("cat", at(WEEK, 1)))
    known = (msg("bob", at(WEEK, 0, 8)), msg("cat", at(WEEK, 0, 8)))
    w.chat = (*known, *messages)  # type: ignore[attr-defined]
    return w


def facts_of(w: World):
    return dataclasses.replace(w.facts(), chat=w.chat)  # type: ignore[attr-defined]


def reminder(chat: bool) -> HomeworkReminder:
    return HomeworkReminder(kind="homework_reminder", min_reminders=1, weeks=1, chat=chat)


@pytest.mark.parametrize(
    ("message", "chat", "expected"),
    [
        (msg("ann", at(WEEK, 4), "bob"), True, [("ann", "bob")]),  # Friday; bob posts Saturday
        (msg("ann", at(WEEK, 4), "bob"), False, []),  # the option is off
        (msg("ann", at(WEEK, 6, 9), "bob"), True, []),  # bob had posted already
        (msg("ann", at(WEEK, 4), "cat"), True, []),  # cat had posted already
        (msg("ann", at(WEEK, 4), "bob", deleted=True), True, []),  # trashed
        (msg("ann", at(WEEK, 4), "xia"), True, []),  # xia is no squad mate (and unknown)
    ],
)
def test_a_reminder_in_squad_chat_counts_when_the_criterion_says_so(
    message: ChatMessage, chat: bool, expected: list
) -> None:
    got = detect(shipped_rules(), facts_of(world_with_chat(message)), reminder(chat), WEEK)
    assert sorted((c.username, c.other) for c in got) == expected


def test_a_badge_earned_in_chat_cites_the_message_but_grants_without_a_reason_link() -> None:
    nudge = msg("ann", at(WEEK, 4), "bob")
    w = world_with_chat(nudge)
    rules = rules_with(
        {
            "slug": "buddy",
            "criterion": {
                "kind": "homework_reminder",
                "min_reminders": 1,
                "weeks": 1,
                "chat": True,
            },
        }
    )
    (decision,) = evaluate_badges(rules, facts_of(w), WEEK, held={})
    assert decision.username == "ann" and decision.grant
    assert decision.reason_url == f"{BASE}/chat/c/-/70/{nudge.message_id}"
    assert decision.reason_path == ""  # Discourse takes only a post or topic link as reason
    (grant,) = [x for x in badge_actions(rules, [decision], WEEK, audit_category_id=None)
                if isinstance(x, a.GrantBadge)]  # fmt: skip
    assert grant.reason_path == ""


def test_shipped_homework_badge_does_not_count_chat() -> None:
    (badge,) = [b for b in shipped_rules().badges.badges if b.kind == "homework_reminder"]
    assert badge.criterion.chat is False  # type: ignore[union-attr]


def test_each_members_chat_messages_of_the_week_reach_the_report() -> None:
    w = world_with_chat(
        msg("ann", at(WEEK, 2)),
        msg("ann", at(WEEK, 3)),
        msg("ann", at(WEEK.previous(), 3)),  # last week
        msg("cat", at(WEEK, 3), deleted=True),
    )
    members = frozenset({"ann", "bob", "cat"})
    report = build_report(
        shipped_rules(), HealthFacts(recognition=facts_of(w), stages={"members": members}), WEEK
    )
    assert report.chat_messages == {"ann": 2, "bob": 1, "cat": 1}
    part = report.squad_part("red")  # the leader (ann) reads about the others
    assert part.chat_messages == {"bob": 1, "cat": 1}
