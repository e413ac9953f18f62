"""Raising a staff notice: one per condition per window, then a job posts it.

``raise_notice`` is called where a failure is seen (a job dead-lettered: the worker's
``Heartbeat``; rule files that do not load: every ``RulesHolder`` of the worker and
the scheduler). A window per condition in Redis lets the first occurrence through and
counts the rest, so a worker giving up on a hundred jobs, or two processes seeing
the same broken file, make one post. The post is made by the ``notices.post_notice``
job (``worker.jobs.notices``), through the Applier like every write.

A forum that refuses the API key cannot be told with that key: that condition is in
``diamond health``, ``/healthz``, ``diamond_forum_key_ok`` and the logs only.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import dramatiq
import redis

from worker.pipeline.config import pipeline_settings
from worker.state import keys

log = logging.getLogger(__name__)

QUEUE = "notices"
ACTOR = "notices.post_notice"
GATE_PREFIX = keys.NOTICE_GATE_PREFIX


def raise_notice(
    client: redis.Redis,
    broker: dramatiq.Broker,
    condition: str,
    lines: Sequence[str],
    *,
    distinct: bool = False,
    window_seconds: int | None = None,
    now: datetime | None = None,
) -> bool:
    """Enqueue the notice unless ``condition`` was told within the window; True if enqueued.

    ``distinct``: the lines themselves are part of the condition (another broken edit
    of the rules is news; the same one seen again by another process is not).
    """
    window = window_seconds or pipeline_settings().notice_window_minutes * 60
    gate = keys.notice_gate(condition)
    if distinct:
        gate += ":" + hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]
    if not client.set(gate, "1", nx=True, ex=window):
        with client.pipeline(transaction=False) as pipe:
            pipe.incr(keys.notice_suppressed(condition))
            pipe.expire(keys.notice_suppressed(condition), 24 * 3600)
            pipe.execute()
        log.info("notice %s: already told within %d s; counted, not posted", condition, window)
        return False
    raised_at = (now or datetime.now(UTC)).isoformat()
    broker.enqueue(
        dramatiq.Message(
            queue_name=QUEUE,
            actor_name=ACTOR,
            args=(condition, list(lines), raised_at),
            kwargs={},
            options={},
        )
    )
    log.warning("notice %s raised for the staff: %s", condition, "; ".join(lines)[:500])
    return True


def dead_letter_notifier(
    client: Callable[[], redis.Redis], broker: Callable[[], dramatiq.Broker]
) -> Callable[[dramatiq.Message, str], None]:
    """A ``Heartbeat(on_dead_letter=...)`` hook: tell the staff a job gave up.

    ``client`` and ``broker`` are callables (the process's Redis and broker). A notice
    job that itself gives up raises no notice (it would only fail the same way).
    """

    def on_dead_letter(message: dramatiq.Message, error: str = "") -> None:
        from worker.pipeline.retries import TOLD_OPTION

        if message.actor_name == ACTOR or message.options.get(TOLD_OPTION):
            return  # a notice job's own failure, or already told (needs_human)
        raise_notice(client(), broker(), "jobs_failed", [describe(message, error)])

    return on_dead_letter


def describe(message: dramatiq.Message, error: str = "") -> str:
    """One line: the job, its id, and its last error."""
    call = ", ".join([*map(repr, message.args), *(f"{k}={v!r}" for k, v in message.kwargs.items())])
    if not error:
        lines = (message.options.get("traceback") or "").strip().splitlines()
        error = lines[-1] if lines else ""
    return f"{message.actor_name}({call})  [{message.message_id}]" + (
        f" — {error}" if error else ""
    )


def rules_problems_notifier(
    client: Callable[[], redis.Redis], broker: Callable[[], dramatiq.Broker]
) -> Callable[[Sequence[Any]], None]:
    """A ``RulesHolder(on_problems=...)`` hook: tell the staff the edit had no effect."""

    def on_problems(problems: Sequence[Any]) -> None:
        try:
            raise_notice(
                client(), broker(), "rules_invalid", [str(p) for p in problems], distinct=True
            )
        except Exception:  # the holder keeps the last good rules whatever happens here
            log.exception("could not raise the staff notice for rules that do not load")

    return on_problems
