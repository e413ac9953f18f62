"""The weekly health report, as data: is the community bonding or falling apart?

Pure: (rules, facts, week) → ``HealthReport``. Renderers (terminal, forum post,
HTML) live in ``worker.report``; they only format what is here.

What it holds:
- members by stage (pending, camp, members, alumni) and the flows between two
  snapshots a week apart (``new`` and ``gone`` for people appearing/leaving);
- value contributors (recognition's giving kinds) per week: count, share, trend;
- the interaction graph's measures per week (``worker.engine.graph``), forum and squad
  chat together (``worker.engine.chat``; chat weighs ``rules.health.chat.weight``);
- per squad, the week's bonds among its members on the forum, in chat and combined,
  side by side (a squad that talks every day but rarely replies on the forum shows it);
- completion rate per squad and week (met / (met + missed); excused left out);
- activity per week: actives, posts, posts by staff and leaders, ad-like posts,
  unanswered topics;
- indicators, each judged against its band in ``rules/health.yml``: ``healthy``,
  ``watch`` (between the lines) or ``alert`` (past the critical line); ``na`` (not
  applicable) where a measure has nothing to divide by, e.g. cross-squad replies with
  one squad. ``na`` never raises an alert and does not count toward the verdict.

The report measures only weeks in which some squad owed anything (an obliged member
had an article due): camp weeks and weeks before the first squad are left out of the
trends, and a report of such a week is not ``measured`` (nothing is posted for it).
"""

from __future__ import annotations

import gc
import re
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Literal

from worker.engine.chat import ChatFact, chat_activity, chat_interactions
from worker.engine.facts import PostFact, Squad
from worker.engine.graph import (
    GraphTrend,
    SquadBonds,
    graph_trend,
    interactions,
    squad_bonds,
    week_bounds,
    week_range,
    week_start,
)
from worker.engine.recognition import (
    GIVING_KINDS,
    RecognitionFacts,
    detect,
    value_criteria,
)
from worker.engine.textlen import count_units
from worker.engine.weeks import Week
from worker.rules.models import AtLeast, AtMost, Rules, ScreenList

Stage = Literal["pending", "camp", "members", "alumni"]
STAGES: tuple[Stage, ...] = ("pending", "camp", "members", "alumni")
NEW, GONE = "new", "gone"  # pseudo-stages of the flows
Status = Literal["healthy", "watch", "alert", "na"]
_SEVERITY: dict[Status, int] = {"na": 0, "healthy": 1, "watch": 2, "alert": 3}


# ───────────────────────────── ad-like posts ─────────────────────────────

_LINK = re.compile(r"https?://|www\.", re.IGNORECASE)


class AdScreen:
    """Tells whether a post's raw text looks like an ad (done at the edge, where raw is read).

    Uses the gating rules' screening lists that apply to written text, and flags
    link-only posts (a link and at most ``link_only_max_units`` units of text).
    """

    def __init__(self, lists: Iterable[ScreenList], link_only_max_units: int) -> None:
        self.lists = [
            (
                s.name,
                tuple(k.lower() for k in s.keywords),
                [re.compile(p, re.I) for p in s.patterns],
            )
            for s in lists
            if "application" in s.applies_to
        ]
        self.link_only_max_units = link_only_max_units

    @classmethod
    def from_rules(cls, rules: Rules) -> AdScreen:
        return cls(rules.gating.screening, rules.health.link_only_max_units)

    def signal(self, raw: str) -> str | None:
        """``"screen:<list name>"``, ``"link-only"`` or None."""
        lowered = raw.lower()
        for name, keywords, patterns in self.lists:
            if any(k in lowered for k in keywords) or any(p.search(raw) for p in patterns):
                return f"screen:{name}"
        if _LINK.search(raw) and count_units(raw) <= self.link_only_max_units:
            return "link-only"
        return None


# ───────────────────────────── inputs and outputs ─────────────────────────────


@dataclass(frozen=True)
class HealthFacts:
    recognition: RecognitionFacts  # posts, likes, roster, obligation results, category ids
    stages: Mapping[str, frozenset[str]]  # stage → usernames now
    previous_stages: Mapping[str, frozenset[str]] | None = None  # a week earlier, for flows
    staff: frozenset[str] = frozenset()  # staff users (and Diamond's own API user)
    leaders: frozenset[str] = frozenset()  # squad and class leaders (the roster's are added)
    ad_posts: Mapping[int, str] = field(default_factory=dict)  # post id → AdScreen signal
    # The squad channels' messages, when not the recognition facts' (those are read with
    # the posts, ``worker.reads.recognition``).
    chat: Sequence[ChatFact] = ()


@dataclass(frozen=True, slots=True)
class Indicator:
    name: str  # the threshold's name in rules/health.yml
    value: float | None  # None: not applicable this week (nothing to divide by)
    status: Status
    healthy: float
    critical: float
    higher_is_better: bool


@dataclass(frozen=True, slots=True)
class ContributorWeek:
    week: Week
    count: int
    members: int
    kinds: Mapping[str, int]  # kind → people who gave that way

    @property
    def share(self) -> float:
        return self.count / self.members if self.members else 0.0


@dataclass(frozen=True, slots=True)
class SquadWeek:
    week: Week
    met: int
    excused: int
    missed: int

    @property
    def rate(self) -> float | None:
        judged = self.met + self.missed
        return self.met / judged if judged else None


@dataclass(frozen=True, slots=True)
class ActivityWeek:
    week: Week
    actives: int  # distinct authors
    posts: int
    staff_posts: int  # by staff and leaders
    ad_posts: int
    topics: int  # member topics old enough to judge whether they were answered
    unanswered: int


@dataclass(frozen=True)
class HealthReport:
    week: Week
    weeks: tuple[Week, ...]  # the look-back, oldest first, ending with ``week``
    stages: Mapping[str, int]
    flows: Mapping[tuple[str, str], int]  # (from, to) → people; NEW/GONE for in/out
    contributors: tuple[ContributorWeek, ...]
    contributor_names: Mapping[str, frozenset[str]]  # this week: username → kinds
    graph: GraphTrend
    completion: Mapping[str, tuple[SquadWeek, ...]]  # squad slug → weeks (oldest first)
    activity: tuple[ActivityWeek, ...]
    indicators: tuple[Indicator, ...]
    squads: tuple[Squad, ...]
    member_squads: Mapping[str, str]  # measured member → squad slug ("" none)
    partners: Mapping[str, int]  # member → distinct people they interacted with this week
    # week → squads that owed anything in it (an obliged member), for the weeks above
    owing: Mapping[Week, frozenset[str]] = field(default_factory=dict)
    # squad slug → this week's bonds among its members: forum, chat, combined
    bonds: Mapping[str, SquadBonds] = field(default_factory=dict)
    # member → their chat messages this week (at least ``health.chat.min_units`` long)
    chat_messages: Mapping[str, int] = field(default_factory=dict)

    @property
    def measured(self) -> bool:
        """Whether any squad owed anything in ``week``: else there is nothing to report."""
        return bool(self.owing.get(self.week))

    @property
    def alerts(self) -> tuple[Indicator, ...]:
        return tuple(i for i in self.indicators if i.status == "alert")

    @property
    def verdict(self) -> Status:
        return max((i.status for i in self.indicators), key=_SEVERITY.__getitem__, default="na")

    def indicator(self, name: str) -> Indicator:
        return next(i for i in self.indicators if i.name == name)

    @cached_property
    def _squads_by_slug(self) -> dict[str, Squad]:
        return {s.slug: s for s in self.squads}

    @cached_property
    def _contributors_by_squad(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for squad in self.squads:
            for name in squad.members:
                if name in self.contributor_names:
                    out[squad.slug].append(name)
        return out

    def squad_part(self, slug: str) -> SquadPart:
        """A leader's slice; KeyError for a squad that is not in the report."""
        squad = self._squads_by_slug[slug]
        owed = tuple(
            sw for sw in self.completion.get(slug, ()) if slug in self.owing.get(sw.week, ())
        )
        return SquadPart(
            squad=squad,
            week=self.week,
            completion=owed,
            isolated=self.graph.current.isolated.get(slug, ()),
            contributors=tuple(sorted(self._contributors_by_squad.get(slug, ()))),
            bonds=self.bonds.get(slug),
            chat_messages={
                name: self.chat_messages.get(name, 0)
                for name in sorted(squad.members)
                if name != squad.leader
            },
            # the leader reads about their members, not about themselves
            partners={
                name: self.partners.get(name, 0)
                for name in sorted(squad.members)
                if name != squad.leader
            },
        )


@dataclass(frozen=True)
class SquadPart:
    """A leader's slice of the report: their squad's figures."""

    squad: Squad
    week: Week
    completion: tuple[SquadWeek, ...]
    isolated: tuple[str, ...]
    contributors: tuple[str, ...]
    partners: Mapping[str, int]  # member → distinct people they interacted with this week
    bonds: SquadBonds | None = None  # the squad's bonds this week: forum, chat, combined
    chat_messages: Mapping[str, int] = field(default_factory=dict)  # member → this week's


# ───────────────────────────── building the report ─────────────────────────────


def stage_of(stages: Mapping[str, frozenset[str]]) -> dict[str, str]:
    """username → one stage; a later stage wins (a member still in camp is a member)."""
    out: dict[str, str] = {}
    for stage in STAGES:
        for name in stages.get(stage, ()):
            out[name] = stage
    return out


def flows(
    before: Mapping[str, frozenset[str]], after: Mapping[str, frozenset[str]]
) -> dict[tuple[str, str], int]:
    """People who changed stage between two snapshots: (from, to) → count."""
    was, now = stage_of(before), stage_of(after)
    moved: Counter[tuple[str, str]] = Counter()
    for name in was.keys() | now.keys():
        a, b = was.get(name, NEW), now.get(name, GONE)
        if a != b:
            moved[(a, b)] += 1
    return dict(sorted(moved.items()))


def build_report(rules: Rules, facts: HealthFacts, week: Week) -> HealthReport:
    """The health report of ``week`` with trends over ``rules.health.lookback_weeks``."""
    with paused_gc():
        return _build_report(rules, facts, week)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic collector: a report builds ~10^6 small acyclic objects, and the
    collector's passes over the growing heap would cost a fifth of the time. Renderers
    run inside it too (``worker.steps.health_report``), or the first full pass after the
    build lands on them."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def owing_squads(rec: RecognitionFacts, week: Week) -> frozenset[str]:
    """Squads with a member who owed ``week`` (on leave counts: excused, yet owing)."""
    results = rec.results.get(week, {})
    return frozenset(
        squad.slug
        for squad in rec.roster.squads
        if any((r := results.get(m)) is not None and r.obliged for m in squad.members)
    )


def _build_report(rules: Rules, facts: HealthFacts, week: Week) -> HealthReport:
    health, tz = rules.health, rules.tz
    rec = facts.recognition
    lookback = week_range(week, health.lookback_weeks)
    owing = {w: owing_squads(rec, w) for w in lookback}
    # Trends show the weeks with something to measure (camp weeks would skew them); the
    # report's own week always has a column, so that every table has a last week.
    weeks = tuple(w for w in lookback if owing[w] or w == week)
    staff = facts.staff
    community = facts.stages.get("members", frozenset()) | facts.stages.get("camp", frozenset())
    community -= staff
    leaders = facts.leaders | {s.leader for s in rec.roster.squads if s.leader}

    articles = {
        r.article_post_id
        for results in rec.results.values()
        for r in results.values()
        if r.article_post_id is not None
    }
    first = week.shift(-(health.lookback_weeks + health.isolation_weeks - 2))
    since = week_start(first, tz)
    items = interactions(rec.posts, rec.likes, articles, since=since)
    chat = facts.chat or rec.chat
    items += chat_interactions(chat, min_units=health.chat.min_units, since=since)
    weights = {"chat": health.chat.weight}
    graph = graph_trend(
        items,
        community,
        rec.roster,
        week,
        tz,
        weeks=health.lookback_weeks,
        isolation_weeks=health.isolation_weeks,
        weights=weights,
    )
    bonds = squad_bonds(items, community, rec.roster, week, tz, weights)
    graph = GraphTrend(tuple(g for g in graph.weeks if g.week in weeks), graph.edges)
    # Contributors and activity are sorted into contiguous weeks, then the kept ones taken.
    contributors, names = _contributors(rules, rec, lookback, community)
    contributors = tuple(c for c in contributors if c.week in weeks)
    every_week = _activity(rules, facts, lookback, staff, leaders)
    activity = tuple(a for a in every_week if a.week in weeks)
    completion = {
        squad.slug: tuple(_squad_week(rec, squad, w) for w in weeks) for squad in rec.roster.squads
    }
    stage_counts: dict[str, int] = {s: len(facts.stages.get(s, ())) for s in STAGES}
    moved = flows(facts.previous_stages, facts.stages) if facts.previous_stages else {}
    # Who wrote in chat this week (messages of ``health.chat.min_units`` or more).
    talked = chat_activity(chat, (week,), tz, min_units=health.chat.min_units)[week]
    indicators = _indicators(
        rules, rec, week, community, graph, activity, moved, names, talked=frozenset(talked)
    )
    if not owing[week]:  # nothing owed yet: the figures would judge a camp, not squads
        t = health.thresholds
        indicators = tuple(judge(i.name, None, getattr(t, i.name)) for i in indicators)
    degree: Counter[str] = Counter(name for edge in graph.edges for name in edge)
    return HealthReport(
        week=week,
        weeks=weeks,
        stages=stage_counts,
        flows=moved,
        contributors=contributors,
        contributor_names=names,
        graph=graph,
        completion=completion,
        activity=activity,
        indicators=indicators,
        squads=rec.roster.squads,
        member_squads={
            n: (sq.slug if (sq := rec.roster.squad_of(n)) else "") for n in sorted(community)
        },
        partners=dict(degree),
        owing={w: owing[w] for w in weeks},
        bonds=bonds,
        chat_messages={name: n for name, n in talked.items() if name in community},
    )


def _contributors(
    rules: Rules, rec: RecognitionFacts, weeks: Sequence[Week], community: frozenset[str]
) -> tuple[tuple[ContributorWeek, ...], dict[str, frozenset[str]]]:
    """Value contributors per week: one pass per kind over the whole look-back."""
    tz = rules.tz
    bounds = [week_start(w, tz) for w in weeks]
    per_week: list[dict[str, set[str]]] = [defaultdict(set) for _ in weeks]
    criteria = value_criteria(rules)
    for kind in GIVING_KINDS:
        for c in detect(rules, rec, criteria[kind], weeks[-1], weeks=len(weeks)):
            if c.username not in community:
                continue
            slot = bisect_right(bounds, c.at) - 1
            if 0 <= slot < len(weeks):
                per_week[slot][c.username].add(kind)
    out = []
    for w, found in zip(weeks, per_week, strict=True):
        kinds: Counter[str] = Counter(k for ks in found.values() for k in ks)
        out.append(ContributorWeek(w, len(found), len(community), dict(sorted(kinds.items()))))
    names = {n: frozenset(ks) for n, ks in sorted(per_week[-1].items())}
    return tuple(out), names


def _visible(post: PostFact) -> bool:
    return not post.deleted and not post.private_message


def _activity(
    rules: Rules,
    facts: HealthFacts,
    weeks: Sequence[Week],
    staff: frozenset[str],
    leaders: frozenset[str],
) -> tuple[ActivityWeek, ...]:
    tz, index = rules.tz, facts.recognition.posts
    lag = timedelta(hours=rules.health.unanswered_hours)
    bounds = [week_start(w, tz) for w in weeks]
    end = week_start(weeks[-1].next(), tz)
    ends = [*bounds[1:], end]
    n = len(weeks)
    authors: list[set[str]] = [set() for _ in weeks]
    posts = [0] * n
    staff_posts = [0] * n
    ads = [0] * n
    loud = staff | leaders
    ad_posts = facts.ad_posts
    openers: dict[int, PostFact] = {}
    replies: list[PostFact] = []
    for post in index:
        if post.deleted or post.private_message:
            continue
        if post.post_number == 1:
            openers[post.topic_id] = post
        else:
            replies.append(post)
        at = post.created_at
        if at >= end:
            continue
        slot = bisect_right(bounds, at) - 1
        if slot < 0:
            continue
        name = post.username
        authors[slot].add(name)
        posts[slot] += 1
        if name in loud:
            staff_posts[slot] += 1
        if ad_posts and post.id in ad_posts:
            ads[slot] += 1
    # A member's topic is judged unanswered at the end of the week it turned
    # ``unanswered_hours`` old: no post by anyone else in it before that week ended.
    judged: dict[int, int] = {}  # topic id → slot of the week it is judged in
    for topic_id, opener in openers.items():
        if opener.username in staff:
            continue  # Diamond's and staff's own topics (audit log, weekly threads)
        due = opener.created_at + lag
        if due < end and (slot := bisect_right(bounds, due) - 1) >= 0:
            judged[topic_id] = slot
    answered: set[int] = set()
    for post in replies:
        judged_in = judged.get(post.topic_id)
        if (
            judged_in is not None
            and post.created_at < ends[judged_in]
            and post.username != openers[post.topic_id].username
        ):
            answered.add(post.topic_id)
    topics = [0] * n
    unanswered = [0] * n
    for topic_id, slot in judged.items():
        topics[slot] += 1
        if topic_id not in answered:
            unanswered[slot] += 1
    return tuple(
        ActivityWeek(w, len(authors[i]), posts[i], staff_posts[i], ads[i], topics[i], unanswered[i])
        for i, w in enumerate(weeks)
    )


def _squad_week(rec: RecognitionFacts, squad: Squad, week: Week) -> SquadWeek:
    results = rec.results.get(week, {})
    tally = Counter(r.outcome for m in squad.members if (r := results.get(m)) is not None)
    return SquadWeek(week, tally["met"], tally["excused"], tally["missed"])


def judge(name: str, value: float | None, band: AtLeast | AtMost) -> Indicator:
    """The status of ``value`` against its band (healthy / watch / alert)."""
    higher = isinstance(band, AtLeast)
    status: Status
    if value is None:
        status = "na"
    elif higher:
        status = (
            "healthy" if value >= band.healthy else "alert" if value < band.critical else "watch"
        )
    else:
        status = (
            "healthy" if value <= band.healthy else "alert" if value > band.critical else "watch"
        )
    return Indicator(name, value, status, band.healthy, band.critical, higher)


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _indicators(
    rules: Rules,
    rec: RecognitionFacts,
    week: Week,
    community: frozenset[str],
    graph: GraphTrend,
    activity: Sequence[ActivityWeek],
    moved: Mapping[tuple[str, str], int],
    names: Mapping[str, frozenset[str]],
    *,
    talked: frozenset[str] = frozenset(),
) -> tuple[Indicator, ...]:
    """The week's measures. Silent: no forum post and no chat message in ``talked`` (a
    member who only talks in the squad's channel has spoken)."""
    t = rules.health.thresholds
    results = [r for r in rec.results.get(week, {}).values() if r.outcome != "excused"]
    owed = sum(len(r.owed_reviews) for r in results)
    wrote = sum(1 for r in results if r.article_post_id is not None)
    now, before = activity[-1], activity[:-1]
    earlier = [w.actives for w in before if w.actives]
    passed = moved.get(("camp", "members"), 0)
    left_camp = passed + sum(n for (a, b), n in moved.items() if a == "camp" and b != "members")
    quiet = community - {p.username for p in _posts_in_week(rec, rules, week)} - talked
    g = graph.current
    values: dict[str, float | None] = {
        "article_rate": _share(wrote, len(results)),
        "review_rate": _share(sum(min(r.reviews_done, len(r.owed_reviews)) for r in results), owed),
        "cross_squad_reply_rate": (
            g.cross_squad_reply_rate if g.can_cross and g.post_interactions else None
        ),
        "partners_per_member": g.avg_partners if g.members else None,
        "silent_share": _share(len(quiet), len(community)),
        "penalised_share": _share(sum(1 for r in results if r.struck), len(results)),
        "camp_pass_rate": _share(passed, left_camp),
        "isolated_share": _share(g.isolated_count, g.members),
        "staff_post_share": _share(now.staff_posts, now.posts),
        "ad_post_share": _share(now.ad_posts, now.posts),
        "unanswered_share": _share(now.unanswered, now.topics),
        "actives_ratio": _share(now.actives, sum(earlier) / len(earlier)) if earlier else None,
        "contributor_share": _share(len(names), len(community)),
    }
    return tuple(judge(name, values.get(name), getattr(t, name)) for name in type(t).model_fields)


def _posts_in_week(rec: RecognitionFacts, rules: Rules, week: Week) -> Iterable[PostFact]:
    start, end = week_bounds(week, rules.tz)
    return (p for p in rec.posts if _visible(p) and start <= p.created_at < end)
