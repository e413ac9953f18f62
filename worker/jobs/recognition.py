"""Recognition and health actors: likes into the store, weekly badges, weekly report.

Thin: each gets its ``StepContext`` from the actor decorator (``context=True``) and calls
its step (``worker.steps.record_like``, ``badges``, ``health_report``); the roster comes
from the forum view (``worker.reads.forum_view``).

Routes: ``post_liked`` → ``recognition.on_like``. Post events reach the recognition
store through the one post actor (``worker.jobs.posts``).
Periodic, at ``health.report_cron`` (community time zone): ``recognition.weekly_badges``
and ``recognition.weekly_report``, both about the latest audited week (the week whose
review window has closed), so a late or repeated run does the same thing.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from worker.engine.weeks import Week, audit_week
from worker.pipeline import runtime
from worker.pipeline.jobs import diamond_actor
from worker.pipeline.routes import add_route
from worker.pipeline.scheduler import PeriodicJob, add_schedule_source, cron_fields, periodic_job
from worker.rules import Rules
from worker.steps import StepContext, badges, health_report, record_like

if TYPE_CHECKING:
    from worker.forum.client import ForumClient

log = logging.getLogger(__name__)
QUEUE = "recognition"


def target_week(rules: Rules, now: datetime, week: str | None) -> Week:
    """``week`` if given (as the message carries it, ``2026-W47``), else the latest audited
    week at the run's time ``now``."""
    if week:
        return Week.parse(week)
    return audit_week(rules.obligations, now, rules.tz)


@diamond_actor(queue=QUEUE, time_limit=60, context=True)
def on_like(
    ctx: StepContext[ForumClient], post_id: int, user_id: int, username: str | None = None
) -> None:
    """Someone liked a post: remember who and when (a user read only for messages queued
    before the route carried the username)."""
    record_like.run(ctx, post_id, user_id, username)


@diamond_actor(queue=QUEUE, time_limit=1800, context=True)
def weekly_badges(
    ctx: StepContext[ForumClient], scheduled_for: str | None = None, week: str | None = None
) -> None:
    """Evaluate every badge and grant/revoke them (once each), explained in the audit log."""
    target = target_week(ctx.rules, ctx.now, week)
    result = badges.run(ctx, target, base_url=runtime.settings().public_url)
    grants = sum(1 for d in result.decisions if d.grant)
    log.info(
        "badges of %s: %d grants, %d revocations; %s",
        target,
        grants,
        len(result.decisions) - grants,
        result.applied.summary() if result.applied else "",
    )


@diamond_actor(queue=QUEUE, time_limit=1800, context=True)
def weekly_report(
    ctx: StepContext[ForumClient], scheduled_for: str | None = None, week: str | None = None
) -> None:
    """Post the health report to the staff category and each leader's part by PM."""
    cfg = runtime.settings()
    target = target_week(ctx.rules, ctx.now, week)
    result = health_report.run(ctx, target, base_url=cfg.public_url, api_username=cfg.api_username)
    report = result.report
    log.info(
        "health report of %s: %s, %d alerts; %s",
        target,
        report.verdict,
        len(report.alerts),
        result.applied.summary() if result.applied else "",
    )


# ─────────────────────────────── wiring ───────────────────────────────


def schedules(rules: Rules) -> list[PeriodicJob]:
    """The weekly badge and report runs at ``health.report_cron``."""
    fields = cron_fields(rules.health.report_cron)
    where = "health.yml report_cron"
    return [
        periodic_job(
            "recognition_weekly_badges",
            weekly_badges.actor_name,
            source=where,
            from_rules=True,
            **fields,
        ),
        periodic_job(
            "recognition_weekly_report",
            weekly_report.actor_name,
            source=where,
            from_rules=True,
            **fields,
        ),
    ]


def register_schedules(rules: Rules) -> list[str]:
    """Register the jobs ``schedules`` makes now; returns their names."""
    add_schedule_source(schedules, rules)
    return [job.name for job in schedules(rules)]


add_route(
    "post_liked",
    on_like.actor_name,
    ids={"post_id": "post.id", "user_id": "user.id"},
    names={"username": "user.username"},  # BasicUserSerializer in WebHookLikeSerializer
)

add_schedule_source(schedules)
try:
    register_schedules(runtime.rules())
except Exception as exc:  # no rules where this module is imported (e.g. the receiver's check)
    log.warning("recognition: no schedules registered (%s: %s)", type(exc).__name__, exc)
