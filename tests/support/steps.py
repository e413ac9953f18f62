"""Step contexts for tests that call a step directly (no actor, no runtime), and the uncached
forum reads test set-ups use (sign-ups need the user-field ids; scenarios list categories)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import redis

from worker.engine.facts import Roster
from worker.reads.parse import user_field_ids_of
from worker.rules import Rules
from worker.state import keys
from worker.state import roster as roster_state
from worker.steps import StepContext

NEVER_RECONCILED = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)

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


def remember_roster(redis_client: redis.Redis, roster: Roster) -> None:
    """The roster state is ``roster`` (for squads made without the squad marker): what the
    steps, actors and commands read, Diamond's own changes applied to it. Its last
    reconcile is put at the end of time, so no run reconciles it with the forum (where
    these squads, lacking the marker, are no squads) unless a group is marked dirty."""
    redis_client.set(keys.ROSTER_SQUADS, roster_state.dump_squads(roster))
    redis_client.set(keys.ROSTER_CHECKED, NEVER_RECONCILED.isoformat())
