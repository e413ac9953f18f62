"""Chat JSON: Chat::MessageSerializer, Chat::ChannelSerializer and the membership
serializers of Discourse's chat plugin (``plugins/chat/app/serializers/chat/``).

Simplifies: no reactions, bookmarks, uploads, blocks or flags (``available_flags`` is
empty), no user status; ``meta.message_bus_last_ids`` are zeros.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from worker.sandbox import cooking
from worker.sandbox.payloads.categories import _category_core
from worker.sandbox.payloads.users import basic_user
from worker.sandbox.timeutil import iso

if TYPE_CHECKING:
    from worker.sandbox.models import User
    from worker.sandbox.state import Forum
    from worker.sandbox.state_chat import ChatChannel, ChatMembership, ChatMessage


def _iso(moment: datetime | None) -> str | None:
    return iso(moment) if moment is not None else None


def _iso8601(moment: datetime) -> str:
    """Ruby's ``Time#iso8601`` (what MessageSerializer calls): whole seconds, UTC ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _null_user() -> dict[str, Any]:
    """Chat::NullUser (a message whose author is gone)."""
    return {
        "id": -1,
        "username": "deleted",
        "name": None,
        "avatar_template": "/images/avatar.png",
    }


def message_user(user: User | None) -> dict[str, Any]:
    """Chat::MessageUserSerializer (BasicUserWithStatusSerializer and staff flags)."""
    if user is None:
        return {
            **_null_user(),
            "moderator": False,
            "admin": False,
            "staff": False,
            "new_user": False,
            "primary_group_name": None,
        }
    return {
        **basic_user(user),
        "moderator": user.moderator,
        "admin": user.admin,
        "staff": user.staff,
        "new_user": user.trust_level == 0,
        "primary_group_name": None,
    }


def _in_reply_to(forum: Forum, msg: ChatMessage) -> dict[str, Any] | None:
    """Chat::InReplyToSerializer."""
    if msg.in_reply_to_id is None:
        return None
    parent = forum.chat_messages.get(msg.in_reply_to_id)
    if parent is None:
        return None
    author = forum.users.get(parent.user_id)
    return {
        "id": parent.id,
        "cooked": parent.cooked,
        "excerpt": cooking.excerpt(parent.cooked, 50),
        "user": basic_user(author) if author else _null_user(),
        "chat_webhook_event": None,
    }


def message(forum: Forum, msg: ChatMessage, viewer: User | None) -> dict[str, Any]:
    """Chat::MessageSerializer (root: false), as ``viewer`` sees it."""
    channel = forum.chat_channels[msg.channel_id]
    author = forum.users.get(msg.user_id)
    data: dict[str, Any] = {
        "id": msg.id,
        "message": msg.message,
        "cooked": msg.cooked,
        "created_at": _iso8601(msg.created_at),
        "excerpt": cooking.excerpt(msg.cooked, 50),
        "chat_channel_id": msg.channel_id,
        "streaming": False,
        "user": message_user(author),
        # MessageSerializer#mentioned_users: at most max_mentions_per_chat_message, by id
        # (simplifies: the first ones mentioned, where Discourse takes whichever rows come).
        "mentioned_users": [
            basic_user(forum.users[uid])
            for uid in sorted(
                [uid for uid in msg.mentioned_user_ids if uid in forum.users][
                    : int(forum.settings["max_mentions_per_chat_message"])
                ]
            )
        ],
        "available_flags": [],
        "blocks": [],
        "uploads": [],
        "chat_webhook_event": None,
    }
    if msg.deleted_at is not None:  # include_deleted_at?, include_deleted_by_id?
        data["deleted_at"] = _iso8601(msg.deleted_at)
        data["deleted_by_id"] = msg.deleted_by_id
    thread = forum.chat_threads.get(msg.thread_id) if msg.thread_id else None
    if channel.threading_enabled and msg.thread_id is not None:  # include_thread_id?
        data["thread_id"] = msg.thread_id
        if thread is not None and thread.original_message_id == msg.id:
            data["thread"] = {
                "id": thread.id,
                "channel_id": thread.channel_id,
                "original_message_id": thread.original_message_id,
                "replies_count": thread.replies_count,
            }
    if msg.revisions:  # include_edited?
        data["edited"] = True
    reply = _in_reply_to(forum, msg)
    if reply is not None:  # include_in_reply_to?
        data["in_reply_to"] = reply
    return data


def membership(
    channel: ChatChannel, member: ChatMembership, *, user: User | None = None
) -> dict[str, Any]:
    """Chat::BaseChannelMembershipSerializer; with ``user``: UserChannelMembershipSerializer."""
    data: dict[str, Any] = {
        "following": member.following,
        "muted": False,
        "desktop_notification_level": "mention",
        "mobile_notification_level": "mention",
        "chat_channel_id": channel.id,
        "last_read_message_id": member.last_read_message_id,
        "last_viewed_at": _iso(member.last_viewed_at or member.created_at),
    }
    if user is not None:
        data["user"] = basic_user(user)
    return data


def _last_message(forum: Forum, channel: ChatChannel) -> dict[str, Any] | None:
    """Chat::LastMessageSerializer."""
    msg = forum.chat_messages.get(channel.last_message_id or 0)
    if msg is None or msg.deleted_at is not None:
        return None
    author = forum.users.get(msg.user_id)
    return {
        "id": msg.id,
        "message": msg.message,
        "cooked": msg.cooked,
        "created_at": _iso(msg.created_at),
        "excerpt": cooking.excerpt(msg.cooked, 50),
        "user": basic_user(author) if author else _null_user(),
    }


def channel_title(forum: Forum, channel: ChatChannel) -> str:
    """``object.name || object.title(user)``: a category channel is titled by its category."""
    if channel.name:
        return channel.name
    category = forum.categories.get(channel.chatable_id)
    return category.name if category else ""


def channel(
    forum: Forum,
    channel: ChatChannel,
    viewer: User | None,
    member: ChatMembership | None = None,
) -> dict[str, Any]:
    """Chat::ChannelSerializer (root: false) for a category channel, as ``viewer`` sees it."""
    category = forum.categories.get(channel.chatable_id)
    title = channel_title(forum, channel)
    staff = viewer is not None and viewer.staff
    data: dict[str, Any] = {
        "id": channel.id,
        "allow_channel_wide_mentions": channel.allow_channel_wide_mentions,
        "chatable": _category_core(forum, category, None) if category else None,
        "chatable_id": channel.chatable_id,
        "chatable_type": "Category",
        "chatable_url": f"/c/{category.slug}/{category.id}" if category else None,
        "title": title,
        "unicode_title": title,
        "slug": channel.slug,
        "status": channel.status,
        "memberships_count": len([m for m in channel.memberships if m > 0]),
        "meta": {
            "message_bus_last_ids": {
                "channel_message_bus_last_id": 0,
                "new_messages": 0,
                "new_mentions": 0,
                "kick": 0,
            },
            "can_join_chat_channel": forum.can_join_chat_channel(viewer, channel),
            "can_flag": False,
            "user_silenced": viewer is not None and viewer.silenced(forum.now()),
            "can_moderate": viewer is not None and forum._moderates_chat(viewer, channel),
            "can_delete_self": True,
            "can_delete_others": viewer is not None and forum._moderates_chat(viewer, channel),
        },
        "threading_enabled": channel.threading_enabled,
        "icon_upload_url": None,
        "last_message": _last_message(forum, channel),
    }
    if channel.description:  # include_description?
        data["description"] = channel.description
    if staff:  # include_auto_join_users?: category channel and can_edit_chat_channel?
        data["auto_join_users"] = channel.auto_join_users
    if member is not None:  # include_current_user_membership?
        data["current_user_membership"] = membership(channel, member)
    return data
