"""A post changed (created, edited, destroyed, recovered): every domain records it, from
one read of the post.

gather: the post from the signed ``post_created`` body when it carries every fact
(``worker.reads.parse.post_of_body``), else one ``GET /posts/{id}.json`` (NotFound → the
post is gone, handled as destroyed); the topic's facts from the cached forum view (one
``GET /t/{id}.json`` per topic, shared by every job) → then, in order: the camp's record
of a camper's post, the obligations ledger (``worker.ledger.weekly.handle_post_event``:
its topic classification, a leave answer through the Applier), recognition's store.
Each part is idempotent, so a retried job re-runs all of them safely.

``topic_edited`` (Discourse sends it *instead of* ``post_edited`` when an edit of a
topic's first post also changes the topic) is the first post's ``post_edited``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from worker.forum.errors import NotFound
from worker.ledger import weekly
from worker.reads import forum_view
from worker.reads.parse import camp_post, first_post_id, post_of_body
from worker.recognition import gather as recognition
from worker.state.membership import MembershipStore
from worker.steps import StepContext


class PostForum(Protocol):
    """The forum calls recording a post makes (the leave answer goes through the Applier)."""

    api_username: str

    def get_post(self, post_id: int) -> dict[str, Any]: ...
    def get_topic(self, topic_id: int) -> dict[str, Any]: ...
    def list_categories(self) -> list[dict[str, Any]]: ...
    def list_groups(self) -> list[dict[str, Any]]: ...
    def iter_group_members(self, name: str) -> Any: ...
    def create_post(self, topic_id: int, raw: str, **kw: Any) -> Any: ...


Ctx = StepContext[PostForum]


def read_post(forum: PostForum, post_id: int) -> dict[str, Any] | None:
    """The post as it is now, or None when the forum no longer has it."""
    try:
        return forum.get_post(post_id)
    except NotFound:
        return None


def run(
    ctx: Ctx, post_id: int, event: str, *, body: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Read the post once (or take the signed body's) and feed every domain; returns each
    domain's outcome."""
    post = post_of_body(body) if event == "post_created" else None
    if post is None or post.get("id") != post_id:
        post = read_post(ctx.forum, post_id)
    return {
        "membership": record_camp_post(ctx, post),
        "obligations": weekly.handle_post_event(
            ctx.forum, ctx.redis, ctx.rules, post_id, event, post, live=ctx.live
        ),
        "recognition": recognition.ingest_post(
            ctx.forum, ctx.redis, ctx.rules, post_id, event, post
        ),
    }


def record_camp_post(ctx: Ctx, post: Mapping[str, Any] | None) -> bool:
    """Remember a camper's post (False: not a camper's, or None: not found).

    Idempotent: the post is stored by id, so a repeated event changes nothing. The topic
    is read again when the replied-to post is newer than what the view saw.
    """
    if post is None:
        return False
    store = MembershipStore(ctx.redis)
    username = str(post.get("username") or "")
    if not username or not store.is_camper(username):
        return False
    topic_id = int(post["topic_id"])
    topic = forum_view.topic_facts(ctx.forum, ctx.redis, topic_id)
    target = int(post.get("reply_to_post_number") or 1)
    if int(post["post_number"]) > 1 and target not in topic.authors:
        topic = forum_view.topic_facts(ctx.forum, ctx.redis, topic_id, fresh=True)
    category = forum_view.category_slug(ctx.forum, ctx.redis, topic.category_id)
    store.record_camp_post(username, camp_post(post, category, topic))
    return True


def run_topic_edit(ctx: Ctx, topic_id: int) -> dict[str, Any]:
    """The topic's first post re-read and fed to every domain as ``post_edited``."""
    try:
        topic = ctx.forum.get_topic(topic_id)
    except NotFound:
        return {}  # gone: its own topic_destroyed/post_destroyed events say so
    forum_view.keep_topic(ctx.redis, topic_id, topic)  # its title or category just changed
    post_id = first_post_id(topic)
    if post_id is None:
        return {}
    return run(ctx, post_id, "post_edited")
