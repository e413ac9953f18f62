"""A worker process sets up at boot what every job shares, so a job only asks for the
rules now and the time (``worker.pipeline.boot``, ``worker.pipeline.runtime.process``)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.support.pipeline import live_worker
from worker.pipeline import runtime
from worker.pipeline.boot import boot

pytestmark = pytest.mark.integration


def test_boot_sets_up_the_forum_client_rules_and_clock_before_the_first_job(
    sandbox: object, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live_worker(monkeypatch, sandbox, redis_url, tmp_path)
    boot()
    set_up = runtime._state.get("process")
    assert set_up is not None, "boot built the process's set-up"
    ctx = runtime.step_context()  # a job: nothing built again
    assert runtime.process() is set_up and ctx.forum is set_up.forum and ctx.live


def test_a_worker_whose_rules_do_not_load_still_boots_and_says_so(
    sandbox: object,
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rules_dir = live_worker(monkeypatch, sandbox, redis_url, tmp_path)
    (rules_dir / "camp.yml").write_text("camp: [not, a, mapping\n", encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="worker.pipeline.boot"):
        boot()
    assert "the rules do not load" in caplog.text


def test_a_jobs_claims_outlive_a_dead_run_as_long_as_the_process_was_configured(
    sandbox: object, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from worker.apply import CLAIM_LEASE_SECONDS

    live_worker(monkeypatch, sandbox, redis_url, tmp_path)
    assert runtime.step_context().applier().claim_lease_seconds == CLAIM_LEASE_SECONDS
    runtime.configure(claim_lease_seconds=5)  # the crash story's worker processes
    assert runtime.step_context().applier().claim_lease_seconds == 5
