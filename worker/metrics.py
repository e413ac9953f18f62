"""Diamond's Prometheus metrics: counted in Redis by every process, read at scrape time.

Forum calls, 429s and budget waits happen in worker processes, CLI commands and the
receiver alike, and the one API budget is the site's: so they are counted in Redis
(the client already mirrors its per-endpoint counts to ``diamond:forum:calls``), and
``collect`` turns those hashes into metric families in one pipelined round trip.
The figures survive restarts (a "last successful audit" gauge that read 0 after
every deploy would page someone for nothing) and need no per-process exposition.

The receiver serves them at ``/metrics``. Per-job figures of the worker processes
(messages, errors, retries, durations) come from dramatiq's own Prometheus
middleware on its exposition port (``DIAMOND_WORKER_METRICS_PORT``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

import redis

from worker.state import keys

log = logging.getLogger(__name__)

# The formats are keys.py's (see there what each holds).
CALLS_KEY = keys.FORUM_CALLS  # worker.forum.client.CALL_COUNTS_KEY
RATE_LIMITED_KEY = keys.METRICS_FORUM_429
BUDGET_KEY = keys.METRICS_BUDGET_WAITS
DEAD_LETTERED_KEY = keys.METRICS_DEAD_LETTERED
LAST_SUCCESS_KEY = keys.METRICS_LAST_SUCCESS
REFUSED_KEY = keys.METRICS_WEBHOOKS_REFUSED
SITE_HEALTH_KEY = keys.SITE_HEALTH


def count(client: redis.Redis | None, key: str, field: str, amount: float = 1) -> None:
    """Add ``amount`` to one counter; a Redis error never breaks what is being counted."""
    if client is None:
        return
    try:
        if isinstance(amount, int):
            client.hincrby(key, field, amount)
        else:
            client.hincrbyfloat(key, field, amount)
    except redis.RedisError as exc:
        log.warning("metrics: could not count %s %s: %s", key, field, exc)


def count_budget_wait(client: redis.Redis | None, seconds: float) -> None:
    if client is None:
        return
    try:
        with client.pipeline(transaction=False) as pipe:
            pipe.hincrby(BUDGET_KEY, "waits", 1)
            pipe.hincrbyfloat(BUDGET_KEY, "seconds", seconds)
            pipe.execute()
    except redis.RedisError as exc:
        log.warning("metrics: could not count a budget wait: %s", exc)


def _split_call(label: str) -> tuple[str, str]:
    method, _, endpoint = label.partition(" ")
    return method, endpoint or "?"


def _text(raw: dict[Any, Any]) -> dict[str, str]:
    return {
        (k.decode() if isinstance(k, bytes) else str(k)): (
            v.decode() if isinstance(v, bytes) else str(v)
        )
        for k, v in raw.items()
    }


def collect(client: redis.Redis, queues: Iterable[str] = ()) -> Iterator[Any]:
    """Metric families of the whole site, from Redis (one round trip)."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    from worker.pipeline.broker import NAMESPACE

    queues = sorted(set(queues))
    with client.pipeline(transaction=False) as pipe:
        for key in (CALLS_KEY, RATE_LIMITED_KEY, BUDGET_KEY, DEAD_LETTERED_KEY, LAST_SUCCESS_KEY):
            pipe.hgetall(key)
        pipe.hgetall(REFUSED_KEY)
        pipe.hgetall(SITE_HEALTH_KEY)
        for queue in queues:
            pipe.zcard(f"{NAMESPACE}:{queue}.XQ")
        answers = pipe.execute()
    calls, limited, budget, dead, last, refused, site = map(_text, answers[:7])
    waiting = answers[7:]

    family = CounterMetricFamily(
        "diamond_forum_calls",
        "Forum API calls sent, by method and endpoint (every process; the budget is the site's)",
        labels=["method", "endpoint"],
    )
    for label, n in sorted(calls.items()):
        family.add_metric(list(_split_call(label)), float(n))
    yield family

    family = CounterMetricFamily(
        "diamond_forum_rate_limited",
        "Forum answers 429 Too Many Requests, by method and endpoint",
        labels=["method", "endpoint"],
    )
    for label, n in sorted(limited.items()):
        family.add_metric(list(_split_call(label)), float(n))
    yield family

    yield CounterMetricFamily(
        "diamond_forum_budget_waits",
        "Times a call waited for the shared API budget (CLI commands; workers retry later)",
        value=float(budget.get("waits", 0)),
    )
    yield CounterMetricFamily(
        "diamond_forum_budget_wait_seconds",
        "Seconds spent waiting for the shared API budget",
        value=float(budget.get("seconds", 0)),
    )

    family = CounterMetricFamily(
        "diamond_jobs_dead_lettered",
        "Jobs that gave up and went to the dead-letter queue, by actor",
        labels=["actor"],
    )
    for actor, n in sorted(dead.items()):
        family.add_metric([actor], float(n))
    yield family

    gauge = GaugeMetricFamily(
        "diamond_dead_letter_jobs",
        "Jobs in a dead-letter queue now (diamond jobs failed / retry)",
        labels=["queue"],
    )
    for queue, n in zip(queues, waiting, strict=True):
        gauge.add_metric([queue], float(n))
    yield gauge

    gauge = GaugeMetricFamily(
        "diamond_job_last_success_timestamp_seconds",
        "When a job of this actor last succeeded (e.g. obligations.weekly_audit, "
        "recognition.weekly_report, membership.camp_check)",
        labels=["actor"],
    )
    for actor, at in sorted(last.items()):
        gauge.add_metric([actor], float(at))
    yield gauge

    family = CounterMetricFamily(
        "diamond_webhooks_refused",
        "Webhooks the receiver refused, by HTTP status (401 signature, 400, 413)",
        labels=["status"],
    )
    for status, n in sorted(refused.items()):
        family.add_metric([status], float(n))
    yield family

    if "worker_alive_at" in site:
        yield GaugeMetricFamily(
            "diamond_worker_heartbeat_timestamp_seconds",
            "The last heartbeat of any worker process",
            value=float(site["worker_alive_at"]),
        )
    if "forum" in site:
        yield GaugeMetricFamily(
            "diamond_forum_key_ok",
            "1 when the forum accepted the API key at the worker's last check, else 0",
            value=1.0 if site["forum"] == "ok" else 0.0,
        )


class SiteCollector:
    """A prometheus_client collector over ``collect`` (for a ``CollectorRegistry``)."""

    def __init__(self, client: redis.Redis, queues: Iterable[str] = ()) -> None:
        self.client = client
        self.queues = tuple(queues)

    def collect(self) -> Iterator[Any]:
        return collect(self.client, self.queues)


def exposition(client: redis.Redis, queues: Iterable[str] = ()) -> tuple[bytes, str]:
    """The text format of every site metric, and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(SiteCollector(client, queues))
    return generate_latest(registry), CONTENT_TYPE_LATEST
