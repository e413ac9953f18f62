"""Fact gathering for the membership journey: forum reads and the Redis ledger → engine facts.

Every function here reads; none writes to the forum (writes go through ``Applier``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import redis

from worker.config_sync.actual import user_field_ids
from worker.engine.camp import CampPost
from worker.engine.facts import MemberFact, Roster, Squad, parse_time
from worker.engine.gating import Applicant, GatingFacts, normalise_email, referrer_of
from worker.engine.squads import read_squad_bio
from worker.engine.textlen import count_units
from worker.forum.errors import NotFound
from worker.rules import Rules
from worker.state.membership import MembershipStore

StrikesOf = Callable[[str], int]


# Ids of user fields and categories change only when an admin edits the forum: remember
# them for a minute per forum, instead of reading them for every sign-up and post.
CACHE_SECONDS = 60.0
_cache: dict[tuple[str, str], tuple[float, Any]] = {}
_cache_lock = threading.Lock()


def _cached(client: Any, what: str, read: Callable[[], Any]) -> Any:
    key = (str(getattr(client, "host", id(client))), what)
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
    value = read()
    with _cache_lock:
        _cache[key] = (now, value)
    return value


def forget_topic(client: Any, topic_id: int) -> None:
    with _cache_lock:
        _cache.pop((str(getattr(client, "host", id(client))), f"topic:{topic_id}"), None)


def forget_cached() -> None:
    with _cache_lock:
        _cache.clear()


# --- user fields ---------------------------------------------------------------------


def field_ids(client: Any) -> dict[str, int]:
    """``{rules key: forum user-field id}`` from the ``[diamond:<key>]`` marker of each field."""
    return dict(_cached(client, "user_fields", lambda: user_field_ids(client)))


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


# --- users -----------------------------------------------------------------------------


def _groups(data: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(str(g.get("name")) for g in data.get("groups") or () if g.get("name"))


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


def read_applicant(
    client: Any, user_id: int, ids: Mapping[str, int], rules: Rules | None = None
) -> Applicant:
    """The applicant through the admin API (webhook bodies may lack ``user_fields``).

    ``GET /admin/users/{id}.json`` has no ``email`` and no ``invited_by``: see
    ``complete_applicant``.
    """
    data = client.admin_get_user(user_id)
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
        groups=_groups(data),
        invited_by=inviter.get("username") if isinstance(inviter, Mapping) else None,
        approved=bool(data.get("approved")),
        active=bool(data.get("active", True)),
        language=fields.get(language_field or "") or None,
    )


def complete_applicant(
    client: Any, store: MembershipStore, rules: Rules, applicant: Applicant, hints: Hints
) -> Applicant:
    """Add the email and the inviter the admin view leaves out.

    The email: the signed body's, else one remembered from an earlier body, else one
    ``show_emails`` listing narrowed to this applicant (it writes a staff-log entry, so
    only then). The inviter: the body's, else ``GET /u/{username}.json`` (UserSerializer
    has ``invited_by``) when the rules accept invites as referrals.
    """
    email = applicant.email or hints.email or store.applicant_email(applicant.user_id)
    if not email:
        flag = "active"  # pending applicants and invitees alike are active by now
        for user in client.iter_admin_users(flag, show_emails=True, filter=applicant.username):
            if user.get("id") == applicant.user_id and user.get("email"):
                email = str(user["email"])
                break
    if email:
        store.remember_applicant_email(applicant.user_id, email)
    invited_by = applicant.invited_by
    if invited_by is None:
        if hints.inviter_known:
            invited_by = hints.invited_by
        elif "invite" in rules.gating.referral.via:
            profile = client.get_user(applicant.username)
            inviter = profile.get("invited_by") or {}
            invited_by = inviter.get("username") if isinstance(inviter, Mapping) else None
    return replace(applicant, email=email or "", invited_by=invited_by)


def member_fact(client: Any, username: str, rules: Rules) -> MemberFact | None:
    """A forum user with their groups (None if there is no such user); one read.

    ``GET /u/{username}.json`` lists every group of the user to an admin (the API user),
    as ``/admin/users/{id}.json`` does, so the second read is not needed.
    """
    try:
        data = client.get_user(username)
    except NotFound:
        return None
    if not data or "id" not in data:
        return None
    groups = _groups(data)
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


def strikes_from_ledger(
    redis_client: redis.Redis, rules: Rules, now: datetime, *, live: bool = True
) -> StrikesOf:
    """Active strikes per member, from the obligations ledger's book of the mode (0 when
    it has none)."""
    from worker.engine.penalties import standing
    from worker.engine.weeks import week_of
    from worker.state.ledger import Ledger

    ledger = Ledger(redis_client)
    week = week_of(now, rules.tz)

    def strikes_of(username: str) -> int:
        history = ledger.histories([username], live=live).get(username) or {}
        return standing(rules.obligations, username, history, week).active

    return strikes_of


def month_of(now: datetime, rules: Rules) -> str:
    return now.astimezone(rules.tz).strftime("%Y-%m")


def gating_facts(
    client: Any,
    store: MembershipStore,
    rules: Rules,
    applicant: Applicant,
    now: datetime,
    strikes_of: StrikesOf,
) -> GatingFacts:
    """Everything ``evaluate_application`` needs about ``applicant``."""
    name = referrer_of(rules, applicant)
    referrer = member_fact(client, name, rules) if name else None
    strikes: dict[str, int] = {}
    referred: dict[str, int] = {}
    if referrer is not None:
        strikes[referrer.username] = strikes_of(referrer.username)
        referred[referrer.username] = store.referrals(referrer.username, month_of(now, rules))
    return GatingFacts(
        applicant=applicant,
        referrer=referrer,
        strikes_of=strikes,
        referrals_this_month=referred,
        earlier_emails=store.emails(),
        removed=store.removed(),
    )


def remember_applicant(store: MembershipStore, applicant: Applicant) -> None:
    if applicant.email:
        store.remember_email(normalise_email(applicant.email), applicant.username)


# --- categories ------------------------------------------------------------------------


def category_ids(client: Any, *, fresh: bool = False) -> dict[str, int]:
    """``{slug: id}`` of every category the API user sees (cached a minute unless ``fresh``)."""

    def read() -> dict[str, int]:
        return {str(c["slug"]): int(c["id"]) for c in client.list_categories() if c.get("slug")}

    if fresh:
        forget_cached()
    return dict(_cached(client, "categories", read))


# --- camp posts --------------------------------------------------------------------------


def _topic_summary(topic: Mapping[str, Any]) -> tuple[int | None, dict[int, str]]:
    """(category id, {post number: author}) of a topic JSON."""
    authors = {
        int(p["post_number"]): str(p.get("username"))
        for p in (topic.get("post_stream") or {}).get("posts") or ()
        if "post_number" in p
    }
    created_by = (topic.get("details") or {}).get("created_by") or {}
    if 1 not in authors and created_by.get("username"):
        authors[1] = str(created_by["username"])
    category_id = topic.get("category_id")
    return (int(category_id) if category_id is not None else None), authors


def camp_post(client: Any, post: Mapping[str, Any], slugs_by_id: Mapping[int, str]) -> CampPost:
    """A post as the camp sees it: its category slug and whom it replies to.

    The topic is read once and remembered (a topic's category and earlier posts' authors
    do not change); it is read again when the replied-to post is newer than what we saw.
    """
    topic_id = int(post["topic_id"])
    number = int(post["post_number"])
    target = int(post.get("reply_to_post_number") or 1)

    def read() -> tuple[int | None, dict[int, str]]:
        return _topic_summary(client.get_topic(topic_id))

    category_id, authors = _cached(client, f"topic:{topic_id}", read)
    if number > 1 and target not in authors:
        forget_topic(client, topic_id)
        category_id, authors = _cached(client, f"topic:{topic_id}", read)
    reply_to: str | None = None
    if number > 1:
        reply_user = post.get("reply_to_user") or {}
        reply_to = reply_user.get("username") if isinstance(reply_user, Mapping) else None
        reply_to = reply_to or authors.get(target)
    return CampPost(
        id=int(post["id"]),
        created_at=parse_time(str(post["created_at"])),
        units=count_units(str(post.get("raw") or "")),
        category=slugs_by_id.get(int(category_id)) if category_id is not None else None,
        is_topic=number == 1,
        reply_to=reply_to,
        deleted=bool(post.get("deleted_at")),
    )


# --- squads --------------------------------------------------------------------------------


def load_roster(client: Any, rules: Rules) -> Roster:
    """Every Diamond squad on the forum: groups whose bio carries the squad marker."""
    categories = {str(c.get("slug")): int(c["id"]) for c in client.list_categories()}
    squads = []
    for group in client.list_groups():
        meta = read_squad_bio(group.get("bio_raw"))
        if meta is None:
            continue
        name = str(group["name"])
        members, leader = [], None
        joined: dict[str, datetime] = {}
        for member in client.iter_group_members(name):
            members.append(str(member["username"]))
            if member.get("added_at"):  # when they joined the squad: obligations start after
                joined[str(member["username"])] = parse_time(str(member["added_at"]))
            if member.get("owner") and leader is None:
                leader = str(member["username"])
        squads.append(
            Squad(
                slug=name,
                full_name=str(group.get("full_name") or name),
                cohort=str(meta.get("cohort") or ""),
                members=tuple(sorted(members)),
                leader=leader,
                class_slug=meta.get("class") or None,  # type: ignore[arg-type]
                group_id=int(group["id"]),
                category_id=categories.get(name),
                class_key=meta.get("key") or None,  # type: ignore[arg-type]
                joined=joined,
            )
        )
    return Roster(tuple(sorted(squads, key=lambda s: s.slug)))
