"""Diamond's own records under a job delivered twice at once: the first run's record is
the one in force (claimed atomically, like a forum write), never replaced by a second
run that planned from what the first had already changed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import redis

from tests.support.obligations import shipped_rules
from worker.engine.facts import Squad
from worker.engine.squads import PlannedSquad, SquadPlan
from worker.reads import forum_view
from worker.state.membership import MembershipStore
from worker.steps import StepContext
from worker.steps import form_squads as flows

pytestmark = pytest.mark.integration

COHORT = "2026-11"


def _plan(*members: str) -> SquadPlan:
    squad = Squad("sq-1", "2026-11 第1组", COHORT, members, members[0])
    return SquadPlan(COHORT, (PlannedSquad(squad, "most_active", added=members, new=True),))


def test_a_formation_recorded_first_is_not_replaced_by_a_second_runs_plan(
    redis_client: redis.Redis,
) -> None:
    store = MembershipStore(redis_client)
    first, second = _plan("ann", "bob", "cat"), _plan("dan", "eve")
    assert store.record_formation(first) == first
    assert store.record_formation(second) == first  # the plan in force is the first
    assert store.formation(COHORT) == first


def test_two_squad_formations_at_once_carry_out_one_split(
    redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run B planned while run A recorded its plan and began creating groups (B's plan,
    made from a forum A had half changed, differs): B finishes A's split, not its own."""
    first, second = _plan("ann", "bob", "cat"), _plan("dan", "eve")
    store = MembershipStore(redis_client)

    def planned_meanwhile(*_args: Any) -> SquadPlan:
        store.record_formation(first)  # run A, between B's look and B's record
        return second

    applied: list[SquadPlan] = []
    monkeypatch.setattr(flows, "plan_formation", planned_meanwhile)
    monkeypatch.setattr(forum_view, "category_ids", lambda *_a, **_k: {})
    monkeypatch.setattr(flows, "squad_actions", lambda _r, plan, **_k: applied.append(plan) or [])
    ctx = StepContext(
        object(), redis_client, shipped_rules(), dt.datetime(2026, 11, 30, tzinfo=dt.UTC), True
    )
    done = flows.run(ctx, COHORT)
    assert applied == [first] and done.plan == first
