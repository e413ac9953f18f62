"""The one post actor: each post event is read once and handed to every domain.

Routes: ``post_created``/``post_edited``/``post_destroyed``/``post_recovered`` →
``posts.on_post`` (the catch-up scan feeds missed posts as ``post_created``); a
``post_created`` carries the signed body's post facts (``body``), so the post need not be
read again. ``topic_edited`` → ``posts.on_topic_edited``: Discourse sends it *instead
of* ``post_edited`` when an edit of a topic's first post also changes the topic (title,
category, tags; config/initializers/012-web_hook_events.rb), so a member who fixes their
article and its title is re-measured too.

``topic_created`` has no job: the receiver keeps the topic's facts from the signed body
(``worker.reads.forum_view.keep_created_topic``, a keeper in ``worker.pipeline.routes``),
so the first post's job need not read ``GET /t/{id}.json``. Discourse sends the two as
separate Sidekiq jobs, so either may come first: a first post whose topic is not known
yet is sent again after each of ``DIAMOND_TOPIC_WAITS_MS`` in turn, and only then reads
the topic (its ``topic_created`` delivery was lost).

Thin: gets its ``StepContext`` from the actor decorator, calls ``worker.steps.record_post``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import redis

from worker.pipeline import runtime
from worker.pipeline.jobs import diamond_actor
from worker.pipeline.routes import BadEvent, add_keeper, add_route, is_id
from worker.reads import forum_view
from worker.reads.parse import POST_BODY_FACTS, TopicFacts, topic_facts_of_body
from worker.steps import StepContext, record_post

if TYPE_CHECKING:
    from worker.forum.client import ForumClient

log = logging.getLogger(__name__)
QUEUE = "posts"
POST_EVENTS = ("post_created", "post_edited", "post_destroyed", "post_recovered")


@diamond_actor(queue=QUEUE, time_limit=60, context=True)
def on_post(
    ctx: StepContext[ForumClient],
    post_id: int,
    event: str = "post_created",
    hints: dict[str, Any] | None = None,
    body: dict[str, Any] | None = None,
    topic_waits: int = 0,
) -> None:
    """One post changed: camp progress, the ledger and recognition, from one post read
    (none when the signed body of a ``post_created`` has every fact).

    Until it succeeds, the step keeps the post noted as a missing fact of its author
    (``hints``: the body's ``username``), so no decision about them is taken without it.
    ``topic_waits``: how often this first post already waited for its topic's body.
    """
    author = (hints or {}).get("author")
    waits = runtime.settings().topic_waits_ms  # DIAMOND_TOPIC_WAITS_MS
    wait = topic_waits < len(waits)
    try:
        outcomes = record_post.run(
            ctx, post_id, event, body=body, author=author, wait_for_topic=wait
        )
    except record_post.TopicPending as pending:
        delay = waits[topic_waits]
        log.info(
            "post %s: topic %s not known yet; again in %d ms", post_id, pending.topic_id, delay
        )
        kwargs = {"post_id": post_id, "event": event, "hints": hints, "body": body}
        on_post.send_with_options(kwargs={**kwargs, "topic_waits": topic_waits + 1}, delay=delay)
        return
    if outcomes["obligations"] == "recorded-early":
        # A member wrote before their squad's weekly thread existed: open it now (a
        # squad with a thread costs no call; the Applier's key makes repeats no-ops).
        from worker.jobs import obligations

        obligations.open_threads.send()
    log.debug("post %s %s → %s", event, post_id, outcomes)


@diamond_actor(queue=QUEUE, time_limit=60, context=True)
def on_topic_edited(ctx: StepContext[ForumClient], topic_id: int) -> None:
    """A first post edited together with its topic's title (or category, tags)."""
    outcomes = record_post.run_topic_edit(ctx, topic_id)
    log.debug("topic_edited %s → %s", topic_id, outcomes)


for _event in POST_EVENTS:
    add_route(
        _event,
        on_post.actor_name,
        ids={"post_id": "id"},
        pass_event=True,
        hints={"author": "username"},
        body=POST_BODY_FACTS if _event == "post_created" else (),
    )
add_route("topic_edited", on_topic_edited.actor_name, ids={"topic_id": "id"})


def _created_topic(obj: Mapping[str, Any]) -> tuple[int, TopicFacts]:
    """The topic id and facts of a ``topic_created`` body (``BadEvent``: answered 400)."""
    if not is_id(obj.get("id")):
        raise BadEvent("topic_created: 'id' must be an id from 1 to 2^63-1")
    try:
        return int(obj["id"]), topic_facts_of_body(obj)
    except ValueError as exc:
        raise BadEvent(f"topic_created: {exc}") from exc


def _keep_created_topic(client: redis.Redis, topic: tuple[int, TopicFacts]) -> bool:
    return forum_view.keep_created_topic(client, *topic)


add_keeper("topic_created", _created_topic, _keep_created_topic)
