"""Reminders posted in the squad's weekly thread (``delivery: squad_thread``)."""

from __future__ import annotations

import dataclasses

import pytest

from tests.support.obligations import (
    SH,
    THREAD,
    W47,
    Thread,
    at,
    pm_rules,
    shipped_rules,
    squad,
    with_delivery,
)
from worker import actions as a
from worker.engine.limits import MAX_MENTIONS_PER_POST
from worker.engine.obligations import SquadWeek, evaluate_week, plan_reminders, reminder_id
from worker.sandbox.cooking import mentions

FULL, REVIEW = 900, 150


def _nudge(rules, about: str = "article"):
    return next(r for r in rules.obligations.reminders if r.about == about)


def _progress(rules, sq, thread: Thread, as_of, thread_id: int | None = THREAD, **kw):
    sw = SquadWeek(sq, W47, tuple(thread.posts), thread_id)
    return evaluate_week(rules.obligations, SH, W47, [sw], as_of=as_of, **kw)


def _names(n: int) -> list[str]:
    return [f"m{i:02d}" for i in range(1, n + 1)]


def test_the_shipped_reminders_post_in_the_squad_thread() -> None:
    assert {r.delivery for r in shipped_rules().obligations.reminders} == {"squad_thread"}


@pytest.mark.parametrize(
    ("members", "wrote", "expected_posts"),
    [
        pytest.param(
            ["lead", "alice", "bob"], ["lead", "alice", "bob"], [], id="nobody owes: no post"
        ),
        pytest.param(
            ["lead", "alice", "bob", "carol"],
            ["lead"],
            [["alice", "bob", "carol", "lead"]],
            id="three owe: one post mentions them and cc's the leader",
        ),
        pytest.param(
            ["lead", "alice", "bob"],
            ["alice"],
            [["lead", "bob"]],
            id="the leader owes: mentioned once, no cc",
        ),
        pytest.param(
            ["lead", *_names(11)],
            ["lead"],
            [[*_names(9), "lead"], _names(11)[9:]],
            id="eleven owe and a cc: split so no post has more than ten mentions",
        ),
        pytest.param(
            _names(12),
            [],
            [_names(10), _names(12)[10:]],
            id="the whole squad of twelve owes, leader among them: ten, then two",
        ),
    ],
)
def test_an_article_reminder_is_one_post_per_squad_mentioning_who_owes(
    members, wrote, expected_posts
) -> None:
    rules = shipped_rules()
    t = Thread()
    for name in wrote:
        t.post(name, at(17), FULL)
    sq = squad(*members, leader=members[0])
    actions = plan_reminders(rules, _nudge(rules), _progress(rules, sq, t, at(20, 20)))
    assert all(isinstance(x, a.CreatePost) for x in actions), "no PM to anyone"
    assert [sorted(mentions(x.raw)) for x in actions] == [sorted(p) for p in expected_posts]
    assert [sorted(x.notifies) for x in actions] == [sorted(p) for p in expected_posts]
    assert all(x.topic_id == THREAD for x in actions)
    assert all(len(mentions(x.raw)) <= MAX_MENTIONS_PER_POST for x in actions)


def test_members_on_leave_and_not_yet_obliged_are_not_mentioned() -> None:
    rules = shipped_rules()
    t = Thread()
    t.post("lead", at(17), FULL)
    sq = squad("lead", "alice", "bob", "carol", leader="lead")
    sq = dataclasses.replace(sq, joined={"carol": at(18)})
    progress = _progress(rules, sq, t, at(20, 20), excused=frozenset({"bob"}))
    [post] = plan_reminders(rules, _nudge(rules), progress)
    assert mentions(post.raw) == {"alice", "lead"}


def test_a_review_reminder_mentions_reviewers_and_names_authors_without_a_mention() -> None:
    rules = shipped_rules()
    t = Thread()
    first = t.post("alice", at(17), FULL)
    t.post("bob", at(17, 13), FULL)
    t.post("carol", at(17, 14), FULL)
    t.post("bob", at(18), REVIEW, reply_to=first.post_number)  # bob reviewed alice
    sq = squad("lead", "alice", "bob", "carol", leader="lead")
    review = _nudge(rules, "review")
    [post] = plan_reminders(rules, review, _progress(rules, sq, t, at(23, 20)))
    # alice owes two reviews, bob one (carol's), carol two; lead wrote nothing: no reviews
    assert mentions(post.raw) == {"alice", "bob", "carol", "lead"}
    assert post.raw.count("@bob →") == 1 and post.raw.count("@alice →") == 2
    assert f"/t/{THREAD}/{first.post_number}" in post.raw


def test_a_reminder_posts_under_one_key_per_squad_week_reminder_and_part() -> None:
    rules = shipped_rules()
    t = Thread()
    sq = squad("lead", *_names(11), leader="lead")
    friday, sunday = (r for r in rules.obligations.reminders if r.about == "article")
    keys = {
        x.key
        for nudge in (friday, sunday)
        for x in plan_reminders(rules, nudge, _progress(rules, sq, t, at(20, 20)))
    }
    again = {x.key for x in plan_reminders(rules, friday, _progress(rules, sq, t, at(20, 21)))}
    assert keys == {
        f"remind-squad:{reminder_id(r)}:2026-W47:sq-3:{n}" for r in (friday, sunday) for n in (1, 2)
    }
    assert again <= keys, "a later run of the same reminder is the same posts"


def test_a_squad_without_a_known_thread_gets_pms() -> None:
    rules = shipped_rules()
    sq = squad("lead", "alice", leader="lead")
    actions = plan_reminders(
        rules, _nudge(rules), _progress(rules, sq, Thread(), at(20, 20), thread_id=None)
    )
    assert {x.recipients for x in actions if isinstance(x, a.SendPrivateMessage)} >= {
        ("lead",),
        ("alice",),
    }


def test_pm_delivery_still_sends_one_pm_per_member_and_the_leader_list() -> None:
    rules = pm_rules()
    t = Thread()
    sq = squad("lead", "alice", "bob", leader="lead")
    actions = plan_reminders(rules, _nudge(rules), _progress(rules, sq, t, at(20, 20)))
    assert all(isinstance(x, a.SendPrivateMessage) for x in actions)
    assert sorted(x.key.split(":")[0] for x in actions) == ["remind"] * 3 + ["remind-leader"]


def test_a_thread_post_is_in_the_default_language() -> None:
    rules = with_delivery(shipped_rules(), "squad_thread")
    sq = squad("lead", "alice", leader="lead")
    [post] = plan_reminders(
        rules, _nudge(rules), _progress(rules, sq, Thread(), at(20, 20)), {"alice": "en"}
    )
    assert "这周的文章还没有交" in post.raw
