"""Failures reach a human: heartbeats behind `diamond health`, and the dead-letter queue
behind `diamond jobs failed|retry`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from zoneinfo import ZoneInfo

import dramatiq
import pytest

from tests.support.pipeline import wait_for
from worker.cli import main
from worker.forum.errors import ForumRejected
from worker.pipeline import health
from worker.pipeline.broker import setup_broker
from worker.pipeline.jobs import diamond_actor
from worker.pipeline.scheduler import Scheduler

QUEUE = "ops-health-test"
FAIL = {"on": True}
DONE: list[str] = []
pytestmark = pytest.mark.integration


@diamond_actor(queue=QUEUE, time_limit=30, max_retries=0)
def refused_until_fixed(name: str) -> None:
    if FAIL["on"]:
        raise ForumRejected("no such group", status=422, path="PUT /groups/{id}/members.json")
    DONE.append(name)


@pytest.fixture
def env(monkeypatch, redis_url):
    monkeypatch.setenv("DIAMOND_REDIS_URL", redis_url)
    monkeypatch.setenv("DIAMOND_ENV_FILE", "")
    return monkeypatch


@contextmanager
def worker_with_heartbeat(broker, client, forum: str = "ok") -> Iterator[None]:
    broker.add_middleware(health.Heartbeat(lambda: client, lambda: forum, every=0.2))
    worker = dramatiq.Worker(broker, queues={QUEUE, QUEUE + ".DQ"}, worker_threads=1)
    worker.start()
    try:
        yield
    finally:
        worker.stop()


def test_worker_health_says_alive_forum_ok_and_the_last_success(
    env, redis_url, redis_client, capsys
):
    broker = setup_broker(redis_url)
    FAIL["on"], DONE[:] = False, []
    with worker_with_heartbeat(broker, redis_client):
        refused_until_fixed.send("fine")
        wait_for(lambda: DONE == ["fine"], "the job")
        wait_for(
            lambda: b"last_success_at" in redis_client.hkeys(health.record_key("worker")), "record"
        )
        assert main(["health", "worker"]) == 0
    out = capsys.readouterr().out
    assert "worker: alive" in out and "forum: ok" in out
    assert "last success: test_ops_health.refused_until_fixed" in out


def test_worker_health_fails_when_the_forum_refuses_the_key(env, redis_url, redis_client, capsys):
    broker = setup_broker(redis_url)
    with worker_with_heartbeat(broker, redis_client, forum="refused: 403 invalid_access"):
        wait_for(lambda: redis_client.exists(health.record_key("worker")), "heartbeat")
        assert main(["health", "worker"]) == 1
    assert "forum: refused" in capsys.readouterr().out


def test_health_fails_without_a_heartbeat_and_on_a_stale_one(env, redis_client, capsys):
    assert main(["health", "worker"]) == 1
    assert "no heartbeat" in capsys.readouterr().out
    health.beat(redis_client, "scheduler")
    redis_client.hset(health.record_key("scheduler"), "alive_at", time.time() - 600)
    assert main(["health", "scheduler"]) == 1
    assert "last heartbeat 600 s ago" in capsys.readouterr().out


def test_a_running_scheduler_is_healthy(env, redis_url, redis_client, capsys):
    broker = setup_broker(redis_url)
    scheduler = Scheduler(
        broker, redis_client, ZoneInfo("Asia/Shanghai"), jobs={}, grace=timedelta(minutes=1)
    )
    assert scheduler.lead()
    assert main(["health", "scheduler"]) == 0
    assert "scheduler: alive" in capsys.readouterr().out


def test_a_job_that_gave_up_is_listed_and_retried_once_fixed(env, redis_url, redis_client, capsys):
    broker = setup_broker(redis_url)
    FAIL["on"], DONE[:] = True, []
    with worker_with_heartbeat(broker, redis_client):
        message = refused_until_fixed.send("alice")
        wait_for(lambda: redis_client.hlen(f"diamond:{QUEUE}.XQ.msgs") == 1, "dead letter")
        assert main(["jobs", "failed"]) == 0
        listed = capsys.readouterr().out
        assert message.message_id in listed and "refused_until_fixed('alice')" in listed
        assert "1 job(s) gave up" in listed
        FAIL["on"] = False  # the cause is fixed
        assert main(["jobs", "retry", message.message_id]) == 0
        wait_for(lambda: DONE == ["alice"], "the retried job")
    assert redis_client.hlen(f"diamond:{QUEUE}.XQ.msgs") == 0
    assert main(["jobs", "retry", message.message_id]) == 1  # gone: said, not re-sent
    assert main(["jobs", "failed"]) == 0
    assert "0 job(s) gave up" in capsys.readouterr().out
