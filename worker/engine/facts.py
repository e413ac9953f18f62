"""Plain facts about the forum that engines decide on.

Built at the edges (from webhook payloads, API reads or the ledger) and handed
to pure engine functions. Timestamps are timezone-aware (UTC from Discourse).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from worker.engine.textlen import QuoteRef, count_units, mentions, quoted_posts


def parse_time(value: str | datetime) -> datetime:
    """Discourse's ISO timestamps ('2026-01-02T13:58:49.606Z') as aware datetimes."""
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True)
class PostFact:
    """One post as it stands now; ``units`` is its countable length (字数)."""

    id: int
    topic_id: int
    post_number: int
    user_id: int
    username: str
    created_at: datetime
    units: int
    category_id: int | None = None
    reply_to_post_number: int | None = None
    quotes: tuple[QuoteRef, ...] = ()
    mentions: tuple[str, ...] = ()
    updated_at: datetime | None = None
    deleted: bool = False
    private_message: bool = False
    topic_title: str = ""
    tags: tuple[str, ...] = ()
    like_count: int = 0

    @classmethod
    def from_discourse(cls, post: Mapping[str, Any]) -> PostFact:
        """From a Discourse post JSON (webhook ``post`` object or ``GET /posts/{id}.json``)."""
        raw = str(post.get("raw") or "")
        created = parse_time(str(post["created_at"]))
        updated = post.get("updated_at")
        return cls(
            id=int(post["id"]),
            topic_id=int(post["topic_id"]),
            post_number=int(post["post_number"]),
            user_id=int(post.get("user_id") or 0),
            username=str(post.get("username") or ""),
            created_at=created,
            units=count_units(raw),
            category_id=_int_or_none(post.get("category_id")),
            reply_to_post_number=_int_or_none(post.get("reply_to_post_number")),
            quotes=tuple(quoted_posts(raw)),
            mentions=tuple(mentions(raw)),
            updated_at=parse_time(str(updated)) if updated else None,
            deleted=bool(post.get("deleted_at")) or bool(post.get("user_deleted")),
            private_message=post.get("topic_archetype") == "private_message",
            topic_title=str(post.get("topic_title") or ""),
            tags=tuple(str(t) for t in post.get("tags") or ()),
            like_count=int(post.get("like_count") or 0),
        )


@dataclass(frozen=True, slots=True)
class MemberFact:
    """A forum user as the engines need them: identity, groups and standing."""

    user_id: int
    username: str
    groups: frozenset[str] = field(default_factory=frozenset)
    staff: bool = False
    created_at: datetime | None = None
    approved: bool = True
    silenced_until: datetime | None = None
    suspended_until: datetime | None = None
    user_fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LikeFact:
    """One like: ``user`` liked post ``post_id`` (the author is found through the post)."""

    post_id: int
    user: str
    created_at: datetime


def _int_or_none(value: object) -> int | None:
    if value is None or value == "":
        return None
    return int(value)  # type: ignore[call-overload]  # JSON: an int or a digit string


@dataclass(frozen=True, slots=True)
class Squad:
    """One squad (小组): a Discourse group with a private category and a leader."""

    slug: str  # the Discourse group name (ASCII, ≤ 20 chars)
    full_name: str  # may be Chinese, e.g. "2026秋·3组"
    cohort: str  # the intake it was formed from, e.g. "2026-11"
    members: tuple[str, ...]  # usernames, the leader included
    leader: str | None = None
    class_slug: str | None = None  # the class (e.g. a city class of ~20) it belongs to
    group_id: int | None = None
    category_id: int | None = None
    class_key: str | None = None  # the grouping value of its class (e.g. a city)
    # username -> when they were added to this squad's group (Discourse's ``added_at``);
    # obligations start the first full week after it. Missing: obliged (joined long ago).
    joined: Mapping[str, datetime] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Roster:
    """Every squad at one moment; engines ask it who is where."""

    squads: tuple[Squad, ...] = ()
    _by_member: dict[str, Squad] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {u: s for s in self.squads for u in s.members}
        object.__setattr__(self, "_by_member", index)

    def squad_of(self, username: str) -> Squad | None:
        return self._by_member.get(username)

    def by_slug(self, slug: str) -> Squad | None:
        return next((s for s in self.squads if s.slug == slug), None)

    @property
    def members(self) -> frozenset[str]:
        return frozenset(self._by_member)
