"""The weekly audit of one week: strikes by the penalty ladder, behind a guard rail.

gather (the roster from ``worker.reads.forum_view``; the obligations the week was first
audited under; the week's facts from the ledger, ``worker.reads.obligations``; members'
strike histories; user ids of members about to be silenced) → engine
(``worker.engine.obligations.evaluate_week``, ``worker.engine.penalties.plan_audit``) →
record (the strikes and the rules of the week, before the first write: a retried run
plans the same) → Applier.

Used by the weekly actor (``worker.jobs.obligations.weekly_audit``) and ``diamond audit``
(dry runs, ``--confirm CHECKSUM``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from worker.apply import ApplyReport
from worker.engine.facts import Roster
from worker.engine.obligations import Shortfall, shortfalls
from worker.engine.penalties import AuditPlan, plan_audit, plan_checksum
from worker.engine.weeks import Week, week_times
from worker.forum import calls
from worker.reads import forum_view
from worker.reads.obligations import evaluate, gather, rules_of_week, user_ids_of
from worker.rules.models import Rules, SilenceAction
from worker.state.ledger import Ledger
from worker.state.membership import MembershipStore
from worker.steps import StepContext


class AuditForum(
    calls.ListCategories, calls.ListGroups, calls.GetUser, calls.IterGroupMembers, Protocol
):
    """The forum calls of the audit (reads; the ladder's acts go through the Applier)."""


@dataclass
class AuditRun:
    plan: AuditPlan
    report: ApplyReport | None = None  # None for a dry run, or a plan that changed
    recorded: bool = False  # strikes written to the ledger
    # The plan ``--confirm`` would apply (everything, past the guard rail), its checksum,
    # and why each member's week is not clean; for the command (dry runs, --confirm).
    confirmable: AuditPlan | None = None
    checksum: str | None = None
    changed: bool = False  # --confirm named a checksum the plan no longer has: not applied
    why: Mapping[str, tuple[Shortfall, ...]] = field(default_factory=dict)


def audit_moment(rules: Rules, week: Week) -> dt.datetime:
    """When the scheduled audit of ``week`` runs: the first run of the rules' audit cron
    once the week's review window has closed (what ``audit_week`` audits at that run)."""
    from apscheduler.triggers.cron import CronTrigger

    from worker.pipeline.scheduler import cron_fields

    cap = week_times(rules.obligations, week, rules.tz).review_cap
    trigger = CronTrigger(timezone=rules.tz, **cron_fields(rules.obligations.audit.cron))
    moment = trigger.get_next_fire_time(None, cap)
    assert moment is not None  # a crontab always fires again
    return moment


def _silence_candidates(plan: AuditPlan) -> set[str]:
    return {
        d.username
        for d in plan.decisions
        if any(isinstance(x, SilenceAction) for x in d.rule.actions)
    }


def run(
    ctx: StepContext[AuditForum],
    week: Week,
    *,
    roster: Roster | None = None,
    dry_run: bool = False,
    confirm: bool = False,
    checksum: str | None = None,
    squad: str | None = None,
    user_fields: Mapping[str, Mapping[str, str]] | None = None,
) -> AuditRun:
    """Audit ``week``: plan, then (unless ``dry_run``) record strikes and apply the plan.

    Re-running is safe: the plan of a week is the same, and the one door skips keys it
    has done. When the guard rail trips only the staff alert is applied and no strike is
    recorded, until ``confirm``. ``checksum`` (what a dry run printed) confirms too, but
    only that plan: if the plan's checksum is another now, nothing is applied
    (``changed``). Dry runs and checksums also give the plan past the guard rail and its
    checksum (``confirmable``), and every member's shortfalls (``why``). ``roster``: the
    squads (default: the forum view's cached roster).
    """
    client, redis_client, now, live = ctx.forum, ctx.redis, ctx.now, ctx.live
    if roster is None:
        roster = forum_view.cached_roster(client, redis_client, ctx.rules)
    ledger = Ledger(redis_client)
    rules = rules_of_week(ledger, ctx.rules, week)
    facts = gather(client, ledger, rules, roster, week, squad=squad, user_fields=user_fields)
    results = evaluate(rules, facts)
    histories = ledger.histories(results.by_member, live=live)
    audit_log = forum_view.category_ids(client, redis_client).get(
        rules.community.categories.audit_log
    )
    threads = ledger.threads(week)
    languages = MembershipStore(redis_client).languages()
    confirmed = confirm or checksum is not None
    for_a_person = dry_run or checksum is not None

    def plan_with(user_ids: Mapping[str, int], *, at: dt.datetime, sure: bool) -> AuditPlan:
        return plan_audit(
            rules,
            results,
            histories,
            now=at,
            user_ids=user_ids,
            threads=threads,
            audit_log_category_id=audit_log,
            confirmed=sure,
            languages=languages,
        )

    plan = plan_with({}, at=now, sure=confirmed)
    wanted = _silence_candidates(plan)  # the ladder's decisions ignore the guard rail
    audit = AuditRun(plan)
    if for_a_person:
        user_ids = user_ids_of(client, wanted, redis_client) if wanted else {}
        audit.confirmable = plan_with(user_ids, at=now, sure=True)
        plan = audit.confirmable if confirmed else plan_with(user_ids, at=now, sure=False)
        # Hashed as planned at the week's audit moment: moments counted from the run
        # (a silence's end) would otherwise differ between the dry run and --confirm.
        moment = audit_moment(rules, week)
        audit.checksum = plan_checksum(plan_with(user_ids, at=moment, sure=True))
        by_squad = {sw.squad.slug: sw for sw in facts.squads}
        audit.why = {
            r.username: why
            for r in results.by_member.values()
            if (why := shortfalls(rules.obligations, rules.tz, r, by_squad.get(r.squad)))
        }
    elif wanted and not plan.halted:
        plan = plan_with(user_ids_of(client, wanted, redis_client), at=now, sure=confirmed)
    audit.plan = plan
    if dry_run:
        return audit
    if checksum is not None and checksum != audit.checksum:
        audit.changed = True
        return audit
    if not plan.halted:
        ledger.record_strikes(week, plan.strikes_to_record, live=live)
        # A week is audited once its strikes are recorded: from now on, under these rules.
        ledger.record_audit_rules(week, rules.obligations.model_dump(mode="json"))
    audit.report = ctx.apply(plan.actions, rules=rules)
    audit.recorded = not plan.halted
    return audit
