"""The daily camp check: campers whose camp has ended pass, are extended or leave.

gather (``worker.state.membership``: campers and their posts; ``worker.state.chat``: their
messages in the camp channel, when chat check-ins count; ``worker.state.membership``: post
events not processed yet) → engine (``worker.engine.camp.evaluate_camp``,
``verdict_actions``) → Applier → record (the camp's end, the squad queue).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from worker.apply import ApplyReport
from worker.engine import camp as camp_engine
from worker.engine.squads import Graduate
from worker.forum import calls
from worker.forum.errors import ForumError
from worker.reads import forum_view
from worker.rules import Rules
from worker.state import membership as membership_state
from worker.state.chat import ChatStore
from worker.state.membership import MembershipStore
from worker.steps import StepContext

log = logging.getLogger(__name__)


class CampForum(
    calls.ListCategories,
    calls.GetGroup,
    calls.AddGroupMembers,
    calls.RemoveGroupMembers,
    calls.SendPrivateMessage,
    calls.CreateTopic,
    calls.CreateCategoryChannel,
    calls.IterChatChannels,
    Protocol,
):
    """The forum calls of the camp check (the audit-log lookup, the check-ins category's id
    for chat check-ins; writes via the Applier)."""


@dataclass(frozen=True)
class CampCheck:
    username: str
    verdict: camp_engine.CampVerdict
    report: ApplyReport


def run(ctx: StepContext[CampForum], *, deferred: list[str] | None = None) -> list[CampCheck]:
    """The daily camp check: campers whose camp has ended pass, are extended or leave.

    A camper with a post event not processed yet (its job failing or dead-lettered) is
    not decided: added to ``deferred`` and decided by a later check, once it is.
    """
    client, redis_client, rules, now, live = ctx.forum, ctx.redis, ctx.rules, ctx.now, ctx.live
    store = MembershipStore(redis_client)
    fellows = store.ever_campers()
    missing_posts = membership_state.missing_posts(redis_client)
    held: set[str] = set()
    if missing_posts:
        held = membership_state.held_back(missing_posts, store.active_campers())
    waiting: list[str] = []
    audit: int | None = None
    decided: list[tuple[camp_engine.Camper, camp_engine.CampVerdict]] = []
    campers = [(u, c) for u in store.active_campers() if (c := store.camper(u)) is not None]
    chat = _camp_chat(ctx, [c for _, c in campers])
    for username, camper in campers:
        verdict = camp_engine.evaluate_camp(
            rules,
            camper,
            store.camp_posts(username),
            fellows,
            now,
            chat=chat.get(camper.user_id, ()),
        )
        if verdict.verdict == "in_progress":
            continue
        if username in held:
            waiting.append(username)
            continue
        if audit is None:
            categories = forum_view.category_ids(client, redis_client)
            audit = categories.get(rules.community.categories.audit_log)
        decided.append((camper, verdict))
    # One apply for the whole run: one audit-log topic lists every decision (first: if a
    # later write fails, staff still see why), and each group's changes are one call.
    # Passes may share PMs (camp.pass_message): the engine plans the run as a whole.
    actions = camp_engine.run_actions(rules, decided, audit_category_id=audit, now=now)
    report = ctx.apply(actions)
    results = []
    for camper, verdict in decided:
        username = camper.username
        results.append(CampCheck(camper.username, verdict, report))
        if not live:
            continue  # shadow: nothing happened to the camper, the ledger stays as it was
        if verdict.verdict == "extend":
            store.set_extensions(username, camper.extensions + 1)
        elif verdict.verdict == "pass":
            city, volunteer = store.camper_extra(username)
            cohort = cohort_of(rules, camper)
            store.queue_graduate(
                cohort, Graduate(camper.username, city, volunteer, verdict.progress.activity)
            )
            store.end_camp(username)
        else:
            store.mark_removed(camper.username)
            store.end_camp(username)
    if waiting:
        log.warning(
            "camp check: not deciding %s: %d post event(s) not processed yet (failed jobs); "
            "decided once they are",
            ", ".join(waiting),
            len(missing_posts),
        )
    if deferred is not None:
        deferred.extend(waiting)
    if campers:
        _keep_camp_channel(ctx)
    return results


def _keep_camp_channel(ctx: StepContext[CampForum]) -> None:
    """The camp's chat channel, once (its key; the Applier looks before it creates). Apart
    from the verdicts' writes: a forum without chat or the category only delays the channel."""
    actions = camp_engine.camp_channel_actions(ctx.rules)
    if not actions:
        return
    try:
        ctx.apply(actions)
    except ForumError as exc:
        log.warning("camp check: the camp's chat channel is not made yet: %s", exc)


def _camp_chat(
    ctx: StepContext[CampForum], campers: list[camp_engine.Camper]
) -> dict[int, list[camp_engine.CampChat]]:
    """Each camper's live messages in the camp channel since the earliest camp start, by user
    id (the ChatStore's facts from the webhook and the catch-up: no forum read per camper;
    the check-ins category's id comes from the cached category list)."""
    checkins = ctx.rules.camp.tasks.checkins
    if not checkins.chat or not campers:
        return {}
    category_id = forum_view.category_ids(ctx.forum, ctx.redis).get(checkins.category)
    if category_id is None:
        return {}
    since = min(c.started_at for c in campers)
    out: dict[int, list[camp_engine.CampChat]] = {}
    for message in ChatStore(ctx.redis).messages(category_id, since, ctx.now):
        if message.user_id is not None:
            out.setdefault(message.user_id, []).append(
                camp_engine.CampChat(message.created_at, message.units)
            )
    return out


def cohort_of(rules: Rules, camper: camp_engine.Camper) -> str:
    """The intake a camper belongs to: their camp's start, formatted per ``naming``."""
    return rules.squads.naming.cohort(camper.started_at.astimezone(rules.tz))


def ready_cohorts(store: MembershipStore, rules: Rules) -> list[str]:
    """Cohorts with new graduates whose first camp period is over for everyone.

    Campers still in their first period would otherwise all arrive as "late" and
    unbalance the split; extended campers do join later, as late graduates.
    """
    waiting = set()
    for username in store.active_campers():
        camper = store.camper(username)
        if camper is not None and camper.extensions == 0:
            waiting.add(cohort_of(rules, camper))
    return [c for c in store.pending_cohorts() if c not in waiting]
