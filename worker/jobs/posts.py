"""The one post actor: each post event is read once and handed to every domain.

Routes: ``post_created``/``post_edited``/``post_destroyed``/``post_recovered`` →
``posts.on_post`` (the catch-up scan feeds missed posts as ``post_created``);
``topic_edited`` → ``posts.on_topic_edited``: Discourse sends it *instead of*
``post_edited`` when an edit of a topic's first post also changes the topic (title,
category, tags; config/initializers/012-web_hook_events.rb), so a member who fixes
their article and its title is re-measured too. Its body is the topic, not the post:
one ``GET /t/{id}.json`` finds the first post, then the same single post read.

One ``GET /posts/{id}.json`` per event (NotFound → the post is gone, handled as
destroyed), then, in order: membership (camp progress), obligations (the ledger),
recognition (the store). Each handler is idempotent, so a retried job re-runs all
of them safely. The topic, when a domain's own cache does not know it yet, is read
at most once per job and shared with the other domains (``SharedTopic``).
"""

from __future__ import annotations

import logging
from typing import Any

from worker.forum.errors import NotFound
from worker.ledger import weekly
from worker.membership import flows
from worker.pipeline import missing, runtime
from worker.pipeline.jobs import diamond_actor
from worker.pipeline.routes import add_route
from worker.recognition import gather

log = logging.getLogger(__name__)
QUEUE = "posts"
POST_EVENTS = ("post_created", "post_edited", "post_destroyed", "post_recovered")


class SharedTopic:
    """The forum client for one job, with ``get_topic`` read at most once per topic.

    Everything else goes to the real client (``host`` included, which keys the
    membership cache, so that cache is shared across jobs as before).
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._topics: dict[int, Any] = {}

    def get_topic(self, topic_id: int) -> Any:
        if topic_id not in self._topics:
            self._topics[topic_id] = self._client.get_topic(topic_id)
        return self._topics[topic_id]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def read_post(client: Any, post_id: int) -> dict[str, Any] | None:
    """The post as it is now, or None when the forum no longer has it."""
    try:
        return client.get_post(post_id)
    except NotFound:
        return None


def handle_post(
    client: Any, redis_client: Any, rules: Any, post_id: int, event: str, *, live: bool = True
) -> dict[str, Any]:
    """Read the post once and feed every domain; returns each domain's outcome."""
    shared = client if isinstance(client, SharedTopic) else SharedTopic(client)
    post = read_post(shared, post_id)
    return {
        "membership": flows.record_camp_post(shared, redis_client, post),
        "obligations": weekly.handle_post_event(
            shared, redis_client, rules, post_id, event, post, live=live
        ),
        "recognition": gather.ingest_post(shared, redis_client, rules, post_id, event, post),
    }


@diamond_actor(queue=QUEUE, time_limit=60)
def on_post(post_id: int, event: str = "post_created", hints: dict[str, Any] | None = None) -> None:
    """One post changed: camp progress, the ledger and recognition, from one post read.

    Until it succeeds, the post is noted as a missing fact of its author (``hints``: the
    body's ``username``), so no decision about them is taken without it.
    """
    redis_client = runtime.redis_client()
    try:
        outcomes = handle_post(
            runtime.forum(),
            redis_client,
            runtime.rules(),
            post_id,
            event,
            live=runtime.settings().live,
        )
    except Exception:
        missing.note_missing_post(redis_client, post_id, (hints or {}).get("author"))
        raise
    missing.clear_missing_post(redis_client, post_id)
    if outcomes["obligations"] == "recorded-early":
        # A member wrote before their squad's weekly thread existed: open it now (a
        # squad with a thread costs no call; the Applier's key makes repeats no-ops).
        from worker.jobs import obligations

        obligations.open_threads.send()
    log.debug("post %s %s → %s", event, post_id, outcomes)


def first_post_id(topic: Any) -> int | None:
    """The id of post 1 in a ``GET /t/{id}.json`` answer (the first of its post stream)."""
    stream = topic.get("post_stream") or {}
    for post in stream.get("posts") or []:
        if post.get("post_number") == 1 and isinstance(post.get("id"), int):
            return post["id"]
    ids = stream.get("stream") or []
    return ids[0] if ids and isinstance(ids[0], int) else None


def handle_topic_edit(
    client: Any, redis_client: Any, rules: Any, topic_id: int, *, live: bool = True
) -> dict[str, Any]:
    """The topic's first post re-read and fed to every domain as ``post_edited``."""
    shared = SharedTopic(client)
    try:
        topic = shared.get_topic(topic_id)  # cached: the domains need not read it again
    except NotFound:
        return {}  # gone: its own topic_destroyed/post_destroyed events say so
    post_id = first_post_id(topic)
    if post_id is None:
        return {}
    return handle_post(shared, redis_client, rules, post_id, "post_edited", live=live)


@diamond_actor(queue=QUEUE, time_limit=60)
def on_topic_edited(topic_id: int) -> None:
    """A first post edited together with its topic's title (or category, tags)."""
    outcomes = handle_topic_edit(
        runtime.forum(),
        runtime.redis_client(),
        runtime.rules(),
        topic_id,
        live=runtime.settings().live,
    )
    log.debug("topic_edited %s → %s", topic_id, outcomes)


for _event in POST_EVENTS:
    add_route(
        _event,
        on_post.actor_name,
        ids={"post_id": "id"},
        pass_event=True,
        hints={"author": "username"},
    )
add_route("topic_edited", on_topic_edited.actor_name, ids={"topic_id": "id"})
