"""The squad's week with real processes failing the way a deployment fails: the forum
answers a fifth of Diamond's calls with 500 and a tenth with 429, the worker process is
killed with SIGKILL three times while jobs are in flight, and the Redis server is
restarted once (AOF on, as in production: what it accepted is kept). The story ends with
the effects of a clean run, effect by effect, and no job dead-lettered."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dramatiq
import pytest
import redis

from tests.support.fault_story import (
    CLAIM_LEASE_ENV,
    QUEUES,
    Clock,
    Story,
    assert_same_effects,
    clean_run,
    in_flight,
    run_story,
    story_forum,
)
from tests.support.pipeline import ROOT
from worker.engine.facts import Roster
from worker.redis_server import EmbeddedRedis

pytestmark = pytest.mark.integration

HEARTBEAT_MS = 2000  # a killed worker's jobs are redelivered this long after it went silent


class WorkerProcess:
    """``diamond worker`` (one process, six threads) as a child process group."""

    def __init__(self, roster: Roster, log_path: Path) -> None:
        # The story's roster the child reads from the forum view in Redis, as the story does.
        del roster
        self.env = {
            **os.environ,  # the story's settings (forum, Redis, rules, live mode, backoff)
            "DIAMOND_MAINTENANCE_CHANCE": "1000000",  # every command looks for dead workers
            "DIAMOND_HEARTBEAT_TIMEOUT_MS": str(HEARTBEAT_MS),
            "DIAMOND_WORKER_METRICS_PORT": "0",
            CLAIM_LEASE_ENV: "5",
        }
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        queues = sorted(QUEUES | {q + ".DQ" for q in QUEUES})
        cmd = [sys.executable, "-m", "worker", "worker", "--processes", "1", "--threads", "6"]
        cmd += ["--actors", "tests.support.crash_worker", "--shutdown-timeout-ms", "2000"]
        cmd += ["--queues", *queues]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env=self.env, stdout=log, stderr=log, start_new_session=True
            )

    def kill(self) -> None:
        """SIGKILL to the whole group (dramatiq's main process and its worker): no goodbye."""
        assert self.proc is not None and self.proc.poll() is None, self.tail()
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.kills += 1

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]


def _wait_in_flight(client: redis.Redis, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if in_flight(client):
            return True
        time.sleep(0.01)
    return False


def test_a_story_with_the_worker_killed_three_times_and_redis_restarted_ends_as_a_clean_run(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean = clean_run(redis_url, tmp_path, monkeypatch)
    (tmp_path / "redis").mkdir()
    server = EmbeddedRedis(data_dir=tmp_path / "redis").start()
    rds = redis.Redis.from_url(server.url)
    chance = random.Random(19)
    done: list[str] = []
    on_posts = 0

    @contextmanager
    def worker_processes(broker: dramatiq.Broker, roster: Roster) -> Iterator[WorkerProcess]:
        worker = WorkerProcess(roster, tmp_path / "worker.log")
        worker.start()
        try:
            yield worker
        finally:
            worker.stop()

    def kill_mid_job(step: str, worker: WorkerProcess) -> None:
        assert _wait_in_flight(rds), f"{step}: no job in flight\n{worker.tail()}"
        time.sleep(chance.uniform(0.0, 0.3))  # somewhere inside the job
        worker.kill()
        worker.start()
        done.append(f"kill during {step}")

    def restart_redis(step: str, broker: Any) -> None:
        assert _wait_in_flight(rds), f"{step}: no job in flight"
        time.sleep(chance.uniform(0.0, 0.2))
        server.restart()  # SIGTERM: Redis writes its AOF out; the new one replays it
        for client in (rds, broker.client):
            client.connection_pool.disconnect()  # drop the dead connections at once
        done.append(f"Redis restarted during {step}")

    brokers: list[Any] = []

    def after_enqueue(step: str, worker: WorkerProcess) -> None:
        nonlocal on_posts
        on_posts += step == "on_post"
        if step == "open_threads" or (step == "on_post" and on_posts == 3) or step == "audit":
            kill_mid_job(step, worker)
        elif step == "remind friday":
            restart_redis(step, brokers[0])

    def on_step(step: str, _forum: Any) -> None:
        if not brokers:
            brokers.append(dramatiq.get_broker())

    clock = Clock()
    forum = story_forum(clock, seed=19)
    story = Story(
        faults=("*:500=0.2,429=0.1,wait=1",), on_step=on_step, after_enqueue=after_enqueue
    )
    started = time.monotonic()
    try:
        result = run_story(
            forum,
            clock,
            server.url,
            tmp_path / "crashy",
            monkeypatch,
            story,
            timeout=120.0,
            start_worker=worker_processes,
        )
    finally:
        forum.stop()
        server.cleanup()
    assert done == [
        "kill during open_threads",
        "kill during on_post",
        "Redis restarted during remind friday",
        "kill during audit",
    ]
    assert result.injected > 0
    assert_same_effects(result, clean)
    assert time.monotonic() - started < 120
