"""Chat messages as facts, kept in Redis from the signed webhook bodies (no forum read).

    store = ChatStore(redis)
    store.record(event, facts)                       # facts: worker.pipeline.chat_body
    store.messages(category_id, since, until)        # a category channel's live messages

Layout (keys built in ``worker.state.keys``):

- ``diamond:chat:message:<id>``: hash of the message's facts (``units`` is the length as
  people count it; the text is not kept), ``edited``, ``deleted_at``;
- ``diamond:chat:category:<category id>``: the category channel's message ids scored by
  ``created_at`` (epoch seconds);
- ``diamond:chat:channel-seen``: each channel's highest message id recorded (the catch-up
  compares it with the channel's last message to find lost deliveries);
- ``diamond:chat:channel-read``: each channel's message id up to which the catch-up read
  its history (it reads on from there).

Only category channels are kept (Diamond's chat webhook is filtered to its categories;
direct messages are dropped here too). Deliveries are not ordered: a ``created`` that
arrives after an edit of the same message does not undo the edit; trashing and restoring
set and clear ``deleted_at``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from worker.state import keys

# Longer than any look-back of the rules (the health report and badges look back weeks).
FACTS_TTL_SECONDS = 400 * 24 * 3600


@dataclass(frozen=True)
class ChatMessage:
    """One chat message as Diamond knows it (what the engines may count)."""

    message_id: int
    channel_id: int
    category_id: int
    user_id: int | None
    username: str | None
    created_at: datetime
    units: int
    in_reply_to_id: int | None = None
    in_reply_to_user_id: int | None = None
    thread_id: int | None = None
    mentioned_user_ids: tuple[int, ...] = ()
    edited: bool = False
    deleted: bool = False


def _epoch(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _int(value: str | None) -> int | None:
    return int(value) if value else None


def _decode(raw: Mapping[bytes, bytes]) -> ChatMessage | None:
    fields = {k.decode(): v.decode() for k, v in raw.items()}
    created = fields.get("created_at")
    if not created or not fields.get("category_id") or not fields.get("message_id"):
        return None
    mentioned = fields.get("mentioned_user_ids", "")
    return ChatMessage(
        message_id=int(fields["message_id"]),
        channel_id=int(fields.get("channel_id") or 0),
        category_id=int(fields["category_id"]),
        user_id=_int(fields.get("user_id")),
        username=fields.get("username") or None,
        created_at=datetime.fromisoformat(created.replace("Z", "+00:00")),
        units=int(fields.get("units") or 0),
        in_reply_to_id=_int(fields.get("in_reply_to_id")),
        in_reply_to_user_id=_int(fields.get("in_reply_to_user_id")),
        thread_id=_int(fields.get("thread_id")),
        mentioned_user_ids=tuple(int(i) for i in mentioned.split(",") if i),
        edited=fields.get("edited") == "1",
        deleted=bool(fields.get("deleted_at")),
    )


class ChatStore:
    def __init__(self, redis_client: redis.Redis) -> None:
        self.redis = redis_client

    def record(self, event: str, facts: Mapping[str, Any]) -> str:
        """Keep the facts of one chat event; returns what was done (for logs and tests)."""
        category_id = facts.get("category_id")
        if category_id is None:
            return "ignored: not a category channel"
        key = keys.chat_message(facts["message_id"])
        fields = {
            name: "" if value is None else str(value)
            for name, value in facts.items()
            if name != "mentioned_user_ids"
        }
        fields["mentioned_user_ids"] = ",".join(str(i) for i in facts.get("mentioned_user_ids", []))
        fields["edited"] = "1" if facts.get("edited") else "0"
        if event == "chat_message_created" and self.redis.exists(key):
            return "kept: known already"
        if event == "chat_message_restored":
            fields["deleted_at"] = ""
        category = keys.chat_category(category_id)
        with self.redis.pipeline() as pipe:
            pipe.hset(key, mapping={k: v for k, v in fields.items()})
            pipe.expire(key, FACTS_TTL_SECONDS)
            score = _epoch(facts.get("created_at"))
            if score is not None:
                pipe.zadd(category, {str(facts["message_id"]): score})
                pipe.expire(category, FACTS_TTL_SECONDS)
            if facts.get("channel_id"):
                seen = {str(facts["channel_id"]): int(facts["message_id"])}
                pipe.zadd(keys.CHAT_CHANNEL_SEEN, seen, gt=True)  # only ever up
            pipe.execute()
        return "recorded"

    def read_through_all(self) -> dict[int, int]:
        """Each channel's message id up to which the catch-up read its history."""
        raw: dict[bytes, bytes] = self.redis.hgetall(keys.CHAT_CHANNEL_READ)  # type: ignore[assignment]
        return {int(k): int(v) for k, v in raw.items()}

    def set_read_through(self, channel_id: int, message_id: int) -> None:
        self.redis.hset(keys.CHAT_CHANNEL_READ, str(channel_id), message_id)

    def last_seen_all(self) -> dict[int, int]:
        """``last_seen`` of every channel, in one read."""
        return {
            int(member): int(score)
            for member, score in self.redis.zscan_iter(keys.CHAT_CHANNEL_SEEN)
        }

    def messages(
        self,
        category_id: int,
        since: datetime,
        until: datetime,
        *,
        include_deleted: bool = False,
    ) -> list[ChatMessage]:
        """The category channel's messages created in [since, until), oldest first."""
        ids: list[bytes] = self.redis.zrangebyscore(  # type: ignore[assignment]  # sync client
            keys.chat_category(category_id), since.timestamp(), f"({until.timestamp()}"
        )
        if not ids:
            return []
        with self.redis.pipeline() as pipe:
            for message_id in ids:
                pipe.hgetall(keys.chat_message(int(message_id)))
            raws = pipe.execute()
        out = []
        for raw in raws:
            message = _decode(raw) if raw else None
            if message is None or (message.deleted and not include_deleted):
                continue
            out.append(message)
        return out
