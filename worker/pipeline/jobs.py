"""How actors are declared: ``diamond_actor`` and the list of modules that hold them.

    from worker.pipeline.jobs import diamond_actor

    @diamond_actor(queue="membership", time_limit=120, context=True)
    def on_user_created(ctx: StepContext[ForumClient], user_id: int) -> None:
        gate.run(ctx, user_id)

and add the module to ``ACTOR_MODULES`` so the worker (and the receiver, which
checks its routes against them) imports it.

What the decorator adds to ``dramatiq.actor``:
- a time limit on every actor (seconds, required to be finite);
- the job's ``StepContext`` handed to the actor (``context=True``): the process's forum,
  Redis, the rules now, the run's time and the mode (``worker.pipeline.runtime``);
- an optional declared lease (``lease=``: the Redis key, from the job's arguments, that
  one job at a time may hold; see "Leases" below), held around the whole run;
- the forum's errors mapped to the retry policy (``worker.pipeline.retries``):
  ``RateLimited`` → ``dramatiq.Retry(delay=wait)``; the worker's own conditions
  (``worker.errors``) pass through to the retry middleware, which maps them: ``LeaseBusy``
  (a declared lease, ``idempotency.once`` or the Applier's claims) → retry after
  the other run's lease, ``NeedsHuman`` → no retry, one line and a staff notice; any
  other retriable error (5xx, timeout, connection error, Redis unreachable) → backoff,
  for as long as the retry window lasts, not counted as a failure; ``ForumRejected``
  (the forum says the request is wrong) → no retry; anything else (a bug) → bounded
  backoff. A job that gives up is dead-lettered with one log line that says what failed
  and what to do.

Leases (``held``): a short lease (``Lease.seconds``) renewed from a background thread
while the job runs. A job that ends releases it; a worker that is killed stops renewing,
so the lease is gone within those seconds — before dramatiq redelivers the dead worker's
job (``DIAMOND_HEARTBEAT_TIMEOUT_MS``, 60 s by default). A lease held elsewhere is waited
for at most ``Lease.wait_seconds`` in the worker thread: ``LeaseBusy`` says when to come
back, and the retry middleware runs the job again then.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import dramatiq
import redis
from dramatiq.middleware import CurrentMessage
from redis.exceptions import LockError

from worker.errors import LeaseBusy, NeedsHuman
from worker.forum.errors import ForumError, RateLimited
from worker.pipeline import runtime
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


DEFAULT_LEASE_SECONDS = 20.0
DEFAULT_WAIT_SECONDS = 5.0  # how long a second job waits for the lease before retrying later


@dataclass(frozen=True)
class Lease:
    """A lease an actor declares: one job per key at a time (see the module doc)."""

    key: Callable[..., str]  # the actor's arguments → the Redis key of the lease
    seconds: float = DEFAULT_LEASE_SECONDS
    wait_seconds: float = DEFAULT_WAIT_SECONDS


@contextmanager
def held(
    client: redis.Redis,
    key: str,
    *,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
) -> Iterator[None]:
    """Hold the lease ``key`` while the block runs (renewed), or raise ``LeaseBusy``."""
    # Not thread-local: the renewing thread must see the token the job thread took.
    lock = client.lock(key, timeout=lease_seconds, thread_local=False)
    if not lock.acquire(blocking_timeout=wait_seconds):
        remaining = client.pttl(key)
        raise LeaseBusy(key, max(100, int(remaining) if remaining and remaining > 0 else 1000))
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(lease_seconds / 3):
            try:
                lock.reacquire()  # back to a full lease, only if it is still ours
            except (LockError, redis.RedisError) as exc:
                log.warning("could not renew the lease on %s: %s", key, exc)

    renewer = threading.Thread(target=renew, name=f"lease:{key}", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join(timeout=5)
        try:
            lock.release()
        except LockError:
            log.warning("the lease on %s expired before the job ended", key)


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
    lease: Lease | None = None,
    context: bool = False,
    **options: Any,
) -> Any:
    """Declare a dramatiq actor with Diamond's time limit and error mapping.

    ``time_limit`` is in seconds; ``max_retries`` bounds retries of failures other
    than an unavailable forum (default ``DIAMOND_MAX_RETRIES``); ``retry_window_seconds``
    how long those are waited out (default ``DIAMOND_RETRY_WINDOW_SECONDS``). The actor
    name defaults to ``<last module part>.<function>``, e.g. ``membership.on_user_created``.
    ``context``: the actor gets this process's ``StepContext`` as its first argument
    (``worker.pipeline.runtime.step_context``; at ``scheduled_for`` when the job has one),
    built here so the actor only hands it to its step. ``lease``: held around every run
    (``Lease(key=lambda user_id, **_: keys.gating_lock(user_id))``, given the job's
    arguments by name).
    """

    def decorate(func: F) -> dramatiq.Actor:
        if not 0 < time_limit < 24 * 3600:
            raise ValueError(f"{func.__qualname__}: time_limit must be 0 < seconds < 1 day")
        name = actor_name or f"{func.__module__.rsplit('.', 1)[-1]}.{func.__name__}"
        cfg = pipeline_settings()
        failures = cfg.max_retries if max_retries is None else max_retries
        window = float(options.get("retry_window_seconds", cfg.retry_window_seconds))
        if lease is not None or context:
            func = _with_context(func, lease, context)
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


def _with_context(func: F, lease: Lease | None, context: bool) -> F:
    """``func`` run with its ``StepContext`` first (``context``), under its lease (if any)."""
    signature = inspect.signature(func)
    if context:  # the lease's key is a function of the job's own arguments, not of ctx
        signature = signature.replace(parameters=list(signature.parameters.values())[1:])

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        arguments = signature.bind(*args, **kwargs).arguments  # the job's, by name
        # The run's time: its scheduled time if the scheduler gave one, else now.
        ctx = runtime.step_context(arguments.get("scheduled_for")) if context else None
        call_args = (ctx, *args) if context else args
        if lease is None:
            return func(*call_args, **kwargs)
        key = lease.key(**arguments)
        client = ctx.redis if ctx is not None else runtime.redis_client()
        with held(client, key, lease_seconds=lease.seconds, wait_seconds=lease.wait_seconds):
            return func(*call_args, **kwargs)

    return run  # type: ignore[return-value]  # wraps func: the job's own arguments


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
