"""Post JSON: PostSerializer flavours and WebHookPostSerializer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from worker.sandbox import cooking
from worker.sandbox.models import (
    LIKE,
    Post,
    Topic,
    User,
)
from worker.sandbox.timeutil import iso

if TYPE_CHECKING:
    from worker.sandbox.state import Forum
from worker.sandbox.payloads.users import avatar_template


def _post_url(topic: Topic, post: Post) -> str:
    return f"/t/{topic.slug}/{topic.id}/{post.post_number}"


def _reply_count(forum: Forum, post: Post) -> int:
    topic = forum.topics[post.topic_id]
    return sum(
        1
        for pid in topic.post_ids
        if forum.posts[pid].reply_to_post_number == post.post_number
        and forum.posts[pid].deleted_at is None
    )


def _actions_summary(post: Post, viewer: User | None) -> list[dict[str, Any]]:
    liked = viewer is not None and viewer.id in post.likers
    entry: dict[str, Any] = {
        "id": LIKE,
        "can_act": viewer is not None and viewer.id != post.user_id and not liked,
    }
    if post.likers:
        entry["count"] = len(post.likers)
    if liked:
        entry["acted"] = True
        entry["can_undo"] = True
    return [entry]


def post(forum: Forum, post: Post, viewer: User | None) -> dict[str, Any]:
    """PostSerializer (``GET /posts/{id}.json`` and friends)."""
    topic = forum.topics[post.topic_id]
    author = forum.users.get(post.user_id) or forum.users[-1]
    is_author = viewer is not None and viewer.id == post.user_id
    staff = viewer is not None and viewer.staff
    return {
        "id": post.id,
        "name": author.name,
        "username": author.username,
        "avatar_template": avatar_template(author),
        "created_at": iso(post.created_at),
        "cooked": post.cooked,
        "post_number": post.post_number,
        "post_type": post.post_type,
        "posts_count": len(topic.post_ids),
        "updated_at": iso(post.updated_at),
        "reply_count": _reply_count(forum, post),
        "reply_to_post_number": post.reply_to_post_number,
        "quote_count": post.quote_count,
        "incoming_link_count": 0,
        "reads": 1,
        "readers_count": 0,
        "score": 0,
        "yours": is_author,
        "topic_id": topic.id,
        "topic_slug": topic.slug,
        "display_username": author.name,
        "primary_group_name": None,
        "flair_name": None,
        "flair_url": None,
        "flair_bg_color": None,
        "flair_color": None,
        "flair_group_id": None,
        "badges_granted": [],
        "version": post.version,
        "can_edit": is_author or staff,
        "can_delete": (is_author or staff) and post.deleted_at is None,
        "can_recover": staff and post.deleted_at is not None,
        "can_see_hidden_post": staff,
        "can_wiki": staff,
        "user_title": author.title,
        "bookmarked": False,
        "raw": post.raw,
        "actions_summary": _actions_summary(post, viewer),
        "moderator": author.moderator,
        "admin": author.admin,
        "staff": author.staff,
        "user_id": author.id,
        "hidden": post.hidden,
        "trust_level": author.trust_level,
        "deleted_at": iso(post.deleted_at),
        "user_deleted": post.user_deleted,
        "edit_reason": post.edit_reason,
        "can_view_edit_history": True,
        "wiki": post.wiki,
        "reviewable_id": None,
        "reviewable_score_count": 0,
        "reviewable_score_pending_count": 0,
        "post_url": _post_url(topic, post),
        "mentioned_users": [],
    }


def post_in_stream(forum: Forum, p: Post, viewer: User | None) -> dict[str, Any]:
    """PostSerializer as used in a topic's post_stream."""
    data = post(forum, p, viewer)
    drop = ("raw", "posts_count", "badges_granted", "flair_group_id", "mentioned_users", "post_url")
    for key in drop:
        data.pop(key, None)
    data["reviewable_id"] = 0
    data["link_counts"] = []
    data["read"] = True
    return data


def latest_post(forum: Forum, p: Post, viewer: User | None) -> dict[str, Any]:
    """``GET /posts.json`` entries: PostSerializer with topic title, category and excerpt."""
    topic = forum.topics[p.topic_id]
    data = post(forum, p, viewer)
    data.pop("mentioned_users", None)
    data.update(
        {
            "topic_title": topic.title,
            "topic_html_title": topic.title,
            "category_id": topic.category_id,
            "excerpt": cooking.excerpt(p.cooked),
            "truncated": len(cooking.excerpt(p.cooked, 10_000)) > 200,
            "reviewable_id": None,
        }
    )
    return data


def webhook_post(forum: Forum, p: Post) -> dict[str, Any]:
    """WebHookPostSerializer (``post_*`` events)."""
    topic = forum.topics[p.topic_id]
    author = forum.users.get(p.user_id) or forum.users[-1]
    category = forum.categories.get(topic.category_id) if topic.category_id else None
    data = {
        "id": p.id,
        "name": author.name,
        "username": author.username,
        "avatar_template": avatar_template(author),
        "created_at": iso(p.created_at),
        "cooked": p.cooked,
        "post_number": p.post_number,
        "post_type": p.post_type,
        "posts_count": len(topic.post_ids),
        "updated_at": iso(p.updated_at),
        "reply_count": _reply_count(forum, p),
        "reply_to_post_number": p.reply_to_post_number,
        "quote_count": p.quote_count,
        "incoming_link_count": 0,
        "reads": 0,
        "score": 0,
        "topic_id": topic.id,
        "topic_slug": topic.slug,
        "topic_title": topic.title,
        "category_id": topic.category_id,
        "display_username": author.name,
        "primary_group_name": None,
        "flair_name": None,
        "flair_group_id": None,
        "version": p.version,
        "user_title": author.title,
        "bookmarked": False,
        "raw": p.raw,
        "moderator": author.moderator,
        "admin": author.admin,
        "staff": author.staff,
        "user_id": author.id,
        "hidden": p.hidden,
        "trust_level": author.trust_level,
        "deleted_at": iso(p.deleted_at),
        "user_deleted": p.user_deleted,
        "edit_reason": p.edit_reason,
        "wiki": p.wiki,
        "reviewable_id": None,
        "reviewable_score_count": 0,
        "reviewable_score_pending_count": 0,
        "post_url": _post_url(topic, p),
        "topic_posts_count": len([i for i in topic.post_ids if forum.posts[i].deleted_at is None]),
        "topic_filtered_posts_count": len(
            [i for i in topic.post_ids if forum.posts[i].deleted_at is None]
        ),
        "topic_archetype": topic.archetype,
    }
    if category is not None:
        data["category_slug"] = category.slug
    return data
