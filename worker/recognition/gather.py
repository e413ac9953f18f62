"""Fact gathering for recognition and health (the I/O edge; engines stay pure).

- ``ingest_post`` / ``ingest_like``: one post or like event → the store (one post
  read; one topic read the first time a topic is seen, then cached).
- ``recognition_facts`` / ``health_facts``: a week's facts from the store, the
  obligations ledger (re-evaluated, pure) and a few group reads.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import redis

from worker.engine.facts import LikeFact, PostFact, Roster
from worker.engine.graph import PostIndex, week_bounds, week_range
from worker.engine.health import AdScreen, HealthFacts
from worker.engine.recognition import ObligationResult, RecognitionFacts
from worker.engine.weeks import Week
from worker.ledger import weekly
from worker.reads import forum_view
from worker.reads.forum_view import TopicFacts, cached_group_members
from worker.rules.models import Rules
from worker.state.ledger import Ledger
from worker.state.membership import MembershipStore
from worker.state.recognition import RecognitionStore

log = logging.getLogger(__name__)

READ_MARGIN_WEEKS = 4  # posts older than the window, so replies to them find their author
LIKE_ACTION = 2  # Discourse's post_action_type_id for a like


# ───────────────────────────── events → store ─────────────────────────────


TopicMeta = TopicFacts  # category, archetype, tags, title of a topic


def topic_meta(client: Any, redis_client: redis.Redis, topic_id: int) -> TopicFacts:
    """Category, archetype and tags of a topic, from the one forum view."""
    return forum_view.topic_facts(client, redis_client, topic_id)


def _like_count(post: Mapping[str, Any]) -> int:
    if post.get("like_count") is not None:
        return int(post["like_count"])
    for action in post.get("actions_summary") or ():
        if action.get("id") == LIKE_ACTION:
            return int(action.get("count") or 0)
    return 0


def ingest_post(
    client: Any,
    redis_client: redis.Redis,
    rules: Rules,
    post_id: int,
    event: str,
    post: Mapping[str, Any] | None,
) -> str:
    """Bring the store up to date with one post event, the post already read (None: the
    forum no longer has it); returns what happened. Safe to repeat."""
    store = RecognitionStore(redis_client)
    if event == "post_destroyed":
        store.remove_post(post_id)
        return "removed"
    if post is None:
        store.remove_post(post_id)
        return "gone"
    meta = topic_meta(client, redis_client, int(post["topic_id"]))
    merged = {
        **post,
        "category_id": post.get("category_id") or meta.category_id,
        "topic_archetype": "private_message" if meta.private_message else "regular",
        "tags": post.get("tags") or list(meta.tags),
        "topic_title": post.get("topic_title") or meta.title,
        "like_count": _like_count(post),
    }
    fact = PostFact.from_discourse(merged)
    if fact.deleted:
        store.remove_post(post_id)
        return "removed"
    raw = str(post.get("raw") or "")
    store.put_post(fact, AdScreen.from_rules(rules).signal(raw) if raw else None)
    return "stored"


def ingest_like(
    client: Any,
    redis_client: redis.Redis,
    post_id: int,
    user_id: int,
    at: datetime,
    username: str | None = None,
) -> bool:
    """A ``post_liked`` event: who liked which post. False if known.

    The event names the liker; without the name (an older message) the user is read.
    """
    if not username:
        username = str(client.admin_get_user(user_id).get("username") or "")
    if not username:
        return False
    return RecognitionStore(redis_client).put_like(LikeFact(post_id, username, at))


# ───────────────────────────── store + ledger → facts ─────────────────────────────


def results_weeks(rules: Rules) -> int:
    """How many weeks of obligation results recognition and health need."""
    badge_weeks = [getattr(b.criterion, "weeks", 1) for b in rules.badges.badges]
    health = rules.health.lookback_weeks + rules.health.isolation_weeks - 1
    return max([health, *badge_weeks])


def week_results(
    client: Any, redis_client: redis.Redis, rules: Rules, roster: Roster, weeks: list[Week]
) -> dict[Week, Mapping[str, ObligationResult]]:
    """Each week's results, re-evaluated from the obligations ledger (pure, no writes).

    A week the ledger knows nothing of yields no results (so no streak crosses it).
    """
    ledger = Ledger(redis_client)
    out: dict[Week, Mapping[str, ObligationResult]] = {}
    for week in weeks:
        facts = weekly.gather(client, ledger, rules, roster, week)
        if not any(sw.posts for sw in facts.squads):
            continue
        out[week] = weekly.evaluate(rules, facts).by_member
    return out


def recognition_facts(
    client: Any,
    redis_client: redis.Redis,
    rules: Rules,
    roster: Roster,
    week: Week,
    *,
    base_url: str,
) -> tuple[RecognitionFacts, dict[int, str]]:
    """What recognition decides on for ``week`` (and health reads), plus ad signals."""
    span = results_weeks(rules)
    first = week.shift(-(span - 1 + READ_MARGIN_WEEKS))
    start, _ = week_bounds(first, rules.tz)
    _, end = week_bounds(week, rules.tz)
    store = RecognitionStore(redis_client)
    posts, ads = store.posts_between(start, end)
    likes = store.likes_between(start, end)
    results = week_results(client, redis_client, rules, roster, list(week_range(week, span)))
    facts = RecognitionFacts(
        posts=PostIndex(posts),
        likes=likes,
        roster=roster,
        results=results,
        category_ids=weekly.category_ids(client, redis_client),
        base_url=base_url,
        languages=MembershipStore(redis_client).languages(),
    )
    return facts, ads


def current_stages(
    client: Any, redis_client: redis.Redis, rules: Rules
) -> dict[str, frozenset[str]]:
    groups = rules.community.groups
    pending = frozenset(str(u["username"]) for u in client.iter_admin_users("pending"))
    return {
        "pending": pending,
        "camp": cached_group_members(client, redis_client, groups.camp),
        "members": cached_group_members(client, redis_client, groups.members),
        "alumni": cached_group_members(client, redis_client, groups.alumni),
    }


def health_facts(
    client: Any,
    redis_client: redis.Redis,
    rules: Rules,
    recognition: RecognitionFacts,
    ads: Mapping[int, str],
    week: Week,
    *,
    api_username: str,
    save_snapshot: bool = True,
) -> HealthFacts:
    """Health facts: stages now (saved as ``week``'s snapshot) and a week earlier."""
    store = RecognitionStore(redis_client)
    stages = current_stages(client, redis_client, rules)
    if save_snapshot:
        store.save_stages(str(week), stages)
    return HealthFacts(
        recognition=recognition,
        stages=stages,
        previous_stages=store.stages(str(week.previous())),
        staff=weekly.staff_usernames(client, redis_client, rules) | {api_username},
        leaders=cached_group_members(client, redis_client, rules.community.groups.leaders),
        ad_posts=dict(ads),
    )


def prune_before(rules: Rules, week: Week) -> datetime:
    """Posts and likes older than this are no longer read by any report of ``week`` on."""
    first = week.shift(-(results_weeks(rules) + READ_MARGIN_WEEKS))
    return week_bounds(first, rules.tz)[0] - timedelta(days=7)
