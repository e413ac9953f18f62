"""One place that builds the dramatiq broker, for the receiver, worker, scheduler and tests.

Actors are declared at import time against whatever broker is global then;
``setup_broker`` moves every actor already declared onto the new broker, so the
order of "import actor modules" and "connect to Redis" does not matter, and a
test may point the pipeline at its own Redis server.
"""

from __future__ import annotations

import threading
import uuid

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import current_millis
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Middleware,
    Pipelines,
    ShutdownNotifications,
    TimeLimit,
)
from redis.exceptions import NoScriptError

from worker.pipeline import runtime
from worker.pipeline.config import pipeline_settings
from worker.pipeline.retries import DiamondRetries

NAMESPACE = "diamond"  # prefix of dramatiq's keys in Redis
_lock = threading.Lock()


def build_middleware() -> list[Middleware]:
    cfg = pipeline_settings()
    return [
        AgeLimit(),
        TimeLimit(),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        DiamondRetries(
            max_retries=cfg.max_retries,
            min_backoff=cfg.min_backoff_ms,
            max_backoff=min(cfg.max_backoff_ms, cfg.retry_max_backoff_ms),
            retry_window_seconds=cfg.retry_window_seconds,
        ),
        CurrentMessage(),
    ]


def setup_broker(
    redis_url: str,
    *,
    heartbeat_timeout_ms: int | None = None,
    maintenance_chance: int | None = None,
) -> RedisBroker:
    """Make a Redis broker the global one and move already-declared actors onto it."""
    cfg = pipeline_settings()
    broker = RedisBroker(
        url=redis_url,
        namespace=NAMESPACE,
        middleware=build_middleware(),
        heartbeat_timeout=heartbeat_timeout_ms or cfg.heartbeat_timeout_ms,
        maintenance_chance=maintenance_chance or cfg.maintenance_chance,
        # Fail fast when Redis is down so the receiver can answer 503 promptly.
        socket_connect_timeout=2,
        socket_timeout=5,
        health_check_interval=30,
    )
    _install(broker)
    runtime.configure(redis_url=redis_url)
    return broker


def current_broker() -> dramatiq.Broker:
    """The global broker; a stand-in (no Redis) until ``setup_broker`` is called.

    The stand-in carries the same middleware so actor options are validated at import.
    """
    with _lock:
        broker = dramatiq.broker.global_broker
        if broker is None:
            broker = StubBroker(middleware=build_middleware())
            dramatiq.set_broker(broker)
        return broker


def _install(broker: dramatiq.Broker) -> None:
    with _lock:
        previous = dramatiq.broker.global_broker
        dramatiq.set_broker(broker)
        if previous is None or previous is broker:
            return
        for actor in list(previous.actors.values()):
            actor.broker = broker
            broker.declare_actor(actor)
        close = getattr(previous, "close", None)
        if close is not None:
            close()


def enqueue_many(broker: dramatiq.Broker, messages: list[dramatiq.Message]) -> None:
    """Enqueue several messages in one Redis round trip (the receiver's hot path).

    Does what ``RedisBroker.enqueue`` does for each message (a fresh
    ``redis_message_id``, the enqueue middleware hooks, dramatiq's own ``dispatch``
    script), but pipelined. Other brokers (tests' stand-in) enqueue one by one.
    """
    if not isinstance(broker, RedisBroker) or len(messages) < 2:
        for message in messages:
            broker.enqueue(message)
        return
    script = broker.scripts["dispatch"]
    prepared = []
    calls = []
    for message in messages:
        message = message.copy(options={"redis_message_id": str(uuid.uuid4())})
        broker.emit_before("enqueue", message, None)
        # Same arguments as RedisBroker._dispatch("enqueue"): see dramatiq's dispatch.lua.
        args = [
            "enqueue",
            current_millis(),
            message.queue_name,
            broker.broker_id,
            broker.heartbeat_timeout,
            broker.dead_message_ttl,
            0,  # no queue maintenance on the receiver's hot path
            broker._max_unpack_size(),
            message.options["redis_message_id"],
            message.encode(),
        ]
        calls.append(args)
        prepared.append(message)
    for attempt in range(2):
        # EVALSHA directly: a pipelined Script object would first ask SCRIPT EXISTS,
        # one more round trip per request.
        with broker.client.pipeline(transaction=False) as pipe:
            for args in calls:
                pipe.evalsha(script.sha, 1, broker.namespace, *args)
            results = pipe.execute(raise_on_error=False)
        missing = [a for a, r in zip(calls, results, strict=True) if isinstance(r, NoScriptError)]
        failed = [r for r in results if isinstance(r, Exception)]
        if any(not isinstance(r, NoScriptError) for r in failed):
            raise next(r for r in failed if not isinstance(r, NoScriptError))
        if not missing:
            break
        if attempt == 1:
            raise NoScriptError("dramatiq's dispatch script could not be loaded")
        broker.client.script_load(script.script)  # Redis restarted and forgot it
        calls = missing
    for message in prepared:
        broker.emit_after("enqueue", message, None)
