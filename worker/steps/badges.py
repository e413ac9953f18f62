"""The weekly badges: every badge evaluated as of a week, granted or revoked once each.

gather (the roster from ``worker.reads.forum_view``; the week's facts from
``worker.reads.recognition``; the holders the store knows) → engine
(``worker.engine.recognition.evaluate_badges``, ``badge_actions``) → Applier (each
decision explained in the audit log) → record (grants and revocations that went
through, now or on an earlier run, as held; shadowed ones are not).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from worker import actions as a
from worker.apply import ApplyReport
from worker.engine.facts import Roster
from worker.engine.recognition import BadgeDecision, badge_actions, evaluate_badges
from worker.engine.weeks import Week
from worker.forum import calls
from worker.reads import forum_view
from worker.reads.recognition import recognition_facts
from worker.state.recognition import RecognitionStore
from worker.steps import StepContext


class BadgesForum(calls.ListCategories, calls.ListGroups, calls.IterGroupMembers, Protocol):
    """The forum calls of the badge run (reads; grants and revocations via the Applier)."""


@dataclass
class BadgeRun:
    week: Week
    decisions: list[BadgeDecision]
    actions: list[a.Action]
    applied: ApplyReport | None = None


def run(
    ctx: StepContext[BadgesForum],
    week: Week,
    *,
    base_url: str,
    roster: Roster | None = None,
    apply: bool = True,
) -> BadgeRun:
    """Evaluate every badge as of ``week`` and grant/revoke through the one door
    (``apply=False``: decide only). ``roster``: default the forum view's cached roster."""
    rules, redis_client = ctx.rules, ctx.redis
    if roster is None:
        roster = forum_view.cached_roster(ctx.forum, redis_client, rules)
    facts, _ = recognition_facts(ctx.forum, redis_client, rules, roster, week, base_url=base_url)
    store = RecognitionStore(redis_client)
    held = store.held(b.slug for b in rules.badges.badges)
    decisions = evaluate_badges(rules, facts, week, held)
    audit_id = facts.category_ids.get(rules.community.categories.audit_log)
    actions = badge_actions(
        rules, decisions, week, audit_category_id=audit_id, languages=facts.languages
    )
    badge_run = BadgeRun(week, decisions, actions)
    if not apply:
        return badge_run
    badge_run.applied = ctx.apply(actions)
    through = {x.key for x in (*badge_run.applied.done, *badge_run.applied.already_done)}
    slug_of = {b.name: b.slug for b in rules.badges.badges}
    granted = [
        (slug_of[x.badge_name], x.username)
        for x in actions
        if isinstance(x, a.GrantBadge) and x.key in through
    ]
    revoked = [
        (slug_of[x.badge_name], x.username)
        for x in actions
        if isinstance(x, a.RevokeBadge) and x.key in through
    ]
    store.record_badges(granted, revoked)
    return badge_run
