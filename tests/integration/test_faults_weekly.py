"""Periodic work: every squad that owes a week has that week's thread, whenever it formed."""

from __future__ import annotations

import datetime as dt

import pytest
import redis

from tests.conftest import ROOT
from tests.support.sandbox_squad import admin_client, squad_on_forum
from tests.support.steps import remember_roster, step_ctx
from worker.engine.facts import Roster
from worker.engine.weeks import Week
from worker.reads import obligations as week_facts
from worker.rules import load_rules
from worker.state.ledger import Ledger
from worker.steps import StepContext, record_post, reminders, weekly_threads

pytestmark = pytest.mark.integration
SH = dt.timezone(dt.timedelta(hours=8))
W48 = Week(2026, 48)
MONDAY = dt.datetime(2026, 11, 23, 0, 5, tzinfo=SH)
FRIDAY = dt.datetime(2026, 11, 27, 20, 0, tzinfo=SH)


def test_a_squad_formed_after_mondays_thread_run_has_its_thread_before_the_reminder(
    sandbox, redis_client: redis.Redis
) -> None:
    rules = load_rules(ROOT / "rules")
    client = admin_client(sandbox)
    first = squad_on_forum(
        sandbox, client, "sq-1", ("ann", "bob", "cat"), "第一小组讨论区与文章互评"
    )
    # Monday's run
    weekly_threads.run(step_ctx(client, redis_client, rules), W48, roster=Roster((first,)))
    # Wednesday: a cohort's squads form after the thread run.
    late = squad_on_forum(
        sandbox, client, "sq-2", ("dan", "eve", "fay"), "第二小组讨论区与文章互评"
    )
    [reminder] = [r for r in rules.obligations.reminders if r.about == "article"][:1]
    reminders.run(
        step_ctx(client, redis_client, rules, now=FRIDAY), reminder, roster=Roster((first, late))
    )
    threads = Ledger(redis_client).threads(W48)
    assert set(threads) == {"sq-1", "sq-2"}
    titles = [t.title for t in sandbox.forum.topics.values() if t.category_id == late.category_id]
    from worker.engine.obligations import thread_title

    assert titles.count(thread_title(rules, W48, late)) == 1  # its week's thread, once


def test_a_squad_formed_midweek_that_owes_nothing_that_week_gets_no_thread_for_it() -> None:
    from dataclasses import replace

    from worker.engine.facts import Squad
    from worker.engine.obligations import plan_weekly_threads

    rules = load_rules(ROOT / "rules")
    assert rules.obligations.starts_after_camp
    wednesday = dt.datetime(2026, 11, 25, 9, 0, tzinfo=SH)
    squad = Squad("sq-3", "第三小组讨论区与文章互评", "2026-11", ("gus", "hal"), category_id=9)
    joined_wednesday = replace(squad, joined={"gus": wednesday, "hal": wednesday})
    assert plan_weekly_threads(rules, [joined_wednesday], W48, {}) == []
    assert len(plan_weekly_threads(rules, [squad], W48, {})) == 1  # joined long ago: owes


ARTICLE = "我的文章写在这里,讲一件这周想明白的事。" * 60
REVIEW = "很好的文章,结构清楚,例子生动,读完很有收获。" * 6
TUESDAY = dt.datetime(2026, 11, 24, 10, 0, tzinfo=SH)
WEDNESDAY = dt.datetime(2026, 11, 25, 10, 0, tzinfo=SH)


def _as(sandbox, client, username: str, moment: dt.datetime):
    """``username``'s client, writing at ``moment`` (members cannot set ``created_at``)."""
    sandbox.forum.clock = lambda: moment.astimezone(dt.UTC)
    return client.as_user(username)


def _ledger_part(client, redis_client, rules, post_id, event, post) -> str:
    """The post step's ledger part, as the post actor runs it."""
    ctx = StepContext(client, redis_client, rules, dt.datetime.now(dt.UTC), True)
    return record_post.record_ledger_post(ctx, post_id, event, post)


def _feed(client, redis_client, rules, post: dict) -> str:
    return _ledger_part(
        client, redis_client, rules, post["id"], "post_created", client.get_post(post["id"])
    )


def test_articles_posted_as_topics_before_the_weeks_thread_count_for_that_week(
    sandbox, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A squad whose week has no thread yet (formed mid-week, or the thread run lost to
    an outage): members post their articles as topics of their own in the squad's
    category and review each other there. The audit counts them."""
    rules = load_rules(ROOT / "rules")
    client = admin_client(sandbox)
    squad = squad_on_forum(
        sandbox, client, "sq-1", ("ann", "bob", "cat"), "第一小组讨论区与文章互评"
    )
    # Formed since the last scheduled run: only the roster knows the squad's category.
    remember_roster(redis_client, Roster((squad,)))
    ann = _as(sandbox, client, "ann", TUESDAY).create_topic(
        "安的第四十八周文章:一件这周想明白的事", ARTICLE, squad.category_id
    )
    bob = _as(sandbox, client, "bob", TUESDAY).create_topic(
        "鲍勃的第四十八周文章:读书笔记与心得体会", ARTICLE, squad.category_id
    )
    reviews = [
        _as(sandbox, client, "bob", WEDNESDAY).create_post(ann["topic_id"], REVIEW),
        _as(sandbox, client, "ann", WEDNESDAY).create_post(bob["topic_id"], REVIEW),
    ]
    outcomes = [_feed(client, redis_client, rules, p) for p in (ann, bob, *reviews)]
    assert outcomes == ["recorded-early"] * 4
    ledger = Ledger(redis_client)
    results = week_facts.evaluate(
        rules, week_facts.gather(client, ledger, rules, Roster((squad,)), W48)
    ).by_member
    assert results["ann"].article == "on_time" and results["bob"].article == "on_time"
    assert [r.status for r in results["ann"].reviews] == ["on_time"]
    assert [r.status for r in results["bob"].reviews] == ["on_time"]
    assert results["cat"].article == "missing"


def test_a_post_in_last_weeks_thread_before_this_weeks_thread_counts_for_the_week_it_was_written(
    sandbox, redis_client: redis.Redis
) -> None:
    """Monday's thread run was lost: members write this week's articles in last week's
    thread. A late review of last week stays last week's; the rest is this week's."""
    rules = load_rules(ROOT / "rules")
    client = admin_client(sandbox)
    squad = squad_on_forum(
        sandbox, client, "sq-1", ("ann", "bob", "cat"), "第一小组讨论区与文章互评"
    )
    w47 = W48.previous()
    thread = weekly_threads.run(
        step_ctx(client, redis_client, rules), w47, roster=Roster((squad,))
    )["sq-1"]
    last_wed = WEDNESDAY - dt.timedelta(days=7)
    ann47 = _as(sandbox, client, "ann", last_wed).create_post(thread, ARTICLE)
    bob47 = _as(sandbox, client, "bob", last_wed).create_post(thread, ARTICLE)
    # Monday of week 48, no thread: a late review of last week, then this week's articles.
    late_review = _as(sandbox, client, "bob", MONDAY).create_post(
        thread, REVIEW, reply_to_post_number=ann47["post_number"]
    )
    ann48 = _as(sandbox, client, "ann", TUESDAY).create_post(thread, ARTICLE)
    bob48 = _as(sandbox, client, "bob", TUESDAY).create_post(thread, ARTICLE)
    reviews48 = [
        _as(sandbox, client, "ann", WEDNESDAY).create_post(
            thread, REVIEW, reply_to_post_number=bob48["post_number"]
        ),
        _as(sandbox, client, "bob", WEDNESDAY).create_post(
            thread, REVIEW, reply_to_post_number=ann48["post_number"]
        ),
    ]
    for post in (ann47, bob47, late_review):
        assert _feed(client, redis_client, rules, post) == "recorded"
    for post in (ann48, bob48, *reviews48):
        assert _feed(client, redis_client, rules, post) == "recorded-early"
    ledger = Ledger(redis_client)
    roster = Roster((squad,))
    week47 = week_facts.evaluate(
        rules, week_facts.gather(client, ledger, rules, roster, w47)
    ).by_member
    assert [r.status for r in week47["bob"].reviews] == ["late"]  # Monday: past due, in cap
    assert week47["ann"].article_post.post_id == ann47["id"]
    week48 = week_facts.evaluate(
        rules, week_facts.gather(client, ledger, rules, roster, W48)
    ).by_member
    assert week48["ann"].article == "on_time" and week48["bob"].article == "on_time"
    assert [r.status for r in week48["ann"].reviews] == ["on_time"]
    assert [r.status for r in week48["bob"].reviews] == ["on_time"]
    # An edit once this week's thread exists keeps the post where it was filed.
    weekly_threads.run(step_ctx(client, redis_client, rules), W48, roster=roster)
    _ledger_part(
        client, redis_client, rules, ann48["id"], "post_edited", client.get_post(ann48["id"])
    )
    assert ledger.place_of(ann48["id"]) == (W48, "sq-1")
