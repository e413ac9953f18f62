"""The interaction graph: who is bonded to whom, week by week.

An edge joins two members when one replies to, reviews, quotes or likes the
other, or turns to them in squad chat (self-replies make no edge). Edges are
undirected and counted once per pair per week: a bond is a bond, however many
posts it took. Each kind may carry a weight (``weights``; forum kinds weigh 1):
a pair is bonded in a week once its interactions weigh 1 in all, so with chat
at 0.5 two chat exchanges make a bond where one forum reply does. Plain dicts and
sets; a week of 250,000 interactions between 10,000 members takes well under a
second.

Weeks are ``worker.engine.weeks.Week`` values (ISO weeks in the community's time
zone); the few week helpers here, shared by recognition and health, turn them into
the UTC instants facts are compared with.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Literal, NamedTuple

from worker.engine.facts import LikeFact, PostFact, Roster
from worker.engine.weeks import Week

InteractionKind = Literal["reply", "review", "quote", "like", "chat"]
POST_KINDS: frozenset[str] = frozenset({"reply", "review", "quote"})
NO_SQUAD = ""  # the squad "slug" under which squad-less members are listed
BOND = 1.0  # a pair's interactions must weigh this much in a week to bond them
EPSILON = 1e-9  # 0.1 * 10 is a bond although floats sum it to 0.9999999999999999

# ───────────────────────────── weeks ─────────────────────────────


def week_start(week: Week, tz: tzinfo) -> datetime:
    """Monday 00:00 of ``week`` in ``tz``, as a UTC datetime.

    UTC because facts carry UTC times (Discourse's): comparing two datetimes with
    the same tzinfo skips the zone arithmetic, which is most of the cost of
    sorting a million posts into weeks.
    """
    return week.start(tz).astimezone(UTC)


def week_bounds(week: Week, tz: tzinfo) -> tuple[datetime, datetime]:
    """``[start, end)`` of ``week``: Monday 00:00 to the next Monday 00:00 in ``tz``."""
    return week_start(week, tz), week_start(week.next(), tz)


def week_range(last: Week, count: int) -> tuple[Week, ...]:
    """``count`` weeks ending with ``last``, oldest first."""
    return tuple(last.shift(-k) for k in range(count - 1, -1, -1))


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
            out: list[Resolved] = []
            append = out.append
            by_ref = self.by_ref
            new = tuple.__new__  # skips NamedTuple's Python-level __new__
            for post in self.by_id.values():
                number = post.post_number
                replied = (
                    by_ref.get((post.topic_id, post.reply_to_post_number or 1))
                    if number > 1
                    else None
                )
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
                    append(new(Resolved, (post, replied, quoted)))
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
    """``source`` turned to ``target``: replied, reviewed, quoted, liked or chatted, at ``at``.

    A named tuple: a report builds a million of them.
    """

    source: str
    target: str
    kind: InteractionKind
    at: datetime
    post_id: int  # the reply/quote post, the liked post for a like, the chat message


def interactions(
    index: PostIndex,
    likes: Iterable[LikeFact],
    articles: Collection[int] = frozenset(),
    *,
    since: datetime | None = None,
) -> list[Interaction]:
    """Every interaction between two different people in ``index`` and ``likes``.

    A reply to an article (``articles``: post ids the obligations ledger counts as
    articles) is a ``review``. A post that replies to and quotes the same person
    gives one interaction, not two. ``since``: leave out older ones.
    """
    out: list[Interaction] = []
    append = out.append
    new = tuple.__new__  # skips NamedTuple's Python-level __new__: a third of the cost
    for post, target, quotes in index.resolved():
        if since is not None and post.created_at < since:
            continue
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
        if since is not None and like.created_at < since:
            continue
        liked = by_id.get(like.post_id)
        if liked is not None and liked.username != like.user:
            append(new(Interaction, (like.user, liked.username, "like", like.created_at, liked.id)))
    return out


# ───────────────────────────── measures ─────────────────────────────


@dataclass(frozen=True, slots=True)
class GraphMeasures:
    """One week of the graph among ``members`` (the people measured)."""

    week: Week
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
    squads: int = 0  # squads with a measured member: below two, nothing can cross

    @property
    def can_cross(self) -> bool:
        return self.squads >= 2

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


def graph_trend(
    items: Iterable[Interaction],
    members: Collection[str],
    roster: Roster,
    week: Week,
    tz: tzinfo,
    *,
    weeks: int = 4,
    isolation_weeks: int = 2,
    weights: Mapping[str, float] | None = None,
) -> GraphTrend:
    """Measures for the ``weeks`` weeks ending with ``week``, and that week's edges.

    ``weights``: kind → weight of one interaction (missing kinds weigh 1)."""
    if weeks < 1 or isolation_weeks < 1:
        raise ValueError("weeks and isolation_weeks must be at least 1")
    nodes = frozenset(members)
    squads = squad_slugs(roster, nodes)
    span = week_range(week, weeks + isolation_weeks - 1)
    weekly = _weekly_edges(items, span, tz, squads, weights or {})
    measures = []
    for i in range(isolation_weeks - 1, len(span)):
        recent = weekly[i - isolation_weeks + 1 : i + 1]
        measures.append(_measure(span[i], weekly[i], recent, nodes, squads))
    return GraphTrend(tuple(measures), frozenset(weekly[-1].edges))


@dataclass(slots=True)
class _WeekEdges:
    edges: set[tuple[str, str]]
    cross_edges: int = 0  # edges whose ends are in two different squads
    post_interactions: int = 0
    cross_post_interactions: int = 0
    active: set[str] = field(default_factory=set)  # members with an edge this week


def _weekly_edges(
    items: Iterable[Interaction],
    span: Sequence[Week],
    tz: tzinfo,
    squads: Mapping[str, str],
    weights: Mapping[str, float],
) -> list[_WeekEdges]:
    """One pass: each interaction between two measured members into its week's edge set.

    ``squads`` maps every measured member to their squad slug (so it is the node set).
    An interaction of a kind lighter than 1 adds its weight to the pair's week; the
    edge is made when the pair's weight reaches 1.
    """
    light: list[dict[tuple[str, str], float]] = [{} for _ in span]
    bounds = [week_start(w, tz) for w in span]
    end = week_start(span[-1].next(), tz)
    edge_sets: list[set[tuple[str, str]]] = [set() for _ in span]
    cross_edges = [0] * len(span)
    posts = [0] * len(span)
    cross = [0] * len(span)
    get = squads.get
    for a, b, kind, at, _ in items:
        if a == b or at >= end:
            continue
        sa, sb = get(a), get(b)
        if sa is None or sb is None:
            continue
        slot = bisect_right(bounds, at) - 1
        if slot < 0:
            continue
        crossing = sa != sb and sa != NO_SQUAD and sb != NO_SQUAD
        edges = edge_sets[slot]
        key = (a, b) if a < b else (b, a)
        if kind in POST_KINDS:
            posts[slot] += 1
            cross[slot] += crossing
        if key in edges:
            continue
        weight = weights.get(kind, 1.0)
        if weight < 1.0:
            total = light[slot].get(key, 0.0) + weight
            light[slot][key] = total
            if total < BOND - EPSILON:
                continue
        edges.add(key)
        cross_edges[slot] += crossing
    return [
        _WeekEdges(e, ce, p, c, {name for edge in e for name in edge})
        for e, ce, p, c in zip(edge_sets, cross_edges, posts, cross, strict=True)
    ]


def _measure(
    week: Week,
    this: _WeekEdges,
    recent: Sequence[_WeekEdges],
    nodes: frozenset[str],
    squads: Mapping[str, str],
) -> GraphMeasures:
    n = len(nodes)
    e = len(this.edges)
    cross = this.cross_edges
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
        squads=len({squads[name] for name in nodes} - {NO_SQUAD}),
    )


# ───────────────────────────── bonds within squads, forum and chat ─────────────────────────────

CHAT_KINDS: frozenset[str] = frozenset({"chat"})


@dataclass(frozen=True, slots=True)
class SquadBonds:
    """One squad's week: pairs of its measured members bonded on the forum, in chat, either.

    A pair is bonded by a channel when that channel's interactions alone weigh 1
    (``graph_trend``'s rule); ``combined`` adds both, so two half-weight chat exchanges
    bond a pair, and so does one chat exchange with one like.
    """

    slug: str
    members: int  # measured members of the squad
    forum: int
    chat: int
    combined: int

    @property
    def pairs(self) -> int:
        return self.members * (self.members - 1) // 2

    @property
    def cohesion(self) -> float:
        """Share of the squad's possible pairs bonded (forum and chat together)."""
        return _ratio(self.combined, self.pairs)

    @property
    def forum_cohesion(self) -> float:
        return _ratio(self.forum, self.pairs)


def squad_bonds(
    items: Iterable[Interaction],
    members: Collection[str],
    roster: Roster,
    week: Week,
    tz: tzinfo,
    weights: Mapping[str, float] | None = None,
) -> dict[str, SquadBonds]:
    """Bonds inside each squad in ``week``: forum, chat and combined (squad slug → bonds)."""
    weights = weights or {}
    start, end = week_start(week, tz), week_start(week.next(), tz)
    nodes = frozenset(members)
    squads = squad_slugs(roster, nodes)
    forum: dict[tuple[str, str], float] = defaultdict(float)
    chat: dict[tuple[str, str], float] = defaultdict(float)
    for a, b, kind, at, _ in items:
        if a == b or not start <= at < end:
            continue
        sa = squads.get(a)
        if sa is None or sa == NO_SQUAD or squads.get(b) != sa:
            continue
        key = (a, b) if a < b else (b, a)
        (chat if kind in CHAT_KINDS else forum)[key] += weights.get(kind, 1.0)
    bonded = BOND - EPSILON
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # forum, chat, combined
    for key in forum.keys() | chat.keys():
        f, c = forum.get(key, 0.0), chat.get(key, 0.0)
        tally = counts[squads[key[0]]]
        tally[0] += f >= bonded
        tally[1] += c >= bonded
        tally[2] += f + c >= bonded
    out = {}
    for squad in roster.squads:
        size = sum(1 for m in squad.members if m in nodes)
        f, c, both = counts.get(squad.slug, (0, 0, 0))
        out[squad.slug] = SquadBonds(squad.slug, size, forum=f, chat=c, combined=both)
    return out


def largest_component(edges: Iterable[tuple[str, str]]) -> int:
    """Size of the largest connected component of the graph ``edges`` spans (union-find)."""
    index: dict[str, int] = {}
    parent: list[int] = []

    def find(x: int) -> int:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    for a, b in edges:
        ia = index.get(a)
        if ia is None:
            ia = index[a] = len(parent)
            parent.append(ia)
        ib = index.get(b)
        if ib is None:
            ib = index[b] = len(parent)
            parent.append(ib)
        ra, rb = find(ia), find(ib)
        if ra != rb:
            parent[ra] = rb
    sizes = [0] * len(parent)
    for i in range(len(parent)):
        sizes[find(i)] += 1
    return max(sizes, default=0)


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole else 0.0
