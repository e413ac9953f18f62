"""The chat channel of each squad's category, for reminders sent to the squad's channel.

A channel's id never changes, so the ids are kept in Redis (``keys.SQUAD_CHANNELS``,
category id -> channel id) and the channels are listed (``GET /chat/api/channels``, 25
a page) only when a squad's category has no known channel: after a squad is formed, or
for a squad without one (then each run looks again, and the reminder goes to the thread).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import redis

from worker.engine.facts import Squad
from worker.forum import calls
from worker.state import keys


class ChannelsForum(calls.IterChatChannels, Protocol):
    pass


def squad_channels(
    client: ChannelsForum, redis_client: redis.Redis, squads: Iterable[Squad]
) -> dict[str, int]:
    """Squad slug -> the chat channel id of its category, for squads whose category has
    one (one listing of the channels when a squad's is not known yet)."""
    with_category = [s for s in squads if s.category_id is not None]
    known = {int(k): int(v) for k, v in (redis_client.hgetall(keys.SQUAD_CHANNELS) or {}).items()}
    if any(s.category_id not in known for s in with_category):
        found = {
            int(c["chatable_id"]): int(c["id"])
            for c in client.iter_chat_channels()
            if c.get("chatable_type") == "Category" and c.get("chatable_id") is not None
        }
        wanted = {s.category_id for s in with_category}
        fresh = {cat: ch for cat, ch in found.items() if cat in wanted and cat not in known}
        if fresh:
            redis_client.hset(
                keys.SQUAD_CHANNELS, mapping={str(cat): str(ch) for cat, ch in fresh.items()}
            )
        known.update(fresh)
    return {
        s.slug: known[s.category_id]
        for s in with_category
        if s.category_id is not None and s.category_id in known
    }


def forget_squad_channels(redis_client: redis.Redis) -> None:
    """Drop the kept ids (a channel answered 404: deleted): the next use lists again."""
    redis_client.delete(keys.SQUAD_CHANNELS)
