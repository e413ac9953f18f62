"""Chat messages as facts: the hook for part 2 of #18 (chat in the ledger and the health graph).

Routes: ``chat_message_created/edited/trashed/restored`` → ``chat.on_chat_message``, with the
message's facts parsed once from the signed body (``worker.pipeline.chat_body``); no forum
call. The actor only records them in Redis (``worker.state.chat.ChatStore``), so a step can
read a squad's chat without touching the forum.
"""

from __future__ import annotations

import logging
from typing import Any

from worker.pipeline import runtime
from worker.pipeline.chat_body import CHAT_EVENTS, parse_chat_message
from worker.pipeline.jobs import diamond_actor
from worker.pipeline.routes import add_route
from worker.state.chat import ChatStore

log = logging.getLogger(__name__)
QUEUE = "chat"


@diamond_actor(queue=QUEUE, time_limit=30)
def on_chat_message(
    message_id: int, channel_id: int, event: str, facts: dict[str, Any] | None = None
) -> None:
    """One chat message event, from its signed body's facts (no forum call)."""
    if not facts:
        log.warning("chat %s: message %s came without facts; skipped", event, message_id)
        return
    outcome = ChatStore(runtime.redis_client()).record(event, facts)
    log.debug("chat %s: message %s in channel %s %s", event, message_id, channel_id, outcome)


for _event in CHAT_EVENTS:
    add_route(
        _event,
        on_chat_message.actor_name,
        ids={"message_id": "message.id", "channel_id": "channel.id"},
        pass_event=True,
        parse=parse_chat_message,
    )
