"""The roster, cached in Redis for a short time so each job does not re-read every group.

    roster = cached_roster(client, redis_client, rules)   # jobs: reminders, audit, badges…
    names = cached_group_members(client, redis_client, "moderators")  # staff, camp, members…
    forget_roster(redis_client)                            # after Diamond changes a group

``load_roster`` costs one group-list read plus one ``/groups/{name}/members.json`` per
squad; the scheduled jobs of one run (reminders, audit, badges, report) all need it.

Freshness: every change Diamond itself makes to squad groups (``AddToGroup``,
``RemoveFromGroup``, ``AddGroupOwners``, ``CreateGroup``, ``CreateCategory``) goes
through ``worker.apply.Applier``, which calls ``forget_roster`` after the write, so the
next job sees it at once. Members moved by hand on the forum (an admin editing a group)
are picked up when the entry expires, i.e. within ``ROSTER_TTL_SECONDS``.
Squad formation itself always reads the forum (``flows.form_squads`` calls
``gather.load_roster`` directly).

Group member lists (staff groups, camp, members, alumni) are cached the same way, under
a key that carries the generation: ``forget_roster`` bumps it, so every list read before
a change is out of reach at once (and expires on its own).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

import redis

from worker.engine.facts import Roster, Squad
from worker.forum.errors import NotFound
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
    from worker.reads.membership import load_roster

    raw = redis_client.get(ROSTER_KEY)
    if raw:
        try:
            return parse_roster(raw)
        except (ValueError, TypeError) as exc:  # an entry from another version: read again
            log.warning("cached roster unreadable (%s); reading the forum", exc)
    generation = redis_client.get(GENERATION_KEY)
    roster = load_roster(client, rules)
    # Keep it only if Diamond changed no squad while we read: a read that began before a
    # change must not put the old roster back after ``forget_roster`` dropped it.
    with redis_client.pipeline() as pipe:
        try:
            pipe.watch(GENERATION_KEY)
            if pipe.get(GENERATION_KEY) == generation:
                pipe.multi()
                pipe.set(ROSTER_KEY, dump_roster(roster), ex=ROSTER_TTL_SECONDS)
                pipe.execute()
        except redis.WatchError:
            pass  # changed meanwhile: the next load reads the forum again
    return roster


def forget_roster(redis_client: redis.Redis) -> None:
    """Diamond changed a squad group: the next roster load reads the forum."""
    with redis_client.pipeline() as pipe:
        pipe.incr(GENERATION_KEY)
        pipe.delete(ROSTER_KEY)
        pipe.execute()


def cached_group_members(client: Any, redis_client: redis.Redis, group: str) -> frozenset[str]:
    """Usernames in ``group`` (none if it does not exist), read at most once per
    ``ROSTER_TTL_SECONDS`` and generation of Diamond's group changes."""
    generation = int(redis_client.get(GENERATION_KEY) or 0)
    key = keys.group_members(generation, group)
    raw = redis_client.get(key)
    if raw is not None:
        try:
            return frozenset(json.loads(raw))
        except (ValueError, TypeError) as exc:
            log.warning("cached members of %s unreadable (%s); reading the forum", group, exc)
    try:
        names = frozenset(str(m["username"]) for m in client.iter_group_members(group))
    except NotFound:
        names = frozenset()
    # Stored under the generation seen *before* the read: a change made meanwhile bumped
    # it, so this possibly stale list is never found again.
    redis_client.set(key, json.dumps(sorted(names), ensure_ascii=False), ex=ROSTER_TTL_SECONDS)
    return names
