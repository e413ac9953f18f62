"""The weekly recognition and health runs: gather facts, call the engines, apply.

Used by the actors (``worker.jobs.recognition``) and by ``diamond report``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import redis

from worker import actions as a
from worker.apply import Applier, ApplyReport
from worker.engine.facts import Roster
from worker.engine.health import HealthReport, build_report, paused_gc
from worker.engine.obligations import leader_note
from worker.engine.recognition import BadgeDecision, badge_actions, evaluate_badges
from worker.engine.weeks import Week
from worker.recognition.gather import health_facts, prune_before, recognition_facts
from worker.report import render_leader_part, render_post
from worker.rules.models import Rules
from worker.state.membership import MembershipStore
from worker.state.recognition import RecognitionStore


@dataclass
class BadgeRun:
    week: Week
    decisions: list[BadgeDecision]
    actions: list[a.Action]
    applied: ApplyReport | None = None


def _category_id(rules: Rules, category_ids: dict[str, int], slug: str | None) -> int | None:
    return category_ids.get(slug or rules.community.categories.audit_log)


def run_badges(
    client: Any,
    redis_client: redis.Redis,
    rules: Rules,
    roster: Roster,
    week: Week,
    *,
    base_url: str,
    live: bool,
    apply: bool = True,
) -> BadgeRun:
    """Evaluate every badge as of ``week`` and grant/revoke through the one door.

    Grants and revocations that went through (now or on an earlier run) are
    recorded as held, so the next evaluation skips them; shadowed ones are not.
    """
    facts, _ = recognition_facts(client, redis_client, rules, roster, week, base_url=base_url)
    store = RecognitionStore(redis_client)
    held = store.held(b.slug for b in rules.badges.badges)
    decisions = evaluate_badges(rules, facts, week, held)
    audit_id = _category_id(rules, dict(facts.category_ids), None)
    actions = badge_actions(
        rules, decisions, week, audit_category_id=audit_id, languages=facts.languages
    )
    run = BadgeRun(week, decisions, actions)
    if not apply:
        return run
    run.applied = Applier(client, redis_client, live=live, rules=rules).apply(actions)
    through = {x.key for x in (*run.applied.done, *run.applied.already_done)}
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
    return run


@dataclass
class ReportRun:
    week: Week
    report: HealthReport
    actions: list[a.Action] = field(default_factory=list)
    applied: ApplyReport | None = None


def build_health(
    client: Any,
    redis_client: redis.Redis,
    rules: Rules,
    roster: Roster,
    week: Week,
    *,
    base_url: str,
    api_username: str,
    save_snapshot: bool = True,
) -> tuple[HealthReport, dict[str, int]]:
    """The health report of ``week`` from the store, the ledger and the forum's groups."""
    rec, ads = recognition_facts(client, redis_client, rules, roster, week, base_url=base_url)
    facts = health_facts(
        client,
        redis_client,
        rules,
        rec,
        ads,
        week,
        api_username=api_username,
        save_snapshot=save_snapshot,
    )
    return build_report(rules, facts, week), dict(rec.category_ids)


def report_actions(
    rules: Rules,
    report: HealthReport,
    category_id: int | None,
    languages: Mapping[str, str] | None = None,
) -> list[a.Action]:
    """The staff post (audit log) and one PM per squad leader.

    Nothing for a week no squad owed anything in (camp weeks, before the first squad):
    there is nothing to measure yet. A leader's first part comes the week their squad
    first owes anything, not the day it forms."""
    out: list[a.Action] = []
    week = report.week
    if not report.measured:
        return out
    owing = report.owing.get(week, frozenset())
    if category_id is not None:
        post = render_post(rules, report)
        out.append(
            a.CreateTopic(
                key=f"health-report:{week}",
                reason=f"health report of {week} ({report.verdict})",
                affects_members=False,
                category_id=category_id,
                title=post.title,
                raw=post.body,
            )
        )
    for squad in report.squads:
        if not squad.leader or squad.slug not in owing:
            continue
        language = (languages or {}).get(squad.leader)
        part = render_leader_part(rules, report, squad.slug, language)
        out.append(
            leader_note(
                rules,
                squad,
                week,
                language,
                key=f"health-leader:{week}:{squad.slug}",
                reason=f"{squad.slug}'s part of the health report of {week}",
                title=part.title,
                raw=part.body,
            )
        )
    return out


def run_report(
    client: Any,
    redis_client: redis.Redis,
    rules: Rules,
    roster: Roster,
    week: Week,
    *,
    base_url: str,
    api_username: str,
    live: bool,
) -> ReportRun:
    """Build, post and send the weekly report; forget posts no report will read again."""
    report, category_ids = build_health(
        client, redis_client, rules, roster, week, base_url=base_url, api_username=api_username
    )
    category_id = _category_id(rules, category_ids, rules.health.report_category)
    with paused_gc():
        languages = MembershipStore(redis_client).languages()
        run = ReportRun(week, report, report_actions(rules, report, category_id, languages))
    run.applied = Applier(client, redis_client, live=live, rules=rules).apply(run.actions)
    RecognitionStore(redis_client).prune(prune_before(rules, week))
    return run
