"""Topics, posts, likes, private messages and tags.

``created_at`` on ``POST /posts.json`` is honoured for staff acting through the
API, as Discourse does for imports: the demo back-dates weeks of activity with it.
"""

from __future__ import annotations

from typing import Any

from worker.sandbox import payloads
from worker.sandbox.app import Ctx, Reply
from worker.sandbox.errors import (
    ApiError,
    invalid_access,
    invalid_parameters,
    not_found,
    param_missing,
)
from worker.sandbox.models import LIKE, Post, Topic
from worker.sandbox.params import as_bool, as_int, as_list
from worker.sandbox.timeutil import parse_time

CHUNK = 20
LATEST_POSTS_LIMIT = 50
TOPICS_PER_PAGE = 30


def create_post(ctx: Ctx) -> Any:
    """Imitates: app/controllers/posts_controller.rb#create (NewPostResultSerializer)"""
    actor = ctx.require_login()
    p = ctx.params
    if "raw" not in p:
        raise param_missing("raw")
    created_at = None
    if p.get("created_at") and actor.staff and ctx.via_api_key:
        try:
            created_at = parse_time(str(p["created_at"]))
        except ValueError as exc:
            raise invalid_parameters("created_at") from exc
    archetype = str(p.get("archetype") or "regular")
    topic_id = p.get("topic_id")
    category = p.get("category") or p.get("category_id")
    reply_to = p.get("reply_to_post_number")
    post = ctx.forum.create_post(
        actor,
        raw=str(p.get("raw") or ""),
        title=p.get("title"),
        topic_id=as_int(topic_id, "topic_id") if topic_id not in (None, "") else None,
        category_id=as_int(category, "category") if category not in (None, "") else None,
        tags=[str(t) for t in as_list(p.get("tags"))],
        reply_to_post_number=as_int(reply_to, "reply_to_post_number") if reply_to else None,
        archetype="private_message" if archetype == "private_message" else "regular",
        target_usernames=[
            str(n) for n in as_list(p.get("target_recipients") or p.get("target_usernames"))
        ],
        created_at=created_at,
    )
    body = payloads.post(ctx.forum, post, actor)
    body["draft_sequence"] = 0
    return body


def show_post(ctx: Ctx, post_id: int) -> Any:
    """Imitates: app/controllers/posts_controller.rb#show (PostSerializer)"""
    post = ctx.forum.post_or_error(ctx.actor, post_id)
    return payloads.post(ctx.forum, post, ctx.actor)


def _editable(ctx: Ctx, post_id: int) -> Post:
    actor = ctx.require_login()
    post = ctx.forum.post_or_error(actor, post_id)
    if not (actor.staff or actor.id == post.user_id):
        raise invalid_access()
    return post


def update_post(ctx: Ctx, post_id: int) -> Any:
    """Imitates: app/controllers/posts_controller.rb#update, PostSerializer: ``title`` (top
    level) retitles the topic of a first post. Simplified: the editor may edit the topic
    whenever they may edit the post (no separate ``ensure_can_edit_topic!``)."""
    post = _editable(ctx, post_id)
    fields = ctx.wrapped("post")
    if "raw" not in fields:
        raise param_missing("post")
    title = ctx.params.get("title")
    ctx.forum.edit_post(
        post,
        str(fields["raw"] or ""),
        by=ctx.require_login(),  # _editable has checked it
        edit_reason=fields.get("edit_reason"),
        title=str(title) if title else None,
    )
    body = payloads.post(ctx.forum, post, ctx.actor)
    body["draft_sequence"] = 0
    return {"post": body}


def destroy_post(ctx: Ctx, post_id: int) -> Any:
    """Imitates: app/controllers/posts_controller.rb#destroy (no body)"""
    post = _editable(ctx, post_id)
    ctx.forum.delete_post(post, by=ctx.require_login())  # _editable has checked it
    return None


def latest_posts(ctx: Ctx) -> Any:
    """Imitates: app/controllers/posts_controller.rb#latest (PostSerializer)"""
    forum = ctx.forum
    before = ctx.params.get("before")
    before_id = as_int(before, "before") if before not in (None, "") else None
    found: list[Post] = []
    for post_id in sorted(forum.posts, reverse=True):
        if before_id is not None and post_id >= before_id:
            continue
        post = forum.posts[post_id]
        topic = forum.topics[post.topic_id]
        if post.deleted_at is not None or topic.deleted_at is not None:
            continue
        if topic.archetype != "regular" or not forum.can_see_topic(ctx.actor, topic):
            continue
        found.append(post)
        if len(found) >= LATEST_POSTS_LIMIT:
            break
    return {"latest_posts": [payloads.latest_post(forum, p, ctx.actor) for p in found]}


def show_topic(ctx: Ctx, topic_id: int, slug: str | None = None) -> Any:
    """Imitates: app/controllers/topics_controller.rb#show (TopicViewSerializer)"""
    del slug
    forum = ctx.forum
    topic = forum.topic_or_error(ctx.actor, topic_id)
    posts = forum.visible_posts(topic, ctx.actor)
    topic.views += 1
    return payloads.topic_view(forum, topic, ctx.actor, posts[:CHUNK], [p.id for p in posts])


def topic_posts(ctx: Ctx, topic_id: int) -> Any:
    """Imitates: app/controllers/topics_controller.rb#posts (PostStreamSerializerMixin)"""
    forum = ctx.forum
    topic = forum.topic_or_error(ctx.actor, topic_id)
    posts = forum.visible_posts(topic, ctx.actor)
    wanted = as_list(ctx.params.get("post_ids"))
    if wanted:
        ids = {as_int(v, "post_ids") for v in wanted}
        chosen = [p for p in posts if p.id in ids]
    elif ctx.params.get("post_number"):
        number = as_int(ctx.params["post_number"], "post_number")
        if as_bool(ctx.params.get("asc"), True):
            chosen = [p for p in posts if p.post_number > number][:CHUNK]
        else:
            chosen = [p for p in posts if p.post_number < number][-CHUNK:]
    else:
        chosen = posts[:CHUNK]
    return {
        "post_stream": {"posts": [payloads.post_in_stream(forum, p, ctx.actor) for p in chosen]},
        "id": topic.id,
    }


def destroy_topic(ctx: Ctx, topic_id: int) -> Any:
    """Imitates: app/controllers/topics_controller.rb#destroy (no body)"""
    actor = ctx.require_login()
    forum = ctx.forum
    topic = forum.topic_or_error(actor, topic_id)
    if not (actor.staff or actor.id == topic.user_id):
        raise invalid_access()
    forum.delete_post(forum.posts[topic.post_ids[0]], by=actor)
    return None


def like(ctx: Ctx) -> Any:
    """Imitates: app/controllers/post_actions_controller.rb#create (PostSerializer)"""
    actor = ctx.require_login()
    p = ctx.params
    if not p.get("id"):
        raise param_missing("id")
    if not p.get("post_action_type_id"):
        raise param_missing("post_action_type_id")
    forum = ctx.forum
    post = forum.post_or_error(actor, as_int(p["id"], "id"))
    action = as_int(p["post_action_type_id"], "post_action_type_id")
    if action != LIKE:
        raise invalid_parameters("post_action_type_id")  # flags are not modelled
    if post.user_id == actor.id:
        raise invalid_access()
    if actor.id in post.likers:
        raise ApiError(403, ["You already performed this action."], "invalid_access")
    post.likers[actor.id] = forum.now()
    forum.emit(
        "post_liked",
        {"like": {"post": payloads.webhook_post(forum, post), "user": payloads.basic_user(actor)}},
        topic=forum.topics[post.topic_id],
    )
    return payloads.post(forum, post, actor)


def unlike(ctx: Ctx, post_id: int) -> Any:
    """Imitates: app/controllers/post_actions_controller.rb#destroy (PostSerializer)"""
    actor = ctx.require_login()
    post = ctx.forum.post_or_error(actor, post_id)
    if actor.id not in post.likers:
        raise ApiError(
            403, ["You are not permitted to view the requested resource."], "invalid_access"
        )
    del post.likers[actor.id]
    return payloads.post(ctx.forum, post, actor)


def _pm_list(ctx: Ctx, username: str, *, sent: bool) -> Any:
    actor = ctx.require_login()
    forum = ctx.forum
    user = forum.user_or_404(username)
    if not (actor.admin or actor.id == user.id):
        raise invalid_access()
    groups = forum.user_group_ids(user)
    topics: list[Topic] = []
    for topic in forum.topics.values():
        if topic.archetype != "private_message" or topic.deleted_at is not None:
            continue
        if sent:
            if topic.user_id == user.id:
                topics.append(topic)
        elif user.id in topic.allowed_user_ids or groups & set(topic.allowed_group_ids):
            topics.append(topic)
    topics.sort(key=lambda t: (-(t.bumped_at or t.created_at).timestamp(), -t.id))
    page = max(0, as_int(ctx.params.get("page") or 0, "page"))
    chunk = topics[page * TOPICS_PER_PAGE : (page + 1) * TOPICS_PER_PAGE]
    body: dict[str, Any] = {
        "can_create_topic": True,
        "draft": None,
        "draft_key": "new_topic",
        "draft_sequence": 0,
        "per_page": TOPICS_PER_PAGE,
        "topics": [payloads.topic_list_item(forum, t, actor) for t in chunk],
    }
    if len(topics) > (page + 1) * TOPICS_PER_PAGE:
        body["more_topics_url"] = f"/topics/private-messages/{user.username}?page={page + 1}"
    return {
        "users": payloads.topic_list_users(forum, chunk),
        "primary_groups": [],
        "topic_list": body,
    }


def private_messages(ctx: Ctx, username: str) -> Any:
    """Imitates: app/controllers/list_controller.rb#private_messages (TopicListSerializer)"""
    return _pm_list(ctx, username, sent=False)


def private_messages_sent(ctx: Ctx, username: str) -> Any:
    """Imitates: app/controllers/list_controller.rb#private_messages_sent (TopicListSerializer)"""
    return _pm_list(ctx, username, sent=True)


def latest_topics(ctx: Ctx) -> Any:
    """Imitates: app/controllers/list_controller.rb#latest (TopicListSerializer)"""
    forum = ctx.forum
    topics = [
        t
        for t in forum.topics.values()
        if t.archetype == "regular"
        and t.deleted_at is None
        and forum.can_see_topic(ctx.actor, t)
        and not any(c.topic_id == t.id for c in forum.categories.values())
    ]
    topics.sort(key=lambda t: (-(t.bumped_at or t.created_at).timestamp(), -t.id))
    page = max(0, as_int(ctx.params.get("page") or 0, "page"))
    chunk = topics[page * TOPICS_PER_PAGE : (page + 1) * TOPICS_PER_PAGE]
    body: dict[str, Any] = {
        "can_create_topic": ctx.actor is not None,
        "per_page": TOPICS_PER_PAGE,
        "topics": [payloads.topic_list_item(forum, t, ctx.actor) for t in chunk],
    }
    if len(topics) > (page + 1) * TOPICS_PER_PAGE:
        body["more_topics_url"] = f"/latest?page={page + 1}"
    return {
        "users": payloads.topic_list_users(forum, chunk),
        "primary_groups": [],
        "topic_list": body,
    }


def tags(ctx: Ctx) -> Any:
    """Imitates: app/controllers/tags_controller.rb#index (TagSerializer)
    Simplifies: a flat list of tags with counts; no tag groups.
    """
    forum = ctx.forum
    counts: dict[str, int] = dict.fromkeys(forum.tags, 0)
    for topic in forum.topics.values():
        if topic.deleted_at is None and forum.can_see_topic(ctx.actor, topic):
            for name in topic.tags:
                counts[name] = counts.get(name, 0) + 1
    return {
        "tags": [
            {
                "id": forum.tag_id(name),
                "text": name,
                "name": name,
                "count": count,
                "pm_count": 0,
                "target_tag": None,
            }
            for name, count in sorted(counts.items())
        ],
        "extras": {"categories": []},
    }


def _not_found(ctx: Ctx) -> Any:
    raise not_found()


ROUTES = [
    ("/posts.json", ["POST"], create_post),
    ("/posts.json", ["GET"], latest_posts),
    ("/posts/<int:post_id>.json", ["GET"], show_post),
    ("/posts/<int:post_id>.json", ["PUT"], update_post),
    ("/posts/<int:post_id>.json", ["DELETE"], destroy_post),
    ("/t/<int:topic_id>.json", ["GET"], show_topic),
    ("/t/<slug>/<int:topic_id>.json", ["GET"], show_topic),
    ("/t/<int:topic_id>.json", ["DELETE"], destroy_topic),
    ("/t/<int:topic_id>/posts.json", ["GET"], topic_posts),
    ("/post_actions.json", ["POST"], like),
    ("/post_actions/<int:post_id>.json", ["DELETE"], unlike),
    ("/topics/private-messages/<username>.json", ["GET"], private_messages),
    ("/topics/private-messages-sent/<username>.json", ["GET"], private_messages_sent),
    ("/latest.json", ["GET"], latest_topics),
    ("/tags.json", ["GET"], tags),
]

__all__ = ["ROUTES", "Reply"]
