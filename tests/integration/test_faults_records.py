"""Diamond's own records under a job delivered twice at once: the first run's record is
the one in force (claimed atomically, like a forum write), never replaced by a second
run that planned from what the first had already changed (two formations at once:
``tests/steps/test_form_squads.py``)."""

from __future__ import annotations

import pytest
import redis

from worker.engine.facts import Squad
from worker.engine.squads import PlannedSquad, SquadPlan
from worker.state.membership import MembershipStore

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
