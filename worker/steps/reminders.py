"""One reminder rule's run: who still owes this week's article or reviews is reminded.

gather (the roster from ``worker.reads.forum_view``; the week's facts from the ledger,
``worker.reads.obligations.gather``; members' languages) → engine
(``worker.engine.obligations.evaluate_week`` as of now, ``plan_reminders``) → Applier
(one key per reminder and week: a repeated run sends nothing twice). Nothing to record.

With ``article.roll_call: reminders`` a reminder posted in the squad's thread carries the
squad's roll call (the members' streaks from the ledger's strike histories): it is the
roll call, and the thread's first post is never edited. ``delivery: squad_channel`` sends
it to the squad's chat channel instead (``worker.reads.channels``: the channel ids, kept).

In thread mode a squad without this week's thread gets it first (``weekly_threads``),
before a reminder points members to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from worker.apply import ApplyReport
from worker.engine.facts import Roster
from worker.engine.obligations import plan_reminders, streak_of
from worker.engine.weeks import article_due_week, review_due_week, week_of
from worker.forum import calls
from worker.forum.errors import NotFound
from worker.reads import forum_view
from worker.reads.channels import forget_squad_channels, squad_channels
from worker.reads.obligations import evaluate, gather
from worker.rules.models import Reminder
from worker.state.ledger import Ledger
from worker.state.membership import MembershipStore
from worker.steps import StepContext, weekly_threads


class RemindersForum(
    weekly_threads.ThreadsForum,
    calls.SendChatMessage,
    calls.CreatePost,
    calls.SendPrivateMessage,
    calls.IterChatChannels,
    Protocol,
):
    """The forum calls of a reminder run: the thread run's, the squads' chat channels
    (``delivery: squad_channel``), and the reminders' writes."""


def run(
    ctx: StepContext[RemindersForum],
    reminder: Reminder,
    *,
    roster: Roster | None = None,
    user_fields: Mapping[str, Mapping[str, str]] | None = None,
) -> ApplyReport:
    """Send ``reminder`` as of ``ctx.now`` (``roster``: default the forum view's)."""
    rules, now = ctx.rules, ctx.now
    if roster is None:
        roster = forum_view.cached_roster(ctx.forum, ctx.redis, rules)
    obligations = rules.obligations
    if obligations.article.mode == "thread":
        # A squad formed after this week's thread run (or a run lost to an outage) gets
        # its thread now, before a reminder points members to it. Squads with a thread
        # cost nothing here: the ledger knows them.
        weekly_threads.run(ctx, week_of(now, rules.tz), roster=roster)
    due_week = article_due_week if reminder.about == "article" else review_due_week
    week = due_week(obligations, now, rules.tz)
    facts = gather(ctx.forum, Ledger(ctx.redis), rules, roster, week, user_fields=user_fields)
    progress = evaluate(rules, facts, as_of=now)
    streaks: dict[str, int] = {}
    if obligations.article.roll_call == "reminders" and reminder.delivery != "pm":
        members = [u for s in roster.squads for u in s.members]
        histories = Ledger(ctx.redis).histories(members, live=ctx.live)
        streaks = {u: streak_of(histories.get(u, {}), progress.week) for u in members}
    channel_run = reminder.delivery == "squad_channel"
    channels = squad_channels(ctx.forum, ctx.redis, roster.squads) if channel_run else {}
    languages = MembershipStore(ctx.redis).languages()
    actions = plan_reminders(rules, reminder, progress, languages, streaks, channels)
    try:
        return ctx.apply(actions)
    except NotFound:
        if not channel_run:
            raise
        # A kept channel id whose channel is gone (404): forget the ids, look again, and
        # send what is left (what was sent keeps its key; a squad without a channel now
        # gets the thread's post).
        forget_squad_channels(ctx.redis)
        channels = squad_channels(ctx.forum, ctx.redis, roster.squads)
        actions = plan_reminders(rules, reminder, progress, languages, streaks, channels)
        return ctx.apply(actions)
