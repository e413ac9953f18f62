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

from tests.support.scenario import Persona, seed_referrers, sign_up
from tests.support.steps import field_ids, step_ctx
from tests.support.world import membership_world
from worker.engine.squads import Graduate
from worker.forum.errors import RateLimited
from worker.reads.forum_view import load_roster
from worker.reads.parse import applicant_of
from worker.state.membership import MembershipStore
from worker.steps import form_squads, gate
from worker.steps.gate import GatingResult, month_of

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
        uid = sign_up(world.people, p, field_ids(world.people))
        flaky = FailsOnce(world.client, failing_write)

        def decide(now: datetime, client: Any = world.client) -> GatingResult:
            return gate.run(
                step_ctx(client, redis_client, world.rules, now=now, live=True),
                uid,
                strikes_of=lambda _u: 0,
            )

        with pytest.raises(RateLimited):
            decide(START, flaky)
        assert flaky.failed
        ids = field_ids(world.client)
        assert applicant_of(
            world.client.admin_get_user(uid), ids
        ).approved  # approved before the stop

        # dramatiq retries the job later: the rest of the decision is carried out.
        retried = decide(START + timedelta(minutes=5))
        assert retried.report is not None and retried.report.done

        store = MembershipStore(redis_client)
        camper = store.camper("retry01")
        assert camper is not None and store.is_camper("retry01")
        assert camper.started_at == START  # the camp starts when the decision was made
        assert store.decision(uid) == "approve"
        assert store.referrals(mentor, month_of(START, world.rules)) == 1
        camp = {m["username"] for m in world.client.iter_group_members("camp")}
        assert "retry01" in camp
        welcome = _pms_to(world, "retry01")
        assert len(welcome) == 1, welcome

        # A third run (a duplicate event) changes nothing.
        third = decide(START + timedelta(minutes=10))
        assert third.decision is None and third.report is None
        assert _pms_to(world, "retry01") == welcome
        assert store.camper("retry01") == camper


def test_a_member_is_never_gated_and_a_profile_edit_gates_no_one(
    redis_client: redis.Redis,
) -> None:
    """A member (in Diamond's groups) is left alone on any event; an approved account's
    ``user_updated`` alone is not a new account to gate."""
    with membership_world(redis_client, START) as world:
        (mentor,) = seed_referrers(world.people, 1)
        mentor_id = int(world.people.get_user(mentor)["id"])
        for event in ("user_created", "user_updated", "user_approved"):
            result = gate.run(
                step_ctx(world.client, redis_client, world.rules, now=START, live=True),
                mentor_id,
                event=event,
            )
            assert result.decision is None and result.report is None
        p = Persona(
            "staffok",
            "staffok@example.com",
            "good",
            referrer=mentor,
            application="字" * 250,
            city="上海",
        )
        uid = sign_up(world.people, p, field_ids(world.people))
        world.people.approve_user(uid)
        result = gate.run(
            step_ctx(world.client, redis_client, world.rules, now=START, live=True),
            uid,
            event="user_updated",
        )
        assert result.decision is None and result.report is None
        assert MembershipStore(redis_client).camper("staffok") is None
        camp = {m["username"] for m in world.client.iter_group_members("camp")}
        assert "staffok" not in camp


def _graduates(world: Any, cohort: str, n: int) -> list[str]:
    """``n`` members who passed the camp of ``cohort``, in two cities."""
    store = MembershipStore(world.redis)
    names = [f"grad{i:02d}" for i in range(n)]
    for i, name in enumerate(names):
        world.sandbox.forum.create_user(username=name, email=f"{name}@example.org", approved=True)
        store.queue_graduate(cohort, Graduate(name, "北京" if i % 3 else "上海", i % 7 == 0, i))
    members = world.client.get_group(world.rules.community.groups.members)
    world.client.add_group_members(int(members.get("group", members)["id"]), names)
    return names


def _squads_on_forum(world: Any, cohort: str) -> dict[str, tuple[str, ...]]:
    roster = load_roster(world.client, world.rules)
    return {s.slug: tuple(sorted(s.members)) for s in roster.squads if s.cohort == cohort}


class FailsOnNth(FailsOnce):
    """The ``nth`` call of ``method`` hits the rate limit (earlier ones go through)."""

    def __init__(self, client: Any, method: str, nth: int) -> None:
        super().__init__(client, method)
        self._left = nth - 1

    def __getattr__(self, name: str) -> Any:
        if name == self._method and not self.failed and self._left > 0:
            self._left -= 1
            return getattr(self._client, name)
        return super().__getattr__(name)


def test_a_squad_formation_retried_midway_finishes_the_same_split(
    redis_client: redis.Redis,
) -> None:
    cohort = "2026-11"
    with membership_world(redis_client, START) as control:
        _graduates(control, cohort, 34)
        form_squads.run(step_ctx(control.client, redis_client, control.rules), cohort)
        expected = _squads_on_forum(control, cohort)
    redis_client.flushdb()

    with membership_world(redis_client, START) as world:
        names = _graduates(world, cohort, 34)
        flaky = FailsOnNth(world.client, "add_group_members", 3)  # two squads already filled
        with pytest.raises(RateLimited):
            form_squads.run(step_ctx(flaky, redis_client, world.rules), cohort)
        assert flaky.failed and MembershipStore(redis_client).formation(cohort) is not None

        retried = form_squads.run(step_ctx(world.client, redis_client, world.rules), cohort)

        assert _squads_on_forum(world, cohort) == expected
        assert len(expected) >= 3
        assert sorted(u for m in expected.values() for u in m) == sorted(names)
        assert MembershipStore(redis_client).formation(cohort) is None  # finished: forgotten
        again = form_squads.run(step_ctx(world.client, redis_client, world.rules), cohort)
        assert again.report.done == [] and retried.report.done
