"""Plain data shared by ``actual``, ``diff``, ``safety``, ``apply`` and ``render``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# Resource kinds, in the order ``apply`` creates and updates them (deletes go in reverse).
SITE_SETTING = "site_setting"
USER_FIELD = "user_field"
GROUP = "group"
CATEGORY = "category"
BADGE = "badge"
WEBHOOK = "webhook"
RESOURCES: tuple[str, ...] = (SITE_SETTING, USER_FIELD, GROUP, CATEGORY, BADGE, WEBHOOK)
# Site settings are enforced, never owned: they do not count for the safety share.
OWNED_RESOURCES: tuple[str, ...] = (USER_FIELD, GROUP, CATEGORY, BADGE, WEBHOOK)


@dataclass(frozen=True)
class Existing:
    """One resource as it is on the forum, in the shape ``Spec.managed()`` produces."""

    id: int
    natural_key: str  # what Discourse identifies it by: group name, category slug, badge name...
    owner_key: str | None  # key read from the ownership marker; None = not Diamond's
    fields: Mapping[str, Any]
    system: bool = False  # Discourse's own (automatic groups, system badges): never touched


@dataclass(frozen=True)
class ForumState:
    """The live forum, read by ``actual.read_actual``; the second input of ``diff``."""

    site_settings: Mapping[str, Any] = field(default_factory=dict)
    user_fields: tuple[Existing, ...] = ()
    groups: tuple[Existing, ...] = ()
    categories: tuple[Existing, ...] = ()
    badges: tuple[Existing, ...] = ()
    webhooks: tuple[Existing, ...] = ()
    event_types: Mapping[str, int] = field(default_factory=dict)  # webhook event name -> id


class Kind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True)
class Change:
    """One write: ``fields`` maps each changed field to ``(old, new)``.

    ``desired`` carries every managed field of the target (create/update) because some
    Discourse endpoints need more than what changed (a badge update needs its name and
    type; a category's permissions are replaced whole).
    """

    kind: Kind
    resource: str
    key: str
    fields: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    id: int | None = None
    adopt: bool = False  # an update that also takes ownership of a hand-made resource
    desired: Mapping[str, Any] = field(default_factory=dict)

    @property
    def touches_owned(self) -> bool:
        """Updates or deletes something Diamond already owned (what the safety share counts)."""
        return self.kind is not Kind.CREATE and not self.adopt and self.resource != SITE_SETTING


@dataclass(frozen=True)
class Conflict:
    """Something that keeps the forum from matching the config and needs a human."""

    resource: str
    key: str
    reason: str


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    notices: tuple[str, ...] = ()  # informational: owned resources kept because prune is off
    owned_counts: Mapping[str, int] = field(default_factory=dict)  # resource -> owned on forum

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def count(self, kind: Kind) -> int:
        return sum(1 for change in self.changes if change.kind is kind)

    def summary(self) -> str:
        text = (
            f"{self.count(Kind.CREATE)} to create, {self.count(Kind.UPDATE)} to update, "
            f"{self.count(Kind.DELETE)} to delete"
        )
        if self.conflicts:
            text += f", {len(self.conflicts)} conflict(s)"
        return text
