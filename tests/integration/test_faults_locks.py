"""Locks never outlive the jobs that hold them."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis

from tests.support.pipeline import live_worker
from tests.support.scenario import Persona, seed_referrers, sign_up
from tests.support.steps import field_ids
from tests.support.world import membership_world
from worker.errors import LeaseBusy
from worker.pipeline import runtime
from worker.pipeline.config import pipeline_settings
from worker.pipeline.jobs import Lease, diamond_actor
from worker.state import keys

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
    redis_client: redis.Redis, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from worker.jobs import membership as jobs

    with membership_world(redis_client, START) as world:
        live_worker(monkeypatch, world.sandbox, redis_url, tmp_path)
        uid = _applicant(world)
        watched = Watched(world.client, redis_client, keys.gating_lock(uid))
        runtime.configure(forum_client=watched)  # type: ignore[arg-type]  # a watching wrapper
        jobs.on_user.fn(user_id=uid, event="user_created")  # the actor, its lease included
    held = [t for t in watched.ttls if t > 0]
    assert held and len(held) == len(watched.ttls), "the job holds its lock at every call"
    # A killed worker stops renewing: its lock expires before dramatiq redelivers its job.
    assert max(held) <= pipeline_settings().heartbeat_timeout_ms
    assert jobs.GATING_LEASE.seconds * 1000 <= pipeline_settings().heartbeat_timeout_ms


TTLS: list[int] = []
LONG_KEY = "diamond:lease:locks-test"


@diamond_actor(
    queue="locks-test",
    time_limit=10,
    lease=Lease(key=lambda name: f"{LONG_KEY}:{name}", seconds=0.6, wait_seconds=0.1),
)
def long_job(name: str) -> None:
    client = runtime.redis_client()
    for _ in range(10):  # one second: longer than one lease
        TTLS.append(client.pttl(f"{LONG_KEY}:{name}"))
        time.sleep(0.1)


def test_a_long_job_keeps_its_declared_lease_and_a_second_one_is_told_to_come_back(
    redis_client: redis.Redis, redis_url: str
) -> None:
    runtime.configure(redis_url=redis_url)
    TTLS.clear()
    long_job.fn("ann")
    assert len(TTLS) * 0.1 > 0.6  # the job outlived one lease...
    assert all(t > 0 for t in TTLS)  # ...and held its lock all along
    assert redis_client.exists(f"{LONG_KEY}:ann") == 0  # released at the end
    lock = redis_client.lock(f"{LONG_KEY}:ann", timeout=30)
    assert lock.acquire(blocking=False)
    started = time.monotonic()
    with pytest.raises(LeaseBusy):
        long_job.fn("ann")
    assert time.monotonic() - started < 2  # not a worker thread blocked for minutes
