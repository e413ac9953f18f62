"""The ``StepContext`` an actor runs its step with: this process's forum, Redis and
rules, the run's time (a scheduled run's own, else now) and the mode (live or shadow)."""

from __future__ import annotations

from typing import Any

from worker import clock
from worker.pipeline import runtime
from worker.steps import StepContext


def step_context(scheduled_for: str | None = None) -> StepContext[Any]:
    redis_client = runtime.redis_client()
    return StepContext(
        runtime.forum(),
        redis_client,
        runtime.rules(),
        clock.run_time(scheduled_for, redis_client),
        runtime.settings().live,
    )
