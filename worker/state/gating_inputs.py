"""What gating read about an applicant when it decided, kept for ``diamond whatif
--applications`` (pure: ``GatingFacts`` ⇄ a JSON-able record).

The record holds the inputs of ``evaluate_application`` without secrets: no email
address (its domain and which earlier applicant had the same normalised email stand in
for it), the payment field only as "confirmed or not", and of the user fields only those
the gating rules read. The referrer is kept as seen then (groups, staff, active strikes,
referrals that month), so a preview needs no forum read per applicant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from worker.engine.facts import MemberFact
from worker.engine.gating import (
    Applicant,
    GatingFacts,
    email_domain,
    is_yes,
    normalise_email,
)
from worker.rules import Rules

# The stand-in address a preview gives an applicant: its domain is the real one (the
# screening of ``email_domain`` reads it); the local part never reaches a report.
STAND_IN_LOCAL = "applicant"


def fields_read(rules: Rules) -> list[str]:
    """The user fields (rules keys) gating reads under ``rules``."""
    gating = rules.gating
    keys = [
        gating.referral.referrer_field,
        gating.application.field,
        gating.payment.confirmed_field,
        gating.duplicates.reapplication_field,
        rules.community.language_field,
    ]
    return sorted({k for k in keys if k})


def _values(fields: Mapping[str, str]) -> set[str]:
    return {v.strip().lstrip("@").lower() for v in fields.values() if v and v.strip()}


def inputs_record(rules: Rules, facts: GatingFacts, month: str) -> dict[str, Any]:
    """``facts`` as kept in the membership store (``month``: the referral quota's month)."""
    applicant = facts.applicant
    read = fields_read(rules)
    fields = {k: applicant.fields[k] for k in read if k in applicant.fields}
    confirmed = rules.gating.payment.confirmed_field
    if confirmed and confirmed in fields:  # an order number is not the preview's business
        fields[confirmed] = "yes" if is_yes(fields[confirmed]) else ""
    referrer = facts.referrer
    email = applicant.email
    return {
        "user_id": applicant.user_id,
        "username": applicant.username,
        "created_at": applicant.created_at.isoformat() if applicant.created_at else None,
        "fields": fields,
        "fields_read": read,
        "groups": sorted(applicant.groups),
        "invited_by": applicant.invited_by,
        "approved": applicant.approved,
        "active": applicant.active,
        "language": applicant.language,
        "email_domain": email_domain(email) if email else None,
        "same_email_as": facts.earlier_emails.get(normalise_email(email)) if email else None,
        "referrer": None
        if referrer is None
        else {
            "user_id": referrer.user_id,
            "username": referrer.username,
            "groups": sorted(referrer.groups),
            "staff": referrer.staff,
            "approved": referrer.approved,
            "strikes": facts.strikes_of.get(referrer.username, 0),
            "referrals": facts.referrals_this_month.get(referrer.username, 0),
        },
        "month": month,
        # of the people removed, those the applicant's fields name (a re-application)
        "removed": sorted(_values(fields) & {u.lower() for u in facts.removed}),
    }


@dataclass(frozen=True)
class RecordedInputs:
    """A record read back: the facts to evaluate, and what the preview must know of them."""

    facts: GatingFacts
    month: str
    fields_read: frozenset[str]


def facts_from_record(data: Mapping[str, Any]) -> RecordedInputs:
    domain = data.get("email_domain")
    email = f"{STAND_IN_LOCAL}@{domain}" if domain else ""
    created = data.get("created_at")
    applicant = Applicant(
        user_id=int(data["user_id"]),
        username=str(data["username"]),
        email=email,
        created_at=datetime.fromisoformat(created) if created else None,
        fields=dict(data.get("fields") or {}),
        groups=frozenset(data.get("groups") or ()),
        invited_by=data.get("invited_by"),
        approved=bool(data.get("approved")),
        active=bool(data.get("active", True)),
        language=data.get("language"),
    )
    earlier = data.get("same_email_as")
    ref = data.get("referrer")
    referrer = None
    strikes: dict[str, int] = {}
    referrals: dict[str, int] = {}
    if ref:
        referrer = MemberFact(
            user_id=int(ref["user_id"]),
            username=str(ref["username"]),
            groups=frozenset(ref.get("groups") or ()),
            staff=bool(ref.get("staff")),
            approved=bool(ref.get("approved", True)),
        )
        strikes[referrer.username] = int(ref.get("strikes") or 0)
        referrals[referrer.username] = int(ref.get("referrals") or 0)
    facts = GatingFacts(
        applicant=applicant,
        referrer=referrer,
        strikes_of=strikes,
        referrals_this_month=referrals,
        earlier_emails={normalise_email(email): str(earlier)} if email and earlier else {},
        removed=frozenset(data.get("removed") or ()),
    )
    return RecordedInputs(facts, str(data.get("month") or ""), frozenset(data["fields_read"]))
