"""What-if for the weekly audit: recorded weeks replayed under two rule sets, compared.

    facts = read_audit_facts(client, redis_client, rules, weeks)        # reads only
    now, new = replay(current, facts, weeks), replay(proposed, facts, weeks)   # pure
    report = compare(now, new)                                          # pure

``replay`` does what the scheduled audits would have done, week after week: the same
evaluation, the same ladder walk over the recorded strike history (the weeks replayed
carry the strikes the replay itself would have recorded; a halted week records none, as
a real halted audit), the same guard rail, and the reminders each reminder rule would
have sent (its cron's runs about that week, with the progress known at each run).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import redis

from worker.engine.facts import Roster
from worker.engine.obligations import (
    LeaveRequest,
    Shortfall,
    SquadWeek,
    WeekPost,
    WeekResult,
    evaluate_week,
    grant_leave,
    plan_reminders,
    shortfalls,
)
from worker.engine.penalties import AuditPlan, History, plan_audit
from worker.engine.weeks import (
    Week,
    article_due_week,
    review_due_week,
    week_times,
)
from worker.rules.models import Rules

if TYPE_CHECKING:
    from worker.forum.client import ForumClient

# ─────────────────────────────── facts (read once) ───────────────────────────────


@dataclass(frozen=True)
class AuditFacts:
    """What the worker recorded, the same for both rule sets."""

    roster: Roster
    staff: frozenset[str]
    posts: Mapping[Week, Mapping[str, tuple[WeekPost, ...]]]  # week -> squad slug -> posts
    threads: Mapping[Week, Mapping[str, int]]
    leave_requests: tuple[LeaveRequest, ...]
    histories: Mapping[str, History]  # recorded strikes, per member and week
    languages: Mapping[str, str] = field(default_factory=dict)
    audit_log_id: int | None = None
    # weeks audited already -> checksum of the obligations rules they stay judged under
    audited: Mapping[Week, str] = field(default_factory=dict)


def read_audit_facts(
    client: ForumClient,
    redis_client: redis.Redis,
    rules: Rules,
    weeks: Sequence[Week],
    *,
    live: bool = True,
    roster: Roster | None = None,
) -> AuditFacts:
    """Read the roster, staff and audit-log category from the forum (a few GETs) and the
    ledger from Redis, through a client that refuses writes (no cache is filled either)."""
    from worker.reads.forum_view import load_roster
    from worker.state.ledger import Ledger
    from worker.state.membership import MembershipStore
    from worker.whatif.readonly import ReadOnlyRedis

    reader = ReadOnlyRedis.over(redis_client)
    ledger = Ledger(reader)
    roster = roster if roster is not None else load_roster(client, rules)
    slugs = [s.slug for s in roster.squads]
    span = sorted({w for week in weeks for w in (week.previous(), week, week.next())})
    staff: set[str] = set()
    for group in rules.community.staff_groups:
        staff |= _group_members(client, group)
    categories = {str(c.get("slug")): int(c["id"]) for c in client.list_categories()}
    return AuditFacts(
        roster=roster,
        staff=frozenset(staff),
        posts={w: ledger.posts_many(w, slugs) for w in span},
        threads={w: ledger.threads(w) for w in weeks},
        leave_requests=tuple(ledger.leave_requests()),
        histories=ledger.histories(sorted(roster.members), live=live),
        languages=MembershipStore(reader).languages(),
        audit_log_id=categories.get(rules.community.categories.audit_log),
        audited=ledger.audited_weeks(),
    )


def _group_members(client: ForumClient, group: str) -> frozenset[str]:
    from worker.forum.errors import NotFound

    try:
        return frozenset(str(m["username"]) for m in client.iter_group_members(group))
    except NotFound:
        return frozenset()


def weeks_with_posts(facts_posts: Mapping[Week, Mapping[str, Sequence[Any]]]) -> list[Week]:
    return sorted(w for w, by_squad in facts_posts.items() if any(by_squad.values()))


# ─────────────────────────────── replay (pure) ───────────────────────────────


@dataclass(frozen=True)
class WeekReplay:
    """One week as an audit under one rule set would have judged it."""

    week: Week
    plan: AuditPlan
    why: Mapping[str, tuple[Shortfall, ...]]
    reminders: Mapping[str, tuple[str, ...]]  # username -> names of the reminders sent


def squad_weeks_of(rules: Rules, facts: AuditFacts, week: Week) -> list[SquadWeek]:
    """As ``worker.reads.obligations.squad_weeks`` builds them, from the facts read once."""
    empty: Mapping[str, tuple[WeekPost, ...]] = {}
    current = facts.posts.get(week, empty)
    threads = facts.threads.get(week, {})
    if rules.obligations.article.mode == "thread":
        return [
            SquadWeek(s, week, current.get(s.slug, ()), threads.get(s.slug))
            for s in facts.roster.squads
        ]
    following = facts.posts.get(week.next(), empty)
    previous = facts.posts.get(week.previous(), empty)
    return [
        SquadWeek(
            s,
            week,
            current.get(s.slug, ()),
            None,
            next_posts=following.get(s.slug, ()),
            previous_posts=previous.get(s.slug, ()),
        )
        for s in facts.roster.squads
    ]


def replay(rules: Rules, facts: AuditFacts, weeks: Iterable[Week]) -> list[WeekReplay]:
    """Each week's audit under ``rules``, in order, each on the strikes the earlier ones left."""
    from worker.steps.audit import audit_moment

    histories: dict[str, dict[Week, int | None]] = {u: dict(h) for u, h in facts.histories.items()}
    leave = grant_leave(rules.obligations, rules.tz, facts.leave_requests)
    out = []
    for week in sorted(weeks):
        squads = squad_weeks_of(rules, facts, week)
        results = evaluate_week(
            rules.obligations,
            rules.tz,
            week,
            squads,
            staff=facts.staff,
            excused=leave.excused(week),
        )
        plan = plan_audit(
            rules,
            results,
            histories,
            now=audit_moment(rules, week),
            threads=facts.threads.get(week, {}),
            audit_log_category_id=facts.audit_log_id,
            languages=facts.languages,
        )
        for username, strikes in plan.strikes_to_record.items():
            histories.setdefault(username, {})[week] = strikes
        by_squad = {sw.squad.slug: sw for sw in squads}
        why = {
            r.username: shortfalls(rules.obligations, rules.tz, r, by_squad.get(r.squad))
            for r in results.by_member.values()
        }
        out.append(WeekReplay(week, plan, why, _reminders(rules, facts, squads, week, leave)))
    return out


def reminder_runs(rules: Rules, week: Week) -> list[tuple[int, dt.datetime]]:
    """(reminder index, moment) of every reminder run that is about ``week``."""
    from apscheduler.triggers.cron import CronTrigger

    from worker.pipeline.scheduler import cron_fields

    obligations, tz = rules.obligations, rules.tz
    start = dt.datetime.combine(week.monday(), dt.time(0), tzinfo=tz) - dt.timedelta(days=7)
    end = week_times(obligations, week, tz).review_cap
    runs = []
    for index, reminder in enumerate(obligations.reminders):
        due_week = article_due_week if reminder.about == "article" else review_due_week
        trigger = CronTrigger(timezone=tz, **cron_fields(reminder.cron))
        moment = trigger.get_next_fire_time(None, start)
        while moment is not None and moment <= end:
            if due_week(obligations, moment, tz) == week:
                runs.append((index, moment))
            moment = trigger.get_next_fire_time(moment, moment + dt.timedelta(seconds=1))
    return runs


def _reminders(
    rules: Rules, facts: AuditFacts, squads: Sequence[SquadWeek], week: Week, leave: Any
) -> dict[str, tuple[str, ...]]:
    got: dict[str, list[str]] = defaultdict(list)
    for index, moment in reminder_runs(rules, week):
        reminder = rules.obligations.reminders[index]
        progress = evaluate_week(
            rules.obligations,
            rules.tz,
            week,
            squads,
            staff=facts.staff,
            excused=leave.excused(week),
            as_of=moment,
        )
        for action in plan_reminders(rules, reminder, progress, facts.languages):
            # A PM's recipients; a post in the squad's thread: those it mentions.
            reached = getattr(action, "recipients", ()) or getattr(action, "notifies", ())
            for recipient in reached:
                got[recipient].append(reminder.name)
    return {u: tuple(names) for u, names in got.items()}


# ─────────────────────────────── compare (pure) ───────────────────────────────


@dataclass(frozen=True)
class MemberSide:
    """One member's week under one rule set."""

    outcome: str  # met / excused / missed / "-" (not audited)
    strikes: int
    active: int
    ladder: tuple[str, ...]  # ladder steps reached this week (their actions, shortly)
    reminders: int
    why: tuple[Shortfall, ...] = field(compare=False)  # shown, not compared: its numbers
    # carry the rule (800 vs 1200 字) even when the member's week is the same


@dataclass(frozen=True)
class MemberChange:
    username: str
    squad: str
    before: MemberSide
    after: MemberSide


@dataclass(frozen=True)
class Totals:
    audited: int
    penalised: int
    strikes: int
    ladder: int  # ladder steps reached
    reminders: int
    max_share: float
    halted: bool

    @property
    def share(self) -> float:
        return self.penalised / self.audited if self.audited else 0.0


@dataclass(frozen=True)
class WeekDiff:
    week: Week
    before: Totals
    after: Totals
    changes: tuple[MemberChange, ...]
    penalised_after: tuple[str, ...]  # who the proposed rules penalise, sorted


def _side(rules_plan: WeekReplay, result: WeekResult | None) -> MemberSide:
    if result is None:
        return MemberSide("-", 0, 0, (), 0, ())
    plan = rules_plan.plan
    standing = plan.standings.get(result.username)
    ladder = tuple(
        _step_name(d.step, d.rule) for d in plan.decisions if d.username == result.username
    )
    return MemberSide(
        outcome=result.outcome,
        strikes=result.strikes if not result.exempt else 0,
        active=standing.active if standing else 0,
        ladder=ladder,
        reminders=len(rules_plan.reminders.get(result.username, ())),
        why=rules_plan.why.get(result.username, ()),
    )


def _step_name(index: int, rule: Any) -> str:
    kinds = "+".join(type(x).__name__.removesuffix("Action").lower() for x in rule.actions)
    return f"step {index + 1} ({rule.strikes} strikes: {kinds})"


def _totals(replay_week: WeekReplay) -> Totals:
    plan = replay_week.plan
    judged = [r for r in plan.results.by_member.values() if not r.exempt]
    return Totals(
        audited=plan.audited,
        penalised=len(plan.penalised),
        strikes=sum(r.strikes for r in judged),
        ladder=len(plan.decisions),
        reminders=sum(len(v) for v in replay_week.reminders.values()),
        max_share=plan.max_share,
        halted=plan.halted,
    )


def compare(current: Sequence[WeekReplay], proposed: Sequence[WeekReplay]) -> list[WeekDiff]:
    """Per week: totals under both rule sets and every member whose week differs."""
    out = []
    for before, after in zip(current, proposed, strict=True):
        assert before.week == after.week
        old, new = before.plan.results.by_member, after.plan.results.by_member
        changes = []
        for username in sorted(set(old) | set(new)):
            a, b = _side(before, old.get(username)), _side(after, new.get(username))
            if a != b:
                squad = (new.get(username) or old[username]).squad
                changes.append(MemberChange(username, squad, a, b))
        out.append(
            WeekDiff(
                before.week,
                _totals(before),
                _totals(after),
                tuple(changes),
                tuple(sorted(after.plan.penalised)),
            )
        )
    return out
