"""Step contexts for tests that call a step directly (no actor, no runtime), and the uncached
forum reads test set-ups use (sign-ups need the user-field ids; scenarios list categories)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import redis

from worker.engine.facts import Roster
from worker.reads import forum_view
from worker.reads.parse import user_field_ids_of
from worker.rules import Rules
from worker.steps import StepContext

# A moment for steps that do not read ``now`` (opening a week's threads): any will do.
ANY_TIME = dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.UTC)


def step_ctx(
    client: Any,
    redis_client: redis.Redis,
    rules: Rules,
    *,
    now: dt.datetime = ANY_TIME,
    live: bool = True,
) -> StepContext[Any]:
    return StepContext(client, redis_client, rules, now, live)


def field_ids(client: Any) -> dict[str, int]:
    return user_field_ids_of(client.list_user_fields())


def category_ids(client: Any) -> dict[str, int]:
    return {str(c["slug"]): int(c["id"]) for c in client.list_categories() if c.get("slug")}


def remember_roster(redis_client: redis.Redis, roster: Roster, *, ttl: int = 3600) -> None:
    """The forum view's roster is ``roster`` (for squads made without the squad marker):
    what the steps, actors and commands read, until Diamond changes a squad group."""
    redis_client.set(forum_view.ROSTER_KEY, forum_view.dump_roster(roster), ex=ttl)


# The weekly steps called with the facts spelled out, as the tests written before the
# steps call them: each builds the context and passes the roster explicitly.


def open_threads(client: Any, redis_client: redis.Redis, rules: Rules, roster: Roster, week: Any):
    from worker.steps import weekly_threads

    return weekly_threads.run(step_ctx(client, redis_client, rules), week, roster=roster)


def run_reminder(
    client: Any,
    redis_client: redis.Redis,
    rules: Rules,
    roster: Roster,
    reminder: Any,
    *,
    now: dt.datetime,
    live: bool,
    **kw: Any,
):
    from worker.steps import reminders

    ctx = step_ctx(client, redis_client, rules, now=now, live=live)
    return reminders.run(ctx, reminder, roster=roster, **kw)


def run_audit(
    client: Any,
    redis_client: redis.Redis,
    rules: Rules,
    roster: Roster,
    week: Any,
    *,
    now: dt.datetime,
    live: bool,
    **kw: Any,
):
    from worker.steps import audit

    ctx = step_ctx(client, redis_client, rules, now=now, live=live)
    return audit.run(ctx, week, roster=roster, **kw)


def run_roll_calls(
    client: Any,
    redis_client: redis.Redis,
    rules: Rules,
    roster: Roster,
    *,
    now: dt.datetime,
    live: bool,
    **kw: Any,
) -> int:
    from worker.steps import roll_calls

    ctx = step_ctx(client, redis_client, rules, now=now, live=live)
    return roll_calls.run(ctx, roster=roster, **kw)


def rebuild(
    client: Any,
    redis_client: redis.Redis,
    rules: Rules,
    roster: Roster,
    since: Any,
    *,
    now: dt.datetime,
    live: bool = True,
    **kw: Any,
):
    from worker.steps import rebuild_ledger

    ctx = step_ctx(client, redis_client, rules, now=now, live=live)
    return rebuild_ledger.run(ctx, since, roster=roster, **kw)
