"""The obligations ledger in Redis: what the worker has seen of each squad's weeks.

Layout (all keys under ``diamond:ledger:``; values are small JSON documents):

    threads:{week}          hash  squad slug -> weekly thread topic id
    topics                  hash  topic id -> {"kind": "thread"|"article"|"leave"|"other",
                                               "week", "squad"}
    squad-categories        hash  category id -> squad slug
    posts:{week}:{squad}    hash  post id -> post with its versions (see ``_encode``)
    post-places             hash  post id -> "{week}|{squad}" (to find a post on edit/delete)
    leave                   hash  post id -> {"u": username, "c": created_at, "w": [weeks]}
    strikes:{username}      hash  week -> strikes added that week, "x" when excused
    shadow-strikes:{username}  the same, recorded in shadow mode: a community trying
                            Diamond out sees the ladder climb in the audit log, and
                            going live starts everyone from a clean record
    audit-rules             hash  week -> {"checksum", "obligations"}: the obligations
                            rules in force when the week was first audited; a re-audit
                            of the week uses them (a changed rule never reaches back)

Everything but ``strikes`` is rebuilt from the forum by ``worker.steps.rebuild_ledger``;
strikes are recomputed from the rebuilt posts by re-auditing (``diamond ledger rebuild``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

import redis

from worker.engine.facts import Roster, Squad, parse_time
from worker.engine.obligations import (
    LeaveRequest,
    TopicInfo,
    Version,
    WeekPost,
    leave_request_from_post,
    weeks_named,
)
from worker.engine.textlen import QuoteRef
from worker.engine.weeks import Week
from worker.reads.parse import is_deleted, week_post
from worker.rules.models import Rules
from worker.state import keys

EXCUSED = "x"
AUDIT_RULES_KEY = keys.AUDIT_RULES


class Ledger:
    """Typed access to the ledger keys; every method is one or two Redis round trips."""

    def __init__(self, redis_client: redis.Redis) -> None:
        self.redis = redis_client

    # --- topics and threads ---------------------------------------------------------

    def record_thread(
        self, week: Week, squad: str, topic_id: int, *, first_post: int | None = None
    ) -> None:
        """``first_post``: the thread's first post (the roll call), when the answer that
        opened it said so (no topic read later)."""
        pipe = self.redis.pipeline()
        pipe.hset(keys.threads(week), squad, topic_id)
        pipe.hset(keys.LEDGER_TOPICS, topic_id, _dump_topic(TopicInfo("thread", week, squad)))
        if first_post is not None:
            pipe.hset(keys.ROLL_CALL_FIRST_POSTS, topic_id, first_post)
        pipe.execute()

    def roll_call_written(self, week: Week, squad: str) -> tuple[int, str]:
        """How many roll-call edits of the thread were written, and the digest of the last
        text written ("" before the first)."""
        raw = self.redis.hget(keys.ROLL_CALL_WRITTEN, f"{week}|{squad}")
        if raw is None:
            return 0, ""
        count, _, digest = _s(raw).partition(":")
        return int(count), digest

    def record_roll_call_written(self, week: Week, squad: str, count: int, digest: str) -> None:
        self.redis.hset(keys.ROLL_CALL_WRITTEN, f"{week}|{squad}", f"{count}:{digest}")

    def first_post(self, topic_id: int) -> int | None:
        """A thread's first post id, if known (``record_thread``, ``record_first_post``)."""
        known = self.redis.hget(keys.ROLL_CALL_FIRST_POSTS, topic_id)
        return int(known) if known is not None else None

    def record_first_post(self, topic_id: int, post_id: int) -> None:
        self.redis.hset(keys.ROLL_CALL_FIRST_POSTS, topic_id, post_id)

    def threads(self, week: Week) -> dict[str, int]:
        raw = self.redis.hgetall(keys.threads(week))
        return {_s(k): int(v) for k, v in raw.items()}

    def record_topic(self, topic_id: int, info: TopicInfo) -> None:
        self.redis.hset(keys.LEDGER_TOPICS, topic_id, _dump_topic(info))

    def topic(self, topic_id: int) -> TopicInfo | None:
        raw = self.redis.hget(keys.LEDGER_TOPICS, topic_id)
        if raw is None:
            return None
        data = json.loads(raw)
        week = Week.parse(data["week"]) if data.get("week") else None
        return TopicInfo(data["kind"], week, data.get("squad"))

    def record_squad_categories(self, mapping: Mapping[int, str]) -> None:
        if mapping:
            self.redis.hset(keys.SQUAD_CATEGORIES, mapping={k: v for k, v in mapping.items()})

    def squad_of_category(self, category_id: int | None) -> str | None:
        if category_id is None:
            return None
        raw = self.redis.hget(keys.SQUAD_CATEGORIES, category_id)
        return _s(raw) if raw is not None else None

    def remember_squad_names(self, roster: Roster) -> None:
        """Each squad's display name (weekly thread titles carry it)."""
        if roster.squads:
            self.redis.hset(keys.SQUAD_NAMES, mapping={s.slug: s.full_name for s in roster.squads})

    def squads_of_category(self, category_id: Any) -> dict[int, Squad]:
        """A stand-in Squad for the category's squad (the ledger knows slugs and display
        names, not rosters): ``{category_id: squad}``, or ``{}``."""
        if not isinstance(category_id, int):
            return {}
        slug = self.squad_of_category(category_id)
        if slug is None:
            return {}
        name = self.redis.hget(keys.SQUAD_NAMES, slug)
        full_name = _s(name) if name is not None else slug
        return {category_id: Squad(slug, full_name or slug, "", (), category_id=category_id)}

    def mark_roll_call(self, week: Week, squad: str, at: dt.datetime) -> None:
        """A post of ``squad``'s ``week`` thread changed: its roll call is to be redone."""
        self.redis.hset(keys.ROLL_CALL_DIRTY, f"{week}|{squad}", str(at.timestamp()))

    def ingest_post(
        self,
        rules: Rules,
        post: Mapping[str, Any],
        topic: TopicInfo,
        *,
        version_at: dt.datetime | None = None,
    ) -> str:
        """Record (or forget) one post; returns what happened, for logs and tests."""
        post_id = int(post["id"])
        if is_deleted(post):
            return "removed" if self.remove_post(post_id) else "ignored"
        if topic.kind == "thread" and topic.week and topic.squad:
            if int(post["post_number"]) == 1:
                return "ignored"  # the thread's opening post is Diamond's
            self.upsert_post(topic.week, topic.squad, week_post(post, version_at=version_at))
            return "recorded"
        if topic.kind == "article" and topic.week and topic.squad:
            # Thread mode: a topic of its own, posted while its week had no thread.
            own = rules.obligations.article.mode == "thread"
            self.upsert_post(
                topic.week, topic.squad, week_post(post, version_at=version_at, in_own_topic=own)
            )
            return "recorded"
        if topic.kind == "leave":
            created = parse_time(str(post["created_at"]))
            raw = str(post.get("raw") or post.get("cooked") or "")
            author = str(post.get("username") or "")
            request = leave_request_from_post(
                rules.obligations, rules.tz, author, created, weeks_named(raw)
            )
            self.record_leave(post_id, request.username, created, request.weeks)
            return "leave"
        return "ignored"

    # --- posts ----------------------------------------------------------------------

    def upsert_post(self, week: Week, squad: str, post: WeekPost) -> WeekPost:
        """Record ``post`` (a single current version); an edit adds a version.

        Returns the post as stored. A version with the same length and quotes as the
        latest is not a change (a webhook delivered twice, a catch-up re-read).
        """
        place = f"{week}|{squad}"
        key = keys.week_posts(week, squad)
        old_place = self.redis.hget(keys.POST_PLACES, post.id)
        stored = None
        if old_place is not None and _s(old_place) == place:
            raw = self.redis.hget(key, post.id)
            stored = _decode(raw) if raw is not None else None
        elif old_place is not None:  # moved (e.g. topic re-filed): forget the old place
            self.remove_post(post.id)
        new = post.versions[-1]
        if stored is None:
            merged = post
        elif new.at in {v.at for v in stored.versions} or _same(stored.versions[-1], new):
            merged = stored
        else:
            merged = stored.edited(new.at, new.units, new.quotes)
        pipe = self.redis.pipeline()
        pipe.hset(key, post.id, _encode(merged))
        pipe.hset(keys.POST_PLACES, post.id, place)
        pipe.execute()
        return merged

    def place_of(self, post_id: int) -> tuple[Week, str] | None:
        """The week and squad ``post_id`` is filed under, if it is."""
        place = self.redis.hget(keys.POST_PLACES, post_id)
        if place is None:
            return None
        week, squad = _s(place).split("|", 1)
        return Week.parse(week), squad

    def remove_post(self, post_id: int) -> bool:
        place = self.redis.hget(keys.POST_PLACES, post_id)
        if place is None:
            return self._remove_leave(post_id)
        week, squad = _s(place).split("|", 1)
        pipe = self.redis.pipeline()
        pipe.hdel(keys.week_posts(week, squad), post_id)
        pipe.hdel(keys.POST_PLACES, post_id)
        pipe.execute()
        return True

    def posts(self, week: Week, squad: str) -> tuple[WeekPost, ...]:
        raw = self.redis.hgetall(keys.week_posts(week, squad))
        return tuple(sorted((_decode(v) for v in raw.values()), key=lambda p: (p.created_at, p.id)))

    def posts_many(self, week: Week, squads: Iterable[str]) -> dict[str, tuple[WeekPost, ...]]:
        """Every squad's posts of ``week`` in one pipelined round trip."""
        names = list(squads)
        pipe = self.redis.pipeline()
        for squad in names:
            pipe.hgetall(keys.week_posts(week, squad))
        out = {}
        for squad, raw in zip(names, pipe.execute(), strict=True):
            posts = (_decode(v) for v in raw.values())
            out[squad] = tuple(sorted(posts, key=lambda p: (p.created_at, p.id)))
        return out

    def clear_posts(self, since: Week) -> int:
        """Forget every post, thread and topic of weeks >= ``since`` (before a rebuild)."""
        removed = 0
        for key in list(self.redis.scan_iter(match=keys.POSTS_PATTERN, count=1000)):
            week = Week.parse(_s(key).split(":")[3])
            if week >= since:
                ids = self.redis.hkeys(key)
                if ids:
                    self.redis.hdel(keys.POST_PLACES, *ids)
                self.redis.delete(key)
                removed += len(ids)
        for key in list(self.redis.scan_iter(match=keys.THREADS_PATTERN, count=1000)):
            if Week.parse(_s(key).split(":")[3]) >= since:
                self.redis.delete(key)
        for topic_id, raw in list(self.redis.hscan_iter(keys.LEDGER_TOPICS, count=1000)):
            week = json.loads(raw).get("week")
            if week and Week.parse(week) >= since:
                self.redis.hdel(keys.LEDGER_TOPICS, topic_id)
        return removed

    # --- leave ----------------------------------------------------------------------

    def record_leave(
        self, post_id: int, username: str, created_at: dt.datetime, weeks: Iterable[Week]
    ) -> None:
        doc = {"u": username, "c": created_at.isoformat(), "w": [str(w) for w in weeks]}
        self.redis.hset(keys.LEAVE, post_id, json.dumps(doc))

    def _remove_leave(self, post_id: int) -> bool:
        return bool(self.redis.hdel(keys.LEAVE, post_id))

    def leave_requests(self) -> list[LeaveRequest]:
        out = []
        for post_id, raw in self.redis.hgetall(keys.LEAVE).items():
            doc = json.loads(raw)
            out.append(
                LeaveRequest(
                    doc["u"],
                    tuple(Week.parse(w) for w in doc["w"]),
                    dt.datetime.fromisoformat(doc["c"]),
                    f"post {_s(post_id)}",
                )
            )
        return out

    # --- the rules a week was audited under ------------------------------------------

    def record_audit_rules(self, week: Week, obligations: Mapping[str, object]) -> bool:
        """Keep ``obligations`` (a JSON dump) as the rules of ``week``'s audit, unless the
        week has rules recorded already; True when recorded now."""
        from worker.rules.loaded import checksum

        doc = {"checksum": checksum(dict(obligations)), "obligations": obligations}
        return bool(
            self.redis.hsetnx(AUDIT_RULES_KEY, str(week), json.dumps(doc, ensure_ascii=False))
        )

    def audit_rules(self, week: Week) -> dict | None:
        """The obligations rules (a JSON dump) ``week`` was first audited under, or None."""
        raw = self.redis.hget(AUDIT_RULES_KEY, str(week))
        return json.loads(raw)["obligations"] if raw else None

    def audited_weeks(self) -> dict[Week, str]:
        """Every week audited with its rules recorded -> the checksum of those rules."""
        return {
            Week.parse(_s(k)): json.loads(v)["checksum"]
            for k, v in self.redis.hgetall(AUDIT_RULES_KEY).items()
        }

    # --- strikes --------------------------------------------------------------------

    def record_strikes(
        self, week: Week, strikes: Mapping[str, int | None], *, live: bool = True
    ) -> None:
        """This week's strikes per member (None: excused); re-recording a week replaces it.

        ``live=False`` (shadow mode) keeps them in a book of their own.
        """
        pipe = self.redis.pipeline()
        for username, value in strikes.items():
            pipe.hset(_strikes_key(username, live), str(week), EXCUSED if value is None else value)
        pipe.execute()

    def histories(
        self, usernames: Iterable[str], *, live: bool = True
    ) -> dict[str, dict[Week, int | None]]:
        """Each member's recorded weeks, from the live book or the shadow one."""
        names = list(usernames)
        pipe = self.redis.pipeline()
        for username in names:
            pipe.hgetall(_strikes_key(username, live))
        out: dict[str, dict[Week, int | None]] = {}
        for username, raw in zip(names, pipe.execute(), strict=True):
            if raw:
                out[username] = {
                    Week.parse(_s(k)): (None if _s(v) == EXCUSED else int(v))
                    for k, v in raw.items()
                }
        return out


# --- encoding -------------------------------------------------------------------------


def _strikes_key(username: str, live: bool) -> str:
    return keys.strikes(username, live=live)


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _dump_topic(info: TopicInfo) -> str:
    return json.dumps(
        {"kind": info.kind, "week": str(info.week) if info.week else None, "squad": info.squad}
    )


def _same(a: Version, b: Version) -> bool:
    return a.units == b.units and a.quotes == b.quotes


def _encode(post: WeekPost) -> str:
    return json.dumps(
        {
            "i": post.id,
            "t": post.topic_id,
            "n": post.post_number,
            "u": post.username,
            "c": post.created_at.isoformat(),
            "r": post.reply_to_post_number,
            **({"o": 1} if post.in_own_topic else {}),
            "v": [
                [
                    v.at.isoformat(),
                    v.units,
                    [[q.username, q.topic_id, q.post_number] for q in v.quotes],
                ]
                for v in post.versions
            ],
        },
        ensure_ascii=False,
    )


def _decode(raw: bytes | str) -> WeekPost:
    d = json.loads(raw)
    return WeekPost(
        id=d["i"],
        topic_id=d["t"],
        post_number=d["n"],
        username=d["u"],
        created_at=dt.datetime.fromisoformat(d["c"]),
        versions=tuple(
            Version(dt.datetime.fromisoformat(at), units, tuple(QuoteRef(*q) for q in quotes))
            for at, units, quotes in d["v"]
        ),
        reply_to_post_number=d["r"],
        in_own_topic=bool(d.get("o")),
    )
