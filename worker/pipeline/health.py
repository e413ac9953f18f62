"""Heartbeats the long-running processes keep in Redis, and the verdict read from them.

Each worker container and each scheduler writes a hash ``diamond:health:<role>:<host>``
(expiring, so a dead process's record goes away): when it was last alive, whether
the forum accepts the key (worker), when its last job succeeded or failed. ``diamond
health worker|scheduler`` reads the record of the container it runs in, which makes it
a docker-compose health check; ``diamond health`` alone lists every record.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from dramatiq.middleware import Middleware
from redis.typing import EncodableT, FieldT

from worker import metrics
from worker.state import keys

log = logging.getLogger(__name__)

PREFIX = keys.HEALTH_PREFIX
BEAT_SECONDS = 15.0
RECORD_TTL_SECONDS = 3600  # a record outlives a crash long enough to be read
FORUM_CHECK_SECONDS = 600.0  # one admin read every 10 minutes (the budget is 60/minute)
ROLES = ("worker", "scheduler")


def record_key(role: str, host: str | None = None) -> str:
    return keys.health_record(role, host or socket.gethostname())


def beat(client: redis.Redis, role: str, **fields: Any) -> None:
    """Record that ``role`` on this host is alive now (plus any ``fields``).

    A worker's beat also updates one site-wide record (``metrics.SITE_HEALTH_KEY``) that
    the receiver's ``/healthz`` and ``/metrics`` read without scanning for hosts.
    """
    key = record_key(role)
    now = f"{time.time():.3f}"
    with client.pipeline(transaction=False) as pipe:
        pipe.hset(key, mapping={"alive_at": now, **_text(fields)})
        pipe.expire(key, RECORD_TTL_SECONDS)
        if role == "worker":
            site = {"worker_alive_at": now, **_text(fields)}
            pipe.hset(metrics.SITE_HEALTH_KEY, mapping=site)
            pipe.expire(metrics.SITE_HEALTH_KEY, RECORD_TTL_SECONDS)
        pipe.execute()


def note(client: redis.Redis, role: str, **fields: Any) -> None:
    """Record fields (e.g. the last success) without claiming to be alive."""
    key = record_key(role)
    client.hset(key, mapping=_text(fields))
    client.expire(key, RECORD_TTL_SECONDS)


def _text(fields: dict[str, Any]) -> dict[FieldT, EncodableT]:
    return {k: f"{v:.3f}" if isinstance(v, float) else str(v) for k, v in fields.items()}


@dataclass(frozen=True)
class Verdict:
    healthy: bool
    lines: tuple[str, ...]


def judge(record: dict[str, str], role: str, now: float, max_age: float) -> Verdict:
    """Pure: is the process behind ``record`` healthy, and what to tell a human."""
    if not record:
        return Verdict(False, (f"{role}: no heartbeat in Redis (not running on this host?)",))
    lines = []
    healthy = True
    age = now - float(record.get("alive_at", 0))
    if age > max_age:
        healthy = False
        lines.append(f"{role}: last heartbeat {age:.0f} s ago (more than {max_age:.0f} s)")
    else:
        lines.append(f"{role}: alive ({age:.0f} s ago), Redis reachable")
    forum = record.get("forum")
    if forum:
        if forum != "ok":
            healthy = healthy and not forum.startswith("refused")
        lines.append(f"forum: {forum}")
    for what in ("success", "failure"):
        at = record.get(f"last_{what}_at")
        if at:
            ago = now - float(at)
            lines.append(f"last {what}: {record.get(f'last_{what}_job', '?')} {ago:.0f} s ago")
    return Verdict(healthy, tuple(lines))


class Heartbeat(Middleware):
    """dramatiq middleware of ``diamond worker``: beats while the process lives, checks
    the key every ``FORUM_CHECK_SECONDS``, and records the last job that succeeded/failed."""

    def __init__(
        self,
        client: Callable[[], redis.Redis],
        check_forum: Callable[[], str] | None = None,
        every: float = BEAT_SECONDS,
        on_dead_letter: Callable[[Any, str], None] | None = None,
    ) -> None:
        self._client = client
        self._check_forum = check_forum
        self._on_dead_letter = on_dead_letter
        self._errors: dict[str, str] = {}  # message id -> its last error, until acked/nacked
        self._every = every
        self._stop = threading.Event()
        self._forum_checked = 0.0

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        threading.Thread(target=self._loop, name="diamond-heartbeat", daemon=True).start()

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self._every)

    def tick(self) -> None:
        fields: dict[str, Any] = {}
        if self._check_forum and time.monotonic() - self._forum_checked >= FORUM_CHECK_SECONDS:
            fields["forum"] = self._check_forum()
            fields["forum_checked_at"] = time.time()
            self._forum_checked = time.monotonic()
        try:
            beat(self._client(), "worker", **fields)
        except redis.RedisError as exc:
            log.warning("heartbeat: Redis unreachable (%s)", exc)

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        what = "failure" if exception is not None else "success"
        if exception is not None:
            self._errors[message.message_id] = f"{type(exception).__name__}: {exception}"[:200]
        else:
            self._errors.pop(message.message_id, None)
        now = f"{time.time():.3f}"
        key = record_key("worker")
        with contextlib.suppress(redis.RedisError), self._client().pipeline(False) as pipe:
            # One round trip per job: it is on every job's path.
            pipe.hset(key, mapping={f"last_{what}_at": now, f"last_{what}_job": message.actor_name})
            pipe.expire(key, RECORD_TTL_SECONDS)
            if exception is None:  # e.g. the gauge of the last successful audit
                pipe.hset(metrics.LAST_SUCCESS_KEY, message.actor_name, now)
            pipe.execute()

    def after_ack(self, broker: Any, message: Any) -> None:
        self._errors.pop(message.message_id, None)  # retried: a new message id follows

    def after_nack(self, broker: Any, message: Any) -> None:
        """The message went to the dead-letter queue: count it, tell the staff."""
        metrics.count(self._client(), metrics.DEAD_LETTERED_KEY, message.actor_name)
        error = self._errors.pop(message.message_id, "")
        if self._on_dead_letter is not None:
            try:
                self._on_dead_letter(message, error)
            except Exception:  # a notice must never take the worker down
                log.exception("could not raise the staff notice for a job that gave up")


def forum_key_status() -> str:
    """'ok', 'refused: ...' or 'unreachable: ...' for the worker's forum client."""
    from worker.forum.errors import ForumError, ForumRejected, RateLimited
    from worker.pipeline import runtime

    try:
        runtime.forum().list_badges()
    except RateLimited:
        return "ok"  # answered, only busy
    except ForumRejected as exc:
        if exc.status in (401, 403):
            return f"refused: the forum refused the API key ({exc})"
        return f"error: {exc}"
    except ForumError as exc:
        return f"unreachable: {exc}"
    return "ok"
