"""The weekly health report: posted to the staff, each squad leader's part by PM.

gather (the roster from ``worker.reads.forum_view``; the week's facts from
``worker.reads.recognition``, which saves the week's snapshot of the stages) → engine
(``worker.engine.health.build_report``; ``report_actions`` renders it through
``worker.report``) → Applier → record (posts and likes no later report reads are
pruned from the recognition store).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import redis

from worker import actions as a
from worker.apply import ApplyReport
from worker.engine.facts import Roster
from worker.engine.health import HealthReport, build_report, paused_gc
from worker.engine.obligations import leader_note
from worker.engine.weeks import Week
from worker.forum import calls
from worker.reads import forum_view
from worker.reads.recognition import (
    StageReads,
    health_facts,
    prune_before,
    recognition_facts,
)
from worker.report import render_leader_part, render_post
from worker.rules.models import Rules
from worker.state.membership import MembershipStore
from worker.state.recognition import RecognitionStore
from worker.steps import StepContext


class ReportForum(
    calls.ListCategories, calls.ListGroups, calls.IterGroupMembers, calls.IterAdminUsers, Protocol
):
    """The forum calls of the report (reads; the post and the PMs go through the Applier)."""


@dataclass
class ReportRun:
    week: Week
    report: HealthReport
    actions: list[a.Action] = field(default_factory=list)
    applied: ApplyReport | None = None


def build_health(
    client: StageReads,
    redis_client: redis.Redis,
    rules: Rules,
    roster: Roster,
    week: Week,
    *,
    base_url: str,
    api_username: str,
    save_snapshot: bool = True,
) -> tuple[HealthReport, dict[str, int]]:
    """The health report of ``week`` from the store, the ledger and the forum's groups
    (the report step's gather and engine; also ``diamond report`` and the demo's)."""
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


def run(
    ctx: StepContext[ReportForum],
    week: Week,
    *,
    base_url: str,
    api_username: str,
    roster: Roster | None = None,
) -> ReportRun:
    """Build, post and send the weekly report; forget posts no report will read again.
    ``roster``: default the forum view's cached roster."""
    rules, redis_client = ctx.rules, ctx.redis
    if roster is None:
        roster = forum_view.cached_roster(ctx.forum, redis_client, rules)
    report, category_ids = build_health(
        ctx.forum, redis_client, rules, roster, week, base_url=base_url, api_username=api_username
    )
    slug = rules.health.report_category or rules.community.categories.audit_log
    category_id = category_ids.get(slug)
    with paused_gc():
        languages = MembershipStore(redis_client).languages()
        report_run = ReportRun(week, report, report_actions(rules, report, category_id, languages))
    report_run.applied = ctx.apply(report_run.actions)
    RecognitionStore(redis_client).prune(prune_before(rules, week))
    return report_run
