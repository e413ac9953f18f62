"""A command that meets a worker's claim on the same action waits briefly, then says so
in one line (no traceback)."""

from __future__ import annotations

import argparse

import pytest

from worker import cli
from worker.apply import DONE_PREFIX
from worker.pipeline.idempotency import ActionBusy


class FakeCommand:
    HELP = "a command that meets a claim"

    def __init__(self, busy_times: int, key: str = DONE_PREFIX + "audit:2026-W47:penalty:bob"):
        self.busy_times = busy_times
        self.key = key
        self.runs = 0
        self.waits: list[float] = []

    def configure(self, parser: argparse.ArgumentParser) -> None:
        pass

    def run(self, args: argparse.Namespace) -> int:
        self.runs += 1
        if self.runs <= self.busy_times:
            raise ActionBusy(self.key, 200, lease_left_ms=42_000)
        return 0


@pytest.fixture
def command() -> FakeCommand:
    return FakeCommand(0)


def run(command: FakeCommand) -> int:
    """``diamond audit`` with the fake as the audit command, waiting on its own clock."""
    return cli.main(["audit"], commands={"audit": command}, sleep=command.waits.append)


def test_a_command_meeting_a_workers_claim_waits_and_runs_again(command: FakeCommand) -> None:
    command.busy_times = 2
    assert run(command) == cli.EXIT_OK
    assert command.runs == 3
    assert command.waits == [0.2, 0.2]  # as long as the claim's holder said


def test_a_claim_held_longer_than_the_command_waits_is_one_clear_line(
    command: FakeCommand, capsys: pytest.CaptureFixture[str]
) -> None:
    command.busy_times = 1_000
    assert run(command) == cli.EXIT_ERROR
    assert sum(command.waits) <= cli.BUSY_WAIT_SECONDS
    err = capsys.readouterr().err
    assert err.strip() == (
        "diamond audit: another Diamond process is doing audit:2026-W47:penalty:bob; "
        "try again in 42 s"
    )
    assert "Traceback" not in err
