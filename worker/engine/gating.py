"""Application gating: who gets into the probation camp.

A pure function of (rules, facts): ``evaluate_application`` runs every check of
``rules/gating.yml`` and returns a ``GatingDecision`` with *every* hit, so a
reviewer of a held application reads all the reasons at once. Turning the
decision into forum writes is ``gating_actions`` (still pure).

Combination: any hit whose rule says ``reject`` rejects; otherwise any hit holds
the application for a human; no hit approves it into the camp.

An account Discourse approved without Diamond (an invitee: redeeming an invite
approves at once) is gated the same way, after the fact: passing puts it in the
camp; anything else holds it for staff with every reason. Diamond does not delete
an account Discourse let in; held, it simply gets no camp or member access.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from worker import actions as a
from worker.engine.facts import MemberFact
from worker.engine.textlen import count_units
from worker.rules import Rules
from worker.rules.models import GateFailAction

Outcome = Literal["approve", "reject", "hold"]


@dataclass(frozen=True, slots=True)
class Applicant:
    """A pending sign-up as read through the admin API.

    ``fields`` holds user-field values by the rules' field *key* (``"referrer"``,
    ``"application"``…), already mapped from the forum's numeric ids.
    """

    user_id: int
    username: str
    email: str
    created_at: datetime | None = None
    fields: Mapping[str, str] = field(default_factory=dict)
    groups: frozenset[str] = frozenset()
    invited_by: str | None = None  # username of the Discourse inviter
    approved: bool = False  # already approved on the forum (an invitee) when gated
    active: bool = True  # email confirmed (Discourse approves only active accounts)
    language: str | None = None  # the applicant's language field ("zh"/"en"), if any


@dataclass(frozen=True, slots=True)
class GatingFacts:
    """Everything the gating decision needs besides the rules.

    ``referrer`` is the named referrer as a member (None: named but not found, or none).
    ``strikes_of`` comes from the obligations ledger; ``referrals_this_month`` counts the
    referrer's applicants already approved this calendar month (community time zone).
    ``earlier_emails`` maps normalised emails of earlier applicants to their usernames;
    ``removed`` are usernames of people removed from the community (alumni, rejected).
    """

    applicant: Applicant
    referrer: MemberFact | None = None
    strikes_of: Mapping[str, int] = field(default_factory=dict)
    referrals_this_month: Mapping[str, int] = field(default_factory=dict)
    earlier_emails: Mapping[str, str] = field(default_factory=dict)
    removed: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class GateHit:
    """One failed check: which check, which rule, what matched, and what it leads to."""

    check: Literal["referral", "application", "screening", "payment", "duplicate"]
    rule: str  # e.g. "referral.referrer.max_strikes" or the screening list's name
    reason: str  # for people: staff and (on rejection) the applicant
    action: GateFailAction
    matched: str | None = None  # the matched text (screening) or the offending value

    def line(self) -> str:
        matched = f" — 「{self.matched}」" if self.matched else ""
        return f"[{self.check}] {self.rule}: {self.reason}{matched} → {self.action}"


@dataclass(frozen=True, slots=True)
class GatingDecision:
    outcome: Outcome
    hits: tuple[GateHit, ...] = ()
    referrer: str | None = None  # the referrer that counted (valid or not)
    # Discourse had approved the account already (an invitee): never "reject", and no
    # approval to make; "approve" is the camp, "hold" waits for staff.
    already_approved: bool = False

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(hit.line() for hit in self.hits)


# ─────────────────────────────── helpers ───────────────────────────────


def normalise_email(email: str) -> str:
    """Case-folded; for Gmail also without dots and ``+tag`` (they reach the same inbox)."""
    local, _, domain = email.strip().lower().partition("@")
    if domain in ("gmail.com", "googlemail.com"):
        local = local.split("+", 1)[0].replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}"


def email_domain(email: str) -> str:
    return email.strip().lower().rpartition("@")[2]


def referrer_of(rules: Rules, applicant: Applicant) -> str | None:
    """The username the applicant names as referrer, by the ways the rules accept."""
    referral = rules.gating.referral
    if "invite" in referral.via and applicant.invited_by:
        return applicant.invited_by
    if "user_field" in referral.via and referral.referrer_field:
        named = (applicant.fields.get(referral.referrer_field) or "").strip().lstrip("@")
        return named or None
    return None


def _truthy(value: str | None) -> bool:
    return bool(value and value.strip() and value.strip().lower() not in ("false", "0", "no"))


# ─────────────────────────────── checks ───────────────────────────────


def _referral_hits(rules: Rules, facts: GatingFacts, name: str | None) -> list[GateHit]:
    gating = rules.gating
    referral = gating.referral
    if not referral.required:
        return []
    action = gating.fail_action(referral)
    need = referral.referrer

    def hit(rule: str, reason: str, matched: str | None = None) -> GateHit:
        return GateHit("referral", f"referral.{rule}", reason, action, matched)

    if name is None:
        return [hit("required", "no referrer named (invite or referrer field)")]
    referrer = facts.referrer
    if referrer is None or referrer.username.lower() != name.lower():
        return [hit("referrer", "the named referrer does not exist", name)]
    if name.lower() == facts.applicant.username.lower():
        return [hit("referrer", "an applicant cannot refer themselves", name)]
    groups = rules.community.groups
    hits: list[GateHit] = []
    if need.must_be_member and groups.members not in referrer.groups and not referrer.staff:
        hits.append(hit("referrer.must_be_member", "the referrer is not a full member", name))
    if need.not_on_probation and groups.camp in referrer.groups:
        hits.append(hit("referrer.not_on_probation", "the referrer is still in the camp", name))
    strikes = facts.strikes_of.get(referrer.username, 0)
    if strikes > need.max_strikes:
        hits.append(
            hit(
                "referrer.max_strikes",
                f"the referrer has {strikes} strikes (at most {need.max_strikes})",
                name,
            )
        )
    referred = facts.referrals_this_month.get(referrer.username, 0)
    if referred >= need.max_referrals_per_month:
        hits.append(
            hit(
                "referrer.max_referrals_per_month",
                f"the referrer already referred {referred} this month "
                f"(at most {need.max_referrals_per_month})",
                name,
            )
        )
    return hits


def _application_hits(rules: Rules, applicant: Applicant) -> list[GateHit]:
    spec = rules.gating.application
    units = count_units(applicant.fields.get(spec.field) or "")
    if units >= spec.min_length:
        return []
    return [
        GateHit(
            "application",
            "application.min_length",
            f"the self-introduction has {units} units (at least {spec.min_length})",
            rules.gating.fail_action(spec),
        )
    ]


def _screening_hits(rules: Rules, applicant: Applicant) -> list[GateHit]:
    texts = {
        "application": applicant.fields.get(rules.gating.application.field) or "",
        "username": applicant.username,
        "email_domain": email_domain(applicant.email),
    }
    hits: list[GateHit] = []
    for screen in rules.gating.screening:
        action = rules.gating.fail_action(screen)
        for target in screen.applies_to:
            text = texts[target]
            folded = text.casefold()
            for keyword in screen.keywords:
                if keyword.casefold() in folded:
                    hits.append(
                        GateHit(
                            "screening", screen.name, f"{screen.reason} ({target})", action, keyword
                        )
                    )
            for pattern in screen.patterns:
                match = re.search(pattern, text, re.IGNORECASE)
                if match:
                    hits.append(
                        GateHit(
                            "screening",
                            screen.name,
                            f"{screen.reason} ({target})",
                            action,
                            match.group(0),
                        )
                    )
    return hits


def _payment_hits(rules: Rules, applicant: Applicant) -> list[GateHit]:
    payment = rules.gating.payment
    if not payment.required:
        return []
    if payment.paid_group and payment.paid_group in applicant.groups:
        return []
    if payment.confirmed_field and _truthy(applicant.fields.get(payment.confirmed_field)):
        return []
    return [
        GateHit(
            "payment",
            "payment.required",
            "no payment confirmation (paid group or confirmed field)",
            rules.gating.fail_action(payment),
        )
    ]


def _duplicate_hits(rules: Rules, facts: GatingFacts) -> list[GateHit]:
    spec = rules.gating.duplicates
    action = rules.gating.fail_action(spec)
    applicant = facts.applicant
    hits: list[GateHit] = []
    if spec.same_email and applicant.email:
        earlier = facts.earlier_emails.get(normalise_email(applicant.email))
        if earlier and earlier.lower() != applicant.username.lower():
            hits.append(
                GateHit(
                    "duplicate",
                    "duplicates.same_email",
                    f"the same email was used by @{earlier}",
                    action,
                    applicant.email,
                )
            )
    if spec.reapplication_field:
        previous = (applicant.fields.get(spec.reapplication_field) or "").strip().lstrip("@")
        if previous:
            removed = previous.lower() in {u.lower() for u in facts.removed}
            reason = (
                f"re-application of @{previous}, who was removed"
                if removed
                else f"says they were a member before as @{previous}"
            )
            hits.append(
                GateHit("duplicate", "duplicates.reapplication_field", reason, action, previous)
            )
    return hits


def evaluate_application(rules: Rules, facts: GatingFacts) -> GatingDecision:
    """Run every gating check; approve, reject or hold with all the reasons."""
    applicant = facts.applicant
    name = referrer_of(rules, applicant)
    hits = [
        *_referral_hits(rules, facts, name),
        *_application_hits(rules, applicant),
        *_screening_hits(rules, applicant),
        *_payment_hits(rules, applicant),
        *_duplicate_hits(rules, facts),
    ]
    if any(h.action == "reject" for h in hits) and not applicant.approved:
        outcome: Outcome = "reject"
    elif hits:
        outcome = "hold"  # for an invitee, also what would have rejected: staff decide
    else:
        outcome = "approve"
    return GatingDecision(outcome, tuple(hits), name, already_approved=applicant.approved)


def applicant_language(rules: Rules, applicant: Applicant) -> str:
    """The language the applicant chose (the rules' language field), else the default."""
    lang = (applicant.language or "").strip().lower()
    return lang if lang in rules.messages else rules.community.default_language


# ─────────────────────────────── actions ───────────────────────────────

OUTCOME_WORDS = {
    "zh": {"approve": "通过,进入试用营", "reject": "拒绝", "hold": "待人工审核"},
    "en": {"approve": "approved into the camp", "reject": "rejected", "hold": "held for review"},
}


def _quoted(text: str) -> str:
    return "\n> ".join((text or "—").strip().splitlines() or ["—"])


def gating_actions(
    rules: Rules,
    facts: GatingFacts,
    decision: GatingDecision,
    *,
    audit_category_id: int | None,
    camp_welcome: list[a.Action] | None = None,
    camp_ends: str = "",
) -> list[a.Action]:
    """The writes a decision leads to; ``camp_welcome`` are the camp's own (welcome PM).

    Every decision leaves one staff audit-log topic with every check result.
    """
    gating = rules.gating
    applicant = facts.applicant
    lang = rules.community.default_language
    user = applicant.username
    uid = applicant.user_id
    lines = [f"- {r}" for r in decision.reasons]
    if decision.already_approved and decision.outcome == "hold":
        # Staff-facing: why Diamond holds an account instead of rejecting or deleting it.
        lines.append(
            "- [invite] approved by Discourse when the invite was redeemed; Diamond keeps it "
            "out of the camp and the member groups until staff decide"
        )
    checks = "\n".join(lines) or "- ✓"
    application = _quoted(applicant.fields.get(gating.application.field) or "")
    out: list[a.Action] = []
    why = "; ".join(decision.reasons) or "every check passed"

    # The audit entry goes first: if a later write fails, staff still see why.
    if audit_category_id is not None:
        if decision.outcome == "hold":
            msg = rules.render(
                gating.messages.held_for_review,
                lang,
                username=user,
                user_id=uid,
                checks=checks,
                application=application,
                review_url=f"/admin/users/{uid}/{user}",
            )
        elif gating.messages.decided:
            msg = rules.render(
                gating.messages.decided,
                lang,
                username=user,
                user_id=uid,
                outcome=OUTCOME_WORDS[lang][decision.outcome],
                checks=checks,
                referrer=f"@{decision.referrer}" if decision.referrer else "—",
                application=application,
            )
        else:
            msg = None
        if msg is not None:
            out.append(
                a.CreateTopic(
                    key=f"gating-audit:{uid}:{decision.outcome}",
                    reason=f"gating {decision.outcome} {user}: {why}",
                    affects_members=False,
                    category_id=audit_category_id,
                    title=msg.title,
                    raw=msg.body,
                )
            )

    if decision.outcome == "approve":
        if not decision.already_approved:
            out.append(
                a.ApproveUser(key=f"gating-approve:{uid}", reason=why, user_id=uid, username=user)
            )
        out.append(
            a.AddToGroup(
                key=f"camp-join:{uid}",
                reason="approved into the camp",
                group=rules.community.groups.camp,
                usernames=(user,),
            )
        )
        out.extend(camp_welcome or ())
        if decision.referrer and gating.messages.referrer_approved:
            msg = rules.render(
                gating.messages.referrer_approved,
                lang,
                username=decision.referrer,
                applicant=user,
                camp_ends=camp_ends,
            )
            out.append(
                a.SendPrivateMessage(
                    key=f"referrer-approved:{uid}",
                    reason=f"tell {decision.referrer} that {user} is in the camp",
                    recipients=(decision.referrer,),
                    title=msg.title,
                    raw=msg.body,
                )
            )
    elif decision.outcome == "reject":
        rejected_for = [h.reason for h in decision.hits if h.action == "reject"]
        # An unapproved applicant cannot log in to read a PM: the reason goes in Discourse's
        # rejection email (signup_after_reject), written in the applicant's language.
        msg = rules.render(
            gating.messages.rejected,
            applicant_language(rules, applicant),  # type: ignore[arg-type]
            username=user,
            reasons="\n".join(f"- {r}" for r in rejected_for),
        )
        out.append(
            a.RejectUser(
                key=f"gating-reject:{uid}",
                reason="; ".join(rejected_for),
                user_id=uid,
                username=user,
                block=gating.block_on_reject,
                reject_reason=msg.body.strip(),
            )
        )
    return out
