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
