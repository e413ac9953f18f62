"""Squad chat as the engines read it: the squad channels' live messages from ``ChatStore``.

No forum call: the facts came with the signed webhook bodies. Each squad with a private
category has one category channel (``worker.engine.squads``); its messages are kept under
the category's id. Staff and the ``system`` user write there too: the engines keep only
the people they measure.
"""

from __future__ import annotations

from datetime import datetime

import redis

from worker.engine.facts import Roster
from worker.state.chat import ChatMessage, ChatStore


def squad_messages(
    redis_client: redis.Redis, roster: Roster, since: datetime, until: datetime
) -> list[ChatMessage]:
    """Every squad channel's live messages created in ``[since, until)``, oldest first."""
    store = ChatStore(redis_client)
    out: list[ChatMessage] = []
    for category_id in sorted({s.category_id for s in roster.squads if s.category_id}):
        out.extend(store.messages(category_id, since, until))
    out.sort(key=lambda m: (m.created_at, m.message_id))
    return out
