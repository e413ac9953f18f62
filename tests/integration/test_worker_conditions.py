"""The worker's own conditions under a real worker and Redis: a busy lease waits its turn,
a state that needs a human is not retried but told to the staff once."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import dramatiq
import pytest
import redis

from tests.support.pipeline import dead_letters, queue_worker, wait_for
from worker.errors import NeedsHuman
from worker.pipeline import notices, runtime
from worker.pipeline.broker import setup_broker
from worker.pipeline.jobs import diamond_actor, held

pytestmark = pytest.mark.integration
QUEUE = "conditions-test"
RUNS: dict[str, int] = {}
DONE: list[str] = []
LEASE_KEY = "diamond:lease:conditions-test"


@diamond_actor(queue=QUEUE, time_limit=10, max_retries=3, min_backoff=20, max_backoff=40)
def finds_a_double_placement(name: str) -> None:
    RUNS[name] = RUNS.get(name, 0) + 1
    raise NeedsHuman(f"cohort 2026-03: @{name} is in two squads (sq-1, sq-2)")


@diamond_actor(queue=QUEUE, time_limit=10, max_retries=0, min_backoff=20, max_backoff=40)
def works_under_the_lease(name: str) -> None:
    RUNS[name] = RUNS.get(name, 0) + 1
    with held(runtime.redis_client(), LEASE_KEY, lease_seconds=5, wait_seconds=0.05):
        DONE.append(name)


def worker(broker: dramatiq.Broker) -> Any:
    return queue_worker(broker, QUEUE)


def _dead(redis_client: redis.Redis) -> int:
    return dead_letters(redis_client, QUEUE)


def _notices_enqueued(redis_client: redis.Redis) -> list[dict]:
    raw = redis_client.hvals(f"diamond:{notices.QUEUE}.msgs")
    return [json.loads(m) for m in raw]


def test_a_job_that_needs_a_human_is_dead_lettered_at_once_with_one_line_and_a_notice(
    redis_url: str, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    broker = setup_broker(redis_url)
    RUNS.clear()
    with caplog.at_level(logging.INFO), worker(broker):
        finds_a_double_placement.send("amy")
        wait_for(lambda: _dead(redis_client) == 1, "the dead letter", timeout=10)
        time.sleep(0.3)  # time for a retry, had one been scheduled
    assert RUNS["amy"] == 1
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "@amy is in two squads" in errors[0]
    assert "retrying" not in caplog.text
    [notice] = _notices_enqueued(redis_client)
    condition, lines, _ = notice["args"]
    assert condition == "needs_human"
    assert any("@amy is in two squads" in line for line in lines)


def test_a_job_meeting_a_busy_lease_runs_once_the_lease_is_free(
    redis_url: str, redis_client: redis.Redis
) -> None:
    broker = setup_broker(redis_url)
    RUNS.clear()
    DONE.clear()
    other_run = redis_client.lock(LEASE_KEY, timeout=0.6, thread_local=False)
    assert other_run.acquire(blocking=False)
    with worker(broker):
        works_under_the_lease.send("squads")
        wait_for(lambda: DONE == ["squads"], "the run after the lease", timeout=10)
    # Waited out without using up its failure budget (max_retries=0), not dead-lettered.
    assert RUNS["squads"] >= 2
    assert _dead(redis_client) == 0
