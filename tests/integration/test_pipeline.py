"""Jobs: error mapping, idempotency, and what survives a killed worker or a Redis restart."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dramatiq
import pytest
import redis
from dramatiq.message import Message
from dramatiq.middleware import CurrentMessage
from werkzeug.test import Client

from tests.conftest import DISCOURSE_REF, ROOT
from tests.support.pipeline import wait_for
from worker.forum.errors import ForumRejected, ForumUnavailable, RateLimited
from worker.pipeline import jobs, probe, routes
from worker.pipeline.broker import current_broker, setup_broker
from worker.pipeline.config import PipelineSettings
from worker.pipeline.idempotency import ActionBusy, already_done, once
from worker.pipeline.jobs import GaveUp, diamond_actor, load_actors
from worker.pipeline.receiver import ReceiverConfig, build_receiver, sign
from worker.pipeline.retries import DiamondRetries
from worker.redis_server import EmbeddedRedis

QUEUE = "pipeline-test"
LOG: list[tuple[str, float]] = []  # (what, when) written by the test actors in this process


@diamond_actor(queue=QUEUE, time_limit=10)
def rate_limited_once(name: str) -> None:
    LOG.append((name, time.monotonic()))
    if len([n for n, _ in LOG if n == name]) == 1:
        raise RateLimited(0.3)


@diamond_actor(queue=QUEUE, time_limit=10)
def rejected(name: str) -> None:
    LOG.append((name, time.monotonic()))
    raise ForumRejected("category does not exist", status=422, path="/posts.json")


@diamond_actor(queue=QUEUE, time_limit=10, max_retries=2, min_backoff=20, max_backoff=40)
def always_unavailable(name: str) -> None:
    LOG.append((name, time.monotonic()))
    raise ForumUnavailable("bad gateway", status=502, path="/posts.json")


@diamond_actor(queue=QUEUE, time_limit=10, max_retries=2, min_backoff=20, max_backoff=40)
def buggy(name: str) -> None:
    LOG.append((name, time.monotonic()))
    raise KeyError("no such field")


@contextmanager
def in_process_worker(broker: dramatiq.Broker, queues: set[str]) -> Iterator[dramatiq.Worker]:
    worker = dramatiq.Worker(broker, queues=queues, worker_threads=2, worker_timeout=50)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop(timeout=5_000)


@contextmanager
def worker_process(redis_url: str, *extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """``diamond worker`` as a child process group, killed (whole group) on exit."""
    env = {
        **os.environ,
        "DIAMOND_REDIS_URL": redis_url,
        "DIAMOND_MAINTENANCE_CHANCE": "1000000",  # every broker command checks for dead workers
        # The worker refuses to start without forum settings; the probe actors never call
        # it, and an unreachable forum at start is only a warning.
        "DIAMOND_FORUM_URL": "http://127.0.0.1:9",
        "DIAMOND_API_KEY": "probe-key-unused",
    }
    cmd = [sys.executable, "-m", "worker", "worker", "--processes", "1", "--threads", "2"]
    cmd += ["--actors", "worker.pipeline.probe", "--queues", probe.QUEUE, *extra]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


# --- error mapping (no worker needed) --------------------------------------------


def test_rate_limited_becomes_retry_with_the_forums_wait() -> None:
    with pytest.raises(dramatiq.Retry) as caught:
        rate_limited_once.fn("unit-rate")
    assert caught.value.delay == 300


def test_rejected_is_not_retried_and_says_what_to_do(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR), pytest.raises(GaveUp):
        rejected.fn("unit-rejected")
    line = caplog.records[-1].getMessage()
    assert "GAVE UP on job test_pipeline.rejected('unit-rejected')" in line
    assert "the forum refused it" in line and "category does not exist" in line
    assert GaveUp in rejected.options["throws"]


def test_retriable_error_is_raised_for_backoff_past_the_failure_bound() -> None:
    message = always_unavailable.message("unit-unavailable")
    token = CurrentMessage._MESSAGE.set(message)
    try:
        message.options.update(retries=30, diamond_first_failed_ms=time.time() * 1000)
        with pytest.raises(ForumUnavailable):  # an outage is waited out, not counted
            always_unavailable.fn("unit-unavailable")
    finally:
        CurrentMessage._MESSAGE.reset(token)


def test_a_bug_gives_up_after_the_failure_bound(caplog: pytest.LogCaptureFixture) -> None:
    message = buggy.message("unit-bug")
    token = CurrentMessage._MESSAGE.set(message)
    try:
        message.options["diamond_failures"] = 1
        with pytest.raises(KeyError):
            buggy.fn("unit-bug")
        message.options.update(retries=2, diamond_failures=2)  # max_retries=2 failures
        with caplog.at_level(logging.ERROR), pytest.raises(GaveUp):
            buggy.fn("unit-bug")
    finally:
        CurrentMessage._MESSAGE.reset(token)
    assert "after 3 attempt(s)" in caplog.records[-1].getMessage()


def test_every_declared_actor_has_a_time_limit() -> None:
    load_actors(["worker.pipeline.probe"])
    broker = current_broker()
    for name in broker.get_declared_actors():
        limit = broker.get_actor(name).options.get("time_limit")
        assert limit and 0 < limit <= 24 * 3600 * 1000, f"{name} has no time limit"


def test_actor_without_a_finite_time_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="time_limit"):
        diamond_actor(lambda: None, time_limit=0)


# --- idempotency ------------------------------------------------------------------


@pytest.mark.integration
def test_once_acts_the_first_time_only(redis_client: redis.Redis) -> None:
    effects = []
    for _ in range(3):
        with once(redis_client, "welcome:alice") as first:
            if first:
                effects.append("pm")
    assert effects == ["pm"]
    assert already_done(redis_client, "welcome:alice")


@pytest.mark.integration
def test_once_does_not_record_an_action_that_failed(redis_client: redis.Redis) -> None:
    with pytest.raises(RuntimeError), once(redis_client, "k") as first:
        assert first
        raise RuntimeError("forum down")
    with once(redis_client, "k") as first:
        assert first  # tried again, not skipped


@pytest.mark.integration
def test_concurrent_run_of_the_same_action_is_told_to_come_back(
    redis_client: redis.Redis,
) -> None:
    with once(redis_client, "k", lease_seconds=5) as first:
        assert first
        with pytest.raises(ActionBusy) as busy, once(redis_client, "k"):
            pass
        assert 0 < busy.value.retry_after_ms <= 5000


# --- the real broker ----------------------------------------------------------------


@pytest.mark.integration
def test_a_broker_set_up_with_given_settings_retries_on_their_backoff_not_the_environments(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIAMOND_MIN_BACKOFF_MS", "5000")  # what this process would read
    quick = PipelineSettings(min_backoff_ms=20, max_backoff_ms=400, retry_max_backoff_ms=300)
    broker = setup_broker(redis_url, settings=quick)
    (retries,) = [m for m in broker.middleware if isinstance(m, DiamondRetries)]
    assert (retries.min_backoff, retries.max_backoff) == (20, 300)


@pytest.mark.integration
def test_rate_limited_job_runs_again_after_the_wait(redis_url: str) -> None:
    broker = setup_broker(redis_url)
    LOG.clear()
    with in_process_worker(broker, {QUEUE, QUEUE + ".DQ"}):
        rate_limited_once.send("live-rate")
        wait_for(lambda: len(LOG) == 2, what="the retry")
    (_, first), (_, second) = LOG
    assert second - first >= 0.3


@pytest.mark.integration
def test_rejected_job_runs_once_and_is_dead_lettered(
    redis_url: str, redis_client: redis.Redis
) -> None:
    broker = setup_broker(redis_url)
    LOG.clear()
    with in_process_worker(broker, {QUEUE, QUEUE + ".DQ"}):
        rejected.send("live-rejected")
        wait_for(lambda: redis_client.hlen(f"diamond:{QUEUE}.XQ.msgs") == 1, what="dead letter")
    assert [n for n, _ in LOG] == ["live-rejected"]


@pytest.mark.integration
def test_failing_job_backs_off_a_bounded_number_of_times_then_is_dead_lettered(
    redis_url: str, redis_client: redis.Redis
) -> None:
    broker = setup_broker(redis_url)
    LOG.clear()
    with in_process_worker(broker, {QUEUE, QUEUE + ".DQ"}):
        buggy.send("live-bug")
        wait_for(lambda: redis_client.hlen(f"diamond:{QUEUE}.XQ.msgs") == 1, what="dead letter")
    assert len(LOG) == 3  # the first attempt and max_retries=2 retries


@pytest.mark.integration
def test_worker_killed_mid_job_the_job_is_redelivered_and_acts_once(
    redis_url: str, redis_client: redis.Redis
) -> None:
    setup_broker(redis_url)
    probe.record.send("killed", hold_first_seconds=60, lease_seconds=1)
    with worker_process(redis_url, "--heartbeat-timeout-ms", "1500") as first:
        wait_for(lambda: redis_client.get(probe.acted_key("killed")), "first attempt", timeout=20)
        os.killpg(first.pid, signal.SIGKILL)  # master and worker process, no goodbye
        first.wait(timeout=10)
    assert redis_client.hlen(f"diamond:{probe.QUEUE}.msgs") == 1  # still unacknowledged
    with worker_process(redis_url, "--heartbeat-timeout-ms", "1500"):
        wait_for(
            lambda: redis_client.hlen(f"diamond:{probe.QUEUE}.msgs") == 0, "redelivery", timeout=30
        )
    assert int(redis_client.get(probe.attempts_key("killed"))) == 2
    assert redis_client.lrange(probe.effects_key("killed"), 0, -1) == [b"killed"]


@pytest.mark.integration
def test_redis_restart_between_accept_and_processing_loses_nothing(
    tmp_path: Path, preserve_routes: None
) -> None:
    server = EmbeddedRedis(data_dir=tmp_path).start()
    routes.add_route("post_created", "probe.on_post", ids={"post_id": "id"})
    try:
        app = build_receiver(
            ReceiverConfig(secret="s", api_username="diamond_bot"),
            server.url,
            extra_actor_modules=["worker.pipeline.probe"],
        )
        client = Client(app)
        template = json.loads(
            (DISCOURSE_REF / "webhooks/post__post_created__2025.12.0-latest-body.json").read_text()
        )
        for post_id in range(1, 21):
            template["post"]["id"] = post_id
            body = json.dumps(template).encode()
            headers = {
                "X-Discourse-Event-Type": "post",
                "X-Discourse-Event": "post_created",
                "X-Discourse-Event-Id": str(1000 + post_id),
                "X-Discourse-Event-Signature": sign("s", body),
            }
            assert client.post("/", data=body, headers=headers).status_code == 202
        server.restart()  # graceful stop and start: the AOF is replayed
        store = redis.Redis.from_url(server.url)
        with in_process_worker(app.broker, {probe.QUEUE}):
            wait_for(
                lambda: store.llen(probe.effects_key("posts")) == 20, "all 20 posts", timeout=20
            )
        done = sorted(int(x) for x in store.lrange(probe.effects_key("posts"), 0, -1))
        assert done == list(range(1, 21))
    finally:
        server.cleanup()


def test_actor_modules_import_and_include_the_catch_up_scan() -> None:
    load_actors()
    assert "worker.pipeline.catchup" in jobs.ACTOR_MODULES
    assert "catchup.catchup_scan" in current_broker().get_declared_actors()


@pytest.mark.integration
def test_enqueued_messages_carry_ids_only(redis_url: str, redis_client: redis.Redis) -> None:
    setup_broker(redis_url)
    load_actors(["worker.pipeline.probe"])
    probe.on_post.send(12)
    (raw,) = redis_client.hvals(f"diamond:{probe.QUEUE}.msgs")
    message = Message.decode(raw)
    assert (message.args, message.kwargs) == ((12,), {})
