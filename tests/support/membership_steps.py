"""The membership steps called the way the tests (and the scenario) call them: a client,
Redis, rules and ``now`` in, a ``StepContext`` built here. Plus the uncached reads test
set-ups use (sign-ups need the user-field ids; scenarios list categories and squads)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import redis

from worker.engine.squads import SquadPlan
from worker.reads import membership as reads
from worker.reads.forum_view import load_roster
from worker.reads.parse import USER_HINTS, Hints, user_field_ids_of
from worker.rules import Rules
from worker.state.membership import MembershipStore
from worker.steps import StepContext, camp_check, gate
from worker.steps import form_squads as form_squads_step
from worker.steps.camp_check import CampCheck, cohort_of, ready_cohorts
from worker.steps.gate import GatingResult
from worker.steps.record_post import record_camp_post as _record_camp_post

__all__ = [
    "USER_HINTS",
    "CampCheck",
    "Hints",
    "cohort_of",
    "load_roster",
    "ready_cohorts",
]

member_fact = reads.member_fact
month_of = reads.month_of


def field_ids(client: Any) -> dict[str, int]:
    return user_field_ids_of(client.list_user_fields())


def category_ids(client: Any) -> dict[str, int]:
    return {str(c["slug"]): int(c["id"]) for c in client.list_categories() if c.get("slug")}


def read_applicant(client: Any, user_id: int, ids: Any = None, rules: Rules | None = None):
    from worker.reads.parse import applicant_of

    return applicant_of(client.admin_get_user(user_id), ids or field_ids(client), rules)


def _ctx(client: Any, redis_client: redis.Redis, rules: Rules, now: datetime, live: bool):
    return StepContext(client, redis_client, rules, now, live)


def decide_applicant(
    client: Any,
    redis_client: redis.Redis,
    rules: Rules,
    user_id: int,
    now: datetime,
    *,
    live: bool,
    strikes_of: Any = None,
    hints: Hints | None = None,
    event: str | None = None,
) -> GatingResult:
    ctx = _ctx(client, redis_client, rules, now, live)
    return gate.run(ctx, user_id, hints=hints, event=event, strikes_of=strikes_of)


def check_camp(
    client: Any,
    redis_client: redis.Redis,
    rules: Rules,
    now: datetime,
    *,
    live: bool,
    deferred: list[str] | None = None,
) -> list[CampCheck]:
    return camp_check.run(_ctx(client, redis_client, rules, now, live), deferred=deferred)


def form_squads(
    client: Any, redis_client: redis.Redis, rules: Rules, cohort: str, *, live: bool
) -> form_squads_step.Formation:
    ctx = _ctx(client, redis_client, rules, datetime.now().astimezone(), live)
    return form_squads_step.run(ctx, cohort)


def plan_formation(client: Any, store: MembershipStore, rules: Rules, cohort: str) -> SquadPlan:
    return form_squads_step._plan_formation(client, store, rules, cohort)


def record_camp_post(client: Any, redis_client: redis.Redis, post: Any) -> bool:
    ctx = _ctx(client, redis_client, Rules.model_construct(), datetime.now().astimezone(), True)
    return _record_camp_post(ctx, post)


def handle_post(
    client: Any, redis_client: redis.Redis, rules: Rules, post_id: int, event: str, **kw: Any
) -> dict[str, Any]:
    """``worker.steps.record_post`` as the post actor runs it (``body``: a signed body)."""
    from worker.steps import record_post

    live = kw.pop("live", True)
    ctx = _ctx(client, redis_client, rules, datetime.now().astimezone(), live)
    return record_post.run(ctx, post_id, event, **kw)


def handle_topic_edit(
    client: Any, redis_client: redis.Redis, rules: Rules, topic_id: int, *, live: bool = True
) -> dict[str, Any]:
    from worker.steps import record_post

    ctx = _ctx(client, redis_client, rules, datetime.now().astimezone(), live)
    return record_post.run_topic_edit(ctx, topic_id)
