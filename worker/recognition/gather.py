"""Recognition's part of recording a post: one post event → the recognition store.

``ingest_post`` (called by the post recording, ``worker.steps.record_post``) takes the
post already read; one topic read the first time a topic is seen, then cached. Likes are
recorded by ``worker.steps.record_like``; the weekly facts are gathered by
``worker.reads.recognition``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import redis

from worker.engine.facts import PostFact
from worker.engine.health import AdScreen
from worker.reads import forum_view
from worker.reads.forum_view import TopicFacts
from worker.rules.models import Rules
from worker.state.recognition import RecognitionStore

log = logging.getLogger(__name__)

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
