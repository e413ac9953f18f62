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
from worker.rules.types import in_language

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
    """One failed check: which check, which rule, what matched, and what it leads to.

    The reason is data, ``code`` and ``params``: it is put in words by the template
    ``gate_reason.<code>`` in the language of whoever reads it (``reason_text``).
    """

    check: Literal["referral", "application", "screening", "payment", "duplicate"]
    rule: str  # e.g. "referral.referrer.max_strikes", or "screening[0]"
    code: str  # e.g. "referrer_strikes"
    action: GateFailAction
    matched: str | None = None  # the matched text (screening) or the offending value
    params: Mapping[str, str] = field(default_factory=dict)  # see GATE_REASON_VALUES

    @property
    def reason(self) -> str:
        """Language-free form for logs: ``referrer_strikes(count=3, limit=2)``."""
        shown = ", ".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.code}({shown})" if shown else self.code

    def line(self) -> str:
        matched = f" — {self.matched!r}" if self.matched else ""
        return f"[{self.check}] {self.rule}: {self.reason}{matched} → {self.action}"

    @classmethod
    def from_record(cls, data: Mapping[str, object]) -> GateHit:
        """From ``asdict`` as stored; a record from before reasons were data keeps its text."""
        data = dict(data)
        if "reason" in data:
            data.setdefault("code", "recorded")
            data["params"] = {"text": str(data.pop("reason"))}
        return cls(**data)  # type: ignore[arg-type]  # a recorded JSON dict


@dataclass(frozen=True, slots=True)
class GatingDecision:
    outcome: Outcome
    hits: tuple[GateHit, ...] = ()
    referrer: str | None = None  # the referrer that counted (valid or not)
    # Discourse had approved the account already (an invitee): never "reject", and no
    # approval to make; "approve" is the camp, "hold" waits for staff.
    already_approved: bool = False
    referrer_exists: bool = False  # the named referrer is a user of the forum

    @property
    def reasons(self) -> tuple[str, ...]:
        """Language-free lines for logs; people read ``reason_text`` / ``check_lines``."""
        return tuple(hit.line() for hit in self.hits)


# Every value a ``gate_reason.*`` template may use (each is passed, empty where it does
# not apply, so one declaration fits every reason).
GATE_REASON_VALUES = ("referrer", "count", "limit", "unit", "reason", "target", "other", "text")


def reason_text(rules: Rules, hit: GateHit, lang: str | None) -> str:
    """The reason of ``hit`` in ``lang``, from the template ``gate_reason.<code>``."""
    params = dict(hit.params)
    if hit.check == "screening":  # the moderators' own words, per language
        screen = rules.gating.screening[int(params.get("index", "0"))]
        params["reason"] = in_language(screen.reason, lang)
        params["target"] = word(rules, f"gate_target.{params.get('target', '')}", lang)
    if "units" in params:
        params["unit"] = word(rules, "unit", lang)
    values = {name: params.get(name, "") for name in GATE_REASON_VALUES}
    return word(rules, f"gate_reason.{hit.code}", lang, **values) or hit.reason


def word(rules: Rules, key: str, lang: str | None, **values: object) -> str:
    """A short text from template ``key`` (one line); empty when the rules lack it."""
    try:
        return rules.message(key, lang, **values).strip()
    except KeyError:
        return ""


def check_lines(rules: Rules, decision: GatingDecision, lang: str | None) -> list[str]:
    """Staff's view: one line per failed check, with the rule that failed and its effect."""
    lines = []
    for hit in decision.hits:
        rule = hit.rule
        if hit.check == "screening":
            screen = rules.gating.screening[int(hit.params.get("index", "0"))]
            rule = in_language(screen.name, lang)
        reason = reason_text(rules, hit, lang)
        # the template adds no space; a reason that names the value already is not repeated
        matched = f" 「{hit.matched}」" if hit.matched and hit.matched not in reason else ""
        lines.append(
            word(
                rules,
                "gate_check",
                lang,
                reason=reason,
                matched=matched,
                action=word(rules, f"gate_action.{hit.action}", lang) or hit.action,
                rule=rule,
            )
            or hit.line()
        )
    return lines


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


# Answers that mean "no" in a yes/no user field, however the field words its choices:
# "暂不 Not now", "no thanks", "false", "0". A value that merely starts with these letters
# ("November-1234", "0815-order") is an answer, not a refusal: only a whole first word counts.
_NO_WORDS = frozenset({"no", "not", "false", "0", "none", "off", "n", "nope", "否", "不"})
_NO_PREFIXES = ("暂不", "不", "否")
_WORD_BREAK = re.compile(r"[\s,.;:!?/()\[\]，。；：！？、（）-]+")


def is_yes(value: str | None) -> bool:
    """Whether a member's answer in a yes/no field (payment confirmed, volunteers to lead)
    says yes: anything but empty or a refusal."""
    text = (value or "").strip().lower()
    if not text or text.startswith(_NO_PREFIXES):
        return False
    first = _WORD_BREAK.split(text, maxsplit=1)[0]
    return first not in _NO_WORDS


# ─────────────────────────────── checks ───────────────────────────────


def _referral_hits(rules: Rules, facts: GatingFacts, name: str | None) -> list[GateHit]:
    gating = rules.gating
    referral = gating.referral
    if not referral.required:
        return []
    action = gating.fail_action(referral)
    need = referral.referrer

    def hit(rule: str, code: str, matched: str | None = None, **params: object) -> GateHit:
        values = {k: str(v) for k, v in params.items()}
        if matched is not None:
            values["referrer"] = matched
        return GateHit("referral", f"referral.{rule}", code, action, matched, values)

    if name is None:
        return [hit("required", "no_referrer")]
    referrer = facts.referrer
    if referrer is None or referrer.username.lower() != name.lower():
        return [hit("referrer", "referrer_missing", name)]
    if name.lower() == facts.applicant.username.lower():
        return [hit("referrer", "self_referral", name)]
    groups = rules.community.groups
    hits: list[GateHit] = []
    if need.must_be_member and groups.members not in referrer.groups and not referrer.staff:
        hits.append(hit("referrer.must_be_member", "referrer_not_member", name))
    if need.not_on_probation and groups.camp in referrer.groups:
        hits.append(hit("referrer.not_on_probation", "referrer_in_camp", name))
    strikes = facts.strikes_of.get(referrer.username, 0)
    if strikes > need.max_strikes:
        hits.append(
            hit(
                "referrer.max_strikes",
                "referrer_strikes",
                name,
                count=strikes,
                limit=need.max_strikes,
            )
        )
    referred = facts.referrals_this_month.get(referrer.username, 0)
    if referred >= need.max_referrals_per_month:
        hits.append(
            hit(
                "referrer.max_referrals_per_month",
                "referrer_quota",
                name,
                count=referred,
                limit=need.max_referrals_per_month,
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
            "application_short",
            rules.gating.fail_action(spec),
            params={"count": str(units), "limit": str(spec.min_length), "units": "1"},
        )
    ]


def _screening_hits(rules: Rules, applicant: Applicant) -> list[GateHit]:
    texts = {
        "application": applicant.fields.get(rules.gating.application.field) or "",
        "username": applicant.username,
        "email_domain": email_domain(applicant.email),
    }
    hits: list[GateHit] = []
    for index, screen in enumerate(rules.gating.screening):
        action = rules.gating.fail_action(screen)
        rule = f"screening[{index}]"
        params = {"index": str(index)}
        for target in screen.applies_to:
            text = texts[target]
            folded = text.casefold()
            found = [k for k in screen.keywords if k.casefold() in folded]
            found += [
                m.group(0)
                for pattern in screen.patterns
                if (m := re.search(pattern, text, re.IGNORECASE))
            ]
            hits += [
                GateHit("screening", rule, "screening", action, match, {**params, "target": target})
                for match in found
            ]
    return hits


def _payment_hits(rules: Rules, applicant: Applicant) -> list[GateHit]:
    payment = rules.gating.payment
    if not payment.required:
        return []
    if payment.paid_group and payment.paid_group in applicant.groups:
        return []
    if payment.confirmed_field and is_yes(applicant.fields.get(payment.confirmed_field)):
        return []
    return [
        GateHit("payment", "payment.required", "payment_missing", rules.gating.fail_action(payment))
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
                    "same_email",
                    action,
                    applicant.email,
                    {"other": earlier},
                )
            )
    if spec.reapplication_field:
        previous = (applicant.fields.get(spec.reapplication_field) or "").strip().lstrip("@")
        if previous:
            removed = previous.lower() in {u.lower() for u in facts.removed}
            code = "reapplied_removed" if removed else "reapplied"
            hits.append(
                GateHit(
                    "duplicate",
                    "duplicates.reapplication_field",
                    code,
                    action,
                    previous,
                    {"other": previous},
                )
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
    referrer = facts.referrer
    exists = bool(name and referrer and referrer.username.lower() == name.lower())
    return GatingDecision(
        outcome, tuple(hits), name, already_approved=applicant.approved, referrer_exists=exists
    )


def applicant_language(rules: Rules, applicant: Applicant) -> str:
    """The language the applicant chose (the rules' language field), else the default."""
    lang = (applicant.language or "").strip().lower()
    return lang if lang in rules.messages else rules.community.default_language


# ─────────────────────────────── actions ───────────────────────────────


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
    lines = [f"- {line}" for line in check_lines(rules, decision, lang)]
    if decision.already_approved and decision.outcome == "hold":
        # Staff-facing: why Diamond holds an account instead of rejecting or deleting it.
        lines.append(f"- {word(rules, 'gate_note.invite_held', lang)}")
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
                outcome=word(rules, f"gate_outcome.{decision.outcome}", lang),
                checks=checks,
                # a mention only of a user who exists: "@朋友介绍" would notify nobody
                referrer=(
                    f"@{decision.referrer}"
                    if decision.referrer and decision.referrer_exists
                    else f"「{decision.referrer}」"
                    if decision.referrer
                    else "—"
                ),
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
                    # The notice asks the referrer to reply if they do not know the
                    # newcomer: the reviewers' group inbox is on it, so a reply reaches
                    # the people who act on it (the group's messageable_level lets staff).
                    recipients=(decision.referrer, rules.community.groups.reviewers),
                    title=msg.title,
                    raw=msg.body,
                )
            )
    elif decision.outcome == "reject":
        rejected_for = [h for h in decision.hits if h.action == "reject"]
        # An unapproved applicant cannot log in to read a PM: the reason goes in Discourse's
        # rejection email (signup_after_reject), written in the applicant's language.
        theirs = applicant_language(rules, applicant)
        msg = rules.render(
            gating.messages.rejected,
            theirs,
            username=user,
            reasons="\n".join(f"- {reason_text(rules, h, theirs)}" for h in rejected_for),
        )
        out.append(
            a.RejectUser(
                key=f"gating-reject:{uid}",
                reason="; ".join(h.reason for h in rejected_for),
                user_id=uid,
                username=user,
                block=gating.block_on_reject,
                reject_reason=msg.body.strip(),
            )
        )
    return out
