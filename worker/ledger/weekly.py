"""The obligations ledger's part of recording a post: its topic classified, the post filed.

``handle_post_event`` is called by the post recording (``worker.steps.record_post``)
with the post already read. The weekly jobs that read the ledger are steps
(``worker.steps.weekly_threads``, ``reminders``, ``audit``, ``roll_calls``,
``rebuild_ledger``); the week's facts are gathered by ``worker.reads.obligations``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

import redis

from worker.engine.facts import Squad, parse_time
from worker.engine.weeks import Week, week_of
from worker.ledger.ingest import classify_topic, ingest_post, is_deleted, thread_post_week
from worker.reads import forum_view
from worker.reads.obligations import remember_squad_names, squads_by_category
from worker.redis_text import text as redis_text
from worker.rules.models import Rules
from worker.state import keys
from worker.state.ledger import Ledger, TopicInfo
from worker.steps.leave_answer import answer_leave

log = logging.getLogger(__name__)


def category_ids(
    client: Any, redis_client: redis.Redis, *, refresh: bool = False
) -> dict[str, int]:
    """Category slug -> id, from the one forum view (``worker.reads.forum_view``)."""
    return forum_view.category_ids(client, redis_client, fresh=refresh)


# ─────────────────────────────── post events ───────────────────────────────


def topic_info(
    client: Any,
    redis_client: redis.Redis,
    rules: Rules,
    topic_id: int,
) -> TopicInfo:
    """The ledger's classification of a topic; one ``/t/{id}.json`` read the first time."""
    ledger = Ledger(redis_client)
    known = ledger.topic(topic_id)
    if known is not None:
        return known
    # The topic's facts from the one forum view (shared with the camp and recognition).
    topic = forum_view.topic_facts(client, redis_client, topic_id, need_created=True).as_json()
    squads = _squads_from_ledger(redis_client, topic.get("category_id"))
    if not squads and isinstance(topic.get("category_id"), int):
        # A squad formed since the last scheduled run: the ledger does not know its
        # category yet. The cached roster does (formation refreshes it).
        roster = forum_view.cached_roster(client, redis_client, rules)
        ledger.record_squad_categories(
            {cid: s.slug for cid, s in squads_by_category(roster).items()}
        )
        remember_squad_names(redis_client, roster)
        squads = _squads_from_ledger(redis_client, topic.get("category_id"))
    leave_slug = rules.obligations.leave.category
    leave_id = (
        category_ids(client, redis_client).get(leave_slug)
        if rules.obligations.leave.enabled
        else None
    )
    info = classify_topic(rules, topic, squads, leave_id)
    if info.kind == "other" and rules.obligations.article.mode == "thread" and squads:
        # A topic of its own in a squad's category, opened while its week had no thread
        # (a squad formed mid-week, a thread run lost to an outage): its posts are that
        # week's, as they would have been in the thread.
        (squad,) = squads.values()
        week = week_of(parse_time(str(topic["created_at"])), rules.tz)
        if squad.slug not in ledger.threads(week):
            info = TopicInfo("article", week, squad.slug)
    if info.kind == "thread" and info.week and info.squad:
        ledger.record_thread(info.week, info.squad, topic_id)
    else:
        ledger.record_topic(topic_id, info)
    return info


def _squads_from_ledger(redis_client: redis.Redis, category_id: Any) -> dict[int, Squad]:
    """A stand-in Squad for the category's squad (the ledger knows slugs, not rosters).

    Thread titles need the squad's display name: it is kept with the category map.
    """
    if not isinstance(category_id, int):
        return {}
    slug = Ledger(redis_client).squad_of_category(category_id)
    if slug is None:
        return {}
    name = redis_client.hget(keys.SQUAD_NAMES, slug)
    full_name = redis_text(name) or slug
    return {category_id: Squad(slug, full_name, "", (), category_id=category_id)}


def handle_post_event(
    client: Any,
    redis_client: redis.Redis,
    rules: Rules,
    post_id: int,
    event: str,
    post: Mapping[str, Any] | None,
    *,
    live: bool = True,
) -> str:
    """Bring the ledger up to date with one post (created, edited, destroyed, recovered),
    already read by the caller (None: the forum no longer has it). Safe to repeat.

    A leave request is answered in its topic (once per post: the Applier's key)."""
    ledger = Ledger(redis_client)
    if event == "post_destroyed" or post is None:
        return "removed" if ledger.remove_post(post_id) else "ignored"
    if is_deleted(post):
        return "removed" if ledger.remove_post(post_id) else "ignored"
    info = topic_info(client, redis_client, rules, int(post["topic_id"]))
    if info.kind == "leave" and _by_diamond(client, post):
        return "ignored"  # Diamond's own answer in a leave topic is no request
    version_at = None
    if event == "post_edited" and post.get("updated_at"):
        version_at = parse_time(str(post["updated_at"]))
    early = info.kind == "article" and rules.obligations.article.mode == "thread"
    if early and _by_diamond(client, post):
        return "ignored"
    if info.kind == "thread" and info.week and info.squad:
        filed = _filed_week(ledger, rules, post, info.week, info.squad)
        if filed != info.week:
            info, early = TopicInfo("thread", filed, info.squad), True
    outcome = ingest_post(ledger, rules, post, info, version_at=version_at)
    if outcome == "recorded" and early:
        return "recorded-early"  # the post's job opens the week's missing thread
    if outcome == "recorded" and info.kind == "thread" and info.week and info.squad:
        mark_roll_call(
            redis_client,
            info.week,
            info.squad,
            version_at or parse_time(str(post.get("created_at"))),
        )
    if outcome == "leave":
        answer_leave(client, redis_client, rules, post, live=live)
    return outcome


def _filed_week(
    ledger: Ledger, rules: Rules, post: Mapping[str, Any], thread_week: Week, squad: str
) -> Week:
    """The week a post in ``thread_week``'s thread is filed under: a later week's while that
    week has no thread (``thread_post_week``); once filed, it stays (edits follow it)."""
    place = ledger.place_of(int(post["id"]))
    if place is not None and place[1] == squad:
        return place[0]
    posted_in = week_of(parse_time(str(post["created_at"])), rules.tz)
    if posted_in <= thread_week or squad in ledger.threads(posted_in):
        return thread_week
    return thread_post_week(rules, post, thread_week, ledger.posts(thread_week, squad))


def _by_diamond(client: Any, post: Mapping[str, Any]) -> bool:
    own = str(getattr(client, "api_username", "") or "").lower()
    return bool(own) and str(post.get("username") or "").lower() == own


# ─────────────────────────────── roll call ───────────────────────────────

# "{week}|{squad}" -> when the thread last changed (epoch seconds): roll calls to redo
# (by ``worker.steps.roll_calls``).
ROLL_CALL_DIRTY_KEY = keys.ROLL_CALL_DIRTY


def mark_roll_call(redis_client: redis.Redis, week: Week, squad: str, at: dt.datetime) -> None:
    """A post of ``squad``'s ``week`` thread changed: its roll call is to be redone."""
    redis_client.hset(ROLL_CALL_DIRTY_KEY, f"{week}|{squad}", str(at.timestamp()))
