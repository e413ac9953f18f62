"""A new topic's ``topic_created`` delivery, for tests that call the post actor by hand."""

from __future__ import annotations

from typing import Any

import redis


def topic_created_arrived(sandbox: Any, redis_client: redis.Redis, topic_id: int) -> None:
    """What the receiver keeps of the topic's ``topic_created`` body, as the sandbox sends
    it (``worker.jobs.posts``: the first post's job waits for it rather than read the topic)."""
    from worker.jobs import posts  # noqa: F401  (registers the keeper)
    from worker.pipeline.routes import KEEPERS
    from worker.sandbox import payloads

    forum = getattr(sandbox, "forum", sandbox)
    body = payloads.webhook_topic(forum, forum.topics[topic_id])
    keeper = KEEPERS["topic_created"]
    keeper.store(redis_client, keeper.parse(body))
