"""Diamond writes to each member in the language they chose when applying."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.support.obligations import pm_rules
from tests.support.sandbox_squad import admin_client, squad_on_forum
from tests.support.steps import step_ctx
from worker.engine.camp import Camper
from worker.engine.facts import Roster
from worker.engine.weeks import Week, week_times
from worker.state.membership import MembershipStore
from worker.steps import reminders, weekly_threads

pytestmark = pytest.mark.integration
W47 = Week(2026, 47)
STARTED = dt.datetime(2026, 11, 2, 10, tzinfo=dt.UTC)


def test_the_language_chosen_at_application_is_remembered_per_member(redis_client) -> None:
    store = MembershipStore(redis_client)
    store.start_camp(Camper(1, "Amy", STARTED, language="en"), city=None, volunteer=False)
    store.start_camp(Camper(2, "bo", STARTED, language="zh"), city=None, volunteer=False)
    store.start_camp(Camper(3, "cai", STARTED), city=None, volunteer=False)  # none chosen
    assert store.languages() == {"Amy": "en", "bo": "zh"}


def test_a_reminder_reaches_each_member_in_their_language(sandbox, redis_client) -> None:
    rules = pm_rules()
    client = admin_client(sandbox)
    names = ("lea", "max", "ned")
    squad = squad_on_forum(sandbox, client, "sq-8", names, "2026年11月期 第8写作小组")
    roster = Roster((squad,))
    MembershipStore(redis_client).start_camp(
        Camper(2, "max", STARTED, language="en"), city=None, volunteer=False
    )
    weekly_threads.run(step_ctx(client, redis_client, rules), W47, roster=roster)
    nudge = next(r for r in rules.obligations.reminders if r.about == "article")
    friday = week_times(rules.obligations, W47, rules.tz).deadline - dt.timedelta(days=2)

    reminders.run(step_ctx(client, redis_client, rules, now=friday), nudge, roster=roster)

    with sandbox.forum.lock:
        titles = {
            sandbox.forum.users[uid].username: t.title
            for t in sandbox.forum.topics.values()
            if t.archetype == "private_message"
            for uid in t.allowed_user_ids
            if sandbox.forum.users[uid].username in names[1:]
        }
    assert titles == {
        "max": "Your article for the week of 16–22 Nov",
        "ned": "文章提醒 · 11月16日–22日 这一周",
    }
