"""One place that builds the dramatiq broker, for the receiver, worker, scheduler and tests.

Actors are declared at import time against whatever broker is global then;
``setup_broker`` moves every actor already declared onto the new broker, so the
order of "import actor modules" and "connect to Redis" does not matter, and a
test may point the pipeline at its own Redis server.
"""

from __future__ import annotations

import threading

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Middleware,
    Pipelines,
    ShutdownNotifications,
    TimeLimit,
)

from worker.pipeline import runtime
from worker.pipeline.config import PipelineSettings, pipeline_settings
from worker.pipeline.retries import DiamondRetries

NAMESPACE = "diamond"  # prefix of dramatiq's keys in Redis
_lock = threading.Lock()


def build_middleware(cfg: PipelineSettings | None = None) -> list[Middleware]:
    """dramatiq's middleware of a Diamond broker; ``cfg``: the process's pipeline settings
    unless given (a test builds its own instead of editing the environment)."""
    cfg = pipeline_settings() if cfg is None else cfg
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
    settings: PipelineSettings | None = None,
) -> RedisBroker:
    """Make a Redis broker the global one and move already-declared actors onto it.

    ``settings``: the pipeline's knobs (retry backoff, heartbeat...); the process's own
    (``pipeline_settings()``, from the environment) unless given.
    """
    cfg = pipeline_settings() if settings is None else settings
    broker = RedisBroker(
        url=redis_url,
        namespace=NAMESPACE,
        middleware=build_middleware(cfg),
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
