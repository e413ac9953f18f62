"""Squad formation of one cohort: plan against the forum's roster, apply the difference.

gather (``worker.reads.forum_view.load_roster``: always fresh; the members group; the
cohort's graduates from ``worker.state.membership``) → engine
(``worker.engine.squads.plan_squads``, ``squad_actions``) → Applier → record (the plan
before the first write, then "formed").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from worker.apply import ApplyReport
from worker.engine.squads import SquadPlan, plan_squads, roster_errors, squad_actions
from worker.errors import NeedsHuman
from worker.forum import calls
from worker.reads import forum_view
from worker.reads.forum_view import RosterReads
from worker.rules import Rules
from worker.state.membership import MembershipStore
from worker.steps import StepContext

log = logging.getLogger(__name__)


class SquadForum(
    calls.ListCategories,
    calls.ListGroups,
    calls.GetGroup,
    calls.CreateGroup,
    calls.CreateCategory,
    calls.AddGroupMembers,
    calls.AddGroupOwners,
    calls.SendPrivateMessage,
    calls.CreateTopic,
    calls.CreateCategoryChannel,
    calls.ListWebhooks,
    calls.UpdateWebhook,
    calls.IterGroupMembers,
    calls.IterChatChannels,
    Protocol,
):
    """The forum calls of squad formation (reads; writes go through the Applier)."""


@dataclass(frozen=True)
class Formation:
    plan: SquadPlan
    report: ApplyReport


def run(ctx: StepContext[SquadForum], cohort: str) -> Formation:
    """Plan the cohort's squads against the forum's roster and apply the difference.

    The plan is recorded before the first write (live): a job retried after a crash or
    a rate limit finishes the same split instead of planning around half-filled squads.
    """
    client, redis_client, rules, live = ctx.forum, ctx.redis, ctx.rules, ctx.live
    store = MembershipStore(redis_client)
    plan = store.formation(cohort) if live else None
    if plan is None:
        plan = plan_formation(client, store, rules, cohort)
        if live and plan.changed:
            plan = store.record_formation(plan)  # another run's, if it recorded first
    audit = forum_view.category_ids(client, redis_client).get(rules.community.categories.audit_log)
    acts = squad_actions(rules, plan, audit_category_id=audit, languages=store.languages())
    report = ctx.apply(acts)
    if live:
        store.formed(cohort)
    log.info("squads of %s: %d squads, %s", cohort, len(plan.squads), report.summary())
    return Formation(plan, report)


def plan_formation(
    client: RosterReads, store: MembershipStore, rules: Rules, cohort: str
) -> SquadPlan:
    members_group = rules.community.groups.members
    current = {m["username"].lower() for m in client.iter_group_members(members_group)}
    graduates = [g for g in store.graduates(cohort) if g.username.lower() in current]
    roster = forum_view.load_roster(client, rules, store.redis)
    errors = roster_errors(roster, cohort)
    if errors:  # never make it worse: a human sorts out a double placement first
        raise NeedsHuman(f"cohort {cohort}: " + "; ".join(errors))
    return plan_squads(rules, cohort, graduates, roster)
