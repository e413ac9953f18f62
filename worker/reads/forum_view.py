"""The one view of the forum: what Diamond reads, one policy for all of it.

    ids = category_ids(forum, redis)                 # {slug: id}
    fields = user_field_ids(forum, redis)            # {rules key: user-field id}
    topic = topic_facts(forum, redis, topic_id)      # category, archetype, tags, title, authors
    keep_created_topic(redis, topic_id, facts)       # from the signed topic_created body
    names = cached_group_members(forum, redis, "moderators")
    roster = cached_roster(forum, redis, rules)      # every squad, with members and leader
    snap = watched_groups(forum, redis, ("members", "camp"), now=now)  # an event's step
    forget_roster(redis)                             # drop the squads: read in full next time

The policy: every fact lives in Redis (shared by the receiver, the workers and the
commands; a test's clean Redis starts with nothing remembered), under a key of
``worker.state.keys``, for as long as that kind of fact stays true:

- category ids: an hour (an admin adds categories rarely); an id not in the cache reads
  them again once (``category_slug``), and Diamond's own new squads forget them;
- user-field ids: a minute (``diamond apply`` may have just added one);
- topic facts: for good (a topic's category, archetype and first authors do not change
  under Diamond's feet; a reply to a post not seen yet reads the topic again); a member's
  new topic is known from its ``topic_created`` body, kept by the receiver;
- the roster and watched groups' members: state, not a cache (``worker.state.roster``).
  Read in full once; then Diamond's own group writes (the Applier), the forum's
  ``group_user`` events (an admin's hand changes) and ``group_updated``/``group_destroyed``
  keep it current. A lost event is caught by the count reconcile: at most once per
  ``RECONCILE_SECONDS`` on ``worker.clock`` (the clock the story runs on: simulated in the
  demo and the bench), i.e. once per scheduled run, one ``GET /groups.json`` listing
  (``ceil(groups / 36)`` pages) and a member read of only the groups whose ``user_count``
  differs from the state or that an event marked. Post events do not reconcile. A
  scheduled run's reconcile watches the groups the rules name too (``rules_groups``), so
  its staff and stage reads need no listing of their own; a group listed empty is not read;
- group ids (the Applier's ``name -> id``): every group listing read refreshes them.

Squad formation itself always reads the forum (``load_roster``; its listings refresh the
category and group ids the formation's writes use). Nothing here writes to the forum.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

import redis

from worker import clock
from worker.engine.facts import Roster, Squad, parse_time
from worker.engine.squads import read_squad_bio
from worker.forum import calls
from worker.forum.errors import NotFound
from worker.reads.parse import TopicFacts, topic_facts_of, user_field_ids_of
from worker.rules import Rules
from worker.state import keys
from worker.state import roster as roster_state

log = logging.getLogger(__name__)


# The forum calls each read makes (``worker.forum.client.ForumClient`` has them all); a step's
# own Protocol includes those of the reads it passes its forum to, so its fake stays small.
class CategoryReads(calls.ListCategories, Protocol):
    pass


class UserFieldReads(calls.ListUserFields, Protocol):
    pass


class TopicReads(calls.GetTopic, Protocol):
    pass


class RosterReads(CategoryReads, calls.ListGroups, calls.IterGroupMembers, Protocol):
    """The squads and watched groups: the group listing, members, and (for a squad's
    category) the category list."""


GENERATION_KEY = keys.ROSTER_GENERATION  # moved by every change to the roster state
# The count reconcile runs at most once an hour of the clock: once per scheduled run (its
# jobs share it; runs come hours apart), not once a day, because decisions about people
# (reminders, the audit's strikes, badges) are made in those runs and a lost event must not
# leave one acting on a membership a day old; the listing costs ceil(groups / 36) calls
# (about 0.07 calls per member-week at 1,000 members), where once a day would cost ~0.03.
RECONCILE_SECONDS = 3600


def _fresh(checked_at: datetime | None, now: datetime) -> bool:
    """Reconciled less than ``RECONCILE_SECONDS`` ago on the clock. A clock moved back
    (a replayed story) keeps the state until it passes the reconcile again: Diamond's
    changes and the events keep it current meanwhile."""
    if checked_at is None:
        return False
    return (now - checked_at).total_seconds() < RECONCILE_SECONDS


def dump_roster(roster: Roster) -> str:
    return roster_state.dump_squads(roster)


def parse_roster(raw: str | bytes) -> Roster:
    return roster_state.parse_squads(raw)


def cached_roster(
    client: RosterReads,
    redis_client: redis.Redis,
    rules: Rules | None,
    *,
    reconcile: bool = True,
    now: datetime | None = None,
) -> Roster:
    """Every squad, from the roster state; read from the forum only as ``_current`` says.

    ``reconcile=False`` (a post event): the state as the Applier and the events left it,
    no listing (the scheduled runs reconcile). ``now``: the step's time (``ctx.now``);
    None (a CLI command) reads ``worker.clock``."""
    # A scheduled run's reconcile also watches the groups the rules name (the staff, the
    # community's stages), which its decisions read next: one listing serves them all.
    groups = rules_groups(rules) if reconcile and rules is not None else ()
    snap = _current(client, redis_client, squads=True, groups=groups, reconcile=reconcile, now=now)
    return snap.squads or Roster(())


def rules_groups(rules: Rules) -> tuple[str, ...]:
    """The groups whose members Diamond's decisions read (``cached_group_members``)."""
    named = rules.community.groups
    return tuple(
        dict.fromkeys(
            (*rules.community.staff_groups, named.camp, named.members, named.alumni, named.leaders)
        )
    )


def cached_group_members(
    client: RosterReads, redis_client: redis.Redis, group: str, *, now: datetime | None = None
) -> frozenset[str]:
    """Usernames in ``group`` (none if it does not exist), from the roster state."""
    snap = _current(client, redis_client, groups=(group,), now=now)
    found = snap.groups.get(group)
    return found.members if found else frozenset()


def watched_groups(
    client: RosterReads, redis_client: redis.Redis, groups: tuple[str, ...], *, now: datetime
) -> roster_state.Snapshot:
    """The roster state holding ``groups``: one it lacks is read once (a listing and its
    members), one marked to be read again is; no count reconcile (an event's step: the
    scheduled runs reconcile), as for a post event's ``cached_roster``."""
    return _current(client, redis_client, groups=groups, reconcile=False, now=now)


def forget_roster(redis_client: redis.Redis) -> None:
    """Drop the squads (the next read lists the forum fully) and the category ids."""
    roster_state.forget(redis_client)


def _current(
    client: RosterReads,
    redis_client: redis.Redis,
    *,
    squads: bool = False,
    groups: tuple[str, ...] = (),
    reconcile: bool = True,
    now: datetime | None = None,
) -> roster_state.Snapshot:
    """The state, reconciled with the forum first when it lacks what is asked, a group is
    marked to be read again, or (``reconcile``) the last reconcile is older than
    ``RECONCILE_SECONDS`` on the clock. ``now``: the caller's (a step passes its own: a
    step never reads the clock); None reads ``worker.clock``."""
    if now is None:
        now = clock.now(redis_client)
    snap = roster_state.load(redis_client)
    first_squads = squads and snap.squads is None
    new_groups = tuple(g for g in groups if g not in snap.groups)
    stale = reconcile and not _fresh(snap.checked_at, now)
    if not (first_squads or new_groups or stale or snap.dirty):
        return snap
    if first_squads or stale or snap.dirty:
        return _reconcile(client, redis_client, snap, now, squads=squads, groups=groups)
    # Only a group not watched yet: read it, leave the rest (and the reconcile time) be.
    return _reconcile(client, redis_client, snap, None, squads=False, groups=new_groups)


def _reconcile(
    client: RosterReads,
    redis_client: redis.Redis,
    snap: roster_state.Snapshot,
    now: datetime | None,
    *,
    squads: bool,
    groups: tuple[str, ...],
) -> roster_state.Snapshot:
    """One ``GET /groups.json`` listing (it carries each group's ``user_count``, see
    groups_controller.rb#index, BasicGroupSerializer); the members are read again only
    of the groups the state lacks, marks dirty, or counts differently. The first read
    of the squads is a full one (``load_roster``'s cost). ``now`` None: only ``groups``
    are read (new to the state), the squads and the last reconcile's time stay."""
    listing = client.list_groups()
    keep_group_ids(redis_client, listing)  # the Applier's lookups, for free
    names: dict[int, str] = {}
    roster = snap.squads
    if now is not None and (squads or roster is not None):
        roster = _reconciled_squads(client, redis_client, listing, snap, names)
    watched: dict[str, roster_state.Group] = {}
    by_name = {str(g["name"]): g for g in listing}
    for name in {*snap.groups, *groups} if now is not None else set(groups):
        group = by_name.get(name)
        if group is None:
            watched[name] = roster_state.Group(None, frozenset())
            continue
        old = snap.groups.get(name)
        if old is None and group.get("user_count") == 0:  # the listing says: nobody in it
            watched[name] = roster_state.Group(int(group["id"]), frozenset())
        elif old is None or name in snap.dirty or _count_differs(group, len(old.members)):
            members = frozenset(str(m["username"]) for m in _members(client, name, names))
            watched[name] = roster_state.Group(int(group["id"]), members)
        else:
            watched[name] = roster_state.Group(int(group["id"]), old.members)
    roster_state.store(
        redis_client, snap, squads=roster, groups=watched, checked_at=now, user_names=names
    )
    if now is None:
        return roster_state.Snapshot(
            snap.generation, roster, {**snap.groups, **watched}, snap.dirty, snap.checked_at
        )
    return roster_state.Snapshot(snap.generation, roster, watched, frozenset(), now)


def _count_differs(group: Mapping[str, Any], known: int) -> bool:
    count = group.get("user_count")
    return not isinstance(count, int) or count != known


def _members(client: RosterReads, name: str, names: dict[int, str]) -> list[dict[str, Any]]:
    """One group's members (paged), noting each user id's username for the events."""
    try:
        members = list(client.iter_group_members(name))
    except NotFound:
        return []
    for member in members:
        if isinstance(member.get("id"), int):
            names[int(member["id"])] = str(member["username"])
    return members


def _reconciled_squads(
    client: RosterReads,
    redis_client: redis.Redis,
    listing: list[dict[str, Any]],
    snap: roster_state.Snapshot,
    names: dict[int, str],
) -> Roster:
    old = {s.group_id: s for s in snap.squads.squads} if snap.squads else {}
    full = snap.squads is None
    categories: dict[str, int] | None = None
    squads = []
    for group in listing:
        meta = read_squad_bio(group.get("bio_raw"))
        if meta is None:
            continue
        name = str(group["name"])
        prev = old.get(int(group["id"]))
        if categories is None and (full or prev is None or prev.category_id is None):
            categories = category_ids(client, redis_client, fresh=full)
        category_id = (categories or {}).get(name, prev.category_id if prev else None)
        if (
            prev is None
            or prev.slug != name
            or name in snap.dirty
            or _count_differs(group, len(prev.members))
        ):
            squads.append(_squad(group, meta, _members(client, name, names), category_id))
        else:  # the same members: the listing's name, bio and category are enough
            fresh = _squad(group, meta, [], category_id)
            squads.append(
                dataclasses.replace(
                    fresh, members=prev.members, leader=prev.leader, joined=prev.joined
                )
            )
    return Roster(tuple(sorted(squads, key=lambda s: s.slug)))


def _squad(
    group: Mapping[str, Any],
    meta: Mapping[str, Any],
    members: list[dict[str, Any]],
    category_id: int | None,
) -> Squad:
    """A squad from its group (listing entry, bio marker) and its member listing."""
    name = str(group["name"])
    usernames, leader = [], None
    joined: dict[str, datetime] = {}
    for member in members:
        usernames.append(str(member["username"]))
        if member.get("added_at"):  # when they joined the squad: obligations start after
            joined[str(member["username"])] = parse_time(str(member["added_at"]))
        if member.get("owner") and leader is None:
            leader = str(member["username"])
    return Squad(
        slug=name,
        full_name=str(group.get("full_name") or name),
        cohort=str(meta.get("cohort") or ""),
        members=tuple(sorted(usernames)),
        leader=leader,
        class_slug=meta.get("class") or None,
        group_id=int(group["id"]),
        category_id=category_id,
        class_key=meta.get("key") or None,
        joined=joined,
    )


# ─────────────────────────────── categories ───────────────────────────────

CATEGORY_IDS_TTL = 3600


def category_ids(
    client: CategoryReads, redis_client: redis.Redis, *, fresh: bool = False
) -> dict[str, int]:
    """``{slug: id}`` of every category the API user sees (one call when not cached)."""
    if not fresh:
        cached = redis_client.hgetall(keys.CATEGORY_IDS)
        if cached:
            return {_s(k): int(v) for k, v in cached.items()}
    return keep_category_ids(redis_client, client.list_categories())


def keep_category_ids(redis_client: redis.Redis, listing: list[dict[str, Any]]) -> dict[str, int]:
    """Cache ``{slug: id}`` of a ``GET /categories.json`` listing (read for any reason)."""
    mapping = {str(c["slug"]): int(c["id"]) for c in listing if c.get("slug")}
    if mapping:
        pipe = redis_client.pipeline()
        pipe.delete(keys.CATEGORY_IDS)
        pipe.hset(keys.CATEGORY_IDS, mapping={k: v for k, v in mapping.items()})
        pipe.expire(keys.CATEGORY_IDS, CATEGORY_IDS_TTL)
        pipe.execute()
    return mapping


def category_slug(
    client: CategoryReads, redis_client: redis.Redis, category_id: int | None
) -> str | None:
    """The slug of ``category_id``; an id the cache does not know reads the list again."""
    if category_id is None:
        return None
    for fresh in (False, True):
        slugs = {v: k for k, v in category_ids(client, redis_client, fresh=fresh).items()}
        if category_id in slugs:
            return slugs[category_id]
    return None


# ─────────────────────────────── user fields ───────────────────────────────

USER_FIELD_IDS_TTL = 60


def user_field_ids(client: UserFieldReads, redis_client: redis.Redis) -> dict[str, int]:
    """``{rules key: forum user-field id}`` from the ``[diamond:<key>]`` marker of each field."""
    raw = redis_client.get(keys.USER_FIELD_IDS)
    if raw:
        return {str(k): int(v) for k, v in json.loads(raw).items()}
    ids = user_field_ids_of(client.list_user_fields())
    redis_client.set(keys.USER_FIELD_IDS, json.dumps(ids), ex=USER_FIELD_IDS_TTL)
    return dict(ids)


# ─────────────────────────────── topics ───────────────────────────────


def _encode_topic(facts: TopicFacts) -> str:
    data = {
        "c": facts.category_id,
        "pm": facts.private_message,
        "tags": list(facts.tags),
        "title": facts.title,
        "at": facts.created_at,
        "a": {str(k): v for k, v in facts.authors.items()},
    }
    return json.dumps(data, ensure_ascii=False)


def _decode_topic(raw: bytes | str) -> TopicFacts:
    d = json.loads(raw)
    return TopicFacts(
        d.get("c"),
        bool(d.get("pm")),
        tuple(d.get("tags", ())),
        d.get("title", ""),
        d.get("at"),
        {int(k): str(v) for k, v in (d.get("a") or {}).items()},
    )


def topic_facts(
    client: TopicReads,
    redis_client: redis.Redis,
    topic_id: int,
    *,
    fresh: bool = False,
    need_created: bool = False,
) -> TopicFacts:
    """A topic's facts: from Redis (kept from its ``topic_created`` body, or an earlier
    read), else one ``GET /t/{id}.json`` (also when ``fresh``). ``need_created``: an entry
    without the creation time is read again."""
    if not fresh:
        facts = kept_topic_facts(redis_client, topic_id, need_created=need_created)
        if facts is not None:
            return facts
    return keep_topic(redis_client, topic_id, client.get_topic(topic_id))


def kept_topic_facts(
    redis_client: redis.Redis, topic_id: int, *, need_created: bool = False
) -> TopicFacts | None:
    """The facts Redis has of a topic, without reading the forum (None: none yet)."""
    raw = redis_client.hget(keys.TOPIC_FACTS, topic_id)
    if not raw:
        return None
    facts = _decode_topic(raw)
    return facts if facts.created_at or not need_created else None


def keep_topic(redis_client: redis.Redis, topic_id: int, topic: Mapping[str, Any]) -> TopicFacts:
    """Remember a ``GET /t/{id}.json`` answer read for another reason (no second read)."""
    return keep_topic_facts(redis_client, topic_id, topic_facts_of(topic))


def keep_topic_facts(redis_client: redis.Redis, topic_id: int, facts: TopicFacts) -> TopicFacts:
    """Remember facts known without a read (a topic Diamond opened itself)."""
    redis_client.hset(keys.TOPIC_FACTS, topic_id, _encode_topic(facts))
    return facts


def keep_created_topic(redis_client: redis.Redis, topic_id: int, facts: TopicFacts) -> bool:
    """Remember the facts of a signed ``topic_created`` body, unless Redis already has the
    topic's (False then). The body is the topic as it was created (Discourse serializes it
    when the topic is made), so whatever was kept before it arrived (a read, Diamond's own
    opening) is at least as new: the latest wins without a timestamp, which the body lacks.
    One Redis write (the receiver's hot path)."""
    return bool(redis_client.hsetnx(keys.TOPIC_FACTS, topic_id, _encode_topic(facts)))


# ─────────────────────────────── squads ───────────────────────────────


def load_roster(
    client: RosterReads, rules: Rules | None = None, redis_client: redis.Redis | None = None
) -> Roster:
    """Every Diamond squad on the forum, read in full (``form_squads``, ``diamond`` commands):
    groups whose bio carries the squad marker, each one's members. With ``redis_client``
    the two listings also refresh the category ids and the group ids the Applier uses (the
    formation that follows adds people to groups and files its audit by them)."""
    listed = client.list_categories()
    categories = {str(c.get("slug")): int(c["id"]) for c in listed}
    groups = client.list_groups()
    if redis_client is not None:
        keep_category_ids(redis_client, listed)
        keep_group_ids(redis_client, groups)
    squads = []
    for group in groups:
        meta = read_squad_bio(group.get("bio_raw"))
        if meta is None:
            continue
        name = str(group["name"])
        members = list(client.iter_group_members(name))
        squads.append(_squad(group, meta, members, categories.get(name)))
    return Roster(tuple(sorted(squads, key=lambda s: s.slug)))


def keep_group_ids(redis_client: redis.Redis, listing: list[dict[str, Any]]) -> None:
    """Remember ``{name: id}`` of a ``GET /groups.json`` listing for the Applier (an id never
    changes while its group exists; one deleted since answers 404, which drops it)."""
    ids = {str(g["name"]): int(g["id"]) for g in listing if g.get("name") and "id" in g}
    if ids:
        redis_client.hset(keys.GROUP_IDS, mapping=ids)  # type: ignore[arg-type]  # str -> int


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
