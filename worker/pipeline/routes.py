"""Which webhook events Diamond uses, and which actor each one feeds.

A domain module adds its entries at import (its module is in ``ACTOR_MODULES``)::

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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeGuard

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
