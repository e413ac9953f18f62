"""The one cached view of the forum: what Diamond reads, one cache policy for all of it.

    ids = category_ids(forum, redis)                 # {slug: id}
    fields = user_field_ids(forum, redis)            # {rules key: user-field id}
    topic = topic_facts(forum, redis, topic_id)      # category, archetype, tags, title, authors
    names = cached_group_members(forum, redis, "moderators")
    roster = cached_roster(forum, redis, rules)      # every squad, with members and leader
    forget_roster(redis)                             # Diamond changed a group or category

The policy: every fact lives in Redis (shared by the receiver, the workers and the
commands; a test's clean Redis starts with nothing remembered), under a key of
``worker.state.keys``, for as long as that kind of fact stays true:

- category ids: an hour (an admin adds categories rarely); an id not in the cache reads
  them again once (``category_slug``), and Diamond's own category writes forget them;
- user-field ids: a minute (``diamond apply`` may have just added one);
- topic facts: for good (a topic's category, archetype and first authors do not change
  under Diamond's feet; a reply to a post not seen yet reads the topic again);
- the roster and group members: two minutes, and every change Diamond makes to a group
  or category (``worker.apply.Applier`` calls ``forget_roster``) makes them unreachable.

Members moved by hand on the forum (an admin editing a group) are picked up when the
entry expires, i.e. within ``ROSTER_TTL_SECONDS``. Squad formation itself always reads
the forum (``load_roster``). Nothing here writes to the forum.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import redis

from worker import clock
from worker.engine.facts import Roster, Squad, parse_time
from worker.engine.squads import read_squad_bio
from worker.forum.errors import NotFound
from worker.reads.parse import TopicFacts, topic_facts_of, user_field_ids_of
from worker.rules import Rules
from worker.state import keys
from worker.state.codec import decode_value, encode_value

log = logging.getLogger(__name__)

ROSTER_KEY = keys.ROSTER
GENERATION_KEY = keys.ROSTER_GENERATION  # bumped by every forget_roster
# Two minutes: long enough that one scheduled run's jobs share a single read, short enough
# that a member moved by hand on the forum is seen by the next run (Diamond's own changes
# invalidate the entry at once).
ROSTER_TTL_SECONDS = 120
# How long Redis keeps an entry at most; its freshness is judged on ``worker.clock``, the
# clock the story runs on (simulated in the demo and the bench), not by this expiry.
ROSTER_KEEP_SECONDS = 24 * 3600


def _fresh(read_at: str | None, now: datetime) -> bool:
    """Read less than ``ROSTER_TTL_SECONDS`` ago on the clock (a clock moved back: stale)."""
    if not read_at:
        return False
    age = (now - datetime.fromisoformat(read_at)).total_seconds()
    return 0 <= age < ROSTER_TTL_SECONDS


def dump_roster(roster: Roster) -> str:
    squads = [
        {f.name: encode_value(getattr(s, f.name)) for f in dataclasses.fields(Squad)}
        for s in roster.squads
    ]
    return json.dumps(squads, ensure_ascii=False)


def parse_roster(raw: str | bytes) -> Roster:
    return Roster(tuple(Squad(**decode_value(s)) for s in json.loads(raw)))


def cached_roster(client: Any, redis_client: redis.Redis, rules: Rules) -> Roster:
    """The roster from Redis if read within ``ROSTER_TTL_SECONDS``, else from the forum."""
    now = clock.now(redis_client)
    raw = redis_client.get(ROSTER_KEY)
    if raw:
        try:
            entry = json.loads(raw)
            if _fresh(entry.get("read_at"), now):
                return parse_roster(json.dumps(entry["squads"]))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:  # another version
            log.warning("cached roster unreadable (%s); reading the forum", exc)
    generation = redis_client.get(GENERATION_KEY)
    roster = load_roster(client, rules)
    entry_text = json.dumps(
        {"read_at": now.isoformat(), "squads": json.loads(dump_roster(roster))},
        ensure_ascii=False,
    )
    # Keep it only if Diamond changed no squad while we read: a read that began before a
    # change must not put the old roster back after ``forget_roster`` dropped it.
    with redis_client.pipeline() as pipe:
        try:
            pipe.watch(GENERATION_KEY)
            if pipe.get(GENERATION_KEY) == generation:
                pipe.multi()
                pipe.set(ROSTER_KEY, entry_text, ex=ROSTER_KEEP_SECONDS)
                pipe.execute()
        except redis.WatchError:
            pass  # changed meanwhile: the next load reads the forum again
    return roster


def forget_roster(redis_client: redis.Redis) -> None:
    """Diamond changed a squad group or category: the next roster load reads the forum,
    and so does the next category lookup."""
    with redis_client.pipeline() as pipe:
        pipe.incr(GENERATION_KEY)
        pipe.delete(ROSTER_KEY)
        pipe.delete(keys.CATEGORY_IDS)  # a squad's category may be new
        pipe.execute()


def cached_group_members(client: Any, redis_client: redis.Redis, group: str) -> frozenset[str]:
    """Usernames in ``group`` (none if it does not exist), read at most once per
    ``ROSTER_TTL_SECONDS`` and generation of Diamond's group changes."""
    generation = int(redis_client.get(GENERATION_KEY) or 0)
    key = keys.group_members(generation, group)
    now = clock.now(redis_client)
    raw = redis_client.get(key)
    if raw is not None:
        try:
            entry = json.loads(raw)
            if _fresh(entry.get("read_at"), now):
                return frozenset(entry["members"])
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("cached members of %s unreadable (%s); reading the forum", group, exc)
    try:
        names = frozenset(str(m["username"]) for m in client.iter_group_members(group))
    except NotFound:
        names = frozenset()
    # Stored under the generation seen *before* the read: a change made meanwhile bumped
    # it, so this possibly stale list is never found again.
    entry = {"read_at": now.isoformat(), "members": sorted(names)}
    redis_client.set(key, json.dumps(entry, ensure_ascii=False), ex=ROSTER_KEEP_SECONDS)
    return names


# ─────────────────────────────── categories ───────────────────────────────

CATEGORY_IDS_TTL = 3600


def category_ids(client: Any, redis_client: redis.Redis, *, fresh: bool = False) -> dict[str, int]:
    """``{slug: id}`` of every category the API user sees (one call when not cached)."""
    if not fresh:
        cached = redis_client.hgetall(keys.CATEGORY_IDS)
        if cached:
            return {_s(k): int(v) for k, v in cached.items()}
    mapping = {str(c["slug"]): int(c["id"]) for c in client.list_categories() if c.get("slug")}
    if mapping:
        pipe = redis_client.pipeline()
        pipe.delete(keys.CATEGORY_IDS)
        pipe.hset(keys.CATEGORY_IDS, mapping={k: v for k, v in mapping.items()})
        pipe.expire(keys.CATEGORY_IDS, CATEGORY_IDS_TTL)
        pipe.execute()
    return mapping


def category_slug(client: Any, redis_client: redis.Redis, category_id: int | None) -> str | None:
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


def user_field_ids(client: Any, redis_client: redis.Redis) -> dict[str, int]:
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
    client: Any,
    redis_client: redis.Redis,
    topic_id: int,
    *,
    fresh: bool = False,
    need_created: bool = False,
) -> TopicFacts:
    """A topic's facts: one ``GET /t/{id}.json`` the first time (or when ``fresh``), then
    from Redis. ``need_created``: an entry without the creation time is read again."""
    if not fresh:
        raw = redis_client.hget(keys.TOPIC_FACTS, topic_id)
        if raw:
            facts = _decode_topic(raw)
            if facts.created_at or not need_created:
                return facts
    return keep_topic(redis_client, topic_id, client.get_topic(topic_id))


def keep_topic(redis_client: redis.Redis, topic_id: int, topic: Mapping[str, Any]) -> TopicFacts:
    """Remember a ``GET /t/{id}.json`` answer read for another reason (no second read)."""
    return keep_topic_facts(redis_client, topic_id, topic_facts_of(topic))


def keep_topic_facts(redis_client: redis.Redis, topic_id: int, facts: TopicFacts) -> TopicFacts:
    """Remember facts known without a read (a topic Diamond opened itself)."""
    redis_client.hset(keys.TOPIC_FACTS, topic_id, _encode_topic(facts))
    return facts


# ─────────────────────────────── squads ───────────────────────────────


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


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
