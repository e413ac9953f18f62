"""From one event (a webhook delivery or the catch-up scan) to enqueued jobs, top to bottom:
which actor each event feeds (the routes), the checks on the event's object, Diamond's own
and Discourse's built-in accounts filtered out, duplicates dropped, the jobs enqueued.

The receiver (``worker.pipeline.receiver``: size, signature, JSON) hands each delivery to
a ``Dispatcher``; the catch-up scan uses the same one, so a post seen both ways runs its
actors once (same event identity) and Diamond's own posts never loop.

**Routes.** A domain module adds its entries at import (its module is in
``ACTOR_MODULES``)::

    from worker.pipeline.routes import add_route
    add_route("user_created", "membership.on_user_created", ids={"user_id": "id"})

``ids`` maps the actor's keyword arguments to paths in the event's object
(``"id"``, ``"topic_id"``, ``"user.id"``); each must hold an integer, else the
delivery is rejected with 400. The actor gets ids only and re-reads the rest.
``names`` does the same for identifying names (``{"username": "user.username"}``), so
an actor need not read the forum just to learn whom an id stands for.
``hints`` picks optional facts the signed body carries and the forum's read API does not
(e.g. the applicant's email): the actor gets ``hints={arg: value}`` with an entry for
each path whose first key is in the body (its value a non-empty string, else None), so
"the body says nobody" (None) differs from "the body did not say" (no entry).
``body`` names keys of the event's object passed on as they are (``body={key: value}``,
only the keys present): facts the signed body carries that the actor would otherwise
read again (a ``post_created``'s post).
``parse`` runs a pure parser on the event's object once, in the receiver, and hands its
result to the actor as ``facts`` (chat messages: reading one back costs an API call).
Events with no route are answered 204. Several routes per event are allowed.

**Keepers** (``add_keeper``) keep a fact of the verified body in Redis in the receiver
itself, before any job runs, where a job would cost a round trip through the queue and
race the jobs that need the fact (a ``topic_created``'s topic, which its first post's
``post_created`` job reads). ``parse`` is pure and runs before the duplicate check
(``BadEvent`` → 400); ``store`` is one Redis write, done once the delivery is claimed (a
failed write releases the claim, as a failed enqueue does). An event may have a keeper,
routes, or both.

**Duplicates** are dropped by the same delivery id or the same change (event identity):
both keys are claimed in one atomic script, so two receivers racing on one delivery
enqueue it once. If enqueueing then fails, the claim is released so the sender's retry is
not mistaken for a duplicate.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeGuard

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis
from redis.exceptions import NoScriptError

from worker.state import keys as state_keys

log = logging.getLogger(__name__)

# Where the acting user's name is, per event type (X-Discourse-Event-Type); used to
# ignore what Diamond's own API user did, so its own posts cannot loop.
AUTHOR_PATHS: Mapping[str, str] = MappingProxyType(
    {
        "post": "username",
        "topic": "created_by.username",
        "like": "user.username",
        "chat_message": "message.user.username",
    }
)


class BadEvent(ValueError):
    """The body does not match its event type (missing object, missing or bad id)."""


# Discourse's ids are PostgreSQL integer or bigint serials: positive and at most 2^63 - 1.
# Real ids are far below (the captures' largest is five digits); anything outside is
# forged or corrupt and would only make an actor look up nonsense.
MAX_ID = 2**63 - 1

# The X-Discourse-Event-Type each core event is sent with (WebHook.enqueue_*_hooks in
# Discourse: the type is the body's root key). A routed event under another type is a
# contradiction, not a delivery. Events not listed are not checked (plugins add more).
EVENT_TYPES: Mapping[str, str] = MappingProxyType(
    {
        **{f"topic_{v}": "topic" for v in ("created", "revised", "edited", "destroyed")},
        "topic_recovered": "topic",
        **{f"post_{v}": "post" for v in ("created", "edited", "destroyed", "recovered")},
        **{
            f"user_{v}": "user"
            for v in (
                "logged_in",
                "logged_out",
                "confirmed_email",
                "created",
                "approved",
                "updated",
                "destroyed",
                "suspended",
                "unsuspended",
            )
        },
        **{f"group_{v}": "group" for v in ("created", "updated", "destroyed")},
        **{f"category_{v}": "category" for v in ("created", "updated", "destroyed")},
        **{f"tag_{v}": "tag" for v in ("created", "updated", "destroyed")},
        "post_liked": "like",
        # WebHook.enqueue_object_hooks(:group_user, ...) (app/models/group.rb)
        "user_added_to_group": "group_user",
        "user_removed_from_group": "group_user",
        # the chat plugin's hooks: WebHook.enqueue_hooks(:chat_message, ...) (plugin.rb)
        **{
            f"chat_message_{v}": "chat_message"
            for v in ("created", "edited", "trashed", "restored")
        },
    }
)


def is_id(value: Any) -> TypeGuard[int]:
    """A value Discourse could have sent as a row id (see ``MAX_ID``)."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def is_text(value: Any) -> TypeGuard[str]:
    """A string that can travel on (UTF-8, so no lone surrogates from a ``\\ud800`` escape)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True)
class Route:
    event: str  # X-Discourse-Event, e.g. "post_created"
    actor: str  # dramatiq actor name
    ids: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({"id": "id"}))
    pass_event: bool = False  # also send event=<name> to the actor
    names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    hints: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    body: tuple[str, ...] = ()
    # A pure parser of the event's object whose JSON-able result the actor gets as
    # ``facts=`` (for events whose object is costly to read back, e.g. chat messages);
    # it raises BadEvent on a body it cannot read (answered 400).
    parse: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None

    def extract(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """The actor's keyword arguments taken from the event's object."""
        kwargs: dict[str, Any] = {}
        for arg, path in self.ids.items():
            value = lookup(obj, path)
            if isinstance(value, bool) or not isinstance(value, int):
                raise BadEvent(f"{self.event}: {path!r} must be an integer id")
            if not is_id(value):
                raise BadEvent(f"{self.event}: {path!r} must be an id from 1 to 2^63-1")
            kwargs[arg] = value
        for arg, path in self.names.items():
            value = lookup(obj, path)
            if not is_text(value) or not value.strip():
                raise BadEvent(f"{self.event}: {path!r} must be a non-empty name")
            kwargs[arg] = value
        if self.hints:
            kwargs["hints"] = body_hints(obj, self.hints)
        if self.body:
            kwargs["body"] = {key: obj[key] for key in self.body if key in obj}
        if self.pass_event:
            kwargs["event"] = self.event
        if self.parse is not None:
            kwargs["facts"] = self.parse(obj)
        return kwargs


ROUTES: dict[str, list[Route]] = {}


def add_route(
    event: str,
    actor: str,
    *,
    ids: Mapping[str, str] | None = None,
    names: Mapping[str, str] | None = None,
    pass_event: bool = False,
    hints: Mapping[str, str] | None = None,
    body: tuple[str, ...] = (),
    parse: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None,
) -> Route:
    """Feed ``actor`` with the ids of every ``event`` delivery. Idempotent per (event, actor)."""
    route = Route(
        event,
        actor,
        MappingProxyType(dict(ids or {"id": "id"})),
        pass_event,
        MappingProxyType(dict(names or {})),
        MappingProxyType(dict(hints or {})),
        tuple(body),
        parse,
    )
    routes = ROUTES.setdefault(event, [])
    routes[:] = [r for r in routes if r.actor != actor]
    routes.append(route)
    return route


@dataclass(frozen=True)
class Keeper:
    """A fact the receiver keeps from the body (see "Keepers" in the module doc)."""

    event: str
    parse: Callable[[Mapping[str, Any]], Any]  # pure: the event's object → the fact
    store: Callable[[redis.Redis, Any], object]  # one Redis write of the fact


KEEPERS: dict[str, Keeper] = {}


def add_keeper(
    event: str,
    parse: Callable[[Mapping[str, Any]], Any],
    store: Callable[[redis.Redis, Any], object],
) -> Keeper:
    """Keep ``parse(obj)`` of every ``event`` delivery with ``store``. One per event."""
    keeper = Keeper(event, parse, store)
    KEEPERS[event] = keeper
    return keeper


def remove_route(event: str, actor: str) -> None:
    routes = ROUTES.get(event, [])
    routes[:] = [r for r in routes if r.actor != actor]
    if not routes:
        ROUTES.pop(event, None)


def routes_for(event: str) -> list[Route]:
    return list(ROUTES.get(event, ()))


def lookup(obj: Mapping[str, Any], path: str) -> Any:
    value: Any = obj
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def body_hints(obj: Mapping[str, Any], paths: Mapping[str, str]) -> dict[str, str | None]:
    """``{arg: value}`` for each path whose first key the body has (see the module doc)."""
    out: dict[str, str | None] = {}
    for arg, path in paths.items():
        if path.split(".", 1)[0] not in obj:
            continue
        value = lookup(obj, path)
        out[arg] = value.strip() if is_text(value) and value.strip() else None
    return out


def event_object(event_type: str, payload: Any) -> Mapping[str, Any]:
    """The object of a ``{"<type>": {...}}`` body, or ``BadEvent``.

    Discourse sends exactly one root key, the event type: a body with others beside
    it says something its header does not.
    """
    if not isinstance(payload, Mapping):
        raise BadEvent("body must be a JSON object")
    obj = payload.get(event_type)
    if not isinstance(obj, Mapping):
        raise BadEvent(f"body has no {event_type!r} object")
    if len(payload) != 1:
        others = sorted(str(key) for key in payload if key != event_type)
        raise BadEvent(
            f"body has root keys besides {event_type!r} ({', '.join(others)[:100]}); "
            "Discourse sends one, the X-Discourse-Event-Type"
        )
    return obj


def check_event_type(event_type: str, event: str) -> None:
    """``BadEvent`` when ``event`` is never sent under ``event_type`` (see EVENT_TYPES)."""
    expected = EVENT_TYPES.get(event)
    if expected is not None and expected != event_type:
        raise BadEvent(
            f"X-Discourse-Event {event[:60]!r} comes with X-Discourse-Event-Type "
            f"{expected!r}, not {event_type[:60]!r}"
        )


def author_of(event_type: str, obj: Mapping[str, Any]) -> str | None:
    path = AUTHOR_PATHS.get(event_type)
    value = lookup(obj, path) if path else None
    return value if isinstance(value, str) else None


def identity(event: str, obj: Mapping[str, Any]) -> str | None:
    """What makes two deliveries the same change: event + object id + updated_at.

    None when the object carries no ``updated_at`` (then only the delivery id dedups,
    so a later ``user_updated`` of the same user is never mistaken for a duplicate).
    """
    object_id, updated_at = obj.get("id"), obj.get("updated_at")
    # Only a real id and a plain timestamp make a key (a forged value must not make
    # Redis keys of any size or encoding).
    if not is_id(object_id) or not isinstance(updated_at, str):
        return None
    if not updated_at or len(updated_at) > 64 or not updated_at.isascii():
        return None
    return f"{event}:{object_id}:{updated_at}"


# ─────────────────────────────── one event → jobs ───────────────────────────────

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
        obj = event_object(event_type, payload)
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
        routes = routes_for(event)
        keeper = KEEPERS.get(event)
        if not routes and keeper is None:
            return Outcome.UNUSED, 0
        check_event_type(event_type, event)
        if event_type == "user" and _built_in(obj.get("id")):
            return Outcome.BUILT_IN, 0  # a real delivery, but nobody Diamond manages
        calls = [(route.actor, route.extract(obj)) for route in routes]
        kept = keeper.parse(obj) if keeper is not None else None
        author = author_of(event_type, obj)
        if author is not None and author.casefold() == self._own_user:
            return Outcome.OWN, 0
        keys = list(dedup_keys)
        ident = identity(event, obj)
        if ident:
            keys.append(identity_key(ident))
        if not self.deduper.claim(keys):
            return Outcome.DUPLICATE, 0
        messages = [
            self.broker.get_actor(actor_name).message_with_options(kwargs=kwargs)
            for actor_name, kwargs in calls
        ]
        try:
            if keeper is not None:
                keeper.store(self.deduper.client, kept)
            if messages:
                enqueue_many(self.broker, messages)
        except Exception:
            self.deduper.release(keys)  # a retry of this event must not look like a duplicate
            raise
        return Outcome.ACCEPTED, len(calls)


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
