"""The interaction graph: who is bonded to whom, week by week.

An edge joins two members when one replies to, reviews, quotes or likes the
other (self-replies make no edge). Edges are undirected and counted once per
pair per week: a bond is a bond, however many posts it took. Plain dicts and
sets; a week of 250,000 interactions between 10,000 members takes well under a
second.

Weeks are ISO weeks in the community's time zone, written ``2026-W47``; the
week helpers here are shared by recognition and health.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal, NamedTuple

from worker.engine.facts import LikeFact, PostFact, Roster

InteractionKind = Literal["reply", "review", "quote", "like"]
POST_KINDS: frozenset[str] = frozenset({"reply", "review", "quote"})
NO_SQUAD = ""  # the squad "slug" under which squad-less members are listed

# ───────────────────────────── weeks ─────────────────────────────

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def parse_week(week: str) -> tuple[int, int]:
    """``"2026-W47"`` → ``(2026, 47)``; a clear ValueError for anything else."""
    match = _WEEK.match(week.strip())
    if not match:
        raise ValueError(f"not an ISO week: {week!r} (expected e.g. 2026-W47)")
    year, number = int(match[1]), int(match[2])
    try:
        date.fromisocalendar(year, number, 1)
    except ValueError:
        raise ValueError(f"not an ISO week: {week!r} ({year} has no week {number})") from None
    return year, number


def iso_week(at: datetime, tz: tzinfo) -> str:
    """The ISO week ``at`` falls in, in the community's time zone."""
    year, number, _ = at.astimezone(tz).isocalendar()
    return f"{year}-W{number:02d}"


def week_start(week: str, tz: tzinfo) -> datetime:
    """Monday 00:00 of ``week`` in ``tz``, as a UTC datetime.

    UTC because facts carry UTC times (Discourse's): comparing two datetimes with
    the same tzinfo skips the zone arithmetic, which is most of the cost of
    sorting a million posts into weeks.
    """
    year, number = parse_week(week)
    local = datetime.combine(date.fromisocalendar(year, number, 1), time(0), tzinfo=tz)
    return local.astimezone(UTC)


def week_bounds(week: str, tz: tzinfo) -> tuple[datetime, datetime]:
    """``[start, end)`` of ``week``: Monday 00:00 to the next Monday 00:00 in ``tz``."""
    start = week_start(week, tz)
    return start, week_start(shift_week(week, 1), tz)


def shift_week(week: str, weeks: int) -> str:
    """The ISO week ``weeks`` after (negative: before) ``week``."""
    year, number = parse_week(week)
    monday = date.fromisocalendar(year, number, 1) + timedelta(weeks=weeks)
    y, n, _ = monday.isocalendar()
    return f"{y}-W{n:02d}"


def week_range(last: str, count: int) -> tuple[str, ...]:
    """``count`` weeks ending with ``last``, oldest first."""
    return tuple(shift_week(last, -k) for k in range(count - 1, -1, -1))


# ───────────────────────────── posts and interactions ─────────────────────────────


class PostIndex:
    """Posts by id and by (topic, post number), to resolve replies, quotes and likes."""

    def __init__(self, posts: Iterable[PostFact]) -> None:
        self.by_id: dict[int, PostFact] = {}
        self.by_ref: dict[tuple[int, int], PostFact] = {}
        self._resolved: list[Resolved] | None = None
        for post in posts:
            if post.deleted:
                continue
            self.by_id[post.id] = post
            self.by_ref[(post.topic_id, post.post_number)] = post

    def __iter__(self) -> Iterator[PostFact]:
        return iter(self.by_id.values())

    def __len__(self) -> int:
        return len(self.by_id)

    def get(self, post_id: int) -> PostFact | None:
        return self.by_id.get(post_id)

    def at(self, topic_id: int, post_number: int) -> PostFact | None:
        return self.by_ref.get((topic_id, post_number))

    def resolved(self) -> list[Resolved]:
        """Each post with whom it answers and quotes, resolved once and kept (cheap reuse)."""
        if self._resolved is None:
            out = []
            by_ref = self.by_ref
            for post in self.by_id.values():
                replied = self.reply_target(post)
                quoted: tuple[tuple[str, PostFact | None], ...] = ()
                if post.quotes:
                    quoted = tuple(
                        (
                            q.username
                            if (hit := by_ref.get((q.topic_id, q.post_number))) is None
                            else hit.username,
                            hit,
                        )
                        for q in post.quotes
                    )
                if replied is not None or quoted:
                    out.append(Resolved(post, replied, quoted))
            self._resolved = out
        return self._resolved

    def reply_target(self, post: PostFact) -> PostFact | None:
        """The post ``post`` answers: its explicit reply target, else the topic's first post.

        Discourse leaves ``reply_to_post_number`` empty for a reply to the topic
        itself, which is a reply to the topic's author.
        """
        if post.post_number <= 1:
            return None
        number = post.reply_to_post_number or 1
        return self.by_ref.get((post.topic_id, number))


class Resolved(NamedTuple):
    """A post, the post it replies to, and (username, post or None) for each quote."""

    post: PostFact
    replied: PostFact | None
    quoted: tuple[tuple[str, PostFact | None], ...]


class Interaction(NamedTuple):
    """``source`` turned to ``target``: replied, reviewed, quoted or liked, at ``at``.

    A named tuple: a report builds a million of them.
    """

    source: str
    target: str
    kind: InteractionKind
    at: datetime
    post_id: int  # the reply/quote post, or the liked post for a like


def interactions(
    index: PostIndex, likes: Iterable[LikeFact], articles: Collection[int] = frozenset()
) -> list[Interaction]:
    """Every interaction between two different people in ``index`` and ``likes``.

    A reply to an article (``articles``: post ids the obligations ledger counts as
    articles) is a ``review``. A post that replies to and quotes the same person
    gives one interaction, not two.
    """
    out: list[Interaction] = []
    append = out.append
    new = tuple.__new__  # skips NamedTuple's Python-level __new__: a third of the cost
    for post, target, quotes in index.resolved():
        source = post.username
        named = ""
        if target is not None and target.username != source:
            kind: InteractionKind = "review" if target.id in articles else "reply"
            named = target.username
            append(new(Interaction, (source, named, kind, post.created_at, post.id)))
        if quotes:
            seen = {named}
            for name, quoted in quotes:
                if name == source or name in seen:
                    continue
                seen.add(name)
                kind = "review" if quoted is not None and quoted.id in articles else "quote"
                append(new(Interaction, (source, name, kind, post.created_at, post.id)))
    by_id = index.by_id
    for like in likes:
        liked = by_id.get(like.post_id)
        if liked is not None and liked.username != like.user:
            append(new(Interaction, (like.user, liked.username, "like", like.created_at, liked.id)))
    return out


# ───────────────────────────── measures ─────────────────────────────


@dataclass(frozen=True, slots=True)
class GraphMeasures:
    """One week of the graph among ``members`` (the people measured)."""

    week: str
    members: int
    edges: int
    density: float  # edges / possible pairs
    avg_partners: float  # distinct people each member interacted with, on average
    cross_squad_edges: int  # edges whose two ends are in different squads
    cross_squad_share: float  # of all edges
    post_interactions: int  # replies, reviews and quotes between members
    cross_squad_post_interactions: int
    largest_component: int  # members in the largest connected component (isolated: size 1)
    largest_component_share: float
    # Members with no interaction in this week and the one before, by squad slug.
    isolated: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def isolated_count(self) -> int:
        return sum(len(names) for names in self.isolated.values())

    @property
    def cross_squad_reply_rate(self) -> float:
        """Share of replies/reviews/quotes that cross squads."""
        return _ratio(self.cross_squad_post_interactions, self.post_interactions)


@dataclass(frozen=True, slots=True)
class GraphTrend:
    """The graph measured week by week, oldest first; ``edges`` of the last week for drawing."""

    weeks: tuple[GraphMeasures, ...]
    edges: frozenset[tuple[str, str]] = frozenset()

    @property
    def current(self) -> GraphMeasures:
        return self.weeks[-1]

    @property
    def previous(self) -> GraphMeasures | None:
        return self.weeks[-2] if len(self.weeks) > 1 else None

    def change(self, attribute: str) -> float | None:
        """This week's value minus last week's (None without a previous week)."""
        if self.previous is None:
            return None
        return float(getattr(self.current, attribute)) - float(getattr(self.previous, attribute))


def squad_slugs(roster: Roster, members: Iterable[str]) -> dict[str, str]:
    """username → squad slug (``NO_SQUAD`` for members outside every squad)."""
    out = {}
    for name in members:
        squad = roster.squad_of(name)
        out[name] = squad.slug if squad is not None else NO_SQUAD
    return out


def bucket_by_week(
    items: Iterable[Interaction], weeks: Sequence[str], tz: tzinfo
) -> list[list[Interaction]]:
    """``items`` split over consecutive ``weeks`` (oldest first); others are dropped."""
    if not weeks:
        return []
    bounds = [week_start(w, tz) for w in weeks]
    bounds.append(week_start(shift_week(weeks[-1], 1), tz))
    buckets: list[list[Interaction]] = [[] for _ in weeks]
    last = len(weeks)
    for item in items:
        slot = bisect_right(bounds, item[3]) - 1  # item.at
        if 0 <= slot < last:
            buckets[slot].append(item)
    return buckets


def graph_trend(
    items: Iterable[Interaction],
    members: Collection[str],
    roster: Roster,
    week: str,
    tz: tzinfo,
    *,
    weeks: int = 4,
    isolation_weeks: int = 2,
) -> GraphTrend:
    """Measures for the ``weeks`` weeks ending with ``week``, and that week's edges."""
    if weeks < 1 or isolation_weeks < 1:
        raise ValueError("weeks and isolation_weeks must be at least 1")
    nodes = frozenset(members)
    squads = squad_slugs(roster, nodes)
    span = week_range(week, weeks + isolation_weeks - 1)
    buckets = bucket_by_week(items, span, tz)
    weekly = [_week_edges(bucket, nodes, squads) for bucket in buckets]
    measures = []
    for i in range(isolation_weeks - 1, len(span)):
        recent = weekly[i - isolation_weeks + 1 : i + 1]
        measures.append(_measure(span[i], weekly[i], recent, nodes, squads))
    return GraphTrend(tuple(measures), frozenset(weekly[-1].edges))


@dataclass(slots=True)
class _WeekEdges:
    edges: set[tuple[str, str]]
    active: set[str]  # members with at least one interaction with another member
    post_interactions: int
    cross_post_interactions: int


def _week_edges(
    items: Iterable[Interaction], nodes: frozenset[str], squads: Mapping[str, str]
) -> _WeekEdges:
    edges: set[tuple[str, str]] = set()
    posts = cross = 0
    for item in items:
        a, b = item.source, item.target
        if a == b or a not in nodes or b not in nodes:
            continue
        edges.add((a, b) if a < b else (b, a))
        if item.kind != "like":
            posts += 1
            sa, sb = squads[a], squads[b]
            if sa != sb and sa != NO_SQUAD and sb != NO_SQUAD:
                cross += 1
    active = {name for edge in edges for name in edge}
    return _WeekEdges(edges, active, posts, cross)


def _measure(
    week: str,
    this: _WeekEdges,
    recent: Sequence[_WeekEdges],
    nodes: frozenset[str],
    squads: Mapping[str, str],
) -> GraphMeasures:
    n = len(nodes)
    e = len(this.edges)
    cross = sum(
        1
        for a, b in this.edges
        if squads[a] != squads[b] and squads[a] != NO_SQUAD and squads[b] != NO_SQUAD
    )
    largest = largest_component(this.edges) if e else (1 if n else 0)
    active: set[str] = set().union(*(w.active for w in recent))
    isolated: dict[str, list[str]] = defaultdict(list)
    for name in sorted(nodes - active):
        isolated[squads[name]].append(name)
    return GraphMeasures(
        week=week,
        members=n,
        edges=e,
        density=_ratio(e, n * (n - 1) // 2),
        avg_partners=_ratio(2 * e, n),
        cross_squad_edges=cross,
        cross_squad_share=_ratio(cross, e),
        post_interactions=this.post_interactions,
        cross_squad_post_interactions=this.cross_post_interactions,
        largest_component=largest,
        largest_component_share=_ratio(largest, n),
        isolated={slug: tuple(names) for slug, names in sorted(isolated.items())},
    )


def largest_component(edges: Iterable[tuple[str, str]]) -> int:
    """Size of the largest connected component of the graph ``edges`` spans (union-find)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    for a, b in edges:
        parent.setdefault(a, a)
        parent.setdefault(b, b)
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
    sizes: dict[str, int] = defaultdict(int)
    for name in parent:
        sizes[find(name)] += 1
    return max(sizes.values(), default=0)


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole else 0.0
