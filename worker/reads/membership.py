"""What gating reads: the applicant, their referrer, the ledger's strikes. Reads only.

The forum's JSON is parsed by ``worker.reads.parse``; ids of user fields come from the
cached ``worker.reads.forum_view``. Writes (to the forum or to Redis) are the step's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

import redis

from worker.engine.facts import MemberFact
from worker.engine.gating import Applicant, GatingFacts, referrer_of
from worker.engine.penalties import standing
from worker.engine.weeks import week_of
from worker.forum.errors import NotFound
from worker.reads.forum_view import user_field_ids
from worker.reads.parse import Hints, applicant_of, member_fact_of
from worker.rules import Rules
from worker.state.ledger import Ledger
from worker.state.membership import MembershipStore

StrikesOf = Callable[[str], int]


def read_applicant(
    client: Any, redis_client: redis.Redis, user_id: int, rules: Rules | None = None
) -> Applicant:
    """The applicant through the admin API (webhook bodies may lack ``user_fields``).

    ``GET /admin/users/{id}.json`` has no ``email`` and no ``invited_by``: see
    ``complete_applicant``.
    """
    ids = user_field_ids(client, redis_client)
    return applicant_of(client.admin_get_user(user_id), ids, rules)


def complete_applicant(
    client: Any, store: MembershipStore, rules: Rules, applicant: Applicant, hints: Hints
) -> Applicant:
    """Add the email and the inviter the admin view leaves out.

    The email: the signed body's, else one remembered from an earlier body, else one
    ``show_emails`` listing narrowed to this applicant (it writes a staff-log entry, so
    only then). The inviter: the body's, else ``GET /u/{username}.json`` (UserSerializer
    has ``invited_by``) when the rules accept invites as referrals.
    """
    email = applicant.email or hints.email or store.applicant_email(applicant.user_id)
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


def strikes_from_ledger(
    redis_client: redis.Redis, rules: Rules, now: datetime, *, live: bool = True
) -> StrikesOf:
    """Active strikes per member, from the obligations ledger's book of the mode (0 when
    it has none)."""
    ledger = Ledger(redis_client)
    week = week_of(now, rules.tz)

    def strikes_of(username: str) -> int:
        history = ledger.histories([username], live=live).get(username) or {}
        return standing(rules.obligations, username, history, week).active

    return strikes_of


def month_of(now: datetime, rules: Rules) -> str:
    return now.astimezone(rules.tz).strftime("%Y-%m")


def gating_facts(
    client: Any,
    store: MembershipStore,
    rules: Rules,
    applicant: Applicant,
    now: datetime,
    strikes_of: StrikesOf,
) -> GatingFacts:
    """Everything ``evaluate_application`` needs about ``applicant``."""
    name = referrer_of(rules, applicant)
    referrer = member_fact(client, name, rules) if name else None
    strikes: dict[str, int] = {}
    referred: dict[str, int] = {}
    if referrer is not None:
        strikes[referrer.username] = strikes_of(referrer.username)
        referred[referrer.username] = store.referrals(referrer.username, month_of(now, rules))
    return GatingFacts(
        applicant=applicant,
        referrer=referrer,
        strikes_of=strikes,
        referrals_this_month=referred,
        earlier_emails=store.emails(),
        removed=store.removed(),
    )
