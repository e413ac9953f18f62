"""Obligation actors: post events → ledger; weekly threads; reminders; the weekly audit.

Thin: ids (or the scheduled time) in, ``worker.ledger.weekly`` gathers facts, calls
the engines and applies through the one door.

Post events reach ``weekly.handle_post_event`` through the one post actor
(``worker.jobs.posts``: one post read for every domain).
Periodic (community time zone, from ``rules/obligations.yml``): ``article.thread_opens``
→ ``obligations.open_threads``; each ``reminders[i].cron`` → ``obligations.remind``;
``audit.cron`` → ``obligations.weekly_audit``. The week a run is about comes from its
scheduled time, so a late or repeated run does the same thing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from worker import clock
from worker.engine.facts import Roster
from worker.engine.obligations import reminder_id
from worker.engine.weeks import Week, audit_week, week_of
from worker.ledger import weekly
from worker.pipeline import runtime
from worker.pipeline.jobs import diamond_actor
from worker.pipeline.scheduler import add_periodic_job, cron_fields
from worker.rules import Rules

log = logging.getLogger(__name__)
QUEUE = "obligations"


def _load_roster(client: Any, rules: Rules) -> Roster:
    from worker.membership.roster_cache import cached_roster  # the membership engine's reader

    return cached_roster(client, runtime.redis_client(), rules)


# Replaceable in tests and by the demo (e.g. a fixed roster).
roster_loader: Callable[[Any, Rules], Roster] = _load_roster


def _when(scheduled_for: str | None) -> datetime:
    if scheduled_for:
        return datetime.fromisoformat(scheduled_for)
    return clock.now(runtime.redis_client())


@diamond_actor(queue=QUEUE, time_limit=600)
def open_threads(scheduled_for: str | None = None) -> None:
    """Weekly (thread mode): open each squad's thread for the week of the run."""
    rules = runtime.rules()
    if rules.obligations.article.mode != "thread":
        return
    client = runtime.forum()
    week = week_of(_when(scheduled_for), rules.tz)
    threads = weekly.open_threads(
        client, runtime.redis_client(), rules, roster_loader(client, rules), week
    )
    log.info("weekly threads of %s: %d squads", week, len(threads))


@diamond_actor(queue=QUEUE, time_limit=600)
def remind(reminder: str, scheduled_for: str | None = None) -> None:
    """One reminder rule's run (``reminder`` is its ``reminder_id``)."""
    rules = runtime.rules()
    chosen = next((r for r in rules.obligations.reminders if reminder_id(r) == reminder), None)
    if chosen is None:
        log.warning("reminder %s is no longer in the rules; nothing sent", reminder)
        return
    client = runtime.forum()
    report = weekly.run_reminder(
        client,
        runtime.redis_client(),
        rules,
        roster_loader(client, rules),
        chosen,
        now=_when(scheduled_for),
        live=runtime.settings().live,
    )
    log.info("reminder %r: %s", chosen.name, report.summary())


@diamond_actor(queue=QUEUE, time_limit=1800)
def weekly_audit(scheduled_for: str | None = None, week: str | None = None) -> None:
    """The weekly audit of the latest week whose review window has closed."""
    rules = runtime.rules()
    now = _when(scheduled_for)
    target = Week.parse(week) if week else audit_week(rules.obligations, now, rules.tz)
    client = runtime.forum()
    run = weekly.run_audit(
        client,
        runtime.redis_client(),
        rules,
        roster_loader(client, rules),
        target,
        now=now,
        live=runtime.settings().live,
    )
    plan = run.plan
    if plan.halted:
        log.error(
            "audit of %s HALTED: %d/%d members would be penalised (max %.0f%%); "
            "check, then run `diamond audit --week %s --confirm`",
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


# ─────────────────────────────── wiring ───────────────────────────────


def register_schedules(rules: Rules) -> list[str]:
    """Periodic jobs from the rules; returns their names (stable per rule)."""
    obligations = rules.obligations
    names = []
    if obligations.article.mode == "thread":
        add_periodic_job(
            "obligations_open_threads",
            open_threads.actor_name,
            **cron_fields(obligations.article.thread_opens),
        )
        names.append("obligations_open_threads")
    for reminder in obligations.reminders:
        rid = reminder_id(reminder)
        name = f"obligations_remind_{rid}"
        add_periodic_job(
            name, remind.actor_name, kwargs={"reminder": rid}, **cron_fields(reminder.cron)
        )
        names.append(name)
    add_periodic_job(
        "obligations_weekly_audit", weekly_audit.actor_name, **cron_fields(obligations.audit.cron)
    )
    names.append("obligations_weekly_audit")
    return names


try:
    register_schedules(runtime.rules())
except Exception as exc:  # no rules where this module is imported (e.g. the receiver's check)
    log.warning("obligations: no schedules registered (%s: %s)", type(exc).__name__, exc)
