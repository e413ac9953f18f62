"""The roll calls (thread mode): each weekly thread's first post says who has written,
as often as ``article.roll_call`` says (posts, daily). With "reminders" the roll call
comes with the reminders (``worker.steps.reminders``) and the first post is never edited:
this run only drops marks left from before the switch.

gather (the threads marked as changed, ``keys.ROLL_CALL_DIRTY``, written by the post
recording; the roster from ``worker.reads.forum_view``; the week's facts of each squad
from the ledger; its members' streaks; the thread's first post id, read once) → engine
(``worker.engine.obligations.roll_call_text``, ``plan_roll_call``: none when the text is
the one last written, kept in the ledger) → Applier → record (the text written, when
each squad's roll call was edited; the thread unmarked unless a post came in meanwhile).
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from worker.engine.facts import Roster
from worker.engine.obligations import (
    plan_roll_call,
    roll_call_digest,
    roll_call_text,
    streak_of,
    thread_opening,
)
from worker.engine.weeks import Week
from worker.forum import calls
from worker.reads import forum_view
from worker.reads.obligations import evaluate, gather
from worker.reads.parse import first_post_id
from worker.redis_text import text as redis_text
from worker.rules.models import Rules
from worker.state import keys
from worker.state.ledger import Ledger
from worker.steps import StepContext

# ``roll_call: posts``: at most one edit per squad in this many seconds (the API bucket is
# the site's).
ROLL_CALL_INTERVAL = 300


class RollCallForum(
    calls.ListCategories,
    calls.ListGroups,
    calls.GetTopic,
    calls.UpdatePost,
    calls.IterGroupMembers,
    Protocol,
):
    """The forum calls of the roll calls (the edit goes through the Applier)."""


def _first_post_id(client: RollCallForum, ledger: Ledger, topic_id: int) -> int | None:
    """Known since the thread was opened (its answer), else read once and kept."""
    known = ledger.first_post(topic_id)
    if known is not None:
        return known
    post_id = first_post_id(client.get_topic(topic_id))
    if post_id is not None:
        ledger.record_first_post(topic_id, post_id)
    return post_id


def _too_soon(rules: Rules, edited: float, now: dt.datetime, interval: int) -> bool:
    """Whether the squad's roll call was edited too recently for another edit now:
    ``article.roll_call`` "daily": the same day (community time zone); "posts": within
    ``interval`` seconds."""
    if rules.obligations.article.roll_call == "daily":
        last = dt.datetime.fromtimestamp(edited, rules.tz).date()
        return last == now.astimezone(rules.tz).date()
    return now.timestamp() - edited < interval


def run(
    ctx: StepContext[RollCallForum],
    *,
    roster: Roster | None = None,
    interval: int = ROLL_CALL_INTERVAL,
) -> int:
    """Redo the roll call of every marked thread whose squad was not edited in the last
    ``interval`` seconds (the others stay marked for a later run); returns edits made.
    ``roster``: the squads (default: the forum view's cached roster)."""
    client, redis_client, rules, now, live = ctx.forum, ctx.redis, ctx.rules, ctx.now, ctx.live
    if rules.obligations.article.roll_call == "reminders":
        redis_client.delete(keys.ROLL_CALL_DIRTY)  # the reminders carry the roll call
        return 0
    ledger = Ledger(redis_client)
    due = []
    for field_name, stamp in redis_client.hgetall(keys.ROLL_CALL_DIRTY).items():
        week_text, _, slug = redis_text(field_name).partition("|")
        edited = redis_client.hget(keys.ROLL_CALL_EDITED, slug)
        if edited is not None and _too_soon(rules, float(edited), now, interval):
            continue  # the thread stays marked: a later run takes it
        due.append((field_name, stamp, Week.parse(week_text), slug))
    if not due:
        return 0  # the usual run: no call at all, not even the roster's
    if roster is None:
        roster = forum_view.cached_roster(client, redis_client, rules)
    by_slug = {s.slug: s for s in roster.squads}
    edits = 0
    for field_name, stamp, week, slug in due:
        squad = by_slug.get(slug)
        topic_id = ledger.threads(week).get(slug)
        if squad is None or topic_id is None:
            redis_client.hdel(keys.ROLL_CALL_DIRTY, field_name)
            continue
        facts = gather(client, ledger, rules, roster, week, squad=slug)
        (sr,) = evaluate(rules, facts, as_of=now).squads
        histories = ledger.histories(squad.members, live=live)
        streaks = {u: streak_of(histories.get(u, {}), week) for u in squad.members}
        post_id = _first_post_id(client, ledger, topic_id)
        if post_id is None:
            continue
        text = roll_call_text(rules, sr, streaks, opening=thread_opening(rules, squad, week))
        last = ledger.roll_call_written(week, slug)
        edit = plan_roll_call(slug, week, post_id, text, last=last)
        if edit is not None:  # None: the thread shows this text already
            report = ctx.apply([edit])
            if report.done or report.already_done:
                ledger.record_roll_call_written(week, slug, last[0] + 1, roll_call_digest(text))
            if report.done:
                edits += 1
                redis_client.hset(keys.ROLL_CALL_EDITED, slug, str(now.timestamp()))
        # Unmark only if no post came in meanwhile (then the next run redoes it).
        if redis_client.hget(keys.ROLL_CALL_DIRTY, field_name) == stamp:
            redis_client.hdel(keys.ROLL_CALL_DIRTY, field_name)
    return edits
