"""The weekly threads (thread mode): each squad's thread for the week, opened once.

gather (the roster from ``worker.reads.forum_view``; the threads the ledger knows; a
category listing per squad whose thread an earlier run created without recording it)
→ engine (``worker.engine.obligations.plan_weekly_threads``) → Applier → record (each
new thread's topic id and first post in the ledger, its facts in the forum view: the
answer carries them, so no post in the thread nor its roll call reads the topic).

Threads are infrastructure, not an act on a member: they are opened in shadow mode too,
so the ledger can follow a community that is trying Diamond out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Protocol

from worker.actions import CreateTopic
from worker.engine.facts import Roster, Squad
from worker.engine.obligations import plan_weekly_threads, thread_title
from worker.engine.weeks import Week
from worker.forum import calls
from worker.reads import forum_view
from worker.reads.obligations import remember_roster
from worker.reads.parse import opened_topic_facts
from worker.rules.models import Rules
from worker.state.ledger import Ledger
from worker.steps import StepContext


class ThreadsForum(
    calls.ListCategories,
    calls.ListGroups,
    calls.IterCategoryTopics,
    calls.CreateTopic,
    calls.IterGroupMembers,
    Protocol,
):
    """The forum calls of the thread run (reads; the topics are created by the Applier)."""


def find_threads(
    client: ThreadsForum, rules: Rules, squads: Iterable[Squad], week: Week
) -> dict[str, int]:
    """Threads of ``week`` already on the forum (one category listing per squad)."""
    found = {}
    for squad in squads:
        if squad.category_id is None:
            continue
        title = thread_title(rules, week, squad)
        for topic in client.iter_category_topics(squad.category_id):
            if topic.get("title") == title:
                found[squad.slug] = int(topic["id"])
                break
    return found


def run(
    ctx: StepContext[ThreadsForum], week: Week, *, roster: Roster | None = None
) -> dict[str, int]:
    """Open the weekly thread of every squad that has none; returns squad -> topic id.

    ``roster``: the squads (default: the forum view's cached roster).
    """
    if roster is None:
        roster = forum_view.cached_roster(ctx.forum, ctx.redis, ctx.rules)
    ledger = Ledger(ctx.redis)
    remember_roster(ledger, roster)
    known = ledger.threads(week)
    actions = [
        dataclasses.replace(act, affects_members=False)
        for act in plan_weekly_threads(ctx.rules, roster.squads, week, known)
    ]
    applier = dataclasses.replace(ctx, live=True).applier()  # shadow mode too (module doc)
    # A thread created by an earlier run that stopped before recording its id: look for
    # it on the forum (one category listing each) instead of creating it again.
    unrecorded = {a.key.split(":")[1] for a in actions if applier.is_done(a.key)}
    lost = [s for s in roster.squads if s.slug in unrecorded]
    for slug, topic_id in find_threads(ctx.forum, ctx.rules, lost, week).items():
        ledger.record_thread(week, slug, topic_id)
        known[slug] = topic_id
    report = applier.apply(actions)
    by_key = {act.key: act for act in actions if isinstance(act, CreateTopic)}
    for key, answer in report.results.items():
        slug = key.split(":")[1]  # weekly-thread:{squad}:{week}
        if isinstance(answer, Mapping) and answer.get("topic_id"):
            topic_id = int(answer["topic_id"])
            act = by_key.get(key)
            # The answer is the new first post: with what was sent, every fact a topic
            # read would give the post recording and the roll call (none is made later).
            opened = (
                opened_topic_facts(
                    answer, category_id=act.category_id, title=act.title, tags=act.tags
                )
                if act is not None
                else None
            )
            if opened is not None:
                forum_view.keep_topic_facts(ctx.redis, topic_id, opened[0])
            ledger.record_thread(
                week, slug, topic_id, first_post=opened[1] if opened is not None else None
            )
            known[slug] = topic_id
    return known
