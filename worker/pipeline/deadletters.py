"""dramatiq's dead-letter queues in Redis: list the jobs that gave up, send them again.

A job that gave up (``GAVE UP`` in the worker log) is kept for a week in
``diamond:<queue>.XQ`` (a sorted set of Redis message ids, scored by when) with the
message in ``diamond:<queue>.XQ.msgs``. Retrying takes it out and enqueues a fresh
copy with its retry counters reset, so it gets the full retry policy again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import dramatiq
import redis
from dramatiq.message import Message

from worker.pipeline.broker import NAMESPACE
from worker.redis_text import text

# Options the retry machinery keeps on a message; a re-sent job starts afresh.
_RESET_OPTIONS = (
    "retries",
    "traceback",
    "redis_message_id",
    "eta",
    "diamond_first_failed_ms",
    "diamond_failures",
    "diamond_waits",
)


@dataclass(frozen=True)
class DeadJob:
    queue: str
    redis_id: str
    failed_at: datetime
    message: Message

    @property
    def id(self) -> str:
        return self.message.message_id

    def describe(self) -> str:
        call = ", ".join(
            [*map(repr, self.message.args), *(f"{k}={v!r}" for k, v in self.message.kwargs.items())]
        )
        error = (self.message.options.get("traceback") or "").strip().splitlines()
        last = f"  — {error[-1]}" if error else ""
        return (
            f"{self.id}  {self.failed_at:%Y-%m-%d %H:%M} UTC  {self.queue}  "
            f"{self.message.actor_name}({call}){last}"
        )


def dead_jobs(client: redis.Redis) -> list[DeadJob]:
    """Every dead-lettered job of every queue, oldest first."""
    jobs = []
    for raw_key in client.scan_iter(match=f"{NAMESPACE}:*.XQ", count=100):
        key = text(raw_key)
        queue = key.removeprefix(f"{NAMESPACE}:").removesuffix(".XQ")
        entries: list[tuple[bytes, float]] = client.zrange(key, 0, -1, withscores=True)  # type: ignore[assignment]  # withscores: (member, score) pairs
        for redis_id, score in entries:
            data = client.hget(f"{key}.msgs", redis_id)
            if data is None:
                continue
            jobs.append(
                DeadJob(
                    queue,
                    redis_id.decode(),
                    datetime.fromtimestamp(score / 1000, UTC),
                    Message.decode(data if isinstance(data, bytes) else data.encode()),
                )
            )
    return sorted(jobs, key=lambda j: j.failed_at)


def retry(client: redis.Redis, broker: dramatiq.Broker, job: DeadJob) -> bool:
    """Take ``job`` out of its dead-letter queue and enqueue it afresh; False if already gone."""
    key = f"{NAMESPACE}:{job.queue}.XQ"
    with client.pipeline() as pipe:  # MULTI: two retries of one job enqueue it once
        pipe.zrem(key, job.redis_id)
        pipe.hdel(f"{key}.msgs", job.redis_id)
        removed, _ = pipe.execute()
    if not removed:
        return False
    options = {k: v for k, v in job.message.options.items() if k not in _RESET_OPTIONS}
    broker.enqueue(job.message._replace(options=options))
    return True
