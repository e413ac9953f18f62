"""From one event (webhook or catch-up scan) to enqueued jobs: route, filter, dedup, send.

The receiver and the catch-up scan share this so a post seen both ways runs its
actors once (same event identity) and Diamond's own posts never loop.

Duplicates are dropped by the same delivery id or the same change (event identity): both
keys are claimed in one atomic script, so two receivers racing on one delivery enqueue it
once. If enqueueing then fails, the claim is released so the sender's retry is not
mistaken for a duplicate.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import dramatiq
import redis

from worker.pipeline import routes as r
from worker.pipeline.broker import enqueue_many
from worker.state import keys as state_keys

log = logging.getLogger(__name__)

PREFIX = state_keys.SEEN_PREFIX

# KEYS: keys to claim (1 or 2). ARGV[1]: ttl seconds. 1 = claimed, 0 = seen before.
_CLAIM = """
for i = 1, #KEYS do
  if redis.call('exists', KEYS[i]) == 1 then return 0 end
end
for i = 1, #KEYS do
  redis.call('set', KEYS[i], '1', 'EX', ARGV[1])
end
return 1
"""


def delivery_key(instance: str, delivery_id: str) -> str:
    return state_keys.seen_delivery(instance, delivery_id)


def identity_key(identity: str) -> str:
    return state_keys.seen_identity(identity)


class Deduper:
    def __init__(self, client: redis.Redis, ttl_seconds: int) -> None:
        self.client = client
        self.ttl_seconds = ttl_seconds
        self._claim = client.register_script(_CLAIM)

    def claim(self, keys: list[str]) -> bool:
        """True if none of ``keys`` was seen within the TTL (and now they are)."""
        if not keys:
            return True
        return bool(self._claim(keys=keys, args=[self.ttl_seconds]))

    def release(self, keys: list[str]) -> None:
        if keys:
            self.client.delete(*keys)


class Outcome(StrEnum):
    ACCEPTED = "accepted"  # jobs enqueued
    DUPLICATE = "duplicate"  # seen before within the dedup TTL
    OWN = "own"  # done by Diamond's own API user
    UNUSED = "unused"  # no route for this event
    BUILT_IN = "built_in"  # about Discourse's own accounts (system -1, discobot -2)


def _built_in(user_id: object) -> bool:
    """Discourse's own accounts have ids below 1 (system is -1); never gated or judged."""
    return isinstance(user_id, int) and not isinstance(user_id, bool) and -1000 < user_id < 1


class Dispatcher:
    def __init__(self, broker: dramatiq.Broker, deduper: Deduper, api_username: str) -> None:
        self.broker = broker
        self.deduper = deduper
        self._own_user = api_username.casefold()

    def delivery(
        self,
        event_type: str,
        event: str,
        payload: Any,
        *,
        instance: str = "",
        delivery_id: str | None = None,
    ) -> tuple[Outcome, int]:
        """A webhook delivery: the event's object out of its body, deduplicated by the
        delivery id (``X-Discourse-Event-Id``) as well as by the event's identity."""
        obj = r.event_object(event_type, payload)
        keys = (delivery_key(instance, delivery_id),) if delivery_id else ()
        return self.dispatch(event_type, event, obj, dedup_keys=keys)

    def dispatch(
        self,
        event_type: str,
        event: str,
        obj: Mapping[str, Any],
        *,
        dedup_keys: tuple[str, ...] = (),
    ) -> tuple[Outcome, int]:
        """Enqueue the routed actors for ``event``; returns the outcome and jobs sent.

        ``BadEvent`` when a route's id is missing; ``redis.RedisError`` when Redis is
        down (nothing is claimed then, so a retry of the same event is not a duplicate).
        """
        routes = r.routes_for(event)
        if not routes:
            return Outcome.UNUSED, 0
        r.check_event_type(event_type, event)
        if event_type == "user" and _built_in(obj.get("id")):
            return Outcome.BUILT_IN, 0  # a real delivery, but nobody Diamond manages
        calls = [(route.actor, route.extract(obj)) for route in routes]
        author = r.author_of(event_type, obj)
        if author is not None and author.casefold() == self._own_user:
            return Outcome.OWN, 0
        keys = list(dedup_keys)
        ident = r.identity(event, obj)
        if ident:
            keys.append(identity_key(ident))
        if not self.deduper.claim(keys):
            return Outcome.DUPLICATE, 0
        messages = [
            self.broker.get_actor(actor_name).message_with_options(kwargs=kwargs)
            for actor_name, kwargs in calls
        ]
        try:
            enqueue_many(self.broker, messages)
        except Exception:
            self.deduper.release(keys)  # a retry of this event must not look like a duplicate
            raise
        return Outcome.ACCEPTED, len(calls)
