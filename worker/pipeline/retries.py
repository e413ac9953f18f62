"""Diamond's retry policy, one dramatiq middleware (replaces dramatiq's ``Retries``).

What a failed attempt leads to depends on what failed:

- the worker's own conditions (``worker.errors``): ``LeaseBusy`` (another run holds the
  lease) waits for the lease's remaining time and runs again, not counted as a failure;
  ``NeedsHuman`` goes to the dead-letter queue at once, with one log line and a staff
  notice (``needs_human``), since no retry can sort it out;
- the forum or Redis could not answer (``ForumError.retriable``: 5xx, timeout,
  connection error, 429; ``redis.ConnectionError``/``TimeoutError``; ``dramatiq.Retry``,
  which the actor wrapper raises for rate limits): the job is owed, so it
  waits (capped exponential backoff, or the delay the forum asked for) and runs again,
  for as long as ``retry_window_seconds`` since its first failure (default a day: a
  forum upgrade or an outage of hours is waited out). These retries are not failures;
- anything else (a bug, bad data): ``max_retries`` failures with backoff, then the
  dead-letter queue (the actor wrapper logs the one ``GAVE UP`` line first);
- an exception in the actor's ``throws`` (``GaveUp``: the forum refused the request):
  the dead-letter queue at once.

A retry is enqueued before the message is acknowledged; if Redis cannot take it (it is
restarting, or loading its data: ``BusyLoadingError``), the enqueue is tried again until
it can, so the job is never acknowledged away. If the worker dies meanwhile, the message
was never acknowledged and is redelivered.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from typing import Any

import dramatiq
import redis
from dramatiq.common import compute_backoff
from dramatiq.errors import BrokerConnectionError
from dramatiq.middleware import Middleware

from worker.errors import LeaseBusy, NeedsHuman

log = logging.getLogger(__name__)

# Message options this middleware keeps (besides dramatiq's ``retries``/``traceback``).
FIRST_FAILED_OPTION = "diamond_first_failed_ms"
FAILURES_OPTION = "diamond_failures"  # counted failures (bugs, bad data)
WAITS_OPTION = "diamond_waits"  # retries for an unavailable forum or Redis
# How long an enqueue that Redis refuses is retried between attempts (seconds, capped).
ENQUEUE_RETRY_WAIT = (0.2, 5.0)
# Set on a message whose staff notice was raised here: the dead-letter hook tells no more.
TOLD_OPTION = "diamond_staff_told"
# dramatiq refuses delays of 7 days or more.
MAX_DELAY_MS = 7 * 24 * 3600 * 1000 - 1


def is_retriable(exc: BaseException) -> bool:
    """Whether the failure says "not now" (the request may succeed later) rather than
    "never" or "a bug"."""
    from worker.forum.errors import ForumError

    if isinstance(exc, dramatiq.Retry | LeaseBusy | BrokerConnectionError):
        return True
    if isinstance(exc, ForumError):
        return exc.retriable
    return isinstance(exc, redis.ConnectionError | redis.TimeoutError)


def past_window(message: Any, window_seconds: float) -> bool:
    """Whether the job has been failing for longer than its retry window."""
    first = message.options.get(FIRST_FAILED_OPTION)
    if first is None:
        return False
    return time.time() * 1000 - float(first) > float(window_seconds) * 1000


class DiamondRetries(Middleware):
    """See the module docstring. Actor options: ``max_retries``, ``min_backoff`` and
    ``max_backoff`` (ms), ``retry_window_seconds``, ``throws``."""

    def __init__(
        self,
        *,
        max_retries: int,
        min_backoff: int,
        max_backoff: int,
        retry_window_seconds: float,
        sleep: Any = time.sleep,
        tell_staff: Callable[[Any, list[str]], None] | None = None,
    ) -> None:
        self.max_retries = max_retries
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.retry_window_seconds = retry_window_seconds
        self._sleep = sleep
        # How the staff hear of a job that needs a human (the forum's staff notice).
        self._tell_staff = tell_staff_on_the_forum if tell_staff is None else tell_staff

    @property
    def actor_options(self) -> set[str]:
        return {"max_retries", "min_backoff", "max_backoff", "retry_window_seconds", "throws"}

    def _option(self, message: Any, actor: Any, name: str, default: Any) -> Any:
        return message.options.get(name, actor.options.get(name, default))

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        if exception is None:
            return
        actor = broker.get_actor(message.actor_name)
        if isinstance(exception, NeedsHuman):
            self._stop_for_a_human(broker, message, exception)
            return
        throws = self._option(message, actor, "throws", None)
        if throws and isinstance(exception, throws):
            message.fail()  # the actor wrapper said why, in one line
            return
        options = message.options
        now_ms = int(time.time() * 1000)
        options.setdefault(FIRST_FAILED_OPTION, now_ms)
        options["retries"] = options.get("retries", 0) + 1
        options["traceback"] = traceback.format_exc(limit=30)
        min_backoff = self._option(message, actor, "min_backoff", self.min_backoff)
        max_backoff = self._option(message, actor, "max_backoff", self.max_backoff)
        max_backoff = min(max_backoff, MAX_DELAY_MS)
        window = self._option(message, actor, "retry_window_seconds", self.retry_window_seconds)
        if is_retriable(exception):
            if past_window(message, window):
                # The wrapper normally says so first; this is the backstop.
                log.error(
                    "GAVE UP on job %s [message %s]: still failing after its retry window (%s)",
                    message.actor_name,
                    message.message_id,
                    exception,
                )
                message.fail()
                return
            waits = options.get(WAITS_OPTION, 0)
            options[WAITS_OPTION] = waits + 1
            if isinstance(exception, LeaseBusy):  # back when the other run's lease is over
                delay = min(int(exception.retry_after_ms), MAX_DELAY_MS)
            elif isinstance(exception, dramatiq.Retry) and exception.delay is not None:
                delay = min(int(exception.delay), MAX_DELAY_MS)
            else:
                _, delay = compute_backoff(waits, factor=min_backoff, max_backoff=max_backoff)
        else:
            failures = options.get(FAILURES_OPTION, 0)
            limit = self._option(message, actor, "max_retries", self.max_retries)
            if failures >= limit:
                log.warning("retries exceeded for message %s", message.message_id)
                message.fail()
                return
            options[FAILURES_OPTION] = failures + 1
            _, delay = compute_backoff(failures, factor=min_backoff, max_backoff=max_backoff)
        log.info("retrying %s [message %s] in %d ms", message.actor_name, message.message_id, delay)
        self._enqueue(broker, message, delay)

    def _stop_for_a_human(self, broker: Any, message: Any, exception: NeedsHuman) -> None:
        """No retry: the one line says what to sort out, the staff notice says it on the
        forum; the dead-letter queue keeps the job to re-send once it is sorted out."""
        from worker.pipeline.notices import describe

        line = describe(message, str(exception))
        log.error("NEEDS A HUMAN, not retried: %s", line)
        message.options[TOLD_OPTION] = True
        self._tell_staff(broker, [line])
        message.fail()

    def _enqueue(self, broker: Any, message: Any, delay: int) -> None:
        """Enqueue the retry, waiting for Redis as long as it takes: the message is
        acknowledged only after this returns, and a retry lost here is a job lost."""
        pause, cap = ENQUEUE_RETRY_WAIT
        while True:
            try:
                broker.enqueue(message, delay=delay)
                return
            except (redis.ConnectionError, redis.TimeoutError, BrokerConnectionError) as exc:
                log.warning(
                    "could not enqueue the retry of %s [message %s] (%s): trying again in %.1fs",
                    message.actor_name,
                    message.message_id,
                    exc,
                    pause,
                )
                self._sleep(pause)
                pause = min(cap, pause * 2)


def tell_staff_on_the_forum(broker: Any, lines: list[str]) -> None:
    """The ``needs_human`` staff notice; failing to raise it never fails the worker."""
    from worker.pipeline import notices, runtime

    try:
        notices.raise_notice(runtime.redis_client(), broker, "needs_human", lines, distinct=True)
    except Exception:
        log.exception("could not raise the staff notice for a job that needs a human")
