"""What gating reads on the forum: the applicant and their referrer. Reads only.

The forum's JSON is parsed by ``worker.reads.parse``. What Redis holds (a remembered
email, referrals, strikes) and the cached ids of user fields the gating step reads once
and passes in: these functions call the forum and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from worker.engine.facts import MemberFact
from worker.engine.gating import Applicant, referrer_of
from worker.forum.errors import NotFound
from worker.reads.parse import Hints, applicant_of, member_fact_of
from worker.rules import Rules


def read_applicant(
    client: Any, field_ids: Mapping[str, int], user_id: int, rules: Rules | None = None
) -> Applicant:
    """The applicant through the admin API (webhook bodies may lack ``user_fields``).

    ``GET /admin/users/{id}.json`` has no ``email`` and no ``invited_by``: see
    ``complete_applicant``.
    """
    return applicant_of(client.admin_get_user(user_id), field_ids, rules)


def complete_applicant(
    client: Any, rules: Rules, applicant: Applicant, hints: Hints, remembered_email: str | None
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
        for user in client.iter_admin_users(flag, show_emails=True, filter=applicant.username):
            if user.get("id") == applicant.user_id and user.get("email"):
                email = str(user["email"])
                break
    invited_by = applicant.invited_by
    if invited_by is None:
        if hints.inviter_known:
            invited_by = hints.invited_by
        elif "invite" in rules.gating.referral.via:
            profile = client.get_user(applicant.username)
            inviter = profile.get("invited_by") or {}
            invited_by = inviter.get("username") if isinstance(inviter, Mapping) else None
    return replace(applicant, email=email or "", invited_by=invited_by)


def member_fact(client: Any, username: str, rules: Rules) -> MemberFact | None:
    """A forum user with their groups (None if there is no such user); one read."""
    try:
        return member_fact_of(client.get_user(username), rules)
    except NotFound:
        return None


def month_of(now: datetime, rules: Rules) -> str:
    return now.astimezone(rules.tz).strftime("%Y-%m")


def read_referrer(client: Any, rules: Rules, applicant: Applicant) -> MemberFact | None:
    """The member the application names as referrer (None: none named, or no such user)."""
    name = referrer_of(rules, applicant)
    return member_fact(client, name, rules) if name else None
