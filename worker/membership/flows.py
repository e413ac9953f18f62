"""The membership steps, each: gather facts → engine decides → ``Applier`` writes → ledger.

Actors in ``worker.jobs.membership`` call these with the process's client, Redis
and rules; the scenario and tests call them directly with an explicit ``now``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from worker import actions as a
from worker.apply import Applier, ApplyReport
from worker.engine import camp as camp_engine
from worker.engine.gating import (
    GatingDecision,
    GatingFacts,
    evaluate_application,
    gating_actions,
    referrer_of,
)
from worker.engine.squads import Graduate, SquadPlan, plan_squads, roster_errors, squad_actions
from worker.forum.errors import NotActiveYet, NotFound
from worker.membership import gather, gating_inputs
from worker.membership.store import MembershipStore, RecordedDecision
from worker.pipeline import leases, missing
from worker.rules import Rules

log = logging.getLogger(__name__)
GATING_LOCK = "diamond:membership:gating-lock:"
# The lock is a lease renewed while the job runs (``worker.pipeline.leases``): a killed
# worker's lock is gone before its job is redelivered, and a second job does not wait in
# its thread but is retried when the lease would have ended.
GATING_LEASE_SECONDS = 20.0
GATING_WAIT_SECONDS = 5.0


def _applied(report: ApplyReport, kind: type[a.Action]) -> bool:
    """Whether an action of ``kind`` was done now or before (not merely shadowed)."""
    return any(isinstance(x, kind) for x in (*report.done, *report.already_done))


def _truthy(value: str | None) -> bool:
    v = (value or "").strip().lower()
    return bool(v) and not v.startswith(("暂不", "no", "not", "false", "0"))


# --- gating ------------------------------------------------------------------------------


@dataclass(frozen=True)
class GatingResult:
    username: str
    decision: GatingDecision | None  # None: nothing to decide (not pending, or not yet)
    report: ApplyReport | None = None
    waiting: bool = False  # the email is not confirmed yet: gated on user_confirmed_email


# Events that mean "a new account": an account Discourse approved without Diamond (an
# invitee) is gated on these. ``user_updated`` only re-gates applications Diamond holds.
NEW_ACCOUNT_EVENTS = frozenset({"user_created", "user_confirmed_email", "user_approved"})


def decide_applicant(
    client: Any,
    redis_client: redis.Redis,
    rules: Rules,
    user_id: int,
    now: datetime,
    *,
    live: bool,
    strikes_of: gather.StrikesOf | None = None,
    hints: gather.Hints | None = None,
    event: str | None = None,
) -> GatingResult:
    """Gate one sign-up once its email is confirmed; approved applicants enter the camp.

    ``hints`` are what the signed webhook body said (email, inviter); ``event`` the
    webhook event (None: a direct call, treated as a new account).

    The decision is recorded before any write, so a job retried after a crash or a
    rate limit carries out the *same* decision (the Applier skips what was done) —
    even when the approval already went through and the applicant is no longer pending.
    """
    # One gating job per applicant at a time: the ``user_approved`` event of Diamond's own
    # approval must not take the half-done decision for a crashed one and finish it twice.
    with leases.held(
        redis_client,
        f"{GATING_LOCK}{user_id}",
        lease_seconds=GATING_LEASE_SECONDS,
        wait_seconds=GATING_WAIT_SECONDS,
    ):
        return _decide(
            client,
            redis_client,
            rules,
            user_id,
            now,
            live=live,
            strikes_of=strikes_of,
            hints=hints or gather.Hints(),
            event=event,
        )


def _decide(
    client: Any,
    redis_client: redis.Redis,
    rules: Rules,
    user_id: int,
    now: datetime,
    *,
    live: bool,
    strikes_of: gather.StrikesOf | None,
    hints: gather.Hints,
    event: str | None,
) -> GatingResult:
    store = MembershipStore(redis_client)
    if hints.email:  # the admin view has no email: keep the signed body's for later jobs
        store.remember_applicant_email(user_id, hints.email)
    entered = store.entered_camp(user_id)
    if entered is not None:  # gated and in the camp (e.g. our own approval's user_approved)
        return GatingResult(entered, None)
    ids = gather.field_ids(client)
    try:
        applicant = gather.read_applicant(client, user_id, ids, rules)
    except NotFound:
        # Gone (rejected by an earlier event's job, or deleted by staff): nothing to decide.
        log.info("gating of user %s: the account no longer exists", user_id)
        return GatingResult(f"#{user_id}", None)
    recorded = store.gating_decision(applicant.user_id)
    if not applicant.active:
        # Discourse approves only confirmed accounts (403 before): not a failure, the
        # user_confirmed_email event (or the catch-up scan) brings the applicant back.
        log.info("gating %s: waiting for the email to be confirmed", applicant.username)
        return GatingResult(applicant.username, None, waiting=True)
    if applicant.approved:
        if recorded is not None and _approval_unfinished(store, applicant, recorded):
            facts = GatingFacts(applicant=applicant)  # gating_actions reads only the applicant
            return _carry_out(client, redis_client, rules, facts, recorded, live=live)
        held_invitee = recorded is not None and recorded.decision.already_approved
        if held_invitee and not (event == "user_updated" and recorded.decision.outcome == "hold"):
            return GatingResult(applicant.username, None)  # staff decide (or it is done)
        if not held_invitee:
            if (
                store.decision(applicant.user_id) == "hold"
                and store.camper(applicant.username) is None
            ):
                return _enter_camp_after_review(
                    client, redis_client, rules, applicant, now, live=live
                )
            if recorded is not None or not _approved_without_diamond(rules, applicant, event):
                return GatingResult(applicant.username, None)  # approved by Diamond, or a member
    elif recorded is not None and recorded.live and recorded.decision.outcome != "hold":
        # A retry of a job that decided live and stopped before finishing: same decision.
        return _carry_out(client, redis_client, rules, GatingFacts(applicant), recorded, live=live)
    elif recorded is not None and event not in (None, "user_updated"):
        # Held: gated again when the application changes, not on every repeated event.
        return GatingResult(applicant.username, None)
    applicant = gather.complete_applicant(client, store, rules, applicant, hints)
    strikes = strikes_of or gather.strikes_from_ledger(redis_client, rules, now, live=live)
    facts = gather.gating_facts(client, store, rules, applicant, now, strikes)
    decision = evaluate_application(rules, facts)
    # what it read, kept with it: ``diamond whatif --applications`` previews rule changes on it
    inputs = gating_inputs.inputs_record(rules, facts, gather.month_of(now, rules))
    recorded = store.record_gating_decision(
        applicant.user_id, decision, now, live=live, inputs=inputs
    )
    return _carry_out(client, redis_client, rules, facts, recorded, live=live)


def _approved_without_diamond(rules: Rules, applicant: Any, event: str | None) -> bool:
    """A new account Discourse approved by itself (an invite, an auto-approved domain...)
    that no one gated: not staff, in none of Diamond's member groups."""
    if event is not None and event not in NEW_ACCOUNT_EVENTS:
        return False
    groups = rules.community.groups
    ours = {groups.members, groups.camp, groups.alumni, *rules.community.staff_groups}
    return not (applicant.groups & ours)


def _approval_unfinished(
    store: MembershipStore, applicant: Any, recorded: RecordedDecision
) -> bool:
    """Diamond approved this applicant live, but the camp part never got recorded."""
    return (
        recorded.live
        and recorded.decision.outcome == "approve"
        and store.camper(applicant.username) is None
    )


def _carry_out(
    client: Any,
    redis_client: redis.Redis,
    rules: Rules,
    facts: GatingFacts,
    recorded: RecordedDecision,
    *,
    live: bool,
) -> GatingResult:
    """Apply a recorded decision's writes (again: done ones are skipped), then the ledger."""
    store = MembershipStore(redis_client)
    applicant = facts.applicant
    decision, decided_at = recorded.decision, recorded.decided_at
    camper = camp_engine.Camper(
        user_id=applicant.user_id,
        username=applicant.username,
        started_at=decided_at,
        referrer=decision.referrer,
        language=applicant.fields.get(rules.community.language_field or "") or None,
    )
    audit = gather.category_ids(client).get(rules.community.categories.audit_log)
    acts = gating_actions(
        rules,
        facts,
        decision,
        audit_category_id=audit,
        camp_welcome=camp_engine.welcome_actions(rules, camper),
        camp_ends=camp_engine.fmt_day(rules, camp_engine.camp_end(rules, decided_at)),
    )
    try:
        report = Applier(client, redis_client, live=live, rules=rules).apply(acts)
    except NotActiveYet:
        # The account became inactive between reading and approving (staff deactivated
        # it): decide again once it is confirmed.
        store.forget_gating_decision(applicant.user_id)
        log.info("gating %s: not active any more, waiting for confirmation", applicant.username)
        return GatingResult(applicant.username, None, waiting=True)
    gather.remember_applicant(store, applicant)
    log.info("gating %s: %s %s", applicant.username, decision.outcome, list(decision.reasons))
    if decision.outcome == "approve" and _applied(report, a.AddToGroup):
        squads = rules.squads
        city = applicant.fields.get(squads.grouping.key_field or "") or None
        volunteer = _truthy(applicant.fields.get(squads.leader.volunteer_field or ""))
        store.start_camp(camper, city=city, volunteer=volunteer)
        if decision.referrer:
            store.record_referral(
                decision.referrer, applicant.username, gather.month_of(decided_at, rules)
            )
    elif decision.outcome == "reject" and _applied(report, a.RejectUser):
        store.mark_removed(applicant.username)
    return GatingResult(applicant.username, decision, report)


def _enter_camp_after_review(
    client: Any,
    redis_client: redis.Redis,
    rules: Rules,
    applicant: Any,
    now: datetime,
    *,
    live: bool,
) -> GatingResult:
    """A reviewer approved a held application on the forum: the camp starts now."""
    store = MembershipStore(redis_client)
    referrer = referrer_of(rules, applicant)
    camper = camp_engine.Camper(applicant.user_id, applicant.username, now, referrer=referrer)
    acts: list[a.Action] = [
        a.AddToGroup(
            key=f"camp-join:{applicant.user_id}",
            reason="approved by a reviewer",
            group=rules.community.groups.camp,
            usernames=(applicant.username,),
        ),
        *camp_engine.welcome_actions(rules, camper),
    ]
    report = Applier(client, redis_client, live=live, rules=rules).apply(acts)
    if _applied(report, a.AddToGroup):
        squads = rules.squads
        store.start_camp(
            camper,
            city=applicant.fields.get(squads.grouping.key_field or "") or None,
            volunteer=_truthy(applicant.fields.get(squads.leader.volunteer_field or "")),
        )
        store.record_decision(applicant.user_id, "approve")
    return GatingResult(applicant.username, None, report)


def pending_user_ids(client: Any) -> list[int]:
    return sorted(int(u["id"]) for u in client.iter_admin_users("pending"))


# --- camp --------------------------------------------------------------------------------


def record_camp_post(
    client: Any, redis_client: redis.Redis, post: Mapping[str, Any] | None
) -> bool:
    """Remember a camper's post, already read (False: not a camper's, or None: not found).

    Idempotent: the post is stored by id, so a repeated event changes nothing.
    """
    if post is None:
        return False
    store = MembershipStore(redis_client)
    username = str(post.get("username") or "")
    if not username or not store.is_camper(username):
        return False
    slugs = {v: k for k, v in gather.category_ids(client).items()}
    store.record_camp_post(username, gather.camp_post(client, post, slugs))
    return True


@dataclass(frozen=True)
class CampCheck:
    username: str
    verdict: camp_engine.CampVerdict
    report: ApplyReport


def check_camp(
    client: Any,
    redis_client: redis.Redis,
    rules: Rules,
    now: datetime,
    *,
    live: bool,
    deferred: list[str] | None = None,
) -> list[CampCheck]:
    """The daily camp check: campers whose camp has ended pass, are extended or leave.

    A camper with a post event not processed yet (its job failing or dead-lettered) is
    not decided: added to ``deferred`` and decided by a later check, once it is.
    """
    store = MembershipStore(redis_client)
    fellows = store.ever_campers()
    missing_posts = missing.missing_posts(redis_client)
    held = missing.held_back(missing_posts, store.active_campers()) if missing_posts else set()
    waiting: list[str] = []
    audit: int | None = None
    decided: list[tuple[camp_engine.Camper, camp_engine.CampVerdict, list[a.Action]]] = []
    for username in store.active_campers():
        camper = store.camper(username)
        if camper is None:
            continue
        verdict = camp_engine.evaluate_camp(rules, camper, store.camp_posts(username), fellows, now)
        if verdict.verdict == "in_progress":
            continue
        if username in held:
            waiting.append(username)
            continue
        if audit is None:
            audit = gather.category_ids(client).get(rules.community.categories.audit_log)
        acts = camp_engine.verdict_actions(rules, camper, verdict, audit_category_id=None)
        decided.append((camper, verdict, acts))
    # One apply for the whole run: one audit-log topic lists every decision (first: if a
    # later write fails, staff still see why), and each group's changes are one call.
    # Passes may share PMs (camp.pass_message): the engine plans the run as a whole.
    actions = camp_engine.run_actions(
        rules, [(c, v) for c, v, _a in decided], audit_category_id=audit, now=now
    )
    report = Applier(client, redis_client, live=live, rules=rules).apply(actions)
    results = []
    for camper, verdict, _acts in decided:
        username = camper.username
        results.append(CampCheck(camper.username, verdict, report))
        if not live:
            continue  # shadow: nothing happened to the camper, the ledger stays as it was
        if verdict.verdict == "extend":
            store.set_extensions(username, camper.extensions + 1)
        elif verdict.verdict == "pass":
            city, volunteer = store.camper_extra(username)
            cohort = cohort_of(rules, camper)
            store.queue_graduate(
                cohort, Graduate(camper.username, city, volunteer, verdict.progress.activity)
            )
            store.end_camp(username)
        else:
            store.mark_removed(camper.username)
            store.end_camp(username)
    if waiting:
        log.warning(
            "camp check: not deciding %s: %d post event(s) not processed yet (failed jobs); "
            "decided once they are",
            ", ".join(waiting),
            len(missing_posts),
        )
    if deferred is not None:
        deferred.extend(waiting)
    return results


# --- squads ------------------------------------------------------------------------------


def cohort_of(rules: Rules, camper: camp_engine.Camper) -> str:
    """The intake a camper belongs to: their camp's start, formatted per ``naming``."""
    return rules.squads.naming.cohort(camper.started_at.astimezone(rules.tz))


def ready_cohorts(store: MembershipStore, rules: Rules) -> list[str]:
    """Cohorts with new graduates whose first camp period is over for everyone.

    Campers still in their first period would otherwise all arrive as "late" and
    unbalance the split; extended campers do join later, as late graduates.
    """
    waiting = set()
    for username in store.active_campers():
        camper = store.camper(username)
        if camper is not None and camper.extensions == 0:
            waiting.add(cohort_of(rules, camper))
    return [c for c in store.pending_cohorts() if c not in waiting]


@dataclass(frozen=True)
class Formation:
    plan: SquadPlan
    report: ApplyReport


def form_squads(
    client: Any, redis_client: redis.Redis, rules: Rules, cohort: str, *, live: bool
) -> Formation:
    """Plan the cohort's squads against the forum's roster and apply the difference.

    The plan is recorded before the first write (live): a job retried after a crash or
    a rate limit finishes the same split instead of planning around half-filled squads.
    """
    store = MembershipStore(redis_client)
    plan = store.formation(cohort) if live else None
    if plan is None:
        plan = _plan_formation(client, store, rules, cohort)
        if live and plan.changed:
            store.record_formation(plan)
    audit = gather.category_ids(client).get(rules.community.categories.audit_log)
    acts = squad_actions(rules, plan, audit_category_id=audit, languages=store.languages())
    report = Applier(client, redis_client, live=live, rules=rules).apply(acts)
    if live:
        store.formed(cohort)
    log.info("squads of %s: %d squads, %s", cohort, len(plan.squads), report.summary())
    return Formation(plan, report)


def _plan_formation(client: Any, store: MembershipStore, rules: Rules, cohort: str) -> SquadPlan:
    members_group = rules.community.groups.members
    current = {m["username"].lower() for m in client.iter_group_members(members_group)}
    graduates = [g for g in store.graduates(cohort) if g.username.lower() in current]
    roster = gather.load_roster(client, rules)
    errors = roster_errors(roster, cohort)
    if errors:  # never make it worse: a human sorts out a double placement first
        raise RuntimeError(f"cohort {cohort}: " + "; ".join(errors))
    return plan_squads(rules, cohort, graduates, roster)
