"""Discourse JSON (a signed webhook body or an API answer) → the engine's facts. Pure.

Each event's JSON is parsed here once; the steps get facts, never raw JSON paths.

- users (``GET /admin/users/{id}.json``, ``GET /u/{name}.json``, user webhook bodies):
  ``applicant_of``, ``applicant_of_body`` (a ``user_approved`` body's applicant),
  ``member_fact_of``, ``fields_by_key``, ``Hints`` (what a signed body says that the admin
  view does not: the email, the inviter);
- posts (``GET /posts/{id}.json`` or the post webhook body): ``post_of_body`` (the body's
  post when it carries every fact the steps read), ``camp_post``;
- user fields (``GET /admin/config/user_fields.json``): ``user_field_ids_of`` (the
  ``[diamond:<key>]`` ownership marker of each, ``read_mark``);
- topics (``GET /t/{id}.json``, the ``topic_created`` body): ``TopicFacts``,
  ``topic_facts_of``, ``topic_facts_of_body``, ``first_post_id``;
  a topic Diamond opened (the ``POST /posts.json`` answer): ``opened_topic_facts``;
- the obligations ledger's posts and topics (``GET /posts/{id}.json``, post bodies, topic
  streams, topic lists): ``week_post`` (with ``post_length``/``cooked_length``: a post's
  units counted from its ``raw``, or from its ``cooked`` HTML without quotes, code and
  images), ``is_deleted``, ``classify_topic``, ``leave_weeks_from_field``.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from worker.engine.camp import CampPost
from worker.engine.facts import MemberFact, Squad, parse_time
from worker.engine.gating import Applicant
from worker.engine.obligations import TopicInfo, Version, WeekPost, thread_title, weeks_named
from worker.engine.textlen import QuoteRef, count_units, quoted_posts
from worker.engine.weeks import Week, article_week, week_of
from worker.rules import Rules

# ─────────────────────────────── ownership markers, user fields ───────────────────────────────

MARKER_PREFIX = "diamond"
_MARKER = re.compile(r"\s*\[diamond:([A-Za-z0-9_.\-]+)\]\s*$")
_TAGS = re.compile(r"<[^>]+>")


def read_mark(text: str | None, *, cooked: bool = False) -> tuple[str, str | None]:
    """Split forum text into (text without Diamond's ``[diamond:<key>]`` marker, owner key or
    None): Diamond manages only what carries the marker (``worker.config_sync.ownership``).

    ``cooked``: the text is HTML rendered by Discourse (a category's ``description``);
    tags are dropped and entities decoded before reading.
    """
    plain = html.unescape(_TAGS.sub("", text or "")) if cooked else (text or "")
    plain = plain.strip()
    match = _MARKER.search(plain)
    if not match:
        return plain, None
    return plain[: match.start()].strip(), match.group(1)


def user_field_ids_of(fields: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """``{rules key: user-field id}`` (``referrer`` → 3) of the user fields Diamond owns, from
    the marker ending each one's ``description``; the oldest field wins a key."""
    ids: dict[str, int] = {}
    for data in sorted(fields, key=lambda f: int(f["id"])):
        key = read_mark(data.get("description"))[1]
        if key is not None:
            ids.setdefault(key, int(data["id"]))
    return ids


# ─────────────────────────────── users ───────────────────────────────


def fields_by_key(raw: Mapping[str, Any] | None, ids: Mapping[str, int]) -> dict[str, str]:
    """A user's ``user_fields`` (``{"<id>": value}``) keyed by the rules' field names."""
    by_id = {str(v): k for k, v in ids.items()}
    out: dict[str, str] = {}
    for field_id, value in (raw or {}).items():
        key = by_id.get(str(field_id))
        if key is None or value is None:
            continue
        out[key] = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return out


def groups_of(data: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(str(g.get("name")) for g in data.get("groups") or () if g.get("name"))


def applicant_of(
    data: Mapping[str, Any], ids: Mapping[str, int], rules: Rules | None = None
) -> Applicant:
    """An applicant from ``GET /admin/users/{id}.json`` (AdminDetailedUserSerializer: no
    ``email``, no ``invited_by``; ``worker.steps.gate.complete_applicant`` adds them)."""
    inviter = data.get("invited_by") or {}
    created = data.get("created_at")
    fields = fields_by_key(data.get("user_fields"), ids)
    language_field = rules.community.language_field if rules is not None else None
    return Applicant(
        user_id=int(data["id"]),
        username=str(data["username"]),
        email=str(data.get("email") or ""),
        created_at=parse_time(created) if created else None,
        fields=fields,
        groups=groups_of(data),
        invited_by=inviter.get("username") if isinstance(inviter, Mapping) else None,
        approved=bool(data.get("approved")),
        active=bool(data.get("active", True)),
        language=fields.get(language_field or "") or None,
    )


def member_fact_of(data: Mapping[str, Any], rules: Rules) -> MemberFact | None:
    """A forum user with their groups from ``GET /u/{username}.json`` (which lists every
    group of the user to an admin, as ``/admin/users/{id}.json`` does)."""
    if not data or "id" not in data:
        return None
    groups = groups_of(data)
    staff = bool(data.get("admin") or data.get("moderator")) or bool(
        groups & set(rules.community.staff_groups)
    )
    return MemberFact(
        user_id=int(data["id"]),
        username=str(data["username"]),
        groups=groups,
        staff=staff,
        approved=bool(data.get("approved", True)),
    )


# What a user event's signed body carries of the applicant (WebHookUserSerializer, see
# /work/shared/discourse/webhooks/user__user_approved__*-body.json): passed on by the
# route so an approval needs no read. ``user_created`` bodies lack ``user_fields``.
USER_BODY_FACTS = ("id", "username", "created_at", "user_fields", "groups", "invited_by")


def applicant_of_body(
    body: Mapping[str, Any] | None,
    ids: Mapping[str, int],
    event: str | None,
    rules: Rules | None = None,
) -> Applicant | None:
    """The applicant from a ``user_approved`` body (the event says approved, hence active:
    Discourse approves only confirmed accounts). None for another event (no body says
    ``approved`` or ``active``) or a body without ``user_fields``."""
    if event != "user_approved" or not body or "user_fields" not in body:
        return None
    if not isinstance(body.get("id"), int) or not body.get("username"):
        return None
    return applicant_of({**body, "approved": True, "active": True}, ids, rules)


@dataclass(frozen=True)
class Hints:
    """What a signed user webhook body said about the applicant that the admin user view
    (AdminDetailedUserSerializer) does not: the email, and who invited them.

    ``inviter_known``: the body had ``invited_by`` (null: nobody invited them).
    """

    email: str | None = None
    invited_by: str | None = None
    inviter_known: bool = False

    @classmethod
    def from_route(cls, hints: Mapping[str, Any] | None) -> Hints:
        """From the ``hints`` the route extracted (``worker.pipeline.routes.body_hints``)."""
        hints = hints or {}
        email = hints.get("email")
        inviter = hints.get("invited_by")
        return cls(
            email=str(email) if email else None,
            invited_by=str(inviter) if inviter else None,
            inviter_known="invited_by" in hints,
        )


USER_HINTS = {"email": "email", "invited_by": "invited_by.username"}  # paths in user bodies


# ─────────────────────────────── posts ───────────────────────────────

# What the steps read of a post, all in the signed post body (WebHookPostSerializer:
# see /work/shared/discourse/webhooks/post__post_created__*-body.json).
POST_BODY_FACTS = (
    "id",
    "topic_id",
    "post_number",
    "reply_to_post_number",
    "raw",
    "category_id",
    "username",
    "user_id",
    "created_at",
    "updated_at",
    "deleted_at",
    "user_deleted",
    "topic_archetype",
    "topic_title",
)


def post_of_body(body: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The post as a ``post_created`` body carried it, when it has every fact the steps
    read (else None: read ``GET /posts/{id}.json``). A post just created has no likes yet:
    ``like_count`` 0, as the forum would answer."""
    if not isinstance(body, Mapping) or any(key not in body for key in POST_BODY_FACTS):
        return None
    if not isinstance(body.get("raw"), str) or not isinstance(body.get("id"), int):
        return None
    return {**{key: body[key] for key in POST_BODY_FACTS}, "like_count": 0}


def camp_post(post: Mapping[str, Any], category: str | None, topic: TopicFacts) -> CampPost:
    """A post as the camp sees it: its category slug and whom it replies to (the post's
    ``reply_to_user``, else the replied-to post's author in its topic)."""
    number = int(post["post_number"])
    target = int(post.get("reply_to_post_number") or 1)
    reply_to: str | None = None
    if number > 1:
        reply_user = post.get("reply_to_user") or {}
        reply_to = reply_user.get("username") if isinstance(reply_user, Mapping) else None
        reply_to = reply_to or topic.authors.get(target)
    return CampPost(
        id=int(post["id"]),
        created_at=parse_time(str(post["created_at"])),
        units=count_units(str(post.get("raw") or "")),
        category=category,
        is_topic=number == 1,
        reply_to=reply_to,
        deleted=bool(post.get("deleted_at")),
    )


# ─────────────────────────────── topics ───────────────────────────────


@dataclass(frozen=True)
class TopicFacts:
    """What the steps need of a topic (``GET /t/{id}.json``), read once and kept."""

    category_id: int | None
    private_message: bool
    tags: tuple[str, ...]
    title: str = ""
    created_at: str | None = None  # None: an entry kept before this was remembered
    authors: Mapping[int, str] = field(default_factory=dict)  # post number -> username

    def as_json(self) -> dict[str, Any]:
        """The topic JSON fields ``classify_topic`` reads."""
        return {
            "category_id": self.category_id,
            "created_at": self.created_at,
            "title": self.title,
            "tags": list(self.tags),
        }


def topic_facts_of(topic: Mapping[str, Any]) -> TopicFacts:
    """A topic as the steps need it, from ``GET /t/{id}.json`` (TopicViewSerializer) or a
    ``topic_*`` webhook body (WebHookTopicViewSerializer: no post stream, no ``details``;
    the creator as ``created_by``)."""
    authors = {
        int(p["post_number"]): str(p.get("username"))
        for p in (topic.get("post_stream") or {}).get("posts") or ()
        if "post_number" in p
    }
    created_by = topic.get("created_by") or (topic.get("details") or {}).get("created_by") or {}
    if 1 not in authors and created_by.get("username"):
        authors[1] = str(created_by["username"])
    tags = tuple(name for t in topic.get("tags") or () if (name := _tag_name(t)))
    category_id = topic.get("category_id")
    created = topic.get("created_at")
    return TopicFacts(
        category_id=int(category_id) if category_id is not None else None,
        private_message=topic.get("archetype") == "private_message",
        tags=tags,
        title=str(topic.get("title") or topic.get("fancy_title") or ""),
        created_at=str(created) if created else None,
        authors=authors,
    )


def topic_facts_of_body(topic: Mapping[str, Any]) -> TopicFacts:
    """The facts of a signed ``topic_created`` body (see the capture
    ``topic__topic_created__*-body.json``); ``ValueError`` when a fact the steps use is
    missing or of the wrong type, so a body that cannot be trusted is never kept.

    ``tags`` may be absent (tagging off: Discourse leaves the key out) and ``category_id``
    null (a private message); ``id``, ``title``, ``archetype``, ``created_at`` and the
    creator's name must be there."""

    def need(key: str, kind: type) -> None:
        value = topic.get(key)
        if not isinstance(value, kind) or isinstance(value, bool) or value == "":
            raise ValueError(f"topic.{key} is missing or not a {kind.__name__}")

    need("id", int)
    need("title", str)
    need("archetype", str)
    need("created_at", str)
    if topic.get("category_id") is not None:
        need("category_id", int)
    tags = topic.get("tags", [])
    if not isinstance(tags, list) or not all(_tag_name(t) for t in tags):
        raise ValueError("topic.tags is not a list of tags")
    created_by = topic.get("created_by")
    if not isinstance(created_by, Mapping) or not isinstance(created_by.get("username"), str):
        raise ValueError("topic.created_by.username is missing")
    return topic_facts_of(topic)


def _tag_name(tag: Any) -> str:
    """A tag as TopicTagsMixin serializes it: its name, or (newer Discourse) an object
    ``{id, name, slug, original_name}`` whose ``name`` may be a translation, the tag's own
    name then being ``original_name``. "" for anything else."""
    if isinstance(tag, Mapping):
        name = tag.get("original_name") or tag.get("name")
        return name if isinstance(name, str) else ""
    return tag if isinstance(tag, str) else ""


def opened_topic_facts(
    answer: Mapping[str, Any], *, category_id: int, title: str, tags: Iterable[str] = ()
) -> tuple[TopicFacts, int] | None:
    """The facts of a topic Diamond just opened and its first post's id, from the answer to
    ``POST /posts.json`` (the new first post: PostsController#create, PostSerializer) and
    what Diamond sent; None when the answer is not a first post (an existing topic found)."""
    post_id, number = answer.get("id"), answer.get("post_number")
    if not isinstance(post_id, int) or number != 1 or answer.get("existed"):
        return None
    created = answer.get("created_at")
    facts = TopicFacts(
        category_id=category_id,
        private_message=False,
        tags=tuple(tags),
        title=str(answer.get("topic_title") or title),
        created_at=str(created) if created else None,
        authors={1: str(answer["username"])} if answer.get("username") else {},
    )
    return facts, post_id


def first_post_id(topic: Mapping[str, Any]) -> int | None:
    """The id of post 1 in a ``GET /t/{id}.json`` answer (the first of its post stream)."""
    stream = topic.get("post_stream") or {}
    for post in stream.get("posts") or []:
        if post.get("post_number") == 1 and isinstance(post.get("id"), int):
            return post["id"]
    ids = stream.get("stream") or []
    return ids[0] if ids and isinstance(ids[0], int) else None


# ─────────────────────────────── the ledger's posts and topics ───────────────────────────────

_ASIDE_QUOTE = re.compile(
    r'<aside[^>]*class="[^"]*\bquote\b[^"]*"[^>]*>(?:(?!<aside).)*?</aside>', re.DOTALL
)
_BLOCKQUOTE = re.compile(r"<blockquote[^>]*>(?:(?!<blockquote).)*?</blockquote>", re.DOTALL)
_PRE = re.compile(r"<pre[^>]*>.*?</pre>", re.DOTALL)
_CODE = re.compile(r"<code[^>]*>.*?</code>", re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_ATTR = re.compile(r'data-(username|post|topic)="([^"]*)"')
_ASIDE_OPEN = re.compile(r'<aside[^>]*class="[^"]*\bquote\b[^"]*"[^>]*>')


def cooked_length(cooked: str) -> tuple[int, tuple[QuoteRef, ...]]:
    """Units and quoted posts of a post's cooked HTML (quotes, code and images excluded)."""
    quotes = []
    for opening in _ASIDE_OPEN.finditer(cooked or ""):
        attrs = dict(_ATTR.findall(opening.group(0)))
        if attrs.get("post", "").isdigit() and attrs.get("topic", "").isdigit():
            quotes.append(
                QuoteRef(attrs.get("username", ""), int(attrs["topic"]), int(attrs["post"]))
            )
    text = cooked or ""
    for pattern in (_ASIDE_QUOTE, _BLOCKQUOTE):
        while True:  # innermost first, until no nested quote is left
            stripped = pattern.sub(" ", text)
            if stripped == text:
                break
            text = stripped
    text = _CODE.sub(" ", _PRE.sub(" ", text))
    text = html.unescape(_TAG.sub(" ", text))
    return count_units(text), tuple(quotes)


def post_length(post: Mapping[str, Any]) -> tuple[int, tuple[QuoteRef, ...]]:
    raw = post.get("raw")
    if isinstance(raw, str):
        return count_units(raw), tuple(quoted_posts(raw))
    return cooked_length(str(post.get("cooked") or ""))


def week_post(
    post: Mapping[str, Any], *, version_at: dt.datetime | None = None, in_own_topic: bool = False
) -> WeekPost:
    """A ledger post with one version: the post as it stands, from ``version_at``
    (an edit's time) or from its creation."""
    created = parse_time(str(post["created_at"]))
    units, quotes = post_length(post)
    reply_to = post.get("reply_to_post_number")
    return WeekPost(
        id=int(post["id"]),
        topic_id=int(post["topic_id"]),
        post_number=int(post["post_number"]),
        username=str(post.get("username") or ""),
        created_at=created,
        versions=(Version(max(created, version_at or created), units, quotes),),
        reply_to_post_number=int(reply_to) if reply_to else None,
        in_own_topic=in_own_topic,
    )


def written_by(post: Mapping[str, Any], username: str) -> bool:
    """The post's author is ``username`` (case-insensitive; an empty name is nobody)."""
    return bool(username) and str(post.get("username") or "").lower() == username.lower()


def is_deleted(post: Mapping[str, Any]) -> bool:
    return bool(post.get("deleted_at")) or bool(post.get("user_deleted"))


def topic_tags(topic: Mapping[str, Any]) -> set[str]:
    return {_tag_name(tag) for tag in topic.get("tags") or ()} - {""}


def classify_topic(
    rules: Rules,
    topic: Mapping[str, Any],
    squads_by_category: Mapping[int, Squad],
    leave_category_id: int | None,
) -> TopicInfo:
    """What a topic is to the ledger, from its JSON (``/t/{id}.json`` or a topic list row)."""
    category_id = topic.get("category_id")
    created = parse_time(str(topic["created_at"]))
    if leave_category_id is not None and category_id == leave_category_id:
        return TopicInfo("leave")
    squad = squads_by_category.get(category_id) if isinstance(category_id, int) else None
    if squad is None:
        return TopicInfo("other")
    obligations = rules.obligations
    if obligations.article.mode == "thread":
        # Threads open on Monday; one opened late (or early) still carries its week's title.
        title = str(topic.get("title") or topic.get("fancy_title") or "")
        guess = week_of(created, rules.tz)
        for week in (guess, guess.next(), guess.previous()):
            if title == thread_title(rules, week, squad):
                return TopicInfo("thread", week, squad.slug)
        return TopicInfo("other")
    tag = obligations.article.tag
    if tag and tag not in topic_tags(topic):
        return TopicInfo("other")
    return TopicInfo("article", article_week(obligations, created, rules.tz), squad.slug)


def leave_weeks_from_field(value: str | None) -> tuple[Week, ...]:
    """Weeks listed in a leave user field ("2026-W47, 2026-W48")."""
    return weeks_named(value or "")
