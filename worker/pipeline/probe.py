"""Probe actors: prove a deployment's pipeline works end to end (and test it).

Not in ``ACTOR_MODULES``; load them explicitly::

    diamond worker --actors worker.pipeline.probe

Each probe leaves its effect in Redis under ``diamond:probe:`` (or, for
``reply``, on the forum) exactly once per key, however often its job runs.
"""

from __future__ import annotations

import time

from worker.pipeline import runtime
from worker.pipeline.idempotency import once
from worker.pipeline.jobs import diamond_actor
from worker.state import keys

PREFIX = keys.PROBE_PREFIX
QUEUE = "probe"


def effects_key(name: str) -> str:
    return keys.probe_effects(name)


def attempts_key(name: str) -> str:
    return keys.probe_attempts(name)


def acted_key(name: str) -> str:
    return keys.probe_acted(name)


@diamond_actor(queue=QUEUE, time_limit=60)
def record(name: str, hold_first_seconds: float = 0.0, lease_seconds: int = 2) -> None:
    """Append ``name`` to its effects list once; the first attempt then stays busy.

    The hold keeps the first attempt unfinished (unacknowledged) after its effect,
    which is where a worker killed mid-job hurts most.
    """
    client = runtime.redis_client()
    attempt = client.incr(attempts_key(name))
    with once(client, f"probe:{name}", lease_seconds=lease_seconds) as first:
        if first:
            client.rpush(effects_key(name), name)
    client.set(acted_key(name), "1")
    if attempt == 1 and hold_first_seconds:
        time.sleep(hold_first_seconds)


@diamond_actor(queue=QUEUE, time_limit=30)
def on_post(post_id: int) -> None:
    """Record a post id once (webhook → job probe)."""
    client = runtime.redis_client()
    with once(client, f"probe:post:{post_id}") as first:
        if first:
            client.rpush(effects_key("posts"), post_id)


@diamond_actor(queue=QUEUE, time_limit=60)
def reply(post_id: int, topic_id: int) -> None:
    """Reply on the forum to a post, once: the effect lands where members see it."""
    with once(runtime.redis_client(), f"probe:reply:{post_id}") as first:
        if first:
            runtime.forum().create_post(
                topic_id,
                f"probe: seen post {post_id}; webhook, queue and worker all work.",
                reason="pipeline probe",
            )


@diamond_actor(queue=QUEUE, time_limit=30)
def seen(object_id: int, event: str) -> None:
    """Record ``<event>:<id>`` once (any routed webhook → job probe)."""
    client = runtime.redis_client()
    with once(client, f"probe:seen:{event}:{object_id}") as first:
        if first:
            client.rpush(effects_key("seen"), f"{event}:{object_id}")


@diamond_actor(queue=QUEUE, time_limit=30)
def seen_schedule(scheduled_for: str, tag: str = "") -> None:
    """Record one periodic run (scheduler → job probe)."""
    runtime.redis_client().rpush(effects_key("schedule"), f"{tag}:{scheduled_for}")
