"""Weekly obligations: one article, reviews of the neighbours above and below (上下楼点评).

Pure functions of (rules, facts, moments). The facts are a squad's posts of one
week as the ledger saw them, each with its versions (edits), so an article counts
as it stood at the deadline and a deleted post is simply absent.

- Articles of a week in a squad, in posting order, form a ring; each author owes a
  review to the ``review.neighbours`` articles on each side (first and last wrap
  around; with two articles each reviews the other; a lone article owes none).
- Article: on time if a qualifying version stood at the deadline, late if at the
  end of the late window, else missing.
- Review: a reply to the article post (thread mode: ``reply_to_post_number``;
  topic mode: any reply in the article's topic) or a post quoting it, at least
  ``review.min_length`` units not counting quotes. On time by the end of the day
  ``due_days_after_article`` after the two became neighbours (the later of the
  neighbour's article and the reviewer's own; never after the cap), late until the
  cap (deadline + ``window_hours``), else missing.

``WeekResult`` is what other engines consume (badges: streaks and full
attendance; health: completion rates): ``outcome`` is met / excused / missed.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo

from worker import actions as a
from worker.engine.facts import PostFact, Squad
from worker.engine.limits import (
    MAX_CHAT_MESSAGE_LENGTH,
    MAX_MENTIONS_PER_CHAT_MESSAGE,
    MAX_MENTIONS_PER_POST,
    chunks,
)
from worker.engine.textlen import QuoteRef
from worker.engine.weeks import Week, WeekTimes, end_of_day, week_times
from worker.rules.models import Obligations, Reminder, Rules, StrikeWeights

Status = Literal["on_time", "late", "missing"]
Outcome = Literal["met", "excused", "missed"]


# ─────────────────────────────── facts ───────────────────────────────


@dataclass(frozen=True, slots=True)
class TopicInfo:
    """What a topic is to the ledger: a squad's weekly thread, an article topic of a week,
    the leave category's, or nothing ("other")."""

    kind: str  # "thread" | "article" | "leave" | "other"
    week: Week | None = None
    squad: str | None = None


@dataclass(frozen=True, slots=True)
class Version:
    """One state of a post: from ``at`` on it had ``units`` and these quotes."""

    at: dt.datetime
    units: int
    quotes: tuple[QuoteRef, ...] = ()


@dataclass(frozen=True, slots=True)
class WeekPost:
    """A post in a squad's weekly thread (or article topic), with its versions, oldest first."""

    id: int
    topic_id: int
    post_number: int
    username: str
    created_at: dt.datetime
    versions: tuple[Version, ...]
    reply_to_post_number: int | None = None
    # Thread mode: posted in a topic of its own in the squad's category (the week had no
    # thread yet), so a reply to its first post is a review, not an article.
    in_own_topic: bool = False

    def as_at(self, moment: dt.datetime) -> Version | None:
        """The version standing at ``moment`` (None if the post did not exist yet)."""
        if self.created_at > moment:
            return None
        versions = self.versions
        if len(versions) == 1:  # most posts are never edited
            return versions[0]
        found = versions[0]
        for version in versions[1:]:
            if version.at > moment:
                break
            found = version
        return found

    @classmethod
    def from_fact(cls, post: PostFact) -> WeekPost:
        return cls(
            id=post.id,
            topic_id=post.topic_id,
            post_number=post.post_number,
            username=post.username,
            created_at=post.created_at,
            versions=(Version(post.created_at, post.units, post.quotes),),
            reply_to_post_number=post.reply_to_post_number,
        )

    def edited(self, at: dt.datetime, units: int, quotes: tuple[QuoteRef, ...] = ()) -> WeekPost:
        """This post with one more version (an edit at ``at``), versions kept in time order."""
        versions = tuple(sorted((*self.versions, Version(at, units, quotes)), key=_version_at))
        return WeekPost(
            self.id,
            self.topic_id,
            self.post_number,
            self.username,
            self.created_at,
            versions,
            self.reply_to_post_number,
            self.in_own_topic,
        )


def _version_at(version: Version) -> dt.datetime:
    return version.at


@dataclass(frozen=True, slots=True)
class SquadWeek:
    """What the ledger holds for one squad and week.

    Thread mode: ``posts`` are the replies in the weekly thread ``thread_topic_id``.
    Topic mode: ``posts`` are article topics' first posts and their replies filed under
    this week's article period; ``next_posts`` the next period's (late articles posted
    after the deadline live there) and ``previous_posts`` the one before (a post in the
    previous week's late window may have counted for that week).
    """

    squad: Squad
    week: Week
    posts: tuple[WeekPost, ...] = ()
    thread_topic_id: int | None = None
    next_posts: tuple[WeekPost, ...] = ()
    previous_posts: tuple[WeekPost, ...] = ()


@dataclass(frozen=True, slots=True)
class LeaveRequest:
    """Weeks a member asked leave for; ``requested_at`` None for a user field (no notice rule)."""

    username: str
    weeks: tuple[Week, ...]
    requested_at: dt.datetime | None = None
    source: str = ""  # e.g. "post 123" or "user field"


# ─────────────────────────────── results ───────────────────────────────


# Results are NamedTuples: immutable and several times cheaper to build than frozen
# dataclasses, which matters for 100,000 members and 200,000 reviews in one audit.


class PostRef(NamedTuple):
    post_id: int
    topic_id: int
    post_number: int
    created_at: dt.datetime

    @property
    def path(self) -> str:
        """Relative link to the post (Discourse renders it as a link in posts and PMs)."""
        return f"/t/{self.topic_id}/{self.post_number}"


class ReviewResult(NamedTuple):
    """One review owed by ``reviewer`` to ``author``'s article."""

    reviewer: str
    author: str
    article: PostRef
    due: dt.datetime
    status: Status
    review: PostRef | None = None


class WeekResult(NamedTuple):
    """One member's week: what they owed, what they did, and the strikes it earns.

    ``strikes`` is 0 when excused or exempt (staff: computed, never penalised; or not
    ``obliged`` yet: joined the squad after the week started, ``starts_after_camp``).
    This is what the badge and health engines consume: ``outcome`` (met / excused /
    missed), ``article_post_id``/``article_at``, ``owed_reviews`` (article post ids),
    ``reviews_done``, ``struck``.
    """

    username: str
    squad: str
    week: Week
    article: Status
    article_post: PostRef | None = None
    reviews: tuple[ReviewResult, ...] = ()
    excused: bool = False
    exempt: bool = False
    strikes: int = 0
    reasons: tuple[str, ...] = ()  # e.g. ("missing_article",), ("late_review:bob",)
    obliged: bool = True  # False: not a squad member for the whole week yet (also exempt)

    @property
    def reviews_owed(self) -> int:
        return len(self.reviews)

    @property
    def reviews_done(self) -> int:
        """Reviews written, on time or late."""
        return sum(1 for r in self.reviews if r.status != "missing")

    @property
    def all_on_time(self) -> bool:
        return self.article == "on_time" and all(r.status == "on_time" for r in self.reviews)

    @property
    def outcome(self) -> Outcome:
        """met: article and every review on time; excused: on leave or not obliged yet
        (a newcomer's first days break no streak); else missed."""
        if self.excused:
            return "excused"
        if self.all_on_time:
            return "met"
        return "missed" if self.obliged else "excused"

    @property
    def article_post_id(self) -> int | None:
        return self.article_post.post_id if self.article_post else None

    @property
    def article_at(self) -> dt.datetime | None:
        return self.article_post.created_at if self.article_post else None

    @property
    def owed_reviews(self) -> frozenset[int]:
        """Post ids of the articles this member had to review."""
        return frozenset(r.article.post_id for r in self.reviews)

    @property
    def struck(self) -> bool:
        return self.strikes > 0


@dataclass(frozen=True, slots=True)
class SquadWeekResult:
    squad: Squad
    week: Week
    articles: tuple[tuple[str, PostRef], ...]  # (author, post) in ring order
    results: tuple[WeekResult, ...]  # one per squad member, in roster order
    reviews_owed: int = 0  # counted once when built (summaries and reports read them)
    reviews_done: int = 0
    thread_topic_id: int | None = None  # the week's thread (thread mode), where known

    @property
    def missing_articles(self) -> tuple[str, ...]:
        return tuple(
            r.username
            for r in self.results
            if r.article == "missing" and not r.excused and r.obliged
        )


# ─────────────────────────────── neighbours ───────────────────────────────


def neighbour_indexes(count: int, per_side: int = 1) -> list[tuple[int, ...]]:
    """For each of ``count`` articles in ring order, the indexes of the articles it reviews.

    Previous ones first, then next ones; each other article at most once, never itself.
    """
    if per_side == 1 and count > 2:  # the usual ring: previous and next
        return [((i - 1) % count, (i + 1) % count) for i in range(count)]
    # More steps than half the ring adds nobody: every other article is chosen by then.
    per_side = min(per_side, count // 2)
    out: list[tuple[int, ...]] = []
    for i in range(count):
        chosen: dict[int, None] = {}
        for step in range(1, per_side + 1):
            for j in ((i - step) % count, (i + step) % count):
                if j != i:
                    chosen.setdefault(j, None)
        out.append(tuple(chosen))
    return out


# ─────────────────────────────── evaluation ───────────────────────────────


@dataclass
class _Context:
    """One week's evaluation settings. Moments are kept in UTC: posts' times are UTC
    (as Discourse sends them), and aware datetimes with the same tzinfo compare fast."""

    obligations: Obligations
    tz: ZoneInfo
    times: WeekTimes
    as_of: dt.datetime | None

    def __post_init__(self) -> None:
        self.times = self.times.in_utc()
        if self.as_of is not None:
            self.as_of = self.as_of.astimezone(dt.UTC)
        review = self.obligations.review
        self.thread_mode = self.obligations.article.mode == "thread"
        self.by_reply = "reply" in review.counts_as
        self.by_quote = "quote" in review.counts_as
        self.review_min = review.min_length

    def cut(self, moment: dt.datetime) -> dt.datetime:
        """A rule's moment, but never later than what is known (``as_of``)."""
        return moment if self.as_of is None or moment <= self.as_of else self.as_of


def _qualifies(post: WeekPost, moment: dt.datetime, minimum: int) -> bool:
    version = post.as_at(moment)
    return version is not None and version.units >= minimum


def _ref(post: WeekPost) -> PostRef:
    return PostRef(post.id, post.topic_id, post.post_number, post.created_at)


def _is_article_shape(post: WeekPost, thread_mode: bool) -> bool:
    if thread_mode:  # a floor of its own, not a reply to somebody's post
        if post.post_number == 1:
            return True  # a topic of its own, posted while the week had no thread
        return post.reply_to_post_number in (None, 1) and not post.in_own_topic
    return post.post_number == 1


def _on_time_authors(
    posts: Iterable[WeekPost], ctx: _Context, times: WeekTimes, members: frozenset[str]
) -> set[str]:
    minimum = ctx.obligations.article.min_length
    deadline = ctx.cut(times.deadline)
    return {
        p.username
        for p in posts
        if p.username in members and p.post_number == 1 and _qualifies(p, deadline, minimum)
    }


def _choose_articles(sw: SquadWeek, ctx: _Context, members: frozenset[str]) -> dict[str, tuple]:
    """author -> (status, post) for every member with an article this week."""
    thread_mode = ctx.obligations.article.mode == "thread"
    minimum = ctx.obligations.article.min_length
    times = ctx.times
    deadline, late_until = ctx.cut(times.deadline), ctx.cut(times.late_until)
    candidates = [
        p for p in sw.posts if p.username in members and _is_article_shape(p, thread_mode)
    ]
    late_pool = list(candidates)
    if not thread_mode:
        # A post in the previous week's late window counted for that week if its author
        # had nothing on time then; it is not this week's article.
        previous = week_times(ctx.obligations, sw.week.previous(), ctx.tz)
        prev_on_time = _on_time_authors(sw.previous_posts, ctx, previous, members)
        candidates = [
            p
            for p in candidates
            if not (
                p.created_at <= previous.late_until
                and p.username not in prev_on_time
                and _qualifies(p, previous.late_until, minimum)
            )
        ]
        late_pool = candidates + [
            p for p in sw.next_posts if p.username in members and _is_article_shape(p, thread_mode)
        ]
    # Each author's earliest article qualifying on time, else earliest qualifying late.
    on_time: dict[str, WeekPost] = {}
    for post in candidates:
        best = on_time.get(post.username)
        if (best is None or _posting_order(post) < _posting_order(best)) and _qualifies(
            post, deadline, minimum
        ):
            on_time[post.username] = post
    late: dict[str, WeekPost] = {}
    for post in late_pool:
        if post.username in on_time:
            continue
        best = late.get(post.username)
        if (best is None or _posting_order(post) < _posting_order(best)) and _qualifies(
            post, late_until, minimum
        ):
            late[post.username] = post
    chosen: dict[str, tuple] = {u: ("on_time", p) for u, p in on_time.items()}
    chosen.update((u, ("late", p)) for u, p in late.items())
    return chosen


def _posting_order(post: WeekPost) -> tuple[dt.datetime, int]:
    return (post.created_at, post.id)


def _review_targets(
    post: WeekPost, version: Version, thread_mode: bool, kinds: Iterable[str]
) -> set[tuple[int, int]]:
    targets: set[tuple[int, int]] = set()
    if "reply" in kinds:
        if thread_mode:
            if post.reply_to_post_number and post.reply_to_post_number > 1:
                targets.add((post.topic_id, post.reply_to_post_number))
            elif post.in_own_topic and post.post_number > 1:
                targets.add((post.topic_id, 1))
        elif post.post_number > 1:
            targets.add((post.topic_id, 1))
    if "quote" in kinds:
        for quote in version.quotes:
            targets.add((quote.topic_id, quote.post_number))
    return targets


def _index_reviews(posts: Iterable[WeekPost], ctx: _Context) -> dict:
    """(reviewer, topic_id, post_number) -> candidate review posts.

    Indexed by every target any version of the post had; each candidate is checked
    again against the version standing at the moment that matters.
    """
    index: dict[tuple[str, int, int], list[WeekPost]] = {}
    thread_mode, by_reply, by_quote = ctx.thread_mode, ctx.by_reply, ctx.by_quote
    for post in posts:
        user, topic = post.username, post.topic_id
        keys = []
        if by_reply:
            if thread_mode:
                target = post.reply_to_post_number
                if target and target > 1:
                    keys.append((user, topic, target))
                elif post.in_own_topic and post.post_number > 1:
                    keys.append((user, topic, 1))  # a reply to a topic of its own
            elif post.post_number > 1:
                keys.append((user, topic, 1))
        if by_quote:
            for version in post.versions:
                for quote in version.quotes:
                    keys.append((user, quote.topic_id, quote.post_number))
        if len(keys) > 1:
            keys = list(dict.fromkeys(keys))
        for key in keys:
            found = index.get(key)
            if found is None:
                index[key] = [post]
            else:
                found.append(post)
    return index


def _reviews_article(
    post: WeekPost, version: Version, topic: int, number: int, ctx: _Context
) -> bool:
    """Does this version of ``post`` review the article at (topic, number)?"""
    if ctx.by_reply and post.topic_id == topic:
        if ctx.thread_mode:
            if post.reply_to_post_number == number and number > 1:
                return True
            if number == 1 and post.in_own_topic and post.post_number > 1:
                return post.reply_to_post_number in (None, 1)
        elif number == 1 and post.post_number > 1:
            return True
    if ctx.by_quote:
        for quote in version.quotes:
            if quote.post_number == number and quote.topic_id == topic:
                return True
    return False


def _review_status(
    candidates: Sequence[WeekPost],
    article: WeekPost,
    due: dt.datetime,
    cap: dt.datetime,
    ctx: _Context,
) -> tuple[Status, WeekPost | None]:
    if not candidates:
        return "missing", None
    topic, number, minimum = article.topic_id, article.post_number, ctx.review_min
    for status, moment in (("on_time", ctx.cut(due)), ("late", ctx.cut(cap))):
        for post in candidates:
            if post.id == article.id:
                continue
            version = post.as_at(moment)
            if (
                version is not None
                and version.units >= minimum
                and _reviews_article(post, version, topic, number, ctx)
            ):
                return status, post  # type: ignore[return-value]  # status is one of the Literal values
    return "missing", None


def evaluate_squad_week(
    obligations: Obligations,
    tz: ZoneInfo,
    squad_week: SquadWeek,
    *,
    staff: frozenset[str] = frozenset(),
    excused: frozenset[str] = frozenset(),
    as_of: dt.datetime | None = None,
) -> SquadWeekResult:
    """Every member's result for one squad and week.

    ``as_of`` (reminders): only what existed by then counts, so "missing" reads
    "not done yet". The audit passes None: the rule moments decide.
    """
    ctx = _Context(obligations, tz, week_times(obligations, squad_week.week, tz), as_of)
    return _evaluate(ctx, squad_week, staff, excused, {})


def _evaluate(
    ctx: _Context,
    squad_week: SquadWeek,
    staff: frozenset[str],
    excused: frozenset[str],
    due_cache: dict[dt.date, dt.datetime],
) -> SquadWeekResult:
    obligations, tz = ctx.obligations, ctx.tz
    squad = squad_week.squad
    week = squad_week.week
    members = frozenset(squad.members)
    chosen = _choose_articles(squad_week, ctx, members)
    ring = sorted(chosen.items(), key=lambda item: _posting_order(item[1][1]))
    refs = {post.id: _ref(post) for _author, (_status, post) in ring}
    pool = (*squad_week.posts, *squad_week.next_posts)
    index = _index_reviews(pool, ctx)
    due_days = obligations.review.due_days_after_article
    cap = ctx.times.review_cap
    # An article's day in the community time zone; a review is due by the end of the
    # day after the later of the two articles (neighbours from then on).
    days = {post.id: post.created_at.astimezone(tz).date() for _a, (_s, post) in ring}

    owed: dict[str, list[ReviewResult]] = {}
    reviews_owed = reviews_done = 0
    for i, targets in enumerate(neighbour_indexes(len(ring), obligations.review.neighbours)):
        reviewer, (_status, own) = ring[i]
        mine: list[ReviewResult] = []
        for j in targets:
            author, (_status, article) = ring[j]
            due = cap
            if due_days is not None:
                day = max(days[article.id], days[own.id])
                cached = due_cache.get(day)
                if cached is None:
                    end = end_of_day(_noon(day, tz), due_days, tz).astimezone(dt.UTC)
                    cached = due_cache[day] = min(cap, end)
                due = cached
            candidates = index.get((reviewer, article.topic_id, article.post_number))
            if candidates:
                status, review = _review_status(candidates, article, due, cap, ctx)
            else:
                status, review = "missing", None
            reviews_owed += 1
            reviews_done += status != "missing"
            mine.append(
                ReviewResult(
                    reviewer,
                    author,
                    refs[article.id],
                    due,
                    status,
                    _ref(review) if review is not None else None,
                )
            )
        owed[reviewer] = mine

    weights = obligations.penalties.weights
    not_yet = not_yet_obliged(obligations, squad, week, tz)
    results = []
    for username in squad.members:
        status, post = chosen.get(username, _MISSING)
        reviews = tuple(owed.get(username, ()))
        if status == "on_time" and all(r.status == "on_time" for r in reviews):
            reasons: tuple[str, ...] = ()  # the common case: nothing to say
        else:
            reasons = _reasons(status, reviews)
        is_excused = username in excused
        obliged = username not in not_yet
        if not obliged:
            reasons = ()  # they owed nothing this week: nothing to report either
        is_exempt = username in staff or not obliged
        strikes = 0 if is_excused or is_exempt or not reasons else _strikes(reasons, weights)
        results.append(
            WeekResult(
                username,
                squad.slug,
                week,
                status,
                refs[post.id] if post is not None else None,
                reviews,
                is_excused,
                is_exempt,
                strikes,
                reasons,
                obliged,
            )
        )
    return SquadWeekResult(
        squad=squad,
        week=week,
        articles=tuple((author, refs[post.id]) for author, (_s, post) in ring),
        results=tuple(results),
        reviews_owed=reviews_owed,
        reviews_done=reviews_done,
        thread_topic_id=squad_week.thread_topic_id,
    )


_MISSING = ("missing", None)


def not_yet_obliged(
    obligations: Obligations, squad: Squad, week: Week, tz: ZoneInfo
) -> frozenset[str]:
    """Members who owe nothing in ``week``: with ``starts_after_camp`` a member owes
    the weeks that start (Monday 00:00, community time) after they joined the squad;
    one who joined during the week was not a member for the whole of it. An unknown
    join time means obliged (a member since before Diamond kept track)."""
    if not obligations.starts_after_camp or not squad.joined:
        return frozenset()
    start = week.start(tz)
    return frozenset(u for u in squad.members if (t := squad.joined.get(u)) and t > start)


def _noon(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=tz)


def _reasons(article: Status, reviews: Sequence[ReviewResult]) -> tuple[str, ...]:
    reasons = []
    if article == "missing":
        reasons.append("missing_article")
    elif article == "late":
        reasons.append("late_article")
    for review in reviews:
        if review.status == "missing":
            reasons.append(f"missing_review:{review.author}")
        elif review.status == "late":
            reasons.append(f"late_review:{review.author}")
    return tuple(reasons)


def _strikes(reasons: Sequence[str], weights: StrikeWeights) -> int:
    total = 0
    for reason in reasons:
        kind = reason.split(":", 1)[0]
        if kind == "missing_article":
            total += weights.missing_article
        elif kind == "missing_review":
            total += weights.missing_review
        else:  # late article or late review
            total += weights.late
    return total


# ─────────────────────────────── leave ───────────────────────────────

_WEEK_IN_TEXT = re.compile(r"\b(\d{4})-?W(\d{1,2})\b", re.IGNORECASE)


def weeks_named(text: str) -> tuple[Week, ...]:
    """ISO weeks written in ``text`` ("2026-W47", "2026W48"), valid ones only, in order."""
    found: dict[Week, None] = {}
    for match in _WEEK_IN_TEXT.finditer(text or ""):
        try:
            found.setdefault(Week(int(match[1]), int(match[2])), None)
        except ValueError:
            continue
    return tuple(found)


def leave_request_from_post(
    obligations: Obligations,
    tz: ZoneInfo,
    username: str,
    created_at: dt.datetime,
    named: Sequence[Week],
    source: str = "",
) -> LeaveRequest:
    """A leave post asks for the weeks it names, else for the first week it gives notice for."""
    if named:
        return LeaveRequest(username, tuple(named), created_at, source)
    notice = dt.timedelta(hours=obligations.leave.min_notice_hours)
    week = Week.of_date(created_at.astimezone(tz).date())
    while week_times(obligations, week, tz).deadline - notice < created_at:
        week = week.next()
    return LeaveRequest(username, (week,), created_at, source)


@dataclass(frozen=True, slots=True)
class LeaveDecision:
    granted: Mapping[str, frozenset[Week]]
    refused: Mapping[str, tuple[tuple[Week, str], ...]]  # (week, why) for staff reports

    def excused(self, week: Week) -> frozenset[str]:
        return frozenset(u for u, weeks in self.granted.items() if week in weeks)


_UNSET: dt.datetime = dt.datetime.min.replace(tzinfo=dt.UTC)  # marker: week not asked yet


def grant_leave(
    obligations: Obligations, tz: ZoneInfo, requests: Iterable[LeaveRequest]
) -> LeaveDecision:
    """Which requested weeks are excused, oldest first, within notice and caps."""
    rule = obligations.leave
    notice = dt.timedelta(hours=rule.min_notice_hours)
    # The earliest request of a week decides its notice; None (a user field) needs none.
    asked: dict[str, dict[Week, dt.datetime | None]] = defaultdict(dict)
    for request in requests:
        for week in request.weeks:
            mine = asked[request.username]
            current = mine.get(week, _UNSET)
            at = request.requested_at
            if current is _UNSET or (current is not None and (at is None or at < current)):
                mine[week] = at
    granted: dict[str, frozenset[Week]] = {}
    refused: dict[str, tuple[tuple[Week, str], ...]] = {}
    for username, weeks in asked.items():
        ok: list[Week] = []
        no: list[tuple[Week, str]] = []
        per_year: dict[int, int] = defaultdict(int)
        for week in sorted(weeks):
            at = weeks[week]
            if not rule.enabled:
                no.append((week, "leave_disabled"))
            elif at is not None and at > week_times(obligations, week, tz).deadline - notice:
                no.append((week, "too_late"))
            elif per_year[week.year] >= rule.max_weeks_per_year:
                no.append((week, "max_weeks_per_year"))
            elif _run_length(ok, week) >= rule.max_weeks_in_a_row:
                no.append((week, "max_weeks_in_a_row"))
            else:
                ok.append(week)
                per_year[week.year] += 1
        granted[username] = frozenset(ok)
        if no:
            refused[username] = tuple(no)
    return LeaveDecision(granted, refused)


def _run_length(granted: Sequence[Week], week: Week) -> int:
    """How many granted weeks directly precede ``week`` without a gap."""
    run, expected = 0, week.previous()
    for earlier in reversed(granted):
        if earlier != expected:
            break
        run += 1
        expected = expected.previous()
    return run


@dataclass(frozen=True, slots=True)
class LeavePost:
    """Where a leave request was written: the answer is a reply to it."""

    post_id: int
    topic_id: int
    post_number: int


def plan_leave_answer(
    rules: Rules,
    request: LeaveRequest,
    decision: LeaveDecision,
    where: LeavePost,
    language: str | None = None,
) -> a.CreatePost:
    """The reply to a leave post: each week asked, granted or refused with the rule it
    broke, in the member's language; keyed by the post, so each request is answered once."""
    rule = rules.obligations.leave
    granted = decision.granted.get(request.username, frozenset())
    why = dict(decision.refused.get(request.username, ()))
    lang = language
    lines = []
    for week in request.weeks:
        days = {
            "year": week.year,
            "week": week.number,
            "first": week.monday().isoformat(),
            "last": (week.monday() + dt.timedelta(days=6)).isoformat(),
        }
        if week in granted:
            lines.append(rules.message("leave_week.granted", lang, reason="", **days))
            continue
        code = why.get(week, "leave_disabled" if not rule.enabled else "too_late")
        limit = {"max_weeks_in_a_row": rule.max_weeks_in_a_row}.get(code, rule.max_weeks_per_year)
        deadline = _when(week_times(rules.obligations, week, rules.tz).deadline, rules.tz)
        reason = rules.message(
            f"leave_reason.{code}", lang, hours=rule.min_notice_hours, deadline=deadline, max=limit
        ).strip()
        lines.append(rules.message("leave_week.refused", lang, reason=reason, **days))
    summary = rules.message(
        "leave_rules",
        lang,
        hours=rule.min_notice_hours,
        in_a_row=rule.max_weeks_in_a_row,
        per_year=rule.max_weeks_per_year,
    )
    body = rules.message(
        "leave_answer",
        lang,
        username=request.username,
        weeks="\n".join(line.strip() for line in lines),
        rules=summary.strip(),
    )
    verdicts = ", ".join(f"{w}:{'granted' if w in granted else why.get(w)}" for w in request.weeks)
    return a.CreatePost(
        key=f"leave-answer:{where.post_id}",
        reason=f"answer {request.username}'s leave request ({verdicts})",
        topic_id=where.topic_id,
        raw=body,
        reply_to_post_number=where.post_number,
    )


# ─────────────────────────────── many squads ───────────────────────────────


@dataclass(frozen=True, slots=True)
class WeekResults:
    """Every audited member's result for one week, by username."""

    week: Week
    squads: tuple[SquadWeekResult, ...] = ()
    by_member: Mapping[str, WeekResult] = field(default_factory=dict)


def evaluate_week(
    obligations: Obligations,
    tz: ZoneInfo,
    week: Week,
    squad_weeks: Iterable[SquadWeek],
    *,
    staff: frozenset[str] = frozenset(),
    excused: frozenset[str] = frozenset(),
    as_of: dt.datetime | None = None,
) -> WeekResults:
    """``evaluate_squad_week`` for every squad of ``week``; a member in two squads is
    judged by the first."""
    squads = []
    by_member: dict[str, WeekResult] = {}
    ctx = _Context(obligations, tz, week_times(obligations, week, tz), as_of)
    due_cache: dict[dt.date, dt.datetime] = {}
    with no_cyclic_gc():
        for sw in squad_weeks:
            if sw.week != week:
                raise ValueError(f"squad {sw.squad.slug} is for {sw.week}, not {week}")
            result = _evaluate(ctx, sw, staff, excused, due_cache)
            squads.append(result)
            for member in result.results:
                by_member.setdefault(member.username, member)
    return WeekResults(week, tuple(squads), by_member)


# ─────────────────────────────── why ───────────────────────────────


class Shortfall(NamedTuple):
    """One reason a member's week is not clean, as data (``diamond audit`` renders it).

    ``kind``: one of the result's reasons (``missing_article``, ``late_article``,
    ``missing_review``, ``late_review``), or ``on_leave``, ``staff``, ``new`` (not
    obliged yet). ``units``/``minimum``: the longest article-shaped post the member
    had at the end of the late window, against the rule (missing articles only).
    """

    kind: str
    author: str | None = None  # whose article a review was owed to
    units: int | None = None
    minimum: int | None = None


def shortfalls(
    obligations: Obligations, tz: ZoneInfo, result: WeekResult, squad_week: SquadWeek | None
) -> tuple[Shortfall, ...]:
    """Why ``result`` is what it is: the reasons it carries, with the length of what the
    member did write when it was too short (from ``squad_week``, the facts it came from)."""
    out: list[Shortfall] = []
    if result.excused:
        out.append(Shortfall("on_leave"))
    if not result.obliged:
        return (*out, Shortfall("new"))
    if result.exempt:
        out.append(Shortfall("staff"))
    for reason in result.reasons:
        kind, _, author = reason.partition(":")
        if kind == "missing_article":
            units = _longest_article(obligations, tz, result, squad_week)
            out.append(Shortfall(kind, units=units, minimum=obligations.article.min_length))
        else:
            out.append(Shortfall(kind, author=author or None))
    return tuple(out)


def _longest_article(
    obligations: Obligations, tz: ZoneInfo, result: WeekResult, squad_week: SquadWeek | None
) -> int:
    if squad_week is None:
        return 0
    thread_mode = obligations.article.mode == "thread"
    late_until = week_times(obligations, result.week, tz).late_until
    pool = (*squad_week.posts, *squad_week.next_posts)
    lengths = [
        version.units
        for post in pool
        if post.username == result.username and _is_article_shape(post, thread_mode)
        if (version := post.as_at(late_until)) is not None
    ]
    return max(lengths, default=0)


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small acyclic objects.

    An audit builds ~10^6 tuples; without this, the collector's full passes over an
    ever larger heap take most of the time. Reference counting still frees everything.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# ─────────────────────────────── plans: threads and reminders ───────────────────────────────


def thread_title(rules: Rules, week: Week, squad: Squad) -> str:
    """The weekly thread's title, in the community's default language."""
    return rules.obligations.article.thread_title.format_map(
        _Lenient(
            week=week.number,
            year=week.year,
            dates=rules.week_dates(week),
            squad=squad.full_name,
            squad_slug=squad.slug,
        )
    )


class _Lenient(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def plan_weekly_threads(
    rules: Rules, squads: Iterable[Squad], week: Week, existing: Mapping[str, int]
) -> list[a.Action]:
    """One ``CreateTopic`` per squad (with a category) that owes ``week`` and has no thread
    for it yet. A squad whose members all joined after the week began owes nothing in it
    (``starts_after_camp``): no thread, whenever the plan is made."""
    obligations = rules.obligations
    if obligations.article.mode != "thread":
        return []
    out: list[a.Action] = []
    for squad in squads:
        if squad.slug in existing or squad.category_id is None:
            continue
        if squad.members and set(squad.members) <= not_yet_obliged(
            obligations, squad, week, rules.tz
        ):
            continue
        out.append(
            a.CreateTopic(
                key=f"weekly-thread:{squad.slug}:{week}",
                reason=f"open {week} thread of {squad.slug}",
                category_id=squad.category_id,
                title=thread_title(rules, week, squad),
                raw=weekly_thread_body(rules, squad, week),
                tags=(obligations.article.tag,) if obligations.article.tag else (),
            )
        )
    return out


LEADER_THREAD_TEMPLATE = "leader_week_thread"


def leader_note(
    rules: Rules,
    squad: Squad,
    week: Week,
    language: str | None,
    *,
    key: str,
    reason: str,
    title: str,
    raw: str,
) -> a.SendPrivateMessage:
    """A note to ``squad``'s leader about ``week``: all of a week's notes (reminders, the
    health figures, members who need a hand) gather in one PM thread per squad and week."""
    assert squad.leader  # callers only write to a squad that has one
    monday = week.monday()
    thread = rules.render(
        LEADER_THREAD_TEMPLATE,
        language,
        squad=squad.full_name,
        year=week.year,
        week=week.number,
        dates=rules.week_dates(week, language),
        first=monday.isoformat(),
        last=(monday + dt.timedelta(days=6)).isoformat(),
    )
    return a.SendPrivateMessage(
        key=key,
        reason=reason,
        recipients=(squad.leader,),
        title=title,
        raw=raw,
        thread=f"leader:{squad.slug}:{week}",
        thread_title=thread.title,
        thread_intro=thread.body,
    )


# ─────────────────────────────── roll call ───────────────────────────────


def streak_of(history: Mapping[Week, int | None], week: Week) -> int:
    """Clean audited weeks in a row before ``week``; a week of leave (None) neither counts
    nor breaks the run, a week never audited ends it."""
    run, at = 0, week.previous()
    while at in history:
        strikes = history[at]
        if strikes is not None:
            if strikes:
                break
            run += 1
        at = at.previous()
    return run


def _member_state(result: WeekResult) -> str:
    if result.excused:
        return "leave"
    if not result.obliged:
        return "new"
    return {"on_time": "written", "late": "late"}.get(result.article, "missing")


def _roll_call_lines(
    rules: Rules,
    sr: SquadWeekResult,
    streaks: Mapping[str, int],
    lang: str | None,
    *,
    mention: bool,
) -> tuple[str, str]:
    """The roll call's member lines and review lines. ``mention``: names as @mentions (the
    first post's roll call); else plain names (a reminder's roll call, whose mentions are
    those who owe, kept within the forum's limit)."""

    def name(username: str) -> str:
        return f"@{username}" if mention else username

    members = []
    reviews = []
    for result in sr.results:
        article = result.article_post.path if result.article_post else ""
        members.append(
            rules.message(
                f"roll_call_member.{_member_state(result)}",
                lang,
                username=result.username,
                who=name(result.username),
                article=article,
                streak=streaks.get(result.username, 0),
            ).strip()
        )
        for r in result.reviews:
            reviews.append(
                rules.message(
                    f"roll_call_review.{'done' if r.status != 'missing' else 'open'}",
                    lang,
                    reviewer=r.reviewer,
                    author=r.author,
                    by=name(r.reviewer),
                    to=name(r.author),
                    review=r.review.path if r.review else "",
                ).strip()
            )
    return "\n".join(members), "\n".join(reviews) or "—"


def roll_call_text(
    rules: Rules,
    sr: SquadWeekResult,
    streaks: Mapping[str, int],
    *,
    opening: str,
    language: str | None = None,
) -> str:
    """The weekly thread's first post: its opening words, then who has written, who
    reviewed whom, who is on leave and each member's streak (the community's language)."""
    members, reviews = _roll_call_lines(rules, sr, streaks, language, mention=True)
    return rules.message(
        "roll_call", language, opening=opening.strip(), members=members, reviews=reviews
    ).strip()


REMINDER_ROLL_CALL_TEMPLATE = "reminder_roll_call"
THREAD_ROLL_CALL_NOTE = "weekly_thread_roll_call.{delivery}"


def reminder_roll_call_text(
    rules: Rules, sr: SquadWeekResult, streaks: Mapping[str, int], language: str | None = None
) -> str:
    """The roll call a reminder carries (``article.roll_call: reminders``): every member's
    state and every review, names without @ (the reminder's own words mention who owes)."""
    members, reviews = _roll_call_lines(rules, sr, streaks, language, mention=False)
    return rules.message(
        REMINDER_ROLL_CALL_TEMPLATE, language, members=members, reviews=reviews
    ).strip()


def roll_call_digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def plan_roll_call(
    squad: str, week: Week, post_id: int, text: str, *, last: tuple[int, str] = (0, "")
) -> a.EditPost | None:
    """The edit of the thread's first post, or None when ``text`` is the one last written
    (``last``: edits written so far and the last text's digest). The key is the edit's
    number and content: a retry is one edit, and a text that comes back (a post removed)
    is written again."""
    count, last_digest = last
    digest = roll_call_digest(text)
    if digest == last_digest:
        return None
    return a.EditPost(
        key=f"roll-call:{squad}:{week}:{count + 1}:{digest}",
        reason=f"roll call of {squad}'s {week} thread",
        affects_members=False,  # Diamond's own post; it names no penalty
        post_id=post_id,
        raw=text,
    )


def thread_opening(rules: Rules, squad: Squad, week: Week) -> str:
    """The words the weekly thread opens with (``weekly_thread``; the title without it)."""
    obligations = rules.obligations
    if not obligations.messages.weekly_thread:
        return thread_title(rules, week, squad)
    times = week_times(obligations, week, rules.tz)
    values = {
        "squad": squad.full_name,
        "week": week.number,
        "year": week.year,
        "dates": rules.week_dates(week),
        "deadline": _when(times.deadline, rules.tz),
        "min_length": obligations.article.min_length,
        "review_min_length": obligations.review.min_length,
    }
    return rules.render(obligations.messages.weekly_thread, None, **values).body


def weekly_thread_body(rules: Rules, squad: Squad, week: Week) -> str:
    """The weekly thread's first post as opened: its opening words and, when the roll call
    comes with the reminders (``article.roll_call: reminders``), a line saying so (the
    first post is then never edited)."""
    body = thread_opening(rules, squad, week)
    if rules.obligations.article.roll_call == "reminders":
        note = THREAD_ROLL_CALL_NOTE.format(delivery=rules.obligations.roll_call_delivery)
        body = f"{body.rstrip()}\n\n{rules.message(note, None).strip()}"
    return body


def _when(moment: dt.datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def reminder_id(reminder: Reminder) -> str:
    """Stable short id of a reminder rule (its name may be Chinese and long)."""
    return hashlib.sha1(f"{reminder.about}|{reminder.name}".encode()).hexdigest()[:8]


def plan_reminders(
    rules: Rules,
    reminder: Reminder,
    progress: WeekResults,
    languages: Mapping[str, str] | None = None,
    streaks: Mapping[str, int] | None = None,
    channels: Mapping[str, int] | None = None,
) -> list[a.Action]:
    """The writes of one reminder run, from the week's progress (``evaluate_week`` with
    ``as_of``).

    Article reminders are for members without an article; review reminders for members
    who owe reviews, with links. Staff and excused members are not reminded.

    ``delivery: pm``: a PM to each, in its reader's language (``languages``: username ->
    "zh"/"en"; the default language otherwise), and each leader gets the list of their
    squad (if the template is set). ``delivery: squad_thread``: one post in each squad's
    thread of the week, mentioning those who owe (the leader cc'd in place of the list), in
    the default language; a squad without a known thread gets PMs. With ``article.roll_call:
    reminders`` that post carries the squad's roll call (``streaks``: username -> clean
    weeks in a row); a squad where nobody owes gets no post. ``delivery: squad_channel``:
    the same as a chat message in the squad's channel (``channels``: squad -> channel id);
    a squad without one gets the thread's post.
    """
    languages = languages or {}
    channels = channels or {}
    with_roll_call = rules.obligations.article.roll_call == "reminders"
    out: list[a.Action] = []
    for sr in progress.squads:
        owing = _owing(reminder, sr)
        channel = channels.get(sr.squad.slug) if reminder.delivery == "squad_channel" else None
        in_squad = reminder.delivery in ("squad_thread", "squad_channel")
        if channel is not None or (in_squad and sr.thread_topic_id is not None):
            if owing:
                roll_call = (
                    reminder_roll_call_text(rules, sr, streaks or {}) if with_roll_call else ""
                )
                if channel is not None:
                    out += _squad_channel_reminders(rules, reminder, sr, owing, roll_call, channel)
                else:
                    out += _squad_thread_reminders(rules, reminder, sr, owing, roll_call)
        else:
            out += _pm_reminders(rules, reminder, sr, owing, languages)
    return out


def _owing(reminder: Reminder, sr: SquadWeekResult) -> list[WeekResult]:
    """Members this reminder is for, in roster order."""
    out = []
    for result in sr.results:
        if result.exempt or result.excused:
            continue
        if reminder.about == "article":
            if reminder.only_missing and result.article != "missing":
                continue
        else:
            owed = [r for r in result.reviews if r.status == "missing"]
            if not owed and (reminder.only_missing or not result.reviews):
                continue
        out.append(result)
    return out


def _owed_reviews(result: WeekResult) -> list[ReviewResult]:
    """Reviews still missing; all of them if none is (a reminder not only for the missing)."""
    return [r for r in result.reviews if r.status == "missing"] or list(result.reviews)


def _pm_reminders(
    rules: Rules,
    reminder: Reminder,
    sr: SquadWeekResult,
    owing: Sequence[WeekResult],
    languages: Mapping[str, str],
) -> list[a.Action]:
    obligations = rules.obligations
    week = sr.week
    times = week_times(obligations, week, rules.tz)
    rid = reminder_id(reminder)
    out: list[a.Action] = []
    for result in owing:
        lang = languages.get(result.username)
        if reminder.about == "article":
            values = {
                "deadline": _when(times.deadline, rules.tz),
                "min_length": obligations.article.min_length,
            }
        else:
            owed = _owed_reviews(result)
            values = {
                "review_links": "\n".join(f"- @{r.author}: {r.article.path}" for r in owed),
                "review_deadline": _when(min(r.due for r in owed), rules.tz),
            }
        msg = rules.render(
            reminder.template,
            lang,
            username=result.username,
            week=week.number,
            dates=rules.week_dates(week, lang),
            squad=sr.squad.full_name,
            **values,
        )
        out.append(
            a.SendPrivateMessage(
                key=f"remind:{rid}:{week}:{result.username}",
                reason=f"{reminder.about} reminder for {week}",
                recipients=(result.username,),
                title=msg.title,
                raw=msg.body,
            )
        )
    template = obligations.messages.leader_reminder
    leader = sr.squad.leader
    # The leader's list: every member's state, whichever this reminder is about.
    missing_articles: list[str] = []
    owed_lines: list[str] = []
    for result in sr.results:
        if result.exempt or result.excused:
            continue
        if result.article == "missing":
            missing_articles.append(result.username)
        owed_lines.extend(
            f"- @{r.reviewer} → @{r.author} {r.article.path}"
            for r in result.reviews
            if r.status == "missing"
        )
    if template and leader and (missing_articles or owed_lines):
        lang = languages.get(leader)
        msg = rules.render(
            template,
            lang,
            username=leader,
            squad=sr.squad.full_name,
            week=week.number,
            dates=rules.week_dates(week, lang),
            missing_articles=", ".join(f"@{u}" for u in missing_articles) or "—",
            owed_reviews="\n".join(owed_lines) or "—",
        )
        out.append(
            leader_note(
                rules,
                sr.squad,
                week,
                lang,
                key=f"remind-leader:{rid}:{week}:{sr.squad.slug}",
                reason=f"{reminder.about} reminder for {week}: {sr.squad.slug}'s list",
                title=msg.title,
                raw=msg.body,
            )
        )
    return out


SQUAD_REMINDER_TEMPLATE = "squad_reminder.{about}"
SQUAD_REMINDER_CC = "squad_reminder_cc"
SQUAD_REMINDER_REVIEW_LINE = "squad_reminder_review_line"


def _squad_thread_reminders(
    rules: Rules,
    reminder: Reminder,
    sr: SquadWeekResult,
    owing: Sequence[WeekResult],
    roll_call: str = "",
) -> list[a.CreatePost]:
    """Posts in the squad's thread mentioning everyone in ``owing``.

    A post carries at most ``MAX_MENTIONS_PER_POST`` @mentions (authors of articles to
    review are named without @: they owe nothing). Above it the list is split over several
    posts, each mentioning its part: a name without @ notifies nobody, and every member who
    owes should hear of it. The leader, who got the squad's list as a PM under ``pm``, is
    cc'd in the first post when the rules send leaders that list. ``roll_call`` (its names
    without @, so it adds no mention) ends the first post.
    """
    assert sr.thread_topic_id is not None  # the caller falls back to PMs without one
    rid = reminder_id(reminder)
    week, slug = sr.week, sr.squad.slug
    return [
        a.CreatePost(
            key=f"remind-squad:{rid}:{week}:{slug}:{n + 1}",
            reason=f"{reminder.about} reminder for {week} in {slug}'s thread",
            topic_id=sr.thread_topic_id,
            raw=body,
            notifies=notifies,
        )
        for n, (body, notifies) in enumerate(
            _squad_reminder_parts(
                rules,
                reminder,
                sr,
                owing,
                roll_call,
                template=SQUAD_REMINDER_TEMPLATE,
                max_mentions=MAX_MENTIONS_PER_POST,
            )
        )
    ]


SQUAD_CHANNEL_TEMPLATE = "squad_channel_reminder.{about}"


def _squad_channel_reminders(
    rules: Rules,
    reminder: Reminder,
    sr: SquadWeekResult,
    owing: Sequence[WeekResult],
    roll_call: str,
    channel_id: int,
) -> list[a.SendChatMessage]:
    """Chat messages in the squad's channel mentioning everyone in ``owing``, as the
    thread's posts do (``squad_channel_reminder.<about>``, with the thread's link when it
    is known), at most ``MAX_MENTIONS_PER_CHAT_MESSAGE`` mentions a message: above it
    Discourse notifies nobody of the message."""
    rid = reminder_id(reminder)
    week, slug = sr.week, sr.squad.slug
    thread = f"/t/{sr.thread_topic_id}" if sr.thread_topic_id is not None else ""

    def parts(roll_call: str) -> list[tuple[str, tuple[str, ...]]]:
        return _squad_reminder_parts(
            rules,
            reminder,
            sr,
            owing,
            roll_call,
            template=SQUAD_CHANNEL_TEMPLATE,
            max_mentions=MAX_MENTIONS_PER_CHAT_MESSAGE,
            thread=thread,
        )

    messages = parts(roll_call)
    if any(_chat_length(body) > MAX_CHAT_MESSAGE_LENGTH for body, _ in messages):
        # Discourse refuses a longer message (422): the reminder goes without the roll call.
        messages = parts("")
    return [
        a.SendChatMessage(
            key=f"remind-chat:{rid}:{week}:{slug}:{n + 1}",
            reason=f"{reminder.about} reminder for {week} in {slug}'s chat channel",
            channel_id=channel_id,
            message=body,
            notifies=notifies,
        )
        for n, (body, notifies) in enumerate(messages)
    ]


# What the Applier adds to each forum path (``/t/...``) it makes absolute, at most: the
# forum's public URL.
_LINK_ALLOWANCE = 60


def _chat_length(body: str) -> int:
    """The message's length once its links are absolute (an upper bound)."""
    return len(body) + _LINK_ALLOWANCE * body.count("/t/")


def _squad_reminder_parts(
    rules: Rules,
    reminder: Reminder,
    sr: SquadWeekResult,
    owing: Sequence[WeekResult],
    roll_call: str,
    *,
    template: str,
    max_mentions: int,
    **extra: object,
) -> list[tuple[str, tuple[str, ...]]]:
    """(text, who it mentions) of each part of a squad's reminder: those in ``owing``
    split so no part mentions more than ``max_mentions``, the leader cc'd in the first
    (when the rules send leaders the list), ``roll_call`` ending the first."""
    obligations = rules.obligations
    week = sr.week
    times = week_times(obligations, week, rules.tz)
    leader = sr.squad.leader
    names = [r.username for r in owing]
    cc_leader = bool(obligations.messages.leader_reminder and leader and leader not in names)
    # The first part keeps a mention for the leader's cc.
    first = max_mentions - 1 if cc_leader else max_mentions
    parts = [tuple(owing[:first]), *chunks(owing[first:], max_mentions)]
    dates = rules.week_dates(week, None)
    out = []
    for n, part in enumerate(p for p in parts if p):
        cc = rules.message(SQUAD_REMINDER_CC, None, leader=leader) if cc_leader and n == 0 else ""
        if reminder.about == "article":
            values: dict[str, object] = {
                "deadline": _when(times.deadline, rules.tz),
                "min_length": obligations.article.min_length,
                "members": " ".join(f"@{r.username}" for r in part),
            }
        else:
            owed = [review for r in part for review in _owed_reviews(r)]
            values = {
                "review_deadline": _when(min(r.due for r in owed), rules.tz),
                "reviews": "\n".join(
                    rules.message(
                        SQUAD_REMINDER_REVIEW_LINE,
                        None,
                        reviewer=r.reviewer,
                        author=r.author,
                        link=r.article.path,
                        due=_when(r.due, rules.tz),
                    ).strip()
                    for r in owed
                ),
            }
        body = rules.message(
            template.format(about=reminder.about),
            None,
            squad=sr.squad.full_name,
            week=week.number,
            dates=dates,
            cc=cc.strip(),
            **extra,
            **values,
        ).strip()
        if roll_call and n == 0:
            body = f"{body}\n\n{roll_call}"
        cced = (leader,) if cc and leader else ()  # cc is set only when there is a leader
        out.append((body, tuple(r.username for r in part) + cced))
    return out
