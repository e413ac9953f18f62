"""Chapters 1–2: the forum is set up, then the applications arrive and are gated.

Set-up is what an operator does once: ``diamond apply --yes`` (``sync`` over
``plugin_config/``), and the community that already exists (founding members
who can refer people; one of them a moderator who reviews held applications).

Applications are anonymous sign-ups over HTTP, through the waves of a Sunday.
An email sign-up is inactive until its owner follows the activation link (most
do at once, a few in the evening, some never: those are never gated); Diamond
decides each one in a job fed by the ``user_confirmed_email`` webhook. Invitees
redeem an email invite from their referrer: Discourse approves them at once and
Diamond gates them after (``user_approved``): the camp, or held for staff. At
night the moderator looks at what Diamond held for a human: confirms a missing
payment (Diamond re-gates on ``user_updated``), approves a genuine applicant
with a disposable address, deletes the rest.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from datetime import timedelta
from typing import Any

from worker.config_sync.apply import sync
from worker.config_sync.desired import load_desired
from worker.demo.context import Demo
from worker.demo.people import Applicant
from worker.forum.client import ForumClient

WAVE_HOURS = (9, 11, 13, 15, 17, 19)
LATE_CONFIRM = (20, 0)  # the applicants who confirm their email late do it now
LAST_WAVE = (20, 30)  # applications that depend on earlier ones (quota, duplicates)
REVIEW_TIME = (21, 0)
GATE_REPORT_TIME = (21, 20)
# A failed check in the audit log (template gate_check): "- <reason> → <action> (<rule>)"
_CHECK_LINE = re.compile(r"^\s*-\s*(.+?\s→\s.*)$", re.MULTILINE)


def diamond_client(demo: Demo) -> ForumClient:
    """Diamond's own client, as the commands make it (calls counted in Redis)."""
    assert demo.stack.settings is not None
    return ForumClient.from_settings(demo.stack.settings, demo.stack.redis, on_limit="wait")


def set_up_forum(demo: Demo) -> None:
    demo.progress.phase("The forum is set up: `diamond apply --yes` and the founding members")
    settings = demo.stack.settings
    assert settings is not None
    desired = load_desired(
        settings.plugin_config_dir,
        receiver_url=settings.receiver_url,
        webhook_secret=settings.webhook_secret.get_secret_value(),
        badges=demo.rules.badges.badges,
    )
    report = sync(diamond_client(demo), desired)
    demo.facts["config_changes"] = len(report.done)
    kinds = Counter(type(change).__name__ for change in report.done)
    demo.progress.result(
        f"plugin_config/ applied: {len(report.done)} changes in {report.rounds} round(s)"
        + (f" ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))})" if kinds else "")
    )
    if not report.converged:
        demo.progress.warn("the forum did not converge to plugin_config/")
    _seed_founders(demo)
    demo.progress.result(
        f"{len(demo.cast.founders)} founding members (can refer applicants); "
        f"@{demo.cast.moderator.username} moderates and reviews held applications"
    )


def _seed_founders(demo: Demo) -> None:
    """The community as it was before Diamond: made in the forum's database, no webhooks."""
    forum = demo.stack.sandbox.forum
    ids = demo.view.user_field_ids()
    rules = demo.rules
    groups = rules.community.groups
    paid = rules.gating.payment.paid_group
    since = demo.start - timedelta(days=400)
    with forum.lock:
        for founder in demo.cast.founders:
            fields = {"city": founder.city or "其他", "language": "zh"}
            user = forum.create_user(
                username=founder.username,
                name=founder.name,
                email=f"{founder.username}@founders.example.org",
                approved=True,
                active=True,
                moderator=founder.moderator,
                user_fields={str(ids[k]): v for k, v in fields.items() if k in ids},
                created_at=since,
                emit=False,
            )
            names = [groups.members] + ([paid] if paid else [])
            if founder.moderator:
                names.append(groups.reviewers)
            for name in names:
                group = forum.find_group(name)
                if group is not None:
                    forum.add_members(group, [user])
            demo.members.keys[founder.username] = forum.create_api_key(founder.username)


# ---------------------------------------------------------------------- applications


def schedule_applications(demo: Demo) -> None:
    first = [a for a in demo.cast.applicants if a.kind not in ("over_quota", "duplicate")]
    last = [a for a in demo.cast.applicants if a.kind in ("over_quota", "duplicate")]
    waves: list[list[Applicant]] = [first[i :: len(WAVE_HOURS)] for i in range(len(WAVE_HOURS))]

    def header() -> None:
        when = demo.fmt(demo.day(0))[:10]
        demo.progress.phase(f"Applications: {len(demo.cast.applicants)} people sign up on {when}")
        demo.note_unavailable("gating", "gating")

    demo.agenda.at(demo.day(0, WAVE_HOURS[0]), "applications", header, order=0)
    for hour, wave in zip(WAVE_HOURS, waves, strict=True):
        demo.agenda.at(demo.day(0, hour), "sign-ups", functools.partial(_sign_up, demo, wave))
    late = [a for a in demo.cast.applicants if a.confirms == "late"]
    demo.agenda.at(demo.day(0, *LATE_CONFIRM), "late confirmations", lambda: _confirm(demo, late))
    demo.agenda.at(demo.day(0, *LAST_WAVE), "sign-ups", lambda: _sign_up(demo, last))
    demo.agenda.at(demo.day(0, *REVIEW_TIME), "human review", lambda: _human_review(demo))
    demo.agenda.at(demo.day(0, *GATE_REPORT_TIME), "gate report", lambda: _report(demo))


def _sign_up(demo: Demo, applicants: list[Applicant]) -> None:
    ids = demo.view.user_field_ids()
    for person in applicants:
        fields = {
            "referrer": person.referrer or "朋友介绍",
            "application": person.application,
            "city": person.city or "其他",
            "payment": person.payment,
            "accept_rules": "true",
            "language": person.language,
            "volunteer_leader": "愿意 Yes" if person.volunteer else "暂不 Not now",
        }
        body: dict[str, Any] = {
            "name": person.name,
            "username": person.username,
            "email": person.email,
            "password": "demo-password-123456",
            "user_fields": {str(ids[k]): v for k, v in fields.items() if k in ids},
        }
        if person.via_invite and person.referrer:
            key = demo.members.invite(person.referrer, person.email)
            if key:
                body["invite_code"] = key
        answer = demo.members.sign_up(body)
        if answer and answer.get("user_id"):
            demo.members.keys[person.username] = demo.stack.sandbox.forum.create_api_key(
                person.username
            )
            if not answer.get("active") and person.confirms == "at_once":
                _confirm(demo, [person])


def _confirm(demo: Demo, applicants: list[Applicant]) -> None:
    """They follow the activation link in their email (the token through the sandbox)."""
    forum = demo.stack.sandbox.forum
    for person in applicants:
        token = forum.email_token_of(person.username)
        if token:
            demo.members.try_("confirm email", "PUT", f"/u/activate-account/{token}", None)


def _human_review(demo: Demo) -> None:
    """The moderator decides what Diamond held (as they would in the admin pages)."""
    forum = demo.stack.sandbox.forum
    moderator = demo.cast.moderator.username
    ids = demo.view.user_field_ids()
    decided: Counter[str] = Counter()
    by_human: dict[str, str] = {}
    outcomes = gate_outcomes(demo)
    for username in sorted(n for n, o in outcomes.items() if o == "held"):
        person = demo.cast.applicant(username)
        user = demo.view.user(username)
        if person is None or user is None:
            continue
        if person.kind == "unpaid" and "payment" in ids:
            # The payment arrived: staff fill in the reference; Diamond gates again.
            demo.members.try_(
                "confirm payment", "PUT", f"/u/{username}.json", moderator,
                json={"user_fields": {str(ids["payment"]): f"PAY-confirmed-{user.id}"}},
            )  # fmt: skip
            decided["payment confirmed"] += 1
            by_human[username] = "payment confirmed"
        elif person.human_verdict == "approve" and not user.approved:
            with forum.lock:
                forum.approve_user(user, forum.find_user(moderator))
            decided["approved"] += 1
            by_human[username] = "approved"
        else:
            with forum.lock:
                forum.destroy_user(user, delete_posts=True)
            decided["deleted"] += 1
            by_human[username] = "deleted"
    demo.facts["human_review"] = dict(decided)
    demo.facts["by_human"] = by_human


def gate_reasons(demo: Demo) -> dict[str, list[str]]:
    """username -> the failed checks Diamond wrote in the staff audit log."""
    audit = demo.view.category_id(demo.rules.community.categories.audit_log)
    out: dict[str, list[str]] = {}
    if audit is None:
        return out
    for topic in demo.view.topics_in(audit):
        posts = demo.view.posts_of(topic.id)
        if not posts:
            continue
        match = re.search(r"@([A-Za-z0-9_.\-]+)", topic.title)
        if match:
            lines = _CHECK_LINE.findall(posts[0].raw)
            out.setdefault(match.group(1), lines)
    return out


def gate_outcomes(demo: Demo) -> dict[str, str]:
    """username -> where the applicant stands now: camp, member, pending, gone…"""
    groups = demo.rules.community.groups
    camp = demo.view.group_members(groups.camp)
    members = demo.view.group_members(groups.members)
    alumni = demo.view.group_members(groups.alumni)
    pending = demo.view.pending_usernames()
    out = {}
    for person in demo.cast.applicants:
        name = person.username
        user = demo.view.user(name)
        if user is None:
            out[name] = "rejected"
        elif not user.active:
            out[name] = "unconfirmed"  # never confirmed their email: never gated
        elif name in camp:
            out[name] = "camp"
        elif name in members:
            out[name] = "member"
        elif name in alumni:
            out[name] = "alumni"
        else:
            # Pending, or an invitee Discourse approved and Diamond held for staff.
            out[name] = "held" if name in pending or user.approved else "?"
    return out


def _report(demo: Demo) -> None:
    outcomes = gate_outcomes(demo)
    demo.facts["gate_outcomes_day0"] = outcomes
    counts = Counter(outcomes.values())
    human = demo.facts.get("human_review", {})
    demo.progress.result(
        f"into the camp: {counts['camp']}  ·  rejected: {counts['rejected']}  ·  "
        f"still held: {counts['held']}"
        + (f"  ·  email never confirmed (not gated): {counts['unconfirmed']}"
           if counts["unconfirmed"] else "")
    )  # fmt: skip
    if human:
        demo.progress.result(
            "the moderator reviewed the held ones: "
            + ", ".join(f"{n} {what}" for what, n in sorted(human.items()))
        )
