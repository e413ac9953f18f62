"""Value contributors: who gave more than they had to, and the badges it earns.

Pure: (rules, facts, week) → contributions → badge decisions → actions. Each
contribution names the post that earned it; a badge's ``reason`` is the URL of
the post that completed the criterion. Grants are idempotent twice over: badges
already held are skipped, and every action carries a key.

Contribution kinds (thresholds in ``rules/badges.yml``):

- ``reviewer_beyond_duty``: a substantive review (reply to or quote of an
  article, at least ``min_length`` units) of an article the reviewer did not owe;
- ``digest_curator``: a topic in the digest category or with the digest tag, at
  least ``min_length`` units, liked by ``min_likes`` others and answered by
  ``min_replies`` others;
- ``homework_reminder``: a post mentioning squad mates who, at that moment, had
  not yet posted their article, before the week's deadline (judged once the
  week's results are in); with the criterion's ``chat`` on, a message in a squad
  channel that does so counts too (its evidence is the chat message: Discourse takes
  only a post or topic as a grant's reason, so such a grant carries none);
- ``connector``: replies to / reviews / quotes of members of other squads;
- ``welcomer``: the first reply by someone else to a newcomer's introduction;
- ``streak``: N consecutive weeks with obligations met (excused weeks neither
  count nor break the run);
- ``full_attendance``: a squad in which nobody missed an obligation for N
  consecutive weeks (excused is not missed) — every member gets the badge.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo
from typing import Literal, NamedTuple, Protocol

from worker import actions as a
from worker.engine.chat import ChatFact, chat_url, chat_usernames
from worker.engine.facts import LikeFact, PostFact, Roster
from worker.engine.graph import PostIndex, week_bounds
from worker.engine.weeks import Week, week_of, week_values
from worker.rules.models import (
    Badge,
    BadgeKind,
    Connector,
    DigestCurator,
    FullAttendance,
    HomeworkReminder,
    ReviewerBeyondDuty,
    Rules,
    Streak,
    Welcomer,
)
from worker.rules.types import WEEKDAYS, in_language

Outcome = Literal["met", "excused", "missed"]
# Kinds that are giving beyond one's duty (value contributors); streaks and full
# attendance reward meeting it.
GIVING_KINDS: tuple[BadgeKind, ...] = (
    "reviewer_beyond_duty",
    "digest_curator",
    "homework_reminder",
    "connector",
    "welcomer",
)
MAX_STREAK_WEEKS = 520  # how far back a streak is followed


class ObligationResult(Protocol):
    """One member's week as the obligations audit judged it (what recognition and health read).

    ``worker.engine.obligations.WeekResult`` has this shape; so has ``WeekResult`` below.
    """

    @property
    def outcome(self) -> Outcome: ...  # met: article and reviews on time; excused: on leave

    @property
    def article_post_id(self) -> int | None: ...

    @property
    def article_at(self) -> datetime | None: ...

    @property
    def owed_reviews(self) -> frozenset[int]: ...  # article post ids they had to review

    @property
    def reviews_done(self) -> int: ...

    @property
    def struck(self) -> bool: ...  # got a strike this week

    @property
    def obliged(self) -> bool: ...  # False: not a squad member for the whole week yet


@dataclass(frozen=True, slots=True)
class WeekResult:
    """A plain ``ObligationResult`` (tests, benchmarks, results kept without the ledger)."""

    outcome: Outcome
    article_post_id: int | None = None
    article_at: datetime | None = None
    owed_reviews: frozenset[int] = frozenset()
    reviews_done: int = 0
    struck: bool = False
    obliged: bool = True


# week → username → result
WeekResults = Mapping[Week, Mapping[str, ObligationResult]]


@dataclass(frozen=True)
class RecognitionFacts:
    """What recognition decides on; built at the edge (see ``worker.jobs.recognition``)."""

    posts: PostIndex
    likes: Sequence[LikeFact]
    roster: Roster
    results: WeekResults
    category_ids: Mapping[str, int]  # category slug → id (digests, introductions)
    base_url: str  # the forum's address, for post URLs
    newcomers: frozenset[str] | None = None  # introduction authors who count; None: all
    languages: Mapping[str, str] = field(default_factory=dict)  # username → "zh"/"en"
    # The squad channels' live messages over the same window as the posts (chat facts from
    # the webhooks, ``worker.reads.chat``); their authors name the ids mentions carry.
    chat: Sequence[ChatFact] = ()

    def url(self, post: PostFact | ChatRef) -> str:
        if isinstance(post, ChatRef):
            return chat_url(self.base_url, post.channel_id, post.id)
        return post_url(self.base_url, post.topic_id, post.post_number)


@dataclass(frozen=True, slots=True)
class ChatRef:
    """A chat message as a contribution's evidence, where a post would be."""

    id: int  # the message id
    channel_id: int
    username: str
    created_at: datetime


def post_url(base_url: str, topic_id: int, post_number: int) -> str:
    return f"{base_url.rstrip('/')}{post_path(topic_id, post_number)}"


def post_path(topic_id: int, post_number: int) -> str:
    """The forum-relative path of a post (what a badge grant's reason must be)."""
    return f"/t/{topic_id}/{post_number}"


class Contribution(NamedTuple):
    """One act of giving (or a met streak): who, which post, for whom.

    A named tuple: a busy community yields hundreds of thousands a month.
    """

    kind: BadgeKind
    username: str
    post: PostFact | ChatRef  # the post (or chat message) that counts
    other: str = ""  # the person it was for (reviewed, reminded, welcomed…), if one
    other_squad: str = ""  # connector: that person's squad

    @property
    def at(self) -> datetime:
        return self.post.created_at


# ───────────────────────────── detection, one function per kind ─────────────────────────────


def _articles(results: WeekResults) -> tuple[set[int], dict[str, set[int]]]:
    articles: set[int] = set()
    owed: dict[str, set[int]] = defaultdict(set)
    for week in results.values():
        for name, result in week.items():
            if result.article_post_id is not None:
                articles.add(result.article_post_id)
            owed[name] |= result.owed_reviews
    return articles, owed


def _in(post: PostFact, start: datetime, end: datetime) -> bool:
    return start <= post.created_at < end


def extra_reviews(
    facts: RecognitionFacts, start: datetime, end: datetime, min_length: int
) -> list[Contribution]:
    """Substantive reviews of articles the reviewer did not owe; one per reviewer and article."""
    articles, owed = _articles(facts.results)
    index = facts.posts
    out: list[Contribution] = []
    seen: set[tuple[str, int]] = set()
    new = tuple.__new__  # skips NamedTuple's Python-level __new__
    kind: BadgeKind = "reviewer_beyond_duty"
    for post, replied, quoted in index.resolved():
        if post.units < min_length or not start <= post.created_at < end:
            continue
        targets = [replied] if replied is not None else []
        if quoted:
            targets += [q for _, q in quoted if q is not None]
        for target in targets:
            key = (post.username, target.id)
            if (
                target.id in articles
                and target.username != post.username
                and target.id not in owed.get(post.username, ())
                and key not in seen
            ):
                seen.add(key)
                out.append(new(Contribution, (kind, post.username, post, target.username, "")))
    return out


def digests(
    facts: RecognitionFacts, start: datetime, end: datetime, criterion: DigestCurator
) -> list[Contribution]:
    """Digest topics that drew at least ``min_likes`` others' likes and ``min_replies`` replies.

    Likes are the distinct likers in ``facts.likes`` (the author excluded), or the
    post's ``like_count`` if that is higher (Discourse forbids liking one's own post).
    """
    category = facts.category_ids.get("digests")
    tag = criterion.tag
    candidates = {
        post.topic_id: post
        for post in facts.posts
        if post.post_number == 1
        and ((category is not None and post.category_id == category) or (tag and tag in post.tags))
        and post.units >= criterion.min_length
        and _in(post, start, end)
    }
    if not candidates:
        return []
    wanted = {post.id for post in candidates.values()}
    likers: dict[int, set[str]] = defaultdict(set)
    for like in facts.likes:
        if like.post_id in wanted:
            likers[like.post_id].add(like.user)
    repliers: dict[int, set[str]] = defaultdict(set)
    for post in facts.posts:
        if post.post_number > 1 and post.topic_id in candidates:
            repliers[post.topic_id].add(post.username)
    out = []
    for post in candidates.values():
        likes = max(len(likers[post.id] - {post.username}), post.like_count)
        replies = len(repliers[post.topic_id] - {post.username})
        if likes >= criterion.min_likes and replies >= criterion.min_replies:
            out.append(Contribution("digest_curator", post.username, post))
    return out


def homework_reminders(
    facts: RecognitionFacts,
    start: datetime,
    end: datetime,
    tz: tzinfo,
    deadline_of: Callable[[Week], datetime],
    *,
    chat: bool = False,
) -> list[Contribution]:
    """Posts (and with ``chat``, squad chat messages) mentioning squad mates whose article
    for the week was not yet posted.

    Counted only before the week's deadline and only for weeks whose results
    are known (otherwise "not yet posted" cannot be told apart from "never").
    Excused mates did not need a reminder. One contribution per post or message.
    """
    out = []
    for post in facts.posts:
        if not post.mentions or not _in(post, start, end):
            continue
        mate = _reminded(facts, post.username, post.created_at, post.mentions, tz, deadline_of)
        if mate is not None:
            out.append(Contribution("homework_reminder", post.username, post, mate))
    if not chat:
        return out
    names = chat_usernames(facts.chat)
    for m in facts.chat:
        if m.deleted or not m.username or not m.mentioned_user_ids:
            continue
        if not start <= m.created_at < end:
            continue
        mentioned = [names[i] for i in m.mentioned_user_ids if i in names]
        mate = _reminded(facts, m.username, m.created_at, mentioned, tz, deadline_of)
        if mate is not None:
            ref = ChatRef(m.message_id, m.channel_id, m.username, m.created_at)
            out.append(Contribution("homework_reminder", m.username, ref, mate))
    return out


def _reminded(
    facts: RecognitionFacts,
    author: str,
    at: datetime,
    mentions: Iterable[str],
    tz: tzinfo,
    deadline_of: Callable[[Week], datetime],
) -> str | None:
    """The first squad mate in ``mentions`` who had not yet posted the week's article."""
    squad = facts.roster.squad_of(author)
    week = week_of(at, tz)
    results = facts.results.get(week)
    if squad is None or not results or at >= deadline_of(week):
        return None
    mates = {m.lower(): m for m in squad.members if m != author}
    for mentioned in mentions:
        mate = mates.get(mentioned.lower())
        result = results.get(mate) if mate else None
        if mate is None or result is None or result.outcome == "excused":
            continue
        if result.article_at is None or result.article_at > at:
            return mate
    return None


def connections(facts: RecognitionFacts, start: datetime, end: datetime) -> list[Contribution]:
    """Replies, reviews and quotes to members of other squads; one per (author, person)."""
    squad_of = {m: s.slug for s in facts.roster.squads for m in s.members}
    out = []
    seen: set[tuple[str, str]] = set()
    new = tuple.__new__  # skips NamedTuple's Python-level __new__
    for post, replied, quoted in facts.posts.resolved():
        if not start <= post.created_at < end:
            continue
        author = post.username
        mine = squad_of.get(author)
        if mine is None:
            continue
        others = [replied.username] if replied is not None else []
        if quoted:
            others += [name for name, _ in quoted]
        for other in others:
            theirs = squad_of.get(other)
            if theirs is None or theirs == mine or (author, other) in seen:
                continue
            seen.add((author, other))
            out.append(new(Contribution, ("connector", author, post, other, theirs)))
    return out


def welcomes(facts: RecognitionFacts, start: datetime, end: datetime) -> list[Contribution]:
    """The first reply by someone else to each newcomer's introduction topic."""
    category = facts.category_ids.get("introductions")
    if category is None:
        return []
    by_topic = {
        p.topic_id: p
        for p in facts.posts
        if p.post_number == 1
        and p.category_id == category
        and (facts.newcomers is None or p.username in facts.newcomers)
    }
    first: dict[int, PostFact] = {}
    for post in facts.posts:
        intro = by_topic.get(post.topic_id)
        if intro is None or post.post_number == 1 or post.username == intro.username:
            continue
        best = first.get(post.topic_id)
        if best is None or (post.created_at, post.post_number) < (
            best.created_at,
            best.post_number,
        ):
            first[post.topic_id] = post
    return [
        Contribution("welcomer", reply.username, reply, by_topic[topic].username)
        for topic, reply in first.items()
        if _in(reply, start, end)
    ]


def streak_length(results: WeekResults, username: str, week: Week) -> tuple[int, Week | None]:
    """Weeks met in a row ending at ``week`` (excused weeks skipped), and the last met week."""
    count, last_met = 0, None
    current = week
    for _ in range(MAX_STREAK_WEEKS):
        result = results.get(current, {}).get(username)
        if result is None or result.outcome == "missed":
            break
        if result.outcome == "met":
            count += 1
            last_met = last_met or current
        current = current.previous()
    return count, last_met


def streaks(facts: RecognitionFacts, week: Week, weeks: int) -> list[Contribution]:
    """Members whose run of met weeks, ending at ``week``, is at least ``weeks`` long.

    The post is the member's article of the last week they met.
    """
    out = []
    for name in sorted(facts.results.get(week, {})):
        count, last_met = streak_length(facts.results, name, week)
        if count >= weeks and last_met is not None:
            article = _article(facts, last_met, name)
            if article is not None:
                out.append(Contribution("streak", name, article))
    return out


def full_attendance(facts: RecognitionFacts, week: Week, weeks: int) -> list[Contribution]:
    """Every member of each squad in which nobody missed for ``weeks`` weeks ending at ``week``.

    A squad week counts when at least one member has a result and none missed.
    Each member's post is their latest article in the period, else the squad's.
    """
    period = [week.shift(-k) for k in range(weeks)]  # newest first
    out = []
    for squad in facts.roster.squads:
        full = True
        for w in period:
            results = [facts.results.get(w, {}).get(m) for m in squad.members]
            known = [r for r in results if r is not None]
            if not known or any(r.outcome == "missed" for r in known):
                full = False
                break
        if not full:
            continue
        squad_article = next(
            (p for w in period for m in squad.members if (p := _article(facts, w, m))), None
        )
        for member in squad.members:
            own = next((p for w in period if (p := _article(facts, w, member))), None)
            post = own or squad_article
            if post is not None:
                out.append(Contribution("full_attendance", member, post))
    return out


def _article(facts: RecognitionFacts, week: Week, username: str) -> PostFact | None:
    result = facts.results.get(week, {}).get(username)
    if result is None or result.article_post_id is None:
        return None
    return facts.posts.get(result.article_post_id)


# ───────────────────────────── windows and the dispatcher ─────────────────────────────


def deadline_fn(rules: Rules) -> Callable[[Week], datetime]:
    """The article deadline of a week, per ``rules.obligations.deadline``."""
    deadline = rules.obligations.deadline
    offset = timedelta(
        days=WEEKDAYS.index(deadline.weekday),
        hours=deadline.time.hour,
        minutes=deadline.time.minute,
    )

    def of(week: Week) -> datetime:
        monday = datetime.combine(week.monday(), time(0))
        return (monday + offset).replace(tzinfo=rules.tz)  # wall-clock time in the zone

    return of


def window(week: Week, weeks: int, tz: tzinfo) -> tuple[datetime, datetime]:
    """``[start, end)`` of the ``weeks`` weeks ending with ``week``."""
    start, _ = week_bounds(week.shift(-(weeks - 1)), tz)
    _, end = week_bounds(week, tz)
    return start, end


def detect(
    rules: Rules, facts: RecognitionFacts, criterion: object, week: Week, weeks: int | None = None
) -> list[Contribution]:
    """Contributions of ``criterion``'s kind over its window ending at ``week``.

    ``weeks`` overrides the criterion's window (health counts one week at a time).
    """
    span: int = weeks or int(getattr(criterion, "weeks", 1))
    start, end = window(week, span, rules.tz)
    match criterion:
        case ReviewerBeyondDuty(min_length=min_length):
            return extra_reviews(facts, start, end, min_length)
        case DigestCurator():
            return digests(facts, start, end, criterion)
        case HomeworkReminder(chat=chat):
            return homework_reminders(facts, start, end, rules.tz, deadline_fn(rules), chat=chat)
        case Connector():
            return connections(facts, start, end)
        case Welcomer():
            return welcomes(facts, start, end)
        case Streak():
            return streaks(facts, week, span)
        case FullAttendance():
            return full_attendance(facts, week, span)
    raise TypeError(f"unknown badge criterion {criterion!r}")


_DEFAULT_CRITERIA: dict[BadgeKind, object] = {
    "reviewer_beyond_duty": ReviewerBeyondDuty(kind="reviewer_beyond_duty"),
    "digest_curator": DigestCurator(kind="digest_curator"),
    "homework_reminder": HomeworkReminder(kind="homework_reminder"),
    "connector": Connector(kind="connector"),
    "welcomer": Welcomer(kind="welcomer"),
}


def value_criteria(rules: Rules) -> dict[BadgeKind, object]:
    """The criterion used to spot each giving kind: the first badge of that kind, else defaults.

    Only the per-contribution thresholds matter here (e.g. a review's minimum length).
    """
    criteria = dict(_DEFAULT_CRITERIA)
    for badge in reversed(rules.badges.badges):
        if badge.kind in criteria:
            criteria[badge.kind] = badge.criterion
    return criteria


def value_contributors(
    rules: Rules, facts: RecognitionFacts, week: Week
) -> dict[str, frozenset[BadgeKind]]:
    """Who gave beyond their duty during ``week`` (one week), and how."""
    criteria = value_criteria(rules)
    found: dict[str, set[BadgeKind]] = defaultdict(set)
    for kind in GIVING_KINDS:
        for c in detect(rules, facts, criteria[kind], week, weeks=1):
            found[c.username].add(kind)
    return {name: frozenset(kinds) for name, kinds in found.items()}


# ───────────────────────────── badges ─────────────────────────────


@dataclass(frozen=True, slots=True)
class BadgeDecision:
    """Grant or revoke ``badge`` for ``username``; ``evidence`` are the posts that count."""

    badge: Badge
    username: str
    grant: bool
    reason_url: str = ""  # the post that earned it (grants), for people to follow
    evidence: tuple[Contribution, ...] = ()
    evidence_urls: tuple[str, ...] = ()
    reason_path: str = ""  # the same post, relative: what the grant sends to Discourse


def qualifiers(
    badge: Badge, contributions: Iterable[Contribution]
) -> dict[str, tuple[Contribution, ...]]:
    """Members meeting ``badge``'s criterion, with their contributions (oldest first)."""
    mine: dict[str, list[Contribution]] = defaultdict(list)
    for c in contributions:
        mine[c.username].append(c)
    criterion = badge.criterion
    out = {}
    for name, items in mine.items():
        items.sort(key=lambda c: (c.at, c.post.id))
        if _meets(criterion, items):
            out[name] = tuple(items)
    return out


def _meets(criterion: object, items: Sequence[Contribution]) -> bool:
    n = len(items)
    match criterion:
        case ReviewerBeyondDuty(min_extra_reviews=k):
            return n >= k
        case DigestCurator(min_digests=k):
            return n >= k
        case HomeworkReminder(min_reminders=k):
            return n >= k
        case Connector(min_other_squads=squads, min_people=people):
            return n >= people and len(_other_squads(items)) >= squads
        case Welcomer(min_campers_welcomed=k):
            return len({c.other for c in items}) >= k
        case Streak() | FullAttendance():
            return n >= 1
    return False


def _other_squads(items: Iterable[Contribution]) -> set[str]:
    return {c.other_squad for c in items if c.other_squad}


def _earning_post(badge: Badge, items: Sequence[Contribution]) -> Contribution:
    """The contribution that completed the criterion: the k-th, or the latest."""
    criterion = badge.criterion
    k = {
        "reviewer_beyond_duty": getattr(criterion, "min_extra_reviews", 0),
        "digest_curator": getattr(criterion, "min_digests", 0),
        "homework_reminder": getattr(criterion, "min_reminders", 0),
    }.get(badge.kind, 0)
    return items[k - 1] if 0 < k <= len(items) else items[-1]


def _reason_path(post: PostFact | ChatRef) -> str:
    """A grant's reason: the post's path; none for a chat message (Discourse accepts only a
    post or topic link, ``UserBadgesController#is_badge_reason_valid?``)."""
    if isinstance(post, ChatRef):
        return ""
    return post_path(post.topic_id, post.post_number)


def evaluate_badges(
    rules: Rules,
    facts: RecognitionFacts,
    week: Week,
    held: Mapping[str, Collection[str]],
) -> list[BadgeDecision]:
    """Grants (and, for revocable badges, revocations) as of the end of ``week``.

    ``held``: badge slug → usernames holding it now (read from the forum). Those
    are never granted again. Revocations happen only for badges the rules mark
    ``revocable`` and only when ``week`` has obligation results, so a failed
    audit or an empty read cannot strip everyone.
    """
    decisions: list[BadgeDecision] = []
    for badge in rules.badges.badges:
        winners = qualifiers(badge, detect(rules, facts, badge.criterion, week))
        holders = set(held.get(badge.slug, ()))
        for name in sorted(winners.keys() - holders):
            evidence = winners[name]
            earned = _earning_post(badge, evidence)
            urls = tuple(facts.url(c.post) for c in evidence)
            decisions.append(
                BadgeDecision(
                    badge,
                    name,
                    True,
                    facts.url(earned.post),
                    tuple(evidence),
                    urls,
                    reason_path=_reason_path(earned.post),
                )
            )
        if badge.revocable and facts.results.get(week):
            for name in sorted(holders - winners.keys()):
                decisions.append(BadgeDecision(badge, name, False))
    return decisions


def badge_actions(
    rules: Rules,
    decisions: Sequence[BadgeDecision],
    week: Week,
    *,
    audit_category_id: int | None,
    languages: Mapping[str, str] | None = None,
) -> list[a.Action]:
    """Grant/revoke actions, a PM per grant, and one audit-log topic explaining them all.

    Keys: a non-revocable badge is granted once ever (``badge:<slug>:<user>``); a
    revocable one once per week it is (re)earned, so it can come back after a
    revocation.
    """
    languages = languages or {}
    out: list[a.Action] = []
    lines = []
    for d in decisions:
        badge, user = d.badge, d.username
        suffix = f":{week}" if badge.revocable else ""
        if d.grant:
            out.append(
                a.GrantBadge(
                    key=f"badge:{badge.slug}:{user}{suffix}",
                    reason=f"{badge.slug} earned by {user} ({len(d.evidence)} posts, {week})",
                    username=user,
                    badge_name=badge.name,
                    reason_path=d.reason_path,
                )
            )
            pm = rules.render(
                badge.template,
                languages.get(user),
                username=user,
                badge=badge.name,
                description=in_language(
                    badge.description, languages.get(user) or rules.community.default_language
                ),
                reason_url=d.reason_url,
            )
            out.append(
                a.SendPrivateMessage(
                    key=f"badge-pm:{badge.slug}:{user}{suffix}",
                    reason=f"tell {user} about the {badge.slug} badge",
                    recipients=(user,),
                    title=pm.title,
                    raw=pm.body,
                )
            )
            template = "badge_audit_grant"
        else:
            out.append(
                a.RevokeBadge(
                    key=f"badge-revoke:{badge.slug}:{user}:{week}",
                    reason=f"{badge.slug} no longer held by {user} ({week})",
                    username=user,
                    badge_name=badge.name,
                )
            )
            template = "badge_audit_revoke"
        evidence = "\n".join(f"  - {url}" for url in d.evidence_urls)
        lines.append(
            rules.message(
                template,
                username=user,
                badge=badge.name,
                reason_url=d.reason_url,
                count=len(d.evidence),
                evidence=evidence,
            ).rstrip()
        )
    if lines and audit_category_id is not None:
        report = rules.render("badge_audit", None, **week_values(week), decisions="\n".join(lines))
        out.append(
            a.CreateTopic(
                key=f"badge-audit:{week}",
                reason=f"badge decisions of {week} explained in the audit log",
                affects_members=False,
                category_id=audit_category_id,
                title=report.title,
                raw=report.body,
            )
        )
    return out
