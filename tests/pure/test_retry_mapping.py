"""How the retry middleware maps the worker's own conditions (``worker.errors``) to what
happens to the message: wait for a busy lease, stop at once for a human."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from worker.errors import LeaseBusy, NeedsHuman
from worker.pipeline.retries import FAILURES_OPTION, WAITS_OPTION, DiamondRetries


class FakeMessage:
    actor_name = "membership.form_cohort_squads"
    message_id = "m-1"
    queue_name = "membership"
    args = ("2026-03",)

    def __init__(self) -> None:
        self.kwargs: dict[str, Any] = {}
        self.options: dict[str, Any] = {}
        self.failed = False

    def fail(self) -> None:
        self.failed = True


class FakeBroker:
    def __init__(self) -> None:
        self.enqueued: list[tuple[Any, int]] = []

    def get_actor(self, name: str) -> Any:
        return SimpleNamespace(options={})

    def enqueue(self, message: Any, *, delay: int) -> None:
        self.enqueued.append((message, delay))


@pytest.fixture
def middleware() -> DiamondRetries:
    return DiamondRetries(
        max_retries=0, min_backoff=1000, max_backoff=60_000, retry_window_seconds=3600
    )


def test_a_busy_lease_is_retried_after_the_lease_not_counted_as_a_failure(middleware) -> None:
    broker, message = FakeBroker(), FakeMessage()
    middleware.after_process_message(broker, message, exception=LeaseBusy("k", 1234))
    assert broker.enqueued == [(message, 1234)]
    assert not message.failed
    assert FAILURES_OPTION not in message.options and message.options[WAITS_OPTION] == 1


def test_needing_a_human_fails_the_message_at_once_and_raises_one_notice() -> None:
    told: list[list[str]] = []
    middleware = DiamondRetries(
        max_retries=0,
        min_backoff=1000,
        max_backoff=60_000,
        retry_window_seconds=3600,
        tell_staff=lambda broker, lines: told.append(lines),
    )
    broker, message = FakeBroker(), FakeMessage()
    middleware.after_process_message(
        broker, message, exception=NeedsHuman("cohort 2026-03: @amy is in sq-1 and sq-2")
    )
    assert message.failed and broker.enqueued == []
    [[line]] = told
    assert "form_cohort_squads('2026-03')" in line and "@amy is in sq-1 and sq-2" in line
