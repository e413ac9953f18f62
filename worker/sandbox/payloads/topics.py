"""Topic JSON: TopicViewSerializer, list items and WebHookTopicViewSerializer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from worker.sandbox import cooking
from worker.sandbox.models import (
    Post,
    Topic,
    User,
)
from worker.sandbox.timeutil import iso

if TYPE_CHECKING:
    from worker.sandbox.state import Forum
from worker.sandbox.payloads.posts import post_in_stream
from worker.sandbox.payloads.users import avatar_template, basic_user


def tag_objects(forum: Forum, topic: Topic) -> list[dict[str, Any]]:
    return [{"id": forum.tag_id(name), "name": name, "slug": name} for name in topic.tags]


def _participants(forum: Forum, topic: Topic) -> list[User]:
    seen: list[int] = []
    for pid in topic.post_ids:
        post_ = forum.posts[pid]
        if post_.deleted_at is None and post_.user_id not in seen:
            seen.append(post_.user_id)
    return [forum.users[uid] for uid in seen if uid in forum.users]


def _word_count(forum: Forum, topic: Topic) -> int:
    return sum(len(forum.posts[pid].raw.split()) for pid in topic.post_ids)


def webhook_topic(forum: Forum, topic: Topic) -> dict[str, Any]:
    """WebHookTopicViewSerializer (``topic_*`` events), built when the event fires.

    Imitates: app/models/web_hook.rb#enqueue_topic_hooks (the payload serialized as the topic
    is then), app/serializers/web_hook_topic_view_serializer.rb (a TopicViewSerializer: its
    TopicTagsMixin tags are objects as in ``topic_view``). Simplified: no plugin keys."""
    creator = forum.users.get(topic.user_id) or forum.users[-1]
    last = forum.users.get(topic.last_post_user_id or topic.user_id) or creator
    visible_posts = [pid for pid in topic.post_ids if forum.posts[pid].deleted_at is None]
    deleted_by = forum.users.get(topic.deleted_by_id) if topic.deleted_by_id else None
    data: dict[str, Any] = {
        "tags": tag_objects(forum, topic),
        "tags_descriptions": {},
        "fancy_title": topic.title,
        "id": topic.id,
        "title": topic.title,
        "posts_count": len(visible_posts),
        "created_at": iso(topic.created_at),
        "views": topic.views,
        "reply_count": max(0, len(visible_posts) - 1),
        "like_count": sum(len(forum.posts[pid].likers) for pid in topic.post_ids),
        "last_posted_at": iso(topic.last_posted_at),
        "visible": topic.visible,
        "closed": topic.closed,
        "archived": topic.archived,
        "archetype": topic.archetype,
        "slug": topic.slug,
        "category_id": topic.category_id,
        "word_count": _word_count(forum, topic),
        "deleted_at": iso(topic.deleted_at),
        "user_id": topic.user_id,
        "featured_link": None,
        "pinned_globally": topic.pinned_globally,
        "pinned_at": iso(topic.pinned_at),
        "pinned_until": None,
        "unpinned": None,
        "pinned": topic.pinned_at is not None,
        "highest_post_number": topic.highest_post_number,
        "deleted_by": basic_user(deleted_by) if deleted_by else None,
        "has_deleted": len(visible_posts) != len(topic.post_ids),
        "bookmarked": False,
        "participant_count": len(_participants(forum, topic)),
        "queued_posts_count": 0,
        "thumbnails": None,
        "created_by": basic_user(creator),
        "last_poster": basic_user(last),
        "pending_posts": [],
    }
    if topic.archetype == "private_message":
        data["allowed_users"] = [
            basic_user(forum.users[uid]) for uid in topic.allowed_user_ids if uid in forum.users
        ]
    return data


def topic_view(
    forum: Forum, topic: Topic, viewer: User | None, posts: list[Post], stream: list[int]
) -> dict[str, Any]:
    """TopicViewSerializer (``GET /t/{id}.json``)."""
    creator = forum.users.get(topic.user_id) or forum.users[-1]
    last = forum.users.get(topic.last_post_user_id or topic.user_id) or creator
    staff = viewer is not None and viewer.staff
    participants = _participants(forum, topic)
    visible = [pid for pid in topic.post_ids if forum.posts[pid].deleted_at is None]
    data: dict[str, Any] = {
        "post_stream": {
            "posts": [post_in_stream(forum, p, viewer) for p in posts],
            "stream": stream,
        },
        "timeline_lookup": [[1, 0]],
        "suggested_topics": [],
        "tags": tag_objects(forum, topic),
        "tags_descriptions": {},
        "id": topic.id,
        "title": topic.title,
        "fancy_title": topic.title,
        "posts_count": len(visible),
        "created_at": iso(topic.created_at),
        "views": topic.views,
        "reply_count": max(0, len(visible) - 1),
        "like_count": sum(len(forum.posts[pid].likers) for pid in topic.post_ids),
        "last_posted_at": iso(topic.last_posted_at),
        "visible": topic.visible,
        "closed": topic.closed,
        "archived": topic.archived,
        "has_summary": False,
        "archetype": topic.archetype,
        "slug": topic.slug,
        "category_id": topic.category_id,
        "word_count": _word_count(forum, topic),
        "deleted_at": iso(topic.deleted_at),
        "user_id": topic.user_id,
        "featured_link": None,
        "pinned_globally": topic.pinned_globally,
        "pinned_at": iso(topic.pinned_at),
        "pinned_until": None,
        "image_url": None,
        "slow_mode_seconds": 0,
        "draft": None,
        "draft_key": f"topic_{topic.id}",
        "draft_sequence": 0,
        "unpinned": None,
        "pinned": topic.pinned_at is not None,
        "current_post_number": 1,
        "highest_post_number": topic.highest_post_number,
        "deleted_by": None,
        "has_deleted": len(visible) != len(topic.post_ids),
        "actions_summary": [
            {"id": 4, "count": 0, "hidden": False, "can_act": viewer is not None},
            {"id": 8, "count": 0, "hidden": False, "can_act": viewer is not None},
            {"id": 7, "count": 0, "hidden": False, "can_act": viewer is not None},
        ],
        "chunk_size": 20,
        "bookmarked": False,
        "bookmarks": [],
        "topic_timer": None,
        "message_bus_last_id": 0,
        "participant_count": len(participants),
        "show_read_indicator": False,
        "thumbnails": None,
        "slow_mode_enabled_until": None,
        "details": {
            "can_edit": staff or (viewer is not None and viewer.id == topic.user_id),
            "notification_level": 1,
            "can_move_posts": staff,
            "can_delete": staff,
            "can_remove_allowed_users": staff,
            "can_create_post": viewer is not None,
            "can_reply_as_new_topic": viewer is not None,
            "can_convert_topic": staff,
            "can_review_topic": staff,
            "can_close_topic": staff,
            "can_archive_topic": staff,
            "can_split_merge_topic": staff,
            "can_edit_staff_notes": staff,
            "can_toggle_topic_visibility": staff,
            "can_pin_unpin_topic": staff,
            "can_moderate_category": staff,
            "can_remove_self_id": viewer.id if viewer else 0,
            "participants": [
                {
                    "id": u.id,
                    "username": u.username,
                    "name": u.name or "",
                    "avatar_template": avatar_template(u),
                    "post_count": sum(
                        1 for pid in topic.post_ids if forum.posts[pid].user_id == u.id
                    ),
                    "primary_group_name": None,
                    "flair_name": None,
                    "flair_url": None,
                    "flair_color": None,
                    "flair_bg_color": None,
                    "flair_group_id": None,
                    "admin": u.admin,
                    "moderator": u.moderator,
                    "trust_level": u.trust_level,
                }
                for u in participants
            ],
            "created_by": basic_user(creator) | {"name": creator.name or ""},
            "last_poster": basic_user(last) | {"name": last.name or ""},
        },
    }
    if topic.archetype == "private_message":
        data["details"]["allowed_users"] = [
            basic_user(forum.users[uid]) for uid in topic.allowed_user_ids if uid in forum.users
        ]
        data["details"]["allowed_groups"] = [
            {"id": gid, "name": forum.groups[gid].name}
            for gid in topic.allowed_group_ids
            if gid in forum.groups
        ]
    return data


def topic_list_item(forum: Forum, topic: Topic, viewer: User | None) -> dict[str, Any]:
    """TopicListItemSerializer."""
    visible = [pid for pid in topic.post_ids if forum.posts[pid].deleted_at is None]
    last = forum.users.get(topic.last_post_user_id or topic.user_id)
    first = forum.posts[topic.post_ids[0]]
    posters = []
    for index, user in enumerate(_participants(forum, topic)[:5]):
        description = "Original Poster" if index == 0 else "Frequent Poster"
        posters.append(
            {
                "extras": "latest" if last and user.id == last.id else "",
                "description": description,
                "user_id": user.id,
                "primary_group_id": None,
            }
        )
    data: dict[str, Any] = {
        "id": topic.id,
        "title": topic.title,
        "fancy_title": topic.title,
        "slug": topic.slug,
        "posts_count": len(visible),
        "reply_count": max(0, len(visible) - 1),
        "highest_post_number": topic.highest_post_number,
        "image_url": None,
        "created_at": iso(topic.created_at),
        "last_posted_at": iso(topic.last_posted_at),
        "bumped": True,
        "bumped_at": iso(topic.bumped_at),
        "archetype": topic.archetype,
        "unseen": False,
        "pinned": topic.pinned_at is not None,
        "unpinned": None,
        "excerpt": cooking.excerpt(first.cooked),
        "visible": topic.visible,
        "closed": topic.closed,
        "archived": topic.archived,
        "bookmarked": False if viewer is not None else None,
        "liked": (viewer.id in _likers_of_topic(forum, topic)) if viewer is not None else None,
        "tags": list(topic.tags),
        "views": topic.views,
        "like_count": sum(len(forum.posts[pid].likers) for pid in topic.post_ids),
        "has_summary": False,
        "last_poster_username": last.username if last else "system",
        "category_id": topic.category_id,
        "pinned_globally": topic.pinned_globally,
        "featured_link": None,
        "posters": posters,
    }
    if topic.archetype == "private_message":
        data.pop("excerpt")
        data.pop("tags")
        data.update(
            {
                "last_read_post_number": topic.highest_post_number,
                "unread_posts": 0,
                "notification_level": 3,
                "bookmarked": False,
                "liked": False,
                "allowed_user_count": len(topic.allowed_user_ids),
                "participants": [
                    {
                        "extras": "",
                        "description": None,
                        "user_id": uid,
                        "primary_group_id": None,
                    }
                    for uid in topic.allowed_user_ids
                ],
            }
        )
    return data


def _likers_of_topic(forum: Forum, topic: Topic) -> set[int]:
    return {uid for pid in topic.post_ids for uid in forum.posts[pid].likers}


def topic_list_users(forum: Forum, topics: list[Topic]) -> list[dict[str, Any]]:
    ids: list[int] = []
    for topic in topics:
        for user in _participants(forum, topic):
            if user.id not in ids:
                ids.append(user.id)
        for uid in topic.allowed_user_ids:
            if uid not in ids:
                ids.append(uid)
    return [
        basic_user(forum.users[uid]) | {"name": forum.users[uid].name or ""}
        for uid in ids
        if uid in forum.users
    ]
