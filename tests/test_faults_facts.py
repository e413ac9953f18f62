"""A fact is never lost because its job failed, and no decision about a person is taken
while facts it depends on are known to be missing."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dramatiq
import pytest
import redis

from tests.pipeline_support import live_worker
from worker.forum.client import ForumClient
from worker.pipeline.broker import setup_broker
from worker.pipeline.config import pipeline_settings

pytestmark = pytest.mark.integration


def wait_for(predicate: Callable[[], object], timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")


@contextmanager
def worker(broker: dramatiq.Broker, queues: set[str]) -> Iterator[dramatiq.Worker]:
    every = queues | {q + ".DQ" for q in queues}
    w = dramatiq.Worker(broker, queues=every, worker_threads=2, worker_timeout=20)
    w.start()
    try:
        yield w
    finally:
        w.stop(timeout=5_000)


def _queue_idle(client: redis.Redis, queue: str) -> bool:
    busy = client.llen(f"diamond:{queue}") + client.zcard(f"diamond:{queue}.DQ")
    busy += sum(client.scard(k) for k in client.scan_iter("diamond:__acks__.*"))
    return busy == 0


# --- 1. a gating job redelivered after the applicant was deleted -----------------------------


def test_a_gating_job_redelivered_after_the_applicant_was_deleted_ends_quietly(
    sandbox: object,
    redis_url: str,
    redis_client: redis.Redis,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    live_worker(monkeypatch, sandbox, redis_url, tmp_path)
    pipeline_settings.cache_clear()
    broker = setup_broker(redis_url)
    import worker.jobs.membership as jobs

    forum = sandbox.forum  # type: ignore[attr-defined]
    uid = forum.create_user(username="gone01", email="gone01@example.com", approved=False).id
    admin = ForumClient(sandbox.url, sandbox.api_key, "system")  # type: ignore[attr-defined]
    admin.delete_user(uid)  # rejected by an earlier run, or deleted by staff
    message = jobs.on_user.message(uid, None, "user_confirmed_email")
    with caplog.at_level(logging.INFO), worker(broker, {"membership"}):
        broker.enqueue(message)
        broker.enqueue(message)  # at-least-once: the same job delivered again
        wait_for(lambda: _queue_idle(redis_client, "membership"), what="the gating jobs")
        time.sleep(0.2)
    assert redis_client.hlen("diamond:membership.XQ.msgs") == 0
    assert not [r for r in caplog.records if "GAVE UP" in r.getMessage()]
    done = [r for r in caplog.records if "no longer exists" in r.getMessage()]
    assert len(done) == 2
