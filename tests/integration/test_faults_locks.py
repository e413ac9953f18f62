"""Locks never outlive the jobs that hold them."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis

from tests.support.scenario import Persona, seed_referrers, sign_up
from tests.support.steps import field_ids, step_ctx
from tests.support.world import membership_world
from worker.pipeline.config import pipeline_settings
from worker.pipeline.idempotency import ActionBusy
from worker.state import keys
from worker.steps import gate

pytestmark = pytest.mark.integration
START = datetime(2026, 11, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


class Watched:
    """The forum client, noting the gating lock's remaining life at every call."""

    def __init__(self, client: Any, redis_client: redis.Redis, key: str, pause: float = 0):
        self._client, self._redis, self._key, self._pause = client, redis_client, key, pause
        self.ttls: list[int] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.ttls.append(self._redis.pttl(self._key))
            time.sleep(self._pause)
            return attr(*args, **kwargs)

        return call


def _applicant(world: Any) -> int:
    (mentor,) = seed_referrers(world.people, 1)
    p = Persona(
        "lock01", "lock01@example.com", "good", referrer=mentor, application="字" * 250, city="北京"
    )
    return sign_up(world.people, p, field_ids(world.people))


def test_the_gating_lock_of_a_killed_worker_is_gone_before_its_job_is_redelivered(
    redis_client: redis.Redis,
) -> None:
    with membership_world(redis_client, START) as world:
        uid = _applicant(world)
        watched = Watched(world.client, redis_client, keys.gating_lock(uid))
        gate.run(step_ctx(watched, redis_client, world.rules, now=START, live=True), uid)
    held = [t for t in watched.ttls if t > 0]
    assert held, "the gating job holds its lock while it calls the forum"
    # A killed worker stops renewing: its lock expires before dramatiq redelivers its job.
    assert max(held) <= pipeline_settings().heartbeat_timeout_ms


def test_a_long_gating_job_keeps_its_lock_and_a_second_one_is_told_to_come_back(
    redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gate, "GATING_LEASE_SECONDS", 0.6)
    monkeypatch.setattr(gate, "GATING_WAIT_SECONDS", 0.1)
    key_prefix = keys.gating_lock("")  # the prefix alone
    with membership_world(redis_client, START) as world:
        uid = _applicant(world)
        watched = Watched(world.client, redis_client, f"{key_prefix}{uid}", pause=0.1)
        gate.run(step_ctx(watched, redis_client, world.rules, now=START, live=True), uid)
        assert sum(1 for _ in watched.ttls) * 0.1 > 0.6  # the job outlived one lease...
        assert all(t > 0 for t in watched.ttls)  # ...and held its lock all along
        assert redis_client.exists(f"{key_prefix}{uid}") == 0  # released at the end
        lock = redis_client.lock(f"{key_prefix}{uid}", timeout=30)
        assert lock.acquire(blocking=False)
        started = time.monotonic()
        with pytest.raises(ActionBusy):
            gate.run(step_ctx(world.client, redis_client, world.rules, now=START, live=True), uid)
        assert time.monotonic() - started < 2  # not a worker thread blocked for minutes
