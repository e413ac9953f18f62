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
Events with no route are answered 204. Several routes per event are allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

# Where the acting user's name is, per event type (X-Discourse-Event-Type); used to
# ignore what Diamond's own API user did, so its own posts cannot loop.
AUTHOR_PATHS: Mapping[str, str] = MappingProxyType(
    {
        "post": "username",
        "topic": "created_by.username",
        "like": "user.username",
    }
)


class BadEvent(ValueError):
    """The body does not match its event type (missing object, missing or bad id)."""


@dataclass(frozen=True)
class Route:
    event: str  # X-Discourse-Event, e.g. "post_created"
    actor: str  # dramatiq actor name
    ids: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({"id": "id"}))
    pass_event: bool = False  # also send event=<name> to the actor
    names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    hints: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def extract(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """The actor's keyword arguments taken from the event's object."""
        kwargs: dict[str, Any] = {}
        for arg, path in self.ids.items():
            value = lookup(obj, path)
            if isinstance(value, bool) or not isinstance(value, int):
                raise BadEvent(f"{self.event}: {path!r} must be an integer id")
            kwargs[arg] = value
        for arg, path in self.names.items():
            value = lookup(obj, path)
            if not isinstance(value, str) or not value.strip():
                raise BadEvent(f"{self.event}: {path!r} must be a non-empty name")
            kwargs[arg] = value
        if self.hints:
            kwargs["hints"] = body_hints(obj, self.hints)
        if self.pass_event:
            kwargs["event"] = self.event
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
) -> Route:
    """Feed ``actor`` with the ids of every ``event`` delivery. Idempotent per (event, actor)."""
    route = Route(
        event,
        actor,
        MappingProxyType(dict(ids or {"id": "id"})),
        pass_event,
        MappingProxyType(dict(names or {})),
        MappingProxyType(dict(hints or {})),
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
        out[arg] = value.strip() if isinstance(value, str) and value.strip() else None
    return out


def event_object(event_type: str, payload: Any) -> Mapping[str, Any]:
    """The object of a ``{"<type>": {...}}`` body, or ``BadEvent``."""
    if not isinstance(payload, Mapping):
        raise BadEvent("body must be a JSON object")
    obj = payload.get(event_type)
    if not isinstance(obj, Mapping):
        raise BadEvent(f"body has no {event_type!r} object")
    return obj


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
    if object_id is None or not updated_at:
        return None
    return f"{event}:{object_id}:{updated_at}"
