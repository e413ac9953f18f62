"""Jobs under forum outages and Redis trouble: a retriable failure never ends a job whose
effect is still owed; only the forum saying the request is wrong dead-letters it."""

from __future__ import annotations

import logging
import time
from typing import Any

import dramatiq
import pytest
import redis
from dramatiq.middleware import CurrentMessage

from tests.support.pipeline import dead_letters, queue_worker, wait_for
from worker.forum.errors import ForumRejected, ForumUnavailable, RateLimited
from worker.pipeline.broker import setup_broker
from worker.pipeline.jobs import GaveUp, diamond_actor

pytestmark = pytest.mark.integration
QUEUE = "faults-test"
RUNS: dict[str, int] = {}


def _run(name: str) -> int:
    RUNS[name] = RUNS.get(name, 0) + 1
    return RUNS[name]


@diamond_actor(queue=QUEUE, time_limit=10, max_retries=2, min_backoff=20, max_backoff=40)
def down_for_a_while(name: str, failures: int) -> None:
    """The forum answers 502 ``failures`` times (more than max_retries), then recovers."""
    if _run(name) <= failures:
        raise ForumUnavailable("bad gateway", status=502, path="GET /latest.json")


@diamond_actor(queue=QUEUE, time_limit=10, max_retries=5, min_backoff=20, max_backoff=40)
def limited_then_down(name: str) -> None:
    run = _run(name)
    if run <= 3:
        raise RateLimited(0.02)
    if run <= 6:
        raise ForumUnavailable("timed out", path="POST /posts.json")


@diamond_actor(queue=QUEUE, time_limit=10, max_retries=2, min_backoff=20, max_backoff=40)
def fails_once(name: str) -> None:
    if _run(name) == 1:
        raise ForumUnavailable("bad gateway", status=502, path="GET /latest.json")


@diamond_actor(queue=QUEUE, time_limit=10, max_retries=1, min_backoff=20, max_backoff=40)
def buggy(name: str) -> None:
    _run(name)
    raise KeyError("a bug, not the forum")


def worker(broker: dramatiq.Broker) -> Any:
    return queue_worker(broker, QUEUE)


def _dead(redis_client: redis.Redis) -> int:
    return dead_letters(redis_client, QUEUE)


def test_a_job_outlasts_an_outage_longer_than_its_retry_bound(
    redis_url: str, redis_client: redis.Redis
) -> None:
    broker = setup_broker(redis_url)
    RUNS.clear()
    with worker(broker):
        down_for_a_while.send("outage", 8)
        wait_for(lambda: RUNS.get("outage") == 9, "the run after the outage", timeout=15)
        time.sleep(0.2)
    assert _dead(redis_client) == 0


def test_rate_limits_and_timeouts_do_not_use_up_the_failure_bound(
    redis_url: str, redis_client: redis.Redis
) -> None:
    broker = setup_broker(redis_url)
    RUNS.clear()
    with worker(broker):
        limited_then_down.send("mixed")
        wait_for(lambda: RUNS.get("mixed") == 7, "the successful run", timeout=15)
    assert _dead(redis_client) == 0


def test_a_bug_is_still_retried_a_bounded_number_of_times_then_dead_lettered(
    redis_url: str, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    broker = setup_broker(redis_url)
    RUNS.clear()
    with caplog.at_level(logging.ERROR), worker(broker):
        buggy.send("bug")
        wait_for(lambda: _dead(redis_client) == 1, "the dead letter", timeout=10)
    assert RUNS["bug"] == 2
    gave_up = [r for r in caplog.records if "GAVE UP" in r.getMessage()]
    assert len(gave_up) == 1


def test_a_retriable_failure_past_the_retry_window_gives_up_with_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    message = down_for_a_while.message("window", 1)
    message.options["diamond_first_failed_ms"] = 1  # failing since 1970
    token = CurrentMessage._MESSAGE.set(message)
    try:
        with caplog.at_level(logging.ERROR), pytest.raises(GaveUp):
            down_for_a_while.fn("window-unit", 10)
    finally:
        CurrentMessage._MESSAGE.reset(token)
    assert "GAVE UP" in caplog.records[-1].getMessage()


def test_a_retry_that_meets_redis_loading_is_enqueued_once_redis_answers(
    redis_url: str, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = setup_broker(redis_url)
    RUNS.clear()
    real_enqueue = broker.enqueue
    refused: list[int] = []

    def enqueue(message: dramatiq.Message, *, delay: int | None = None) -> dramatiq.Message:
        if delay is not None and len(refused) < 3:  # the retry, while Redis loads its data
            refused.append(delay)
            raise redis.BusyLoadingError("Redis is loading the dataset in memory")
        return real_enqueue(message, delay=delay)

    monkeypatch.setattr(broker, "enqueue", enqueue)
    with worker(broker):
        fails_once.send("loading")
        wait_for(lambda: RUNS.get("loading") == 2, "the retried run", timeout=15)
    assert len(refused) == 3
    assert _dead(redis_client) == 0


def test_a_refused_request_dead_letters_at_once(redis_url: str, redis_client: redis.Redis) -> None:
    @diamond_actor(queue=QUEUE, time_limit=10, actor_name="faults.refused")
    def refused(name: str) -> None:
        _run(name)
        raise ForumRejected("Title is too short", status=422, path="POST /posts.json")

    broker = setup_broker(redis_url)
    RUNS.clear()
    with worker(broker):
        refused.send("no")
        wait_for(lambda: _dead(redis_client) == 1, "the dead letter", timeout=10)
    assert RUNS["no"] == 1
