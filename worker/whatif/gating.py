"""What-if for gating: recent applications re-decided under two rule sets, compared.

    facts = read_application_facts(redis_client, now, since=timedelta(days=30))  # Redis only
    old, new = redecide(current, facts), redecide(proposed, facts)                # pure
    lines = render_applications(current, proposed, facts, old, new)              # pure

Each decision kept what it read (``worker.state.membership.inputs_record``): the preview reads
no forum at all. Applications are re-decided in the order they were decided, and a
referrer's monthly quota follows the preview's own approvals: an applicant the proposed
rules would reject does not use up their referrer's quota for the next one.
Simplified: the referrer's active strikes are those seen then (a change to the strike
decay does not move them), and removed members are those the applicant's fields named.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis

from worker.engine.gating import (
    GateHit,
    GatingDecision,
    GatingFacts,
    evaluate_application,
    reason_text,
    referrer_of,
    word,
)
from worker.rules.models import Rules
from worker.state.membership import RecordedInputs, facts_from_record, fields_read

OUTCOMES = ("approve", "hold", "reject")


@dataclass(frozen=True)
class Application:
    user_id: int
    username: str
    decided_at: datetime
    live: bool
    decision: GatingDecision  # as it was made
    inputs: RecordedInputs


@dataclass(frozen=True)
class ApplicationFacts:
    applications: tuple[Application, ...]  # in the order they were decided
    not_previewable: tuple[str, ...]  # decided in the window, without recorded inputs
    since: timedelta


def read_application_facts(
    redis_client: redis.Redis, now: datetime, *, since: timedelta
) -> ApplicationFacts:
    """Applications decided in ``since`` before ``now``, read through a read-only client."""
    from worker.state.membership import MembershipStore
    from worker.whatif.readonly import ReadOnlyRedis

    store = MembershipStore(ReadOnlyRedis.over(redis_client))
    found, missing = [], []
    for uid, (recorded, inputs) in store.gating_records().items():
        if not now - since <= recorded.decided_at <= now:
            continue
        if inputs is None:  # decided before decisions kept their inputs
            missing.append((recorded.decided_at, store.entered_camp(uid) or f"#{uid}"))
            continue
        found.append(
            Application(
                uid,
                str(inputs["username"]),
                recorded.decided_at,
                recorded.live,
                recorded.decision,
                facts_from_record(inputs),
            )
        )
    found.sort(key=lambda a: (a.decided_at, a.user_id))
    return ApplicationFacts(tuple(found), tuple(n for _, n in sorted(missing)), since)


def _counted(application: Application) -> str | None:
    """The referrer whose monthly quota this application used up as it was decided
    (the flow records a referral once a live approval is carried out)."""
    d = application.decision
    return d.referrer if application.live and d.outcome == "approve" and d.referrer else None


def redecide(rules: Rules, facts: ApplicationFacts) -> dict[int, GatingDecision]:
    """Each application as gating under ``rules`` would have decided it, in order."""
    extra: dict[tuple[str, str], int] = defaultdict(int)  # quota used: preview − as it was
    out = {}
    for app in facts.applications:
        month = app.inputs.month
        gating: GatingFacts = app.inputs.facts
        referrer = gating.referrer
        if referrer is not None:
            seen = gating.referrals_this_month.get(referrer.username, 0)
            shifted = max(0, seen + extra[(referrer.username.lower(), month)])
            gating = dataclasses.replace(gating, referrals_this_month={referrer.username: shifted})
        decision = evaluate_application(rules, gating)
        out[app.user_id] = decision
        if decision.outcome == "approve" and decision.referrer:
            extra[(decision.referrer.lower(), month)] += 1
        if (was := _counted(app)) is not None:
            extra[(was.lower(), month)] -= 1
    return out


# ─────────────────────────────── render ───────────────────────────────


def _tally(decisions: Sequence[GatingDecision]) -> str:
    counts: Counter[str] = Counter(d.outcome for d in decisions)
    return ", ".join(f"{o} {counts.get(o, 0)}" for o in OUTCOMES)


def reason_lines(rules: Rules, decision: GatingDecision) -> list[str]:
    """Every failed check in the community's default language, with what it leads to."""
    lang = rules.community.default_language

    def action(hit: GateHit) -> str:
        return word(rules, f"gate_action.{hit.action}", lang) or hit.action

    return [f"{reason_text(rules, h, lang)} → {action(h)}" for h in decision.hits]


def _unsure(proposed: Rules, app: Application) -> list[str]:
    """Why the record cannot answer for the proposed rules (empty: it can)."""
    notes = []
    unread = sorted(set(fields_read(proposed)) - app.inputs.fields_read)
    if unread:
        notes.append(f"the proposed rules read field(s) not kept then: {', '.join(unread)}")
    named = referrer_of(proposed, app.inputs.facts.applicant)
    then = app.decision.referrer
    if (named or "").lower() != (then or "").lower():
        notes.append(
            f"the proposed rules take {named or 'no one'} as referrer, not {then or 'no one'} "
            "as then: that referrer's standing was not looked up"
        )
    return notes


def render_applications(
    current: Rules,
    proposed: Rules,
    facts: ApplicationFacts,
    old: Mapping[int, GatingDecision],
    new: Mapping[int, GatingDecision],
) -> list[str]:
    days = facts.since.days
    apps = facts.applications
    if not apps and not facts.not_previewable:
        return [f"applications: no application decided in the last {days} days"]
    lines = [
        f"applications decided in the last {days} days: "
        f"{len(apps) + len(facts.not_previewable)}, {len(apps)} previewable",
        f"  {_tally([old[a.user_id] for a in apps])} → {_tally([new[a.user_id] for a in apps])}"
        "  (now → proposed)",
    ]
    changed = 0
    for app in apps:
        a, b = old[app.user_id], new[app.user_id]
        why_a, why_b = reason_lines(current, a), reason_lines(proposed, b)
        notes = _unsure(proposed, app)
        if a.outcome == b.outcome and why_a == why_b and not notes:
            continue
        changed += 1
        when = app.decided_at.astimezone(current.tz).strftime("%Y-%m-%d %H:%M")
        lines.append(f"  @{app.username}: {a.outcome} → {b.outcome}  (decided {when})")
        lines += [f"      now:      {r}" for r in why_a] or ["      now:      every check passes"]
        lines += [f"      proposed: {r}" for r in why_b] or ["      proposed: every check passes"]
        lines += [f"      unsure: {n}" for n in notes]
    if not changed:
        lines.append("  no application would be decided differently")
    if facts.not_previewable:
        names = " ".join(n if n.startswith("#") else f"@{n}" for n in facts.not_previewable)
        lines.append(
            f"  not previewable: {len(facts.not_previewable)} (decided before gating kept "
            f"its inputs): {names}"
        )
    return lines
