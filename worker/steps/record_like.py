"""A like (``post_liked``): who liked which post, into the recognition store.

gather (the liker's name from the signed body; an older message without it reads the
user once) → record (``worker.state.recognition``). No decision and no forum write: the
weekly badge and health steps read the likes.
"""

from __future__ import annotations

from typing import Protocol

from worker.engine.facts import LikeFact
from worker.forum import calls
from worker.state.recognition import RecognitionStore
from worker.steps import StepContext


class LikeForum(calls.AdminGetUser, Protocol):
    """The one read a like may need (a message queued before the route carried the name)."""


def run(
    ctx: StepContext[LikeForum], post_id: int, user_id: int, username: str | None = None
) -> bool:
    """Remember that ``username`` (or user ``user_id``) liked ``post_id`` at ``ctx.now``;
    False if it was known."""
    if not username:
        username = str(ctx.forum.admin_get_user(user_id).get("username") or "")
    if not username:
        return False
    return RecognitionStore(ctx.redis).put_like(LikeFact(post_id, username, ctx.now))
