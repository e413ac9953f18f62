"""The gating step: a sign-up (or a change to a pending one) is decided and carried out.

gather (the applicant and referrer from the forum, read here: only gating reads them;
the shared reads from ``worker.reads``; what Redis holds: a remembered email and the
applicant as an earlier read gave them, the roster state's members, referrals, the
ledger's strikes) → engine
(``worker.engine.gating.evaluate_application``, ``gating_actions``; camp entry from
``worker.engine.camp``) → Applier → record (``worker.state.membership``).

The decision is recorded before any write, so a job retried after a crash or a rate
limit carries out the *same* decision (the Applier skips what was done).

Reads: the applicant once per sign-up event that may bring news (``user_created``,
``user_updated``); a later event of the same sign-up takes them from what the last read
kept, with what the event itself says (``user_confirmed_email``: active; ``user_approved``:
approved, and its signed body carries the fields). The referrer is read only when the
roster state cannot vouch for them as a member (``referrer_from_state``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

import redis

from worker import actions as a
from worker.apply import ApplyReport
from worker.engine import camp as camp_engine
from worker.engine.facts import MemberFact
from worker.engine.gating import (
    Applicant,
    GatingDecision,
    GatingFacts,
    evaluate_application,
    gating_actions,
    is_yes,
    referrer_of,
)
from worker.engine.penalties import standing
from worker.engine.weeks import week_of
from worker.forum import calls
from worker.forum.errors import NotActiveYet, NotFound
from worker.reads import forum_view
from worker.reads.parse import Hints, applicant_of, applicant_of_body, member_fact_of
from worker.rules import Rules
from worker.state import roster as roster_state
from worker.state.ledger import Ledger
from worker.state.membership import MembershipStore, RecordedDecision, inputs_record
from worker.steps import StepContext

log = logging.getLogger(__name__)


class GateForum(
    calls.AdminGetUser,
    calls.GetUser,
    calls.ListGroups,
    calls.IterGroupMembers,
    calls.ListUserFields,
    calls.ListCategories,
    calls.ApproveUser,
    calls.GetGroup,
    calls.AddGroupMembers,
    calls.SendPrivateMessage,
    calls.CreateTopic,
    calls.IterReviewables,
    calls.PerformReviewable,
    calls.DeleteUser,
    calls.IterAdminUsers,
    Protocol,
):
    """The forum calls gating makes (reads here, writes through the Applier)."""


Ctx = StepContext[GateForum]
StrikesOf = Callable[[str], int]  # a member's active strikes


def _applied(report: ApplyReport, kind: type[a.Action]) -> bool:
    """Whether an action of ``kind`` was done now or before (not merely shadowed)."""
    return any(isinstance(x, kind) for x in (*report.done, *report.already_done))


# --- gather: the applicant and their referrer (reads only) --------------------------------
# The forum's JSON is parsed by ``worker.reads.parse``; what Redis holds (a remembered
# email, referrals, strikes) and the user-field ids are read by ``run`` and passed in:
# these functions call the forum and nothing else.


def read_applicant(
    forum: GateForum, field_ids: Mapping[str, int], user_id: int, rules: Rules | None = None
) -> Applicant:
    """The applicant through the admin API (webhook bodies may lack ``user_fields``).

    ``GET /admin/users/{id}.json`` has no ``email`` and no ``invited_by``: see
    ``complete_applicant``.
    """
    return applicant_of(forum.admin_get_user(user_id), field_ids, rules)


def complete_applicant(
    forum: GateForum,
    rules: Rules,
    applicant: Applicant,
    hints: Hints,
    remembered_email: str | None,
) -> Applicant:
    """Add the email and the inviter the admin view leaves out.

    The email: the signed body's, else ``remembered_email`` (an earlier body's), else one
    ``show_emails`` listing narrowed to this applicant (it writes a staff-log entry, so
    only then). The inviter: the body's, else ``GET /u/{username}.json`` (UserSerializer
    has ``invited_by``) when the rules accept invites as referrals.
    """
    email = applicant.email or hints.email or remembered_email
    if not email:
        flag = "active"  # pending applicants and invitees alike are active by now
        for user in forum.iter_admin_users(flag, show_emails=True, filter=applicant.username):
            if user.get("id") == applicant.user_id and user.get("email"):
                email = str(user["email"])
                break
    invited_by = applicant.invited_by
    if invited_by is None:
        if hints.inviter_known:
            invited_by = hints.invited_by
        elif "invite" in rules.gating.referral.via:
            profile = forum.get_user(applicant.username)
            inviter = profile.get("invited_by") or {}
            invited_by = inviter.get("username") if isinstance(inviter, Mapping) else None
    return replace(applicant, email=email or "", invited_by=invited_by)


def member_fact(forum: GateForum, username: str, rules: Rules) -> MemberFact | None:
    """A forum user with their groups (None if there is no such user); one read."""
    try:
        return member_fact_of(forum.get_user(username), rules)
    except NotFound:
        return None


def referrer_from_state(
    snap: roster_state.Snapshot,
    redis_client: redis.Redis,
    rules: Rules,
    store: MembershipStore,
    name: str,
) -> MemberFact | None:
    """``name`` as a member, from the roster state, when it can vouch for them: the
    groups of ``referrer_groups`` are all held (none to be read again), ``name`` is in
    the members group, and their user id is known. None: read them (a wrong "not a
    member" would turn a real applicant away, so the state never says that).

    What gating reads of a referrer is their membership of the members and camp groups
    (``must_be_member``, ``not_on_probation``) and whether they are staff (only for one
    who is no member): all in these groups. ``groups`` are those the state watches
    (squads included), not the trust levels a profile read also lists."""
    found = roster_state.member_groups(snap, name, referrer_groups(rules))
    if found is None:
        return None
    username, held = found
    user_id = roster_state.user_ids(redis_client, [username]).get(username)
    if user_id is None:  # a member Diamond promoted by name: their camp record has it
        camper = store.camper(username)
        user_id = camper.user_id if camper is not None else None
    if user_id is None:
        return None
    staff = bool(held & set(rules.community.staff_groups))
    return MemberFact(user_id=user_id, username=username, groups=held, staff=staff)


def referrer_groups(rules: Rules) -> tuple[str, ...]:
    """The groups that say what gating asks of a referrer (the members group first)."""
    groups = rules.community.groups
    return (groups.members, groups.camp, *rules.community.staff_groups)


def known_applicant(
    store: MembershipStore,
    rules: Rules,
    field_ids: Mapping[str, int],
    user_id: int,
    event: str | None,
    body: Mapping[str, Any] | None,
) -> Applicant | None:
    """The applicant without a read, where the event's signed body or an earlier read of
    the same sign-up says all; None: read them.

    ``user_updated`` (the application changed) and a direct call always read. A
    confirmation changes only ``active``, an approval only ``approved`` (Discourse
    approves an account at its creation or, confirmed, later: never before a read of
    ``user_created`` saw it); fields change by ``user_updated``. A ``user_created`` (also
    the catch-up scan's feed of a pending user) after an earlier job's read takes its
    facts only if they say active: the catch-up is how a lost confirmation is noticed."""
    if event not in NEW_ACCOUNT_EVENTS:
        return None
    from_body = applicant_of_body(body, field_ids, event, rules)
    if from_body is not None:
        return from_body
    known = store.applicant_facts(user_id)
    if known is None:
        return None
    if event == "user_approved":
        return replace(known, approved=True, active=True)
    if event == "user_confirmed_email":
        return replace(known, active=True)
    return known if known.active else None


def month_of(now: datetime, rules: Rules) -> str:
    """The month (community time) a referral counts in."""
    return now.astimezone(rules.tz).strftime("%Y-%m")


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


def run(
    ctx: Ctx,
    user_id: int,
    *,
    hints: Hints | None = None,
    event: str | None = None,
    body: Mapping[str, Any] | None = None,
    strikes_of: StrikesOf | None = None,
) -> GatingResult:
    """Gate one sign-up once its email is confirmed; approved applicants enter the camp.

    ``hints`` are what the signed webhook body said (email, inviter); ``event`` the
    webhook event (None: a direct call, treated as a new account); ``body`` the signed
    body's facts of the user (``worker.reads.parse.USER_BODY_FACTS``).
    """
    # One gating job per applicant at a time: the actor holds the gating lease
    # (``worker.jobs.membership``), so the ``user_approved`` event of Diamond's own approval
    # cannot take the half-done decision of a crashed job and finish it twice.
    hints = hints or Hints()
    rules, store = ctx.rules, MembershipStore(ctx.redis)
    if hints.email:  # the admin view has no email: keep the signed body's for later jobs
        store.remember_applicant_email(user_id, hints.email)
    entered = store.entered_camp(user_id)
    if entered is not None:  # gated and in the camp (e.g. our own approval's user_approved)
        return GatingResult(entered, None)
    try:
        field_ids = forum_view.user_field_ids(ctx.forum, ctx.redis)
        applicant = known_applicant(store, rules, field_ids, user_id, event, body)
        if applicant is None:
            applicant = read_applicant(ctx.forum, field_ids, user_id, rules)
    except NotFound:
        # Gone (rejected by an earlier event's job, or deleted by staff): nothing to decide.
        log.info("gating of user %s: the account no longer exists", user_id)
        return GatingResult(f"#{user_id}", None)
    store.remember_applicant_facts(applicant)
    # Whom the id stands for: the echo of the camp's AddToGroup then changes nothing.
    roster_state.know_users(ctx.redis, {applicant.user_id: applicant.username})
    recorded = store.gating_decision(applicant.user_id)
    if (
        recorded is not None
        and recorded.decision.outcome == "reject"
        and store.was_removed(applicant.username)
    ):
        # Rejected and deleted by an earlier event's job (as the read's 404 would say).
        log.info("gating %s: rejected and deleted already", applicant.username)
        return GatingResult(applicant.username, None)
    if not applicant.active:
        # Discourse approves only confirmed accounts (403 before): not a failure, the
        # user_confirmed_email event (or the catch-up scan) brings the applicant back.
        log.info("gating %s: waiting for the email to be confirmed", applicant.username)
        return GatingResult(applicant.username, None, waiting=True)
    if applicant.approved:
        if recorded is not None and _approval_unfinished(store, applicant, recorded):
            facts = GatingFacts(applicant=applicant)  # gating_actions reads only the applicant
            return _carry_out(ctx, facts, recorded)
        held_invitee = recorded is not None and recorded.decision.already_approved
        if held_invitee and not (
            event == "user_updated" and recorded is not None and recorded.decision.outcome == "hold"
        ):
            return GatingResult(applicant.username, None)  # staff decide (or it is done)
        if not held_invitee:
            if (
                store.decision(applicant.user_id) == "hold"
                and store.camper(applicant.username) is None
            ):
                return _enter_camp_after_review(ctx, applicant)
            if recorded is not None or not _approved_without_diamond(ctx, applicant, event):
                return GatingResult(applicant.username, None)  # approved by Diamond, or a member
    elif recorded is not None and recorded.live and recorded.decision.outcome != "hold":
        # A retry of a job that decided live and stopped before finishing: same decision.
        return _carry_out(ctx, GatingFacts(applicant), recorded)
    elif recorded is not None and event not in (None, "user_updated"):
        # Held: gated again when the application changes, not on every repeated event.
        return GatingResult(applicant.username, None)
    remembered = store.applicant_email(applicant.user_id)
    applicant = complete_applicant(ctx.forum, rules, applicant, hints, remembered)
    if applicant.email:
        store.remember_applicant_email(applicant.user_id, applicant.email)
    facts = _gating_facts(ctx, store, applicant, strikes_of or _strikes_from_ledger(ctx))
    decision = evaluate_application(rules, facts)
    # what it read, kept with it: ``diamond whatif --applications`` previews rule changes on it
    inputs = inputs_record(rules, facts, month_of(ctx.now, rules))
    recorded = store.record_gating_decision(
        applicant.user_id, decision, ctx.now, live=ctx.live, inputs=inputs
    )
    return _carry_out(ctx, facts, recorded)


def _strikes_from_ledger(ctx: Ctx) -> StrikesOf:
    """Active strikes per member, from the obligations ledger's book of the mode."""
    ledger, week = Ledger(ctx.redis), week_of(ctx.now, ctx.rules.tz)

    def strikes_of(username: str) -> int:
        history = ledger.histories([username], live=ctx.live).get(username) or {}
        return standing(ctx.rules.obligations, username, history, week).active

    return strikes_of


def _gating_facts(
    ctx: Ctx, store: MembershipStore, applicant: Applicant, strikes_of: StrikesOf
) -> GatingFacts:
    """Everything ``evaluate_application`` needs about ``applicant``: the referrer from
    the roster state or the forum, the rest from Redis."""
    referrer = None
    name = referrer_of(ctx.rules, applicant)
    if name:
        # The roster state as events keep it; the groups it lacks are read once, here.
        groups = forum_view.watched_groups(
            ctx.forum, ctx.redis, referrer_groups(ctx.rules), now=ctx.now
        )
        referrer = referrer_from_state(groups, ctx.redis, ctx.rules, store, name)
        if referrer is None:
            referrer = member_fact(ctx.forum, name, ctx.rules)
    strikes: dict[str, int] = {}
    referred: dict[str, int] = {}
    if referrer is not None:
        strikes[referrer.username] = strikes_of(referrer.username)
        month = month_of(ctx.now, ctx.rules)
        referred[referrer.username] = store.referrals(referrer.username, month)
    return GatingFacts(
        applicant=applicant,
        referrer=referrer,
        strikes_of=strikes,
        referrals_this_month=referred,
        earlier_emails=store.emails(),
        removed=store.removed(),
    )


def _approved_without_diamond(ctx: Ctx, applicant: Applicant, event: str | None) -> bool:
    """A new account Discourse approved by itself (an invite, an auto-approved domain...)
    that no one gated: not staff, in none of Diamond's member groups."""
    if event is not None and event not in NEW_ACCOUNT_EVENTS:
        return False
    groups = ctx.rules.community.groups
    ours = {groups.members, groups.camp, groups.alumni, *ctx.rules.community.staff_groups}
    return not (applicant.groups & ours)


def _approval_unfinished(
    store: MembershipStore, applicant: Applicant, recorded: RecordedDecision
) -> bool:
    """Diamond approved this applicant live, but the camp part never got recorded."""
    return (
        recorded.live
        and recorded.decision.outcome == "approve"
        and store.camper(applicant.username) is None
    )


def _camper_extra(ctx: Ctx, applicant: Applicant) -> tuple[str | None, bool]:
    """(city, volunteers to lead) as the application said: kept for squad formation."""
    squads = ctx.rules.squads
    city = applicant.fields.get(squads.grouping.key_field or "") or None
    return city, is_yes(applicant.fields.get(squads.leader.volunteer_field or ""))


def _carry_out(ctx: Ctx, facts: GatingFacts, recorded: RecordedDecision) -> GatingResult:
    """Apply a recorded decision's writes (again: done ones are skipped), then the ledger."""
    rules, store = ctx.rules, MembershipStore(ctx.redis)
    applicant = facts.applicant
    decision, decided_at = recorded.decision, recorded.decided_at
    camper = camp_engine.Camper(
        user_id=applicant.user_id,
        username=applicant.username,
        started_at=decided_at,
        referrer=decision.referrer,
        language=applicant.fields.get(rules.community.language_field or "") or None,
    )
    categories = forum_view.category_ids(ctx.forum, ctx.redis)
    acts = gating_actions(
        rules,
        facts,
        decision,
        audit_category_id=categories.get(rules.community.categories.audit_log),
        camp_welcome=camp_engine.welcome_actions(rules, camper),
        camp_ends=camp_engine.fmt_day(rules, camp_engine.camp_end(rules, decided_at)),
    )
    try:
        report = ctx.apply(acts, rules=rules)
    except NotActiveYet:
        # The account became inactive between reading and approving (staff deactivated
        # it): decide again once it is confirmed.
        store.forget_gating_decision(applicant.user_id)
        log.info("gating %s: not active any more, waiting for confirmation", applicant.username)
        return GatingResult(applicant.username, None, waiting=True)
    store.remember_applicant(applicant.email, applicant.username)
    log.info("gating %s: %s %s", applicant.username, decision.outcome, list(decision.reasons))
    if decision.outcome == "approve" and _applied(report, a.AddToGroup):
        city, volunteer = _camper_extra(ctx, applicant)
        store.start_camp(camper, city=city, volunteer=volunteer)
        if decision.referrer:
            month = month_of(decided_at, rules)
            store.record_referral(decision.referrer, applicant.username, month)
        store.forget_application(applicant)
    elif decision.outcome == "reject" and _applied(report, a.RejectUser):
        store.mark_removed(applicant.username)
        store.forget_application(applicant)
    return GatingResult(applicant.username, decision, report)


def _enter_camp_after_review(ctx: Ctx, applicant: Applicant) -> GatingResult:
    """A reviewer approved a held application on the forum: the camp starts now."""
    store = MembershipStore(ctx.redis)
    referrer = referrer_of(ctx.rules, applicant)
    camper = camp_engine.Camper(applicant.user_id, applicant.username, ctx.now, referrer=referrer)
    acts = camp_engine.entry_after_review(ctx.rules, camper)
    report = ctx.apply(acts)
    if _applied(report, a.AddToGroup):
        city, volunteer = _camper_extra(ctx, applicant)
        store.start_camp(camper, city=city, volunteer=volunteer)
        store.record_decision(applicant.user_id, "approve")
        store.forget_application(applicant)
    return GatingResult(applicant.username, None, report)
