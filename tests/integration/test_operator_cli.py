"""An operator at a terminal: .env is read, errors are one line, exit codes mean one thing."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses
from werkzeug.test import Client

from worker.cli import main
from worker.commands import worker as worker_command
from worker.forum.client import ForumClient

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """A clean DIAMOND_ environment, run from an empty directory with the shipped rules."""
    import os

    for name in list(os.environ):
        if name.startswith("DIAMOND_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DIAMOND_ENV_FILE", "")  # restored after the test (the CLI sets it)
    monkeypatch.setenv("DIAMOND_RULES_DIR", str(ROOT / "rules"))
    monkeypatch.chdir(tmp_path)
    yield monkeypatch


def test_the_cli_reads_dotenv_in_the_current_directory(env, tmp_path, capsys) -> None:
    env.delenv("DIAMOND_RULES_DIR")
    assert main(["check"]) == 1  # no rules/ here
    (tmp_path / ".env").write_text(f"DIAMOND_RULES_DIR={ROOT / 'rules'}\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["check"]) == 0


def test_a_settings_error_in_plan_exits_1_not_changes_pending(env, capsys) -> None:
    assert main(["plan"]) == 1
    assert "DIAMOND_FORUM_URL: must be set" in capsys.readouterr().err


def test_empty_redis_url_says_what_the_command_needs(env, capsys) -> None:
    assert main(["scheduler"]) == 1
    err = capsys.readouterr().err
    assert "DIAMOND_REDIS_URL: must be set" in err and "only `diamond demo`" in err


@pytest.mark.integration
def test_compose_redis_url_on_the_host_is_one_line_without_traceback(env, sandbox, capsys) -> None:
    env.setenv("DIAMOND_FORUM_URL", sandbox.url)
    env.setenv("DIAMOND_API_KEY", sandbox.api_key)
    env.setenv("DIAMOND_REDIS_URL", "redis://redis.invalid:6379/0")
    assert main(["report"]) == 1
    err = capsys.readouterr().err
    assert "cannot reach Redis at DIAMOND_REDIS_URL=redis://redis.invalid:6379/0" in err
    assert "Traceback" not in err


@pytest.mark.integration
def test_wrong_api_key_in_report_and_audit_is_one_line(env, sandbox, redis_url, capsys) -> None:
    env.setenv("DIAMOND_FORUM_URL", sandbox.url)
    env.setenv("DIAMOND_API_KEY", "not-the-key-at-all")
    env.setenv("DIAMOND_REDIS_URL", redis_url)
    for argv in (["report"], ["audit", "--week", "2026-W10", "--dry-run"]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "refused the API key" in err and "DIAMOND_API_KEY" in err
        assert "Traceback" not in err and "not-the-key-at-all" not in err


class WorkerNotStarted:
    """``diamond worker`` whose dramatiq start is recorded instead of run."""

    HELP = worker_command.HELP

    def __init__(self) -> None:
        self.started: list[list[str]] = []

    def configure(self, parser: argparse.ArgumentParser) -> None:
        worker_command.configure(parser)

    def run(self, args: argparse.Namespace) -> int:
        return worker_command.run(args, start=lambda argv: self.started.append(argv) or 0)


@pytest.fixture
def worker_cmd() -> WorkerNotStarted:
    return WorkerNotStarted()


def diamond_worker(command: WorkerNotStarted) -> int:
    return main(["worker"], commands={"worker": command})


def test_worker_refuses_to_start_without_the_forum_settings(
    env, redis_url, worker_cmd, capsys
) -> None:
    env.setenv("DIAMOND_REDIS_URL", redis_url)
    assert diamond_worker(worker_cmd) == 1
    err = capsys.readouterr().err
    assert "DIAMOND_FORUM_URL: must be set" in err and "DIAMOND_API_KEY: must be set" in err
    assert worker_cmd.started == []


@pytest.mark.integration
def test_worker_refuses_to_start_with_a_key_the_forum_refuses(
    env, sandbox, redis_url, worker_cmd, capsys
) -> None:
    env.setenv("DIAMOND_FORUM_URL", sandbox.url)
    env.setenv("DIAMOND_API_KEY", "not-the-key-at-all")
    env.setenv("DIAMOND_REDIS_URL", redis_url)
    assert diamond_worker(worker_cmd) == 1
    assert "refused the API key" in capsys.readouterr().err
    assert worker_cmd.started == []
    env.setenv("DIAMOND_API_KEY", sandbox.api_key)
    assert diamond_worker(worker_cmd) == 0 and len(worker_cmd.started) == 1


def test_waiting_for_the_api_budget_says_how_long(caplog) -> None:
    class Spent:
        limit = 50

        def __init__(self) -> None:
            self.waits = [12.5]

        def acquire(self) -> float:
            return self.waits.pop() if self.waits else 0.0

    client = ForumClient(
        "https://forum.example", "k", limiter=Spent(), on_limit="wait", sleep=lambda s: None
    )
    with responses.RequestsMock() as rsps, caplog.at_level(logging.INFO):
        rsps.add("GET", "https://forum.example/admin/badges.json", json={"badges": []})
        client.list_badges()
    assert "waiting 12.5 s before GET /admin/badges.json" in caplog.text


@pytest.mark.integration
def test_rejected_webhooks_are_logged_with_the_reason_once_a_minute(
    redis_url, preserve_routes, caplog
) -> None:
    from worker.pipeline.receiver import ReceiverConfig, build_receiver

    app = build_receiver(ReceiverConfig(secret="s" * 20, api_username="diamond"), redis_url)
    now = [0.0]
    app.log_rejection._clock = lambda: now[0]
    client = Client(app)
    bad = {"X-Discourse-Event-Signature": "sha256=00", "X-Discourse-Event": "post_created"}
    with caplog.at_level(logging.WARNING, logger="worker.pipeline.receiver"):
        for _ in range(3):
            assert client.post("/webhook", data=b"{}", headers=bad).status_code == 401
        now[0] = 61.0
        assert client.post("/webhook", data=b"{}", headers=bad).status_code == 401
    lines = [r.getMessage() for r in caplog.records if "refused a webhook" in r.getMessage()]
    assert len(lines) == 2
    assert "401: missing or wrong X-Discourse-Event-Signature" in lines[0]
    assert "event post_created" in lines[0]
    assert "2 more refused for this reason in the last minute" in lines[1]


def test_redis_unreachable_is_one_line_even_where_the_rules_changelog_is_recorded(
    tmp_path, monkeypatch, capsys
) -> None:
    # Loading the rules records them in Redis for the changelog; with Redis down that
    # must not add a traceback to the command's one-line error.
    import shutil

    from worker.cli import main

    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DIAMOND_FORUM_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("DIAMOND_API_KEY", "k")
    monkeypatch.setenv("DIAMOND_REDIS_URL", "redis://127.0.0.1:9/0")
    assert main(["report"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "cannot reach Redis" in err
