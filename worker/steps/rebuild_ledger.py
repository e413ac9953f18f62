"""``diamond ledger rebuild``: the obligations ledger of recent weeks, rebuilt from the forum.

gather (per squad its category's topic list, then each relevant topic's posts; the leave
category the same way) → the ledger's own classification (``reads.parse.classify_topic``,
``Ledger.ingest_post``) →
record (the posts, threads and leave; with ``restrike``, the strikes of every fully
audited week since, re-evaluated by ``worker.engine.obligations``). No forum write: no
action is applied.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from worker.engine.facts import Roster, Squad, parse_time
from worker.engine.weeks import Week, audit_week, week_of, weeks_between
from worker.forum import calls
from worker.reads import forum_view
from worker.reads.forum_view import RosterReads
from worker.reads.obligations import (
    evaluate,
    gather,
    remember_roster,
    rules_of_week,
    squads_by_category,
)
from worker.reads.parse import classify_topic
from worker.rules.models import Rules
from worker.state.ledger import Ledger, TopicInfo
from worker.steps import StepContext


class RebuildForum(
    calls.ApiUsername,
    calls.ListCategories,
    calls.ListGroups,
    calls.IterCategoryTopics,
    calls.IterTopicPosts,
    calls.IterGroupMembers,
    Protocol,
):
    """The forum reads of a rebuild (it writes nothing to the forum)."""


@dataclass
class RebuildReport:
    since: Week
    threads: int = 0
    topics: int = 0
    posts: int = 0
    leave: int = 0
    weeks_reaudited: list[Week] = field(default_factory=list)


def _by_diamond(client: RebuildForum, post: Mapping[str, Any]) -> bool:
    """Diamond's own post (as the post recording tells it): no member's article."""
    own = str(getattr(client, "api_username", "") or "").lower()  # a test's fake may lack it
    return bool(own) and str(post.get("username") or "").lower() == own


def run(
    ctx: StepContext[RebuildForum],
    since: Week,
    *,
    roster: Roster | None = None,
    restrike: bool = True,
) -> RebuildReport:
    """Rebuild the ledger of weeks >= ``since`` from the forum alone.

    Per squad: its category's topic list, then each relevant topic's posts (a few
    paginated calls per thread); the leave category the same way. Only the current
    version of each post is known then, as if it had always stood so (edits made
    after a deadline are in the members' favour until the next event). With
    ``restrike`` the strikes of every fully audited week since are recomputed from
    the rebuilt posts (no action is applied), into the book of the mode (``ctx.live``).
    """
    client, redis_client, rules = ctx.forum, ctx.redis, ctx.rules
    if roster is None:
        roster = forum_view.cached_roster(client, redis_client, rules)
    ledger = Ledger(redis_client)
    report = RebuildReport(since)
    ledger.clear_posts(since)
    by_category = squads_by_category(roster)
    remember_roster(ledger, roster)
    leave_id = None
    if rules.obligations.leave.enabled:
        leave_id = forum_view.category_ids(client, redis_client, fresh=True).get(
            rules.obligations.leave.category
        )
    start = since.start(rules.tz) - dt.timedelta(days=7)
    categories = list(by_category) + ([leave_id] if leave_id is not None else [])
    thread_mode = rules.obligations.article.mode == "thread"
    for category_id in categories:
        rows = [
            ({"category_id": category_id, **row}, classify_topic(rules, row, by_category, leave_id))
            for row in client.iter_category_topics(category_id)
            if row.get("created_at")
        ]
        opened = {
            info.week: parse_time(str(row["created_at"]))
            for row, info in rows
            if info.kind == "thread" and info.week
        }
        for row, info in rows:
            created = row["created_at"]
            if info.kind == "other" and thread_mode and category_id in by_category:
                info = _own_topic(rules, by_category[category_id], parse_time(str(created)), opened)
            if info.kind == "other" or (info.week is not None and info.week < since):
                continue
            if info.kind == "leave" and parse_time(str(created)) < start:
                continue
            topic_id = int(row["id"])
            if info.kind == "thread" and info.week and info.squad:
                ledger.record_thread(info.week, info.squad, topic_id)
                report.threads += 1
            else:
                ledger.record_topic(topic_id, info)
                report.topics += 1
            for post in client.iter_topic_posts(topic_id):
                if info.kind == "article" and thread_mode and _by_diamond(client, post):
                    continue  # as live ingestion: Diamond's own words are no article
                outcome = ledger.ingest_post(rules, post, info)
                report.posts += outcome == "recorded"
                report.leave += outcome == "leave"
    if restrike:
        report.weeks_reaudited = restrike_weeks(ctx, roster, since)
    return report


def _own_topic(
    rules: Rules, squad: Squad, created: dt.datetime, opened: Mapping[Week, dt.datetime]
) -> TopicInfo:
    """A topic of a member's own in a squad's category is that week's article topic when it
    was opened before the week's thread (the post recording files it so at its first event,
    while the ledger has no thread for the week); otherwise it is nothing to the ledger."""
    week = week_of(created, rules.tz)
    thread_at = opened.get(week)
    if thread_at is None or created < thread_at:
        return TopicInfo("article", week, squad.slug)
    return TopicInfo("other")


def restrike_weeks(ctx: StepContext[RosterReads], roster: Roster, since: Week) -> list[Week]:
    """Recompute and record the strikes of every week since ``since`` whose review window
    has closed at ``ctx.now``, from the ledger (no action applied)."""
    rules = ctx.rules
    last = audit_week(rules.obligations, ctx.now, rules.tz)
    ledger = Ledger(ctx.redis)
    done = []
    for week in weeks_between(since, last):
        in_force = rules_of_week(ledger, rules, week)
        facts = gather(ctx.forum, ledger, in_force, roster, week)
        results = evaluate(in_force, facts)
        ledger.record_strikes(
            week,
            {
                r.username: (None if r.excused else r.strikes)
                for r in results.by_member.values()
                if not r.exempt
            },
            live=ctx.live,
        )
        ledger.record_audit_rules(week, in_force.obligations.model_dump(mode="json"))
        done.append(week)
    return done
