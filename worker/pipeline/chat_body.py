"""The facts in a signed ``chat_message`` webhook body, read once in the receiver.

Discourse's chat plugin (``plugins/chat/plugin.rb``) sends ``chat_message_created``,
``_edited``, ``_trashed`` and ``_restored`` under the type ``chat_message`` with the body
``{"chat_message": {"message": <Chat::MessageSerializer>, "channel": <Chat::ChannelSerializer>}}``.
Reading a message back costs an admin API call, and chat is busy, so the actor gets these
facts from the body instead (the signature vouches for them).

Part 2 (#18) moves this into ``worker/reads/parse.py`` with the other Discourse-JSON parsers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from worker.engine.textlen import count_units
from worker.pipeline.routes import BadEvent, is_id, is_text

CHAT_EVENTS = (
    "chat_message_created",
    "chat_message_edited",
    "chat_message_trashed",
    "chat_message_restored",
)
_MAX_TIME_CHARS = 40


def _id(obj: Mapping[str, Any], key: str, where: str) -> int:
    value = obj.get(key)
    if not is_id(value):
        raise BadEvent(f"chat_message: {where}.{key} must be an id from 1 to 2^63-1")
    return int(value)


def _optional_id(obj: Mapping[str, Any] | None, key: str) -> int | None:
    value = (obj or {}).get(key)
    return int(value) if is_id(value) else None


def _time(value: Any) -> str | None:
    ok = is_text(value) and value and len(value) <= _MAX_TIME_CHARS and value.isascii()
    return value if ok else None


def parse_chat_message(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The message's facts (JSON-able) from the ``chat_message`` object; ``BadEvent`` when
    the body is not a chat message (no message or channel, or bad ids).

    ``units`` is the length as people count it (one Chinese character or one Latin word is
    one unit; quotes, code and links do not count); the text itself is not kept.
    ``category_id`` is None for a channel that is not a category's (direct messages).
    ``user_id`` is None when the author's account is gone (Chat::NullUser, id -1).
    """
    message, channel = obj.get("message"), obj.get("channel")
    if not isinstance(message, Mapping) or not isinstance(channel, Mapping):
        raise BadEvent("chat_message: the body needs a message and a channel object")
    user_obj = message.get("user")
    user: Mapping[str, Any] = user_obj if isinstance(user_obj, Mapping) else {}
    text = message.get("message")
    if not is_text(text):
        raise BadEvent("chat_message: message.message must be text")
    mentions = message.get("mentioned_users")
    mentioned = sorted(
        {int(u["id"]) for u in mentions or [] if isinstance(u, Mapping) and is_id(u.get("id"))}
    )
    reply = message.get("in_reply_to")
    category_id = (
        _optional_id(channel, "chatable_id") if channel.get("chatable_type") == "Category" else None
    )
    username = user.get("username")
    return {
        "message_id": _id(message, "id", "message"),
        "channel_id": _id(channel, "id", "channel"),
        "category_id": category_id,
        "user_id": _optional_id(user, "id"),
        "username": username if is_text(username) and username else None,
        "created_at": _time(message.get("created_at")),
        "in_reply_to_id": _optional_id(reply if isinstance(reply, Mapping) else None, "id"),
        "in_reply_to_user_id": _optional_id(
            (reply or {}).get("user") if isinstance(reply, Mapping) else None, "id"
        ),
        "thread_id": _optional_id(message, "thread_id"),
        "mentioned_user_ids": mentioned,
        "units": count_units(text),
        "edited": message.get("edited") is True,
        "deleted_at": _time(message.get("deleted_at")),
    }
