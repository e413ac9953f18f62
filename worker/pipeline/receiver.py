"""The webhook receiver: a small WSGI app (werkzeug) served by gunicorn.

For each POST it: checks size (413), signature over the raw body (401), JSON and
shape (400); answers ``ping`` (200) and events nobody routes (204); ignores what
Diamond's own API user did (204); drops duplicates (200); enqueues the ids for
each routed actor (202). Redis down → 503 so the sender may retry. Nothing it
answers carries a traceback.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import dramatiq
import redis
from werkzeug.wrappers import Request, Response

from worker import metrics
from worker.pipeline import routes as r

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
# Real bodies nest 4 deep (a user's groups); a forged one 100,000 deep must not reach
# the parser's recursion (a RecursionError answered 500).
MAX_JSON_DEPTH = 32
WEBHOOK_PATHS = frozenset({"/", "/webhook", "/webhooks/discourse"})


# Discourse signs each delivery: ``sha256=<hex HMAC-SHA256(secret, raw body)>``.
SIGNATURE_PREFIX = "sha256="


def sign(secret: str | bytes, body: bytes) -> str:
    """The ``X-Discourse-Event-Signature`` header value Discourse sends for ``body``."""
    key = secret.encode() if isinstance(secret, str) else secret
    return SIGNATURE_PREFIX + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify(secret: str | bytes, body: bytes, header: str | None) -> bool:
    """True when ``header`` is the signature of the raw ``body`` (constant-time compare)."""
    if not header or not header.startswith(SIGNATURE_PREFIX):
        return False
    expected = sign(secret, body)
    return hmac.compare_digest(expected.encode(), header.strip().lower().encode())


class ReceiverConfigError(Exception):
    """The receiver cannot start safely; the message says which setting to fix."""


@dataclass(frozen=True)
class ReceiverConfig:
    secret: str | None  # None only with an explicit development flag
    api_username: str
    dedup_ttl_seconds: int = 7 * 24 * 3600


def _json(code: int, /, **body: Any) -> Response:
    return Response(json.dumps(body), status=code, mimetype="application/json")


_NO_CONTENT = 204
REJECTION_LOG_INTERVAL_SECONDS = 60.0


class RejectionLog:
    """Logs why webhooks were refused, at most once a minute per reason (a misconfigured
    sender retries a lot), with how many were refused since the last line."""

    def __init__(
        self,
        interval: float = REJECTION_LOG_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[tuple[int, str], float] = {}
        self._quiet: dict[tuple[int, str], int] = {}

    def __call__(self, status: int, reason: str, request: Request) -> None:
        key = (status, reason)
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                self._quiet[key] = self._quiet.get(key, 0) + 1
                return
            self._last[key] = now
            quiet = self._quiet.pop(key, 0)
        log.warning(
            "receiver: refused a webhook with %d: %s (from %s, event %s, delivery %s)%s",
            status,
            reason,
            request.headers.get("X-Forwarded-For") or request.remote_addr or "?",
            request.headers.get("X-Discourse-Event") or "?",
            request.headers.get("X-Discourse-Event-Id") or "?",
            f"; {quiet} more refused for this reason in the last minute" if quiet else "",
        )


class Receiver:
    """WSGI callable. ``broker`` holds the actors; ``redis_client`` the dedup keys."""

    def __init__(
        self, config: ReceiverConfig, broker: dramatiq.Broker, redis_client: redis.Redis
    ) -> None:
        if config.secret is not None and not config.secret:
            raise ReceiverConfigError("DIAMOND_WEBHOOK_SECRET: must be set")
        self.config = config
        self.broker = broker
        self.redis = redis_client
        self.dispatcher = r.Dispatcher(
            broker, r.Deduper(redis_client, config.dedup_ttl_seconds), config.api_username
        )
        self.log_rejection = RejectionLog()

    def __call__(self, environ: dict, start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self.handle(request)
        except Exception:
            # A bug in this code: log it here, tell the sender nothing about it.
            log.exception("receiver: unexpected error on %s %s", request.method, request.path)
            response = _json(500, error="internal error")
        return response(environ, start_response)

    # --- request handling --------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.path == "/healthz":
            return self.healthz()
        if request.path == "/metrics":
            return self.metrics(request)
        if request.path not in WEBHOOK_PATHS:
            return _json(404, error="not found")
        if request.method != "POST":
            return _json(405, error="POST a Discourse webhook here")
        response = self.webhook(request)
        if response.status_code in (400, 401, 413):
            reason = json.loads(response.get_data()).get("error", "?")
            self.log_rejection(response.status_code, reason, request)
            metrics.count(self.redis, metrics.REFUSED_KEY, str(response.status_code))
        return response

    def healthz(self) -> Response:
        """Redis reachable (else 503), and what the workers' heartbeats say: one Redis
        round trip, never a forum call. A worker that is silent or whose key the forum
        refuses makes the status "degraded" (still 200: the receiver itself is fine)."""
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                pipe.ping()
                pipe.hgetall(metrics.SITE_HEALTH_KEY)
                pipe.hgetall(metrics.LAST_SUCCESS_KEY)
                _, site_raw, last_raw = pipe.execute()
        except redis.RedisError:
            return _json(503, status="degraded", redis="unreachable")
        worker, problems = worker_health(_decoded(site_raw), _decoded(last_raw), time.time())
        status = "degraded" if problems else "ok"
        return _json(200, status=status, redis="ok", worker=worker, problems=problems)

    def metrics(self, request: Request) -> Response:
        """Prometheus text format, no signature: only for scrapers on the loopback bind or the
        compose network. A request the TLS proxy forwarded from outside is not answered."""
        if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
            return _json(404, error="not found")
        try:
            body, content_type = metrics.exposition(self.redis, _queues(self.broker))
        except redis.RedisError as exc:
            log.warning("receiver: metrics unavailable, Redis unreachable (%s)", exc)
            return _json(503, error="Redis unreachable")
        return Response(body, status=200, content_type=content_type)

    def webhook(self, request: Request) -> Response:
        declared = request.content_length
        if declared is not None and declared > MAX_BODY_BYTES:
            return _json(413, error=f"body larger than {MAX_BODY_BYTES} bytes")
        try:
            body = request.stream.read(MAX_BODY_BYTES + 1)
        except Exception as exc:  # the server's decoder: bad chunked framing, cut-off body
            log.debug("receiver: unreadable body (%s: %s)", type(exc).__name__, exc)
            return _json(400, error="body could not be read (malformed chunked framing?)")
        if len(body) > MAX_BODY_BYTES:
            return _json(413, error=f"body larger than {MAX_BODY_BYTES} bytes")

        headers = request.headers
        if self.config.secret is not None and not verify(
            self.config.secret, body, headers.get("X-Discourse-Event-Signature")
        ):
            return _json(401, error="missing or wrong X-Discourse-Event-Signature")

        event_type = headers.get("X-Discourse-Event-Type", "")
        event = headers.get("X-Discourse-Event", "")
        if not event_type or not event:
            return _json(400, error="X-Discourse-Event-Type and X-Discourse-Event are required")
        try:
            payload = json.loads(body)
        except ValueError:
            return _json(400, error="body is not valid JSON")
        except RecursionError:
            return _json(400, error=f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        if nested_deeper_than(payload, MAX_JSON_DEPTH):
            return _json(400, error=f"JSON nested deeper than {MAX_JSON_DEPTH} levels")

        if event_type == "ping":
            return _json(200, status="pong")
        try:
            outcome, jobs = self.dispatcher.delivery(
                event_type,
                event,
                payload,
                instance=headers.get("X-Discourse-Instance", ""),
                delivery_id=headers.get("X-Discourse-Event-Id"),
            )
        except r.BadEvent as exc:
            return _json(400, error=str(exc))
        except redis.RedisError as exc:
            log.warning("receiver: Redis unreachable, asked the sender to retry (%s)", exc)
            return _json(503, error="queue unavailable, retry later")
        if outcome is r.Outcome.ACCEPTED:
            return _json(202, status="accepted", jobs=jobs)
        if outcome is r.Outcome.DUPLICATE:
            return _json(200, status="duplicate")
        log.debug("receiver: %s ignored (%s)", event, outcome)
        return Response(status=_NO_CONTENT)


WORKER_SILENT_SECONDS = 90.0  # as `diamond health worker --max-age`


def _decoded(raw: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in raw.items()}


def worker_health(
    site: dict[str, str], last_success: dict[str, str], now: float
) -> tuple[dict[str, Any], list[str]]:
    """Pure: the workers' state for ``/healthz`` from their site record, and what is wrong."""
    problems = []
    worker: dict[str, Any] = {}
    if "worker_alive_at" not in site:
        problems.append("no worker heartbeat in Redis (is `diamond worker` running?)")
    else:
        age = round(now - float(site["worker_alive_at"]), 1)
        worker["heartbeat_seconds_ago"] = age
        if age > WORKER_SILENT_SECONDS:
            problems.append(f"the last worker heartbeat was {age:.0f} s ago")
    if "forum" in site:
        worker["forum"] = site["forum"]
        if site["forum"] != "ok":
            problems.append(f"forum: {site['forum']}")
    if last_success:
        job, at = max(last_success.items(), key=lambda item: float(item[1]))
        worker["last_success"] = {"job": job, "seconds_ago": round(now - float(at), 1)}
    return worker, problems


def _queues(broker: dramatiq.Broker) -> list[str]:
    return [q for q in broker.get_declared_queues() if not q.endswith((".DQ", ".XQ"))]


def nested_deeper_than(value: Any, limit: int) -> bool:
    """True when ``value`` has containers more than ``limit`` deep (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth + 1 > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def missing_actors(broker: dramatiq.Broker) -> list[str]:
    """Routes whose actor is not declared: a wiring mistake to refuse at start."""
    declared = set(broker.get_declared_actors())
    return sorted(
        f"{route.event} → {route.actor}"
        for routes in r.ROUTES.values()
        for route in routes
        if route.actor not in declared
    )


def build_receiver(
    config: ReceiverConfig, redis_url: str, *, extra_actor_modules: Iterable[str] = ()
) -> Receiver:
    """Connect to Redis, load the actors, check the routes, return the WSGI app."""
    from worker.pipeline.broker import setup_broker
    from worker.pipeline.jobs import load_actors

    broker = setup_broker(redis_url)
    load_actors(tuple(extra_actor_modules))
    missing = missing_actors(broker)
    if missing:
        raise ReceiverConfigError(
            "routes to actors that are not declared (add their module to "
            "worker.pipeline.jobs.ACTOR_MODULES): " + ", ".join(missing)
        )
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
    return Receiver(config, broker, client)
