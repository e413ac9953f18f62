"""Obligation actors: weekly threads; reminders; the weekly audit; roll calls.

Thin: each gets its ``StepContext`` from the actor decorator (``context=True``) and calls
its step (``worker.steps.weekly_threads``, ``reminders``, ``audit``, ``roll_calls``); the
roster comes from the forum view (``worker.reads.forum_view``).

Post events reach ``steps.record_post.record_ledger_post`` through the one post actor
(``worker.jobs.posts``: one post read for every domain).
Periodic (community time zone, from ``rules/obligations.yml``): ``article.thread_opens``
→ ``obligations.open_threads``; each ``reminders[i].cron`` → ``obligations.remind``;
``audit.cron`` → ``obligations.weekly_audit``. The week a run is about comes from its
scheduled time, so a late or repeated run does the same thing.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import dramatiq
import redis

from worker.engine.facts import Roster
from worker.engine.obligations import reminder_id
from worker.engine.weeks import Week, audit_week, week_of
from worker.pipeline import runtime
from worker.pipeline.jobs import diamond_actor
from worker.pipeline.notices import raise_notice
from worker.pipeline.scheduler import PeriodicJob, add_schedule_source, cron_fields, periodic_job
from worker.reads import forum_view
from worker.rules import Rules
from worker.state import membership as membership_state
from worker.steps import StepContext, audit, reminders, weekly_threads
from worker.steps import roll_calls as roll_call_step

if TYPE_CHECKING:
    from worker.forum.client import ForumClient

log = logging.getLogger(__name__)
# An audit waiting for missing facts looks again this often (the retry window bounds it).
AUDIT_DEFER_MS = 10 * 60 * 1000
QUEUE = "obligations"


@diamond_actor(queue=QUEUE, time_limit=600, context=True)
def open_threads(ctx: StepContext[ForumClient], scheduled_for: str | None = None) -> None:
    """Weekly (thread mode): open each squad's thread for the week of the run."""
    if ctx.rules.obligations.article.mode != "thread":
        return
    week = week_of(ctx.now, ctx.rules.tz)
    threads = weekly_threads.run(ctx, week)
    log.info("weekly threads of %s: %d squads", week, len(threads))


@diamond_actor(queue=QUEUE, time_limit=600, context=True)
def remind(ctx: StepContext[ForumClient], reminder: str, scheduled_for: str | None = None) -> None:
    """One reminder rule's run (``reminder`` is its ``reminder_id``)."""
    rules = ctx.rules
    chosen = next((r for r in rules.obligations.reminders if reminder_id(r) == reminder), None)
    if chosen is None:
        log.warning("reminder %s is no longer in the rules; nothing sent", reminder)
        return
    report = reminders.run(ctx, chosen)
    log.info("reminder %r: %s", chosen.name, report.summary())


@diamond_actor(queue=QUEUE, time_limit=1800, context=True)
def weekly_audit(
    ctx: StepContext[ForumClient], scheduled_for: str | None = None, week: str | None = None
) -> None:
    """The weekly audit of the latest week whose review window has closed."""
    rules = ctx.rules
    target = Week.parse(week) if week else audit_week(rules.obligations, ctx.now, rules.tz)
    roster = forum_view.cached_roster(ctx.forum, ctx.redis, rules)
    _defer_if_facts_missing(ctx.redis, roster, target)
    run = audit.run(ctx, target, roster=roster)
    plan = run.plan
    if plan.halted:
        log.error(
            "audit of %s HALTED: %d/%d members would be penalised (max %.0f%%); "
            "check with `diamond audit --week %s --dry-run`, then apply that plan with "
            "`--confirm CHECKSUM`",
            target,
            len(plan.penalised),
            plan.audited,
            plan.max_share * 100,
            target,
        )
    else:
        log.info(
            "audit of %s: %d audited, %d penalised; %s",
            target,
            plan.audited,
            len(plan.penalised),
            run.report.summary() if run.report else "",
        )


@diamond_actor(queue=QUEUE, time_limit=300, context=True)
def roll_calls(ctx: StepContext[ForumClient], scheduled_for: str | None = None) -> None:
    """Every few minutes (thread mode; ``article.roll_call`` posts or daily): redo the roll
    call of each weekly thread that changed (``worker.steps.roll_calls``)."""
    if ctx.rules.obligations.article.mode != "thread":
        return
    edits = roll_call_step.run(ctx)
    if edits:
        log.info("roll calls: %d threads edited", edits)


def _defer_if_facts_missing(redis_client: redis.Redis, roster: Roster, target: Week) -> None:
    """No strike while a member's post event is not processed yet (its job failing or
    dead-lettered, see ``worker.state.membership``): the audit waits and runs again."""
    held = membership_state.held_back(membership_state.missing_posts(redis_client), roster.members)
    if not held:
        return
    names = ", ".join(sorted(held))
    log.warning("audit of %s deferred: post events of %s not processed yet", target, names)
    raise_notice(
        redis_client,
        dramatiq.get_broker(),
        "audit_facts_missing",
        [f"{target} · @{name}" for name in sorted(held)],  # the words are the template's
    )
    raise dramatiq.Retry(f"audit of {target}: facts missing", delay=AUDIT_DEFER_MS)


# ─────────────────────────────── wiring ───────────────────────────────


def schedules(rules: Rules) -> list[PeriodicJob]:
    """Periodic jobs from the rules (names stable per rule); re-read when the rules change."""
    obligations = rules.obligations
    jobs = []
    if obligations.article.mode == "thread":
        jobs.append(
            periodic_job(
                "obligations_open_threads",
                open_threads.actor_name,
                source="obligations.yml article.thread_opens",
                from_rules=True,
                **cron_fields(obligations.article.thread_opens),
            )
        )
        # roll_call "reminders": the reminders carry it, no run edits the first post.
        if obligations.article.roll_call != "reminders":
            jobs.append(
                periodic_job(
                    "obligations_roll_calls",
                    roll_calls.actor_name,
                    source="obligations.yml article.mode: thread (roll call)",
                    from_rules=True,
                    minute="*/5",
                )
            )
    for index, reminder in enumerate(obligations.reminders):
        rid = reminder_id(reminder)
        jobs.append(
            periodic_job(
                f"obligations_remind_{rid}",
                remind.actor_name,
                kwargs={"reminder": rid},
                source=f"obligations.yml reminders[{index}] {reminder.name!r}",
                from_rules=True,
                **cron_fields(reminder.cron),
            )
        )
    jobs.append(
        periodic_job(
            "obligations_weekly_audit",
            weekly_audit.actor_name,
            source="obligations.yml audit.cron",
            from_rules=True,
            **cron_fields(obligations.audit.cron),
        )
    )
    return jobs


def register_schedules(rules: Rules) -> list[str]:
    """Register the jobs ``schedules`` makes now; returns their names."""
    add_schedule_source(schedules, rules)
    return [job.name for job in schedules(rules)]


add_schedule_source(schedules)
try:
    register_schedules(runtime.rules())
except Exception as exc:  # no rules where this module is imported (e.g. the receiver's check)
    log.warning("obligations: no schedules registered (%s: %s)", type(exc).__name__, exc)
