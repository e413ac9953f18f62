"""Chat messages as facts: the hook for part 2 of #18 (chat in the ledger and the health graph).

Routes: ``chat_message_created/edited/trashed/restored`` → ``chat.on_chat_message``, with the
message's facts parsed once from the signed body (``worker.pipeline.chat_body``); no forum
call. The actor only records them in Redis, one hash per message and each category's
messages by time, so part 2 can read a squad's chat without touching the forum:

- ``diamond:chat:message:<id>``: the facts (``units`` is the length as people count it;
  the text is not kept), ``edited``, ``deleted_at``;
- ``diamond:chat:category:<category id>``: message ids scored by ``created_at``.

Direct messages never arrive (Diamond's chat webhook is filtered to its categories) and are
dropped here too. Part 2 moves the keys to ``worker/state/keys.py`` and the recording into
a step (``worker/steps/``) that feeds the ledger and the health graph.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import redis

from worker.pipeline import runtime
from worker.pipeline.chat_body import CHAT_EVENTS, parse_chat_message
from worker.pipeline.jobs import diamond_actor
from worker.pipeline.routes import add_route
from worker.state import keys

log = logging.getLogger(__name__)
QUEUE = "chat"
MESSAGE_PREFIX = keys.CHAT_MESSAGE_PREFIX
CATEGORY_PREFIX = keys.CHAT_CATEGORY_PREFIX
# Longer than any look-back of the rules (the health report and badges look back weeks).
FACTS_TTL_SECONDS = 400 * 24 * 3600


def message_key(message_id: int) -> str:
    return f"{MESSAGE_PREFIX}{int(message_id)}"


def category_key(category_id: int) -> str:
    return f"{CATEGORY_PREFIX}{int(category_id)}"


def _epoch(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def record_chat_message(redis_client: redis.Redis, event: str, facts: dict[str, Any]) -> str:
    """Keep the facts of one chat event; returns what was done (for logs and tests).

    A ``created`` that arrives after an edit of the same message (deliveries are not
    ordered) does not undo the edit; trashing and restoring set and clear ``deleted_at``.
    """
    category_id = facts.get("category_id")
    if category_id is None:
        return "ignored: not a category channel"
    key = message_key(facts["message_id"])
    fields = {
        name: "" if value is None else str(value)
        for name, value in facts.items()
        if name != "mentioned_user_ids"
    }
    fields["mentioned_user_ids"] = ",".join(str(i) for i in facts.get("mentioned_user_ids", []))
    fields["edited"] = "1" if facts.get("edited") else "0"
    if event == "chat_message_created" and redis_client.exists(key):
        return "kept: known already"
    if event == "chat_message_restored":
        fields["deleted_at"] = ""
    with redis_client.pipeline() as pipe:
        pipe.hset(key, mapping={k: v for k, v in fields.items()})
        pipe.expire(key, FACTS_TTL_SECONDS)
        score = _epoch(facts.get("created_at"))
        if score is not None:
            pipe.zadd(category_key(category_id), {str(facts["message_id"]): score})
            pipe.expire(category_key(category_id), FACTS_TTL_SECONDS)
        pipe.execute()
    return "recorded"


@diamond_actor(queue=QUEUE, time_limit=30)
def on_chat_message(
    message_id: int, channel_id: int, event: str, facts: dict[str, Any] | None = None
) -> None:
    """One chat message event, from its signed body's facts (no forum call)."""
    if not facts:
        log.warning("chat %s: message %s came without facts; skipped", event, message_id)
        return
    outcome = record_chat_message(runtime.redis_client(), event, facts)
    log.debug("chat %s: message %s in channel %s %s", event, message_id, channel_id, outcome)


for _event in CHAT_EVENTS:
    add_route(
        _event,
        on_chat_message.actor_name,
        ids={"message_id": "message.id", "channel_id": "channel.id"},
        pass_event=True,
        parse=parse_chat_message,
    )
