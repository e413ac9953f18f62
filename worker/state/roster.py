"""The roster as state: every squad, and the members of the groups Diamond watches, kept in
Redis and updated from what changes them instead of read again from the forum.

What changes a group, and how the state hears of it:

- Diamond itself (form_squads, the ladder, the camp): the Applier calls ``applied`` after
  each group write; adds and removes are made in place, a new squad group (with its id)
  joins the squads, its category's id is set, its one first owner leads it; another new
  owner marks the group to be read again (which owner leads is the forum's order), and a
  squad group found made before (a crash, another formation) drops the squads.
- An admin by hand: the ``user_added_to_group`` / ``user_removed_from_group`` webhook
  events (``group_user``: the body carries ``group_id`` and ``user_id``, not the username)
  are applied by ``on_group_user`` when the user id is known from a member listing read
  earlier, else they mark the group to be read again; ``group_updated`` /
  ``group_destroyed`` mark it too (``on_group_changed``).
- A lost event: ``worker.reads.forum_view``'s count reconcile compares each group's
  ``user_count`` in one ``GET /groups.json`` listing with the state.

Every change bumps ``keys.ROSTER_GENERATION`` in the same transaction, so a forum read that
began before it never stores what it read (see ``store``). Nothing here calls the forum.

Who is who: member listings note each user id's username (and the reverse), as does the
gate for each applicant (``know_users``), so events about them apply in place, the gate
takes a referrer the state holds as a member without a profile read (``member_groups``),
and the audit's silences need no user read (``user_ids``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis

from worker import actions as a
from worker import clock
from worker.engine.facts import Roster, Squad
from worker.engine.squads import read_squad_bio
from worker.state import keys
from worker.state.codec import decode_value, encode_value

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Group:
    """A watched group that is not a squad (camp, members, alumni, leaders, staff)."""

    id: int | None  # None: no such group on the forum
    members: frozenset[str]


@dataclass
class Snapshot:
    """The state as one read saw it; ``generation`` says whether it is still current."""

    generation: int = 0
    squads: Roster | None = None  # None: never read (or dropped): read the forum fully
    groups: dict[str, Group] = field(default_factory=dict)
    dirty: frozenset[str] = frozenset()  # group names whose members must be read again
    checked_at: datetime | None = None  # on ``worker.clock``: the last reconcile

    def group_names(self) -> dict[int, str]:
        """``{group id: name}`` of every watched group (squads included)."""
        names = {g.id: n for n, g in self.groups.items() if g.id is not None}
        for squad in self.squads.squads if self.squads else ():
            if squad.group_id is not None:
                names[squad.group_id] = squad.slug
        return names


# ─────────────────────────────── encoding ───────────────────────────────


def dump_squads(roster: Roster) -> str:
    squads = [
        {f.name: encode_value(getattr(s, f.name)) for f in dataclasses.fields(Squad)}
        for s in roster.squads
    ]
    return json.dumps(squads, ensure_ascii=False)


def parse_squads(raw: str | bytes) -> Roster:
    return Roster(tuple(Squad(**decode_value(s)) for s in json.loads(raw)))


def _dump_group(group: Group) -> str:
    return json.dumps({"id": group.id, "members": sorted(group.members)}, ensure_ascii=False)


def _parse_group(raw: str | bytes) -> Group:
    data = json.loads(raw)
    return Group(data.get("id"), frozenset(data.get("members") or ()))


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


# ─────────────────────────────── reading ───────────────────────────────

_KEYS = (keys.ROSTER_GENERATION, keys.ROSTER_SQUADS, keys.ROSTER_GROUPS, keys.ROSTER_DIRTY)


def load(redis_client: redis.Redis) -> Snapshot:
    """The state as it is now (one read of each key). ``redis_client`` may be a pipeline
    WATCHing the keys (``_update``): redis-py's ``Pipeline`` is a ``Redis`` whose commands
    answer at once until ``multi()``."""
    snap = Snapshot(generation=int(redis_client.get(keys.ROSTER_GENERATION) or 0))
    raw = redis_client.get(keys.ROSTER_SQUADS)
    if raw:
        try:
            snap.squads = parse_squads(raw)
        except (ValueError, TypeError) as exc:  # an entry from another version: read again
            log.warning("roster state unreadable (%s); reading the forum", exc)
    for name, value in (redis_client.hgetall(keys.ROSTER_GROUPS) or {}).items():
        try:
            snap.groups[_s(name)] = _parse_group(value)
        except (ValueError, TypeError, AttributeError):
            continue
    snap.dirty = frozenset(_s(n) for n in redis_client.smembers(keys.ROSTER_DIRTY) or ())
    checked = redis_client.get(keys.ROSTER_CHECKED)
    if checked:
        snap.checked_at = datetime.fromisoformat(_s(checked))
    return snap


# ─────────────────────────────── a reconcile's result ───────────────────────────────


def store(
    redis_client: redis.Redis,
    seen: Snapshot,
    *,
    squads: Roster | None,
    groups: Mapping[str, Group],
    checked_at: datetime | None,
    user_names: Mapping[int, str],
) -> bool:
    """Keep what a forum read found, unless the state changed since ``seen`` was loaded
    (then the read may be older than that change: it is not kept; False). ``checked_at``:
    the time of a whole reconcile (None: only some groups were read)."""
    with redis_client.pipeline() as pipe:
        try:
            pipe.watch(keys.ROSTER_GENERATION)
            if int(pipe.get(keys.ROSTER_GENERATION) or 0) != seen.generation:
                return False
            pipe.multi()
            if squads is not None:
                pipe.set(keys.ROSTER_SQUADS, dump_squads(squads))
            if groups:
                pipe.hset(
                    keys.ROSTER_GROUPS, mapping={n: _dump_group(g) for n, g in groups.items()}
                )
            if user_names:
                _know(pipe, user_names)
            if checked_at is not None:  # a whole reconcile (else: only new groups read)
                if seen.dirty:
                    pipe.srem(keys.ROSTER_DIRTY, *seen.dirty)
                pipe.set(keys.ROSTER_CHECKED, checked_at.isoformat())
            pipe.execute()
            return True
        except redis.WatchError:
            return False


# ─────────────────────────────── who is who ───────────────────────────────


def _know(pipe: redis.client.Pipeline, user_names: Mapping[int, str]) -> None:
    pipe.hset(keys.ROSTER_USER_NAMES, mapping={str(k): v for k, v in user_names.items()})
    pipe.hset(keys.ROSTER_USER_IDS, mapping={v.lower(): str(k) for k, v in user_names.items()})


def know_users(redis_client: redis.Redis, user_names: Mapping[int, str]) -> None:
    """Remember whom user ids stand for (a user's id and name never part: the map only
    grows), so a ``group_user`` event about them, an echo of Diamond's own change
    included, is applied in place instead of marking the group to be read again."""
    if user_names:
        with redis_client.pipeline(transaction=False) as pipe:
            _know(pipe, user_names)
            pipe.execute()


def user_ids(redis_client: redis.Redis, usernames: Iterable[str]) -> dict[str, int]:
    """``{username: user id}`` of those whose id a member listing (or ``know_users``)
    gave; the others are left out."""
    names = list(usernames)
    if not names:
        return {}
    found = redis_client.hmget(keys.ROSTER_USER_IDS, [n.lower() for n in names])
    return {n: int(v) for n, v in zip(names, found, strict=True) if v is not None}


def member_groups(
    snap: Snapshot, username: str, needed: Iterable[str]
) -> tuple[str, frozenset[str]] | None:
    """(the forum's spelling of ``username``, the watched groups and squads they are in)
    when the state can say it: each ``needed`` group is held and not marked to be read
    again, and the user is in the first of them. None: the state cannot answer (a group
    not loaded or dirty, or the user not in it): read the forum."""
    needed = tuple(needed)
    if not needed or any(g not in snap.groups or g in snap.dirty for g in needed):
        return None
    wanted = username.lower()
    name = next((m for m in snap.groups[needed[0]].members if m.lower() == wanted), None)
    if name is None:
        return None
    groups = {g for g, held in snap.groups.items() if name in held.members}
    if snap.squads is not None:
        groups |= {s.slug for s in snap.squads.squads if name in s.members}
    return name, frozenset(groups)


# ─────────────────────────────── changes ───────────────────────────────


@dataclass
class _Change:
    """What one change writes (applied in one transaction with the generation bump)."""

    squads: Roster | None = None
    drop_squads: bool = False
    groups: dict[str, Group] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    forget_categories: bool = False

    def empty(self) -> bool:
        return not (
            self.squads is not None
            or self.drop_squads
            or self.groups
            or self.dirty
            or self.forget_categories
        )


def _update(redis_client: redis.Redis, change: Callable[[Snapshot], _Change]) -> None:
    while True:
        with redis_client.pipeline() as pipe:
            try:
                pipe.watch(*_KEYS)
                out = change(load(pipe))
                if out.empty():
                    return
                pipe.multi()
                pipe.incr(keys.ROSTER_GENERATION)
                if out.drop_squads:
                    pipe.delete(keys.ROSTER_SQUADS)
                elif out.squads is not None:
                    pipe.set(keys.ROSTER_SQUADS, dump_squads(out.squads))
                if out.groups:
                    pipe.hset(
                        keys.ROSTER_GROUPS,
                        mapping={n: _dump_group(g) for n, g in out.groups.items()},
                    )
                if out.dirty:
                    pipe.sadd(keys.ROSTER_DIRTY, *out.dirty)
                if out.forget_categories:
                    pipe.delete(keys.CATEGORY_IDS)  # a squad's category may be new
                pipe.execute()
                return
            except redis.WatchError:
                continue  # changed meanwhile: apply the change to the newer state


def _membership(
    snap: Snapshot, group: str, added: Iterable[str], removed: Iterable[str], at: datetime
) -> _Change:
    """Members ``added`` to / ``removed`` from ``group`` wherever the state watches it."""
    added, removed = set(added), set(removed)
    out = _Change()
    squad = snap.squads.by_slug(group) if snap.squads else None
    if squad is not None and snap.squads is not None:
        members = (set(squad.members) | added) - removed
        if members != set(squad.members):
            joined = {u: t for u, t in squad.joined.items() if u in members}
            joined.update({u: at for u in added - set(squad.members)})
            leader = squad.leader
            if leader in removed:  # who leads now is the forum's order: read it again
                out.dirty.add(group)
                leader = None
            changed = dataclasses.replace(
                squad, members=tuple(sorted(members)), joined=joined, leader=leader
            )
            others = tuple(s for s in snap.squads.squads if s.slug != group)
            out.squads = Roster(tuple(sorted((*others, changed), key=lambda s: s.slug)))
    watched = snap.groups.get(group)
    if watched is not None:
        members_now = (watched.members | added) - removed
        if members_now != watched.members:
            out.groups[group] = Group(watched.id, frozenset(members_now))
    return out


def applied(
    redis_client: redis.Redis, action: a.Action, at: datetime | None = None, result: Any = None
) -> None:
    """Diamond changed a group or category on the forum (called by the Applier once the
    write succeeded; ``result``: the Applier's answer, with the new id): the state follows,
    the generation moves. ``at``: the step's time (a member added joined then); None (an
    Applier built outside a step) reads the clock."""
    if at is None:
        at = clock.now(redis_client)

    def change(snap: Snapshot) -> _Change:
        if isinstance(action, a.AddToGroup):
            return _membership(snap, action.group, action.usernames, (), at)
        if isinstance(action, a.RemoveFromGroup):
            return _membership(snap, action.group, (), action.usernames, at)
        if isinstance(action, a.AddGroupOwners):
            return _owners(snap, action.group, action.usernames, at)
        new = _new_squad(snap, action, result)
        if new is not None:
            return new
        # Another new group or category: the squads are read again in full.
        return _Change(drop_squads=True, forget_categories=True)

    _update(redis_client, change)


def _new_squad(snap: Snapshot, action: a.Action, result: Any) -> _Change | None:
    """A squad group Diamond made (its bio carries the squad marker), or the category of a
    squad the state holds: the squad joins the state as a full read would list it (its
    members and leader follow from the formation's adds). None: not one of those (or the
    answer lacks the id, or the squads were never read)."""
    if snap.squads is None or not isinstance(result, Mapping) or "id" not in result:
        return None
    if isinstance(action, a.CreateGroup):
        meta = read_squad_bio(action.bio_raw)
        if meta is None:  # not a squad (a squad's lead group): the squads stay as they are
            watched = action.name in snap.groups
            return _Change(dirty={action.name}) if watched else _Change()
        if snap.squads.by_slug(action.name) is not None or result.get("existed"):
            return None  # made before (a crash, another formation): read it
        squad = Squad(
            slug=action.name,
            full_name=action.full_name or action.name,
            cohort=str(meta.get("cohort") or ""),
            members=(),
            leader=None,
            class_slug=meta.get("class") or None,  # type: ignore[arg-type]  # bio JSON
            group_id=int(result["id"]),
            category_id=None,
            class_key=meta.get("key") or None,  # type: ignore[arg-type]  # bio JSON
            joined={},
        )
        grown = (*snap.squads.squads, squad)
        return _Change(squads=Roster(tuple(sorted(grown, key=lambda s: s.slug))))
    if isinstance(action, a.CreateCategory):
        owner = snap.squads.by_slug(action.slug)
        if owner is None:  # no squad's category: only the cached category ids change
            return _Change(forget_categories=True)
        if owner.category_id is not None:
            return None
        changed = dataclasses.replace(owner, category_id=int(result["id"]))
        others = tuple(s for s in snap.squads.squads if s.slug != action.slug)
        roster = Roster(tuple(sorted((*others, changed), key=lambda s: s.slug)))
        return _Change(squads=roster, forget_categories=True)
    return None


def _owners(snap: Snapshot, group: str, owners: Iterable[str], at: datetime) -> _Change:
    """Owners added (members too, as Discourse makes them): a squad that had no leader is
    led by its one new owner; otherwise which owner leads is the forum's order: read it."""
    owners = tuple(owners)
    out = _membership(snap, group, owners, (), at)
    squad = snap.squads.by_slug(group) if snap.squads else None
    if squad is None or squad.leader is not None or len(set(owners)) != 1:
        out.dirty.add(group)
        return out
    current = out.squads if out.squads is not None else snap.squads
    assert current is not None  # a squad was found in it
    led = dataclasses.replace(current.by_slug(group) or squad, leader=owners[0])
    others = tuple(s for s in current.squads if s.slug != group)
    out.squads = Roster(tuple(sorted((*others, led), key=lambda s: s.slug)))
    return out


def on_group_user(
    redis_client: redis.Redis, event: str, group_id: int, user_id: int, at: datetime | None = None
) -> bool:
    """A ``user_added_to_group`` / ``user_removed_from_group`` delivery (one may be an echo
    of Diamond's own change, already in the state: nothing moves). True if it changed
    something."""
    changed = False
    when = at or clock.now(redis_client)
    raw = redis_client.hget(keys.ROSTER_USER_NAMES, user_id)  # the map only grows
    username = _s(raw) if raw else None

    def change(snap: Snapshot) -> _Change:
        nonlocal changed
        group = snap.group_names().get(group_id)
        if group is None:
            return _Change()  # a group Diamond does not watch
        if username is None:  # someone never listed: read the group's members again
            out = _Change(dirty={group}) if group not in snap.dirty else _Change()
        elif event == "user_added_to_group":
            out = _membership(snap, group, (username,), (), when)
        else:
            out = _membership(snap, group, (), (username,), when)
        changed = not out.empty()
        return out

    _update(redis_client, change)
    return changed


def on_group_changed(redis_client: redis.Redis, group_id: int) -> bool:
    """``group_updated`` / ``group_destroyed``: a watched group is read again (its name,
    bio or very existence may have changed)."""
    changed = False

    def change(snap: Snapshot) -> _Change:
        nonlocal changed
        group = snap.group_names().get(group_id)
        changed = group is not None and group not in snap.dirty
        return _Change(dirty={group}) if changed and group is not None else _Change()

    _update(redis_client, change)
    return changed


def forget(redis_client: redis.Redis) -> None:
    """Drop every squad (the next read lists the forum fully), keeping the watched groups."""
    _update(redis_client, lambda _snap: _Change(drop_squads=True, forget_categories=True))
