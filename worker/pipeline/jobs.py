"""How actors are declared: ``diamond_actor`` and the list of modules that hold them.

    from worker.pipeline.jobs import diamond_actor

    @diamond_actor(queue="membership", time_limit=120)
    def on_user_created(user_id: int) -> None:
        ...

and add the module to ``ACTOR_MODULES`` so the worker (and the receiver, which
checks its routes against them) imports it.

What the decorator adds to ``dramatiq.actor``:
- a time limit on every actor (seconds, required to be finite);
- the forum's errors mapped to the retry policy (``worker.pipeline.retries``):
  ``RateLimited`` → ``dramatiq.Retry(delay=wait)``; the worker's own conditions
  (``worker.errors``) pass through to the retry middleware, which maps them: ``LeaseBusy``
  (a lease of ``leases.held``, ``idempotency.once`` or the Applier's claims) → retry after
  the other run's lease, ``NeedsHuman`` → no retry, one line and a staff notice; any
  other retriable error (5xx, timeout, connection error, Redis unreachable) → backoff,
  for as long as the retry window lasts, not counted as a failure; ``ForumRejected``
  (the forum says the request is wrong) → no retry; anything else (a bug) → bounded
  backoff. A job that gives up is dead-lettered with one log line that says what failed
  and what to do.
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import dramatiq
from dramatiq.middleware import CurrentMessage

from worker.errors import LeaseBusy, NeedsHuman
from worker.forum.errors import ForumError, RateLimited
from worker.pipeline.broker import current_broker
from worker.pipeline.config import pipeline_settings
from worker.pipeline.retries import FAILURES_OPTION, is_retriable, past_window

log = logging.getLogger(__name__)

# Modules that declare actors. Domain modules add themselves here (one line each).
ACTOR_MODULES: list[str] = [
    "worker.pipeline.catchup",
    "worker.jobs.membership",
    "worker.jobs.obligations",
    "worker.jobs.recognition",
    "worker.jobs.posts",  # the one post actor: feeds membership, obligations, recognition
    "worker.jobs.notices",  # staff notices: jobs that gave up, rules that do not load
    "worker.jobs.changelog",  # the rules changelog in the staff audit log
    "worker.jobs.chat",  # chat messages recorded as facts (#18; part 2 uses them)
]

DEFAULT_TIME_LIMIT_SECONDS = 120
# Keyword arguments that may carry personal data (an applicant's email, a post's text):
# never logged.
PRIVATE_KWARGS = frozenset({"hints", "body"})

F = TypeVar("F", bound=Callable[..., Any])


class GaveUp(Exception):
    """The job will not be retried; the reason was logged. dramatiq fails the message
    (it goes to the dead-letter queue ``diamond:<queue>.XQ`` for a week)."""


def load_actors(extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Import every actor module; returns the modules imported."""
    modules = [*ACTOR_MODULES, *extra]
    for name in modules:
        importlib.import_module(name)
    return modules


def diamond_actor(
    fn: F | None = None,
    *,
    queue: str = "default",
    time_limit: float = DEFAULT_TIME_LIMIT_SECONDS,
    max_retries: int | None = None,
    actor_name: str | None = None,
    priority: int = 0,
    **options: Any,
) -> Any:
    """Declare a dramatiq actor with Diamond's time limit and error mapping.

    ``time_limit`` is in seconds; ``max_retries`` bounds retries of failures other
    than an unavailable forum (default ``DIAMOND_MAX_RETRIES``); ``retry_window_seconds``
    how long those are waited out (default ``DIAMOND_RETRY_WINDOW_SECONDS``). The actor
    name defaults to ``<last module part>.<function>``, e.g. ``membership.on_user_created``.
    """

    def decorate(func: F) -> dramatiq.Actor:
        if not 0 < time_limit < 24 * 3600:
            raise ValueError(f"{func.__qualname__}: time_limit must be 0 < seconds < 1 day")
        name = actor_name or f"{func.__module__.rsplit('.', 1)[-1]}.{func.__name__}"
        cfg = pipeline_settings()
        failures = cfg.max_retries if max_retries is None else max_retries
        window = float(options.get("retry_window_seconds", cfg.retry_window_seconds))
        wrapped = _with_error_mapping(func, name, failures, window)
        # dramatiq's overloads type no **options next to the function; they are its own.
        return dramatiq.actor(  # type: ignore[call-overload]
            wrapped,
            actor_name=name,
            queue_name=queue,
            priority=priority,
            broker=current_broker(),
            time_limit=int(time_limit * 1000),
            # Expected ends, not bugs: the retry middleware says why in one line.
            throws=(GaveUp, NeedsHuman),
            max_retries=failures,
            **options,
        )

    return decorate(fn) if fn is not None else decorate


def _with_error_mapping(func: F, name: str, max_retries: int, window_seconds: float) -> F:
    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (GaveUp, NeedsHuman):
            raise
        except RateLimited as exc:
            _give_up_if_past_window(name, args, kwargs, exc, window_seconds)
            delay_ms = max(1, round(exc.wait_seconds * 1000))
            log.info("%s: forum rate limit, retrying in %.1f s", name, delay_ms / 1000)
            raise dramatiq.Retry(str(exc), delay=delay_ms) from exc
        except LeaseBusy as exc:
            # Another run holds the lease: the middleware brings the job back after it.
            _give_up_if_past_window(name, args, kwargs, exc, window_seconds)
            raise
        except ForumError as exc:
            if not exc.retriable:
                _dead_letter(name, args, kwargs, _attempts(), exc, "the forum refused it")
                raise GaveUp(str(exc)) from exc
            _give_up_if_past_window(name, args, kwargs, exc, window_seconds)
            raise
        except Exception as exc:
            if is_retriable(exc):  # Redis unreachable or loading: not the job's fault
                _give_up_if_past_window(name, args, kwargs, exc, window_seconds)
                raise
            _give_up_if_exhausted(name, args, kwargs, exc, max_retries)
            raise

    return run  # type: ignore[return-value]  # wraps func: same signature


def _message_options() -> dict[str, Any]:
    message = CurrentMessage.get_current_message()
    return message.options if message is not None else {}


def _attempts() -> int:
    """Attempts so far, this one included."""
    return int(_message_options().get("retries", 0)) + 1


def _give_up_if_past_window(
    name: str, args: tuple, kwargs: dict, exc: BaseException, window_seconds: float
) -> None:
    """A forum that has not answered for the whole retry window: a person must look."""
    message = CurrentMessage.get_current_message()
    if message is None:
        return
    if past_window(message, window_seconds):
        why = f"the forum has not answered for {window_seconds / 3600:g} h"
        _dead_letter(name, args, kwargs, _attempts(), exc, why)
        raise GaveUp(str(exc)) from exc


def _give_up_if_exhausted(
    name: str, args: tuple, kwargs: dict, exc: BaseException, max_retries: int
) -> None:
    failures = int(_message_options().get(FAILURES_OPTION, 0))
    if failures >= max_retries:
        _dead_letter(name, args, kwargs, _attempts(), exc, f"it failed {failures + 1} times")
        raise GaveUp(str(exc)) from exc


def _dead_letter(
    name: str, args: tuple, kwargs: dict, attempts: int, exc: BaseException, why: str
) -> None:
    message = CurrentMessage.get_current_message()
    message_id = message.message_id if message is not None else "?"
    queue = message.queue_name if message is not None else "?"
    call = ", ".join(
        [
            *map(repr, args),
            *(f"{k}=…" if k in PRIVATE_KWARGS else f"{k}={v!r}" for k, v in kwargs.items()),
        ]
    )
    log.error(
        "GAVE UP on job %s(%s) [message %s, queue %s] after %d attempt(s), because %s: "
        "%s: %s. Nothing more will happen for this job; fix the cause (forum reachable? "
        "rule or data problem named above?) — the catch-up scan or the next scheduled run "
        "will pick the work up again, or re-send it from the dead-letter queue.",
        name,
        call,
        message_id,
        queue,
        attempts,
        why,
        type(exc).__name__,
        exc,
    )
