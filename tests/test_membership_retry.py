"""A gating job redone after a crash finishes the remaining work exactly once.

The forum's rate limit can stop a gating job after the approval went through and
before the camp join or the welcome PM; dramatiq retries the job, which then finds the
applicant already approved. The retry must finish the recorded decision (the Applier
skips what was done), and a further run must change nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis

from worker.forum.errors import RateLimited
from worker.membership import flows, gather
from worker.membership.scenario import Persona, seed_referrers, sign_up
from worker.membership.store import MembershipStore
from worker.membership.world import membership_world

pytestmark = pytest.mark.integration
START = datetime(2026, 11, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


class FailsOnce:
    """Diamond's client, but the first call of ``method`` hits the forum's rate limit."""

    def __init__(self, client: Any, method: str) -> None:
        self._client = client
        self._method = method
        self.failed = False

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name != self._method or self.failed:
            return attr

        def limited(*args: Any, **kwargs: Any) -> Any:
            self.failed = True
            raise RateLimited(30, path=name)

        return limited


def _pms_to(world: Any, username: str) -> list[str]:
    forum = world.sandbox.forum
    with forum.lock:
        uid = forum.find_user(username).id
        return [
            t.title
            for t in forum.topics.values()
            if t.archetype == "private_message" and uid in t.allowed_user_ids
        ]


@pytest.mark.parametrize(
    "failing_write", ["add_group_members", "send_private_message"], ids=["camp_join", "welcome"]
)
def test_a_gating_job_retried_after_a_rate_limit_finishes_the_approval_once(
    redis_client: redis.Redis, failing_write: str
) -> None:
    with membership_world(redis_client, START) as world:
        (mentor,) = seed_referrers(world.people, 1)
        p = Persona(
            "retry01",
            "retry01@example.com",
            "good",
            referrer=mentor,
            application="字" * 250,
            city="北京",
        )
        uid = sign_up(world.people, p, gather.field_ids(world.people))
        flaky = FailsOnce(world.client, failing_write)

        def gate(now: datetime, client: Any = world.client) -> flows.GatingResult:
            return flows.decide_applicant(
                client, redis_client, world.rules, uid, now, live=True, strikes_of=lambda _u: 0
            )

        with pytest.raises(RateLimited):
            gate(START, flaky)
        assert flaky.failed
        ids = gather.field_ids(world.client)
        assert gather.read_applicant(world.client, uid, ids).approved  # approved before the stop

        # dramatiq retries the job later: the rest of the decision is carried out.
        retried = gate(START + timedelta(minutes=5))
        assert retried.report is not None and retried.report.done

        store = MembershipStore(redis_client)
        camper = store.camper("retry01")
        assert camper is not None and store.is_camper("retry01")
        assert camper.started_at == START  # the camp starts when the decision was made
        assert store.decision(uid) == "approve"
        assert store.referrals(mentor, gather.month_of(START, world.rules)) == 1
        camp = {m["username"] for m in world.client.iter_group_members("camp")}
        assert "retry01" in camp
        welcome = _pms_to(world, "retry01")
        assert len(welcome) == 1, welcome

        # A third run (a duplicate event) changes nothing.
        third = gate(START + timedelta(minutes=10))
        assert third.decision is None and third.report is None
        assert _pms_to(world, "retry01") == welcome
        assert store.camper("retry01") == camper


def test_a_member_approved_outside_diamond_is_left_alone(redis_client: redis.Redis) -> None:
    """Approved with no decision of Diamond's (never gated): not put into the camp."""
    with membership_world(redis_client, START) as world:
        (mentor,) = seed_referrers(world.people, 1)
        p = Persona(
            "staffok",
            "staffok@example.com",
            "good",
            referrer=mentor,
            application="字" * 250,
            city="上海",
        )
        uid = sign_up(world.people, p, gather.field_ids(world.people))
        world.people.approve_user(uid)
        result = flows.decide_applicant(
            world.client, redis_client, world.rules, uid, START, live=True
        )
        assert result.decision is None and result.report is None
        assert MembershipStore(redis_client).camper("staffok") is None
        camp = {m["username"] for m in world.client.iter_group_members("camp")}
        assert "staffok" not in camp
