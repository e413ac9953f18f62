"""Periodic work: every squad that owes a week has that week's thread, whenever it formed."""

from __future__ import annotations

import datetime as dt

import pytest
import redis

from tests.conftest import ROOT
from tests.sandbox_squad import admin_client, squad_on_forum
from worker.engine.facts import Roster
from worker.engine.weeks import Week
from worker.ledger import Ledger, weekly
from worker.rules import load_rules

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
    weekly.open_threads(client, redis_client, rules, Roster((first,)), W48)  # Monday's run
    # Wednesday: a cohort's squads form after the thread run.
    late = squad_on_forum(
        sandbox, client, "sq-2", ("dan", "eve", "fay"), "第二小组讨论区与文章互评"
    )
    [reminder] = [r for r in rules.obligations.reminders if r.about == "article"][:1]
    weekly.run_reminder(
        client, redis_client, rules, Roster((first, late)), reminder, now=FRIDAY, live=True
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
