"""A reminder run posts once per squad in its weekly thread, not a PM per member who owes."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.support.obligations import pm_rules, shipped_rules
from tests.support.sandbox_api import writes
from tests.support.sandbox_squad import admin_client, squad_on_forum
from tests.support.steps import step_ctx
from worker.engine.facts import Roster
from worker.engine.weeks import Week, week_times
from worker.sandbox.cooking import mentions
from worker.state.ledger import Ledger
from worker.steps import reminders, weekly_threads

pytestmark = pytest.mark.integration
W47 = Week(2026, 47)


def _two_squads(sandbox, client):
    first = ("lea", *(f"amy{i:02d}" for i in range(11)))  # twelve: one post cannot mention all
    second = ("kim", "bob", "cyd")
    return Roster(
        (
            squad_on_forum(sandbox, client, "sq-1", first, "2026年11月期 第1写作小组"),
            squad_on_forum(sandbox, client, "sq-2", second, "2026年11月期 第2写作小组"),
        )
    )


def _friday(rules) -> dt.datetime:
    return week_times(rules.obligations, W47, rules.tz).deadline - dt.timedelta(days=2)


def test_a_friday_reminder_is_a_post_per_squad_thread_mentioning_each_who_owes(
    sandbox, redis_client
) -> None:
    rules = shipped_rules()
    client = admin_client(sandbox)
    roster = _two_squads(sandbox, client)
    threads = weekly_threads.run(step_ctx(client, redis_client, rules), W47, roster=roster)
    nudge = next(r for r in rules.obligations.reminders if r.about == "article")
    sandbox.app.request_log.clear()

    reminders.run(step_ctx(client, redis_client, rules, now=_friday(rules)), nudge, roster=roster)

    # Twelve owe in sq-1 (two posts: at most ten mentions each), three in sq-2 (one post).
    assert writes(sandbox) == [("POST", "/posts.json")] * 3
    with sandbox.forum.lock:
        posts = [p for p in sandbox.forum.posts.values() if p.post_number > 1]
        by_topic = {
            t: [mentions(p.raw) for p in posts if p.topic_id == t] for t in threads.values()
        }
        pms = [t for t in sandbox.forum.topics.values() if t.archetype == "private_message"]
    assert pms == []
    assert all(len(m) <= 10 for ms in by_topic.values() for m in ms)
    reached = [set().union(*by_topic[threads[s.slug]]) for s in roster.squads]
    assert reached == [set(s.members) for s in roster.squads]

    sandbox.app.request_log.clear()
    reminders.run(step_ctx(client, redis_client, rules, now=_friday(rules)), nudge, roster=roster)
    assert writes(sandbox) == [], "the same reminder again writes nothing"


def test_pm_delivery_sends_a_pm_per_member_who_owes_and_a_leader_note(
    sandbox, redis_client
) -> None:
    rules = pm_rules()
    client = admin_client(sandbox)
    roster = _two_squads(sandbox, client)
    weekly_threads.run(step_ctx(client, redis_client, rules), W47, roster=roster)
    nudge = next(r for r in rules.obligations.reminders if r.about == "article")
    sandbox.app.request_log.clear()

    reminders.run(step_ctx(client, redis_client, rules, now=_friday(rules)), nudge, roster=roster)

    assert len(writes(sandbox)) == 15 + 2  # everyone, and each squad's leader their list
    assert Ledger(redis_client).threads(W47)  # the threads were there all along
