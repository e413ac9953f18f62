"""Job ``membership.on_group_event``: a group changed on the forum (an admin's hand change,
or the echo of Diamond's own): the roster state follows, with no forum read.

gather: the signed body's ids only (``group_user``: WebHookGroupUserSerializer carries
``group_id``, ``user_id``, ``created_at``; ``group_updated``/``group_destroyed``: the
group's ``id``); engine: none (nothing is decided about anyone); Applier: none; record:
``worker.state.roster`` (a member added or removed in place when the user id is known
from an earlier member listing, else the group is marked to be read at its next use;
a group edited or deleted is marked likewise).
"""

from __future__ import annotations

from worker.engine.facts import parse_time
from worker.state import roster as roster_state
from worker.steps import StepContext

GROUP_USER_EVENTS = ("user_added_to_group", "user_removed_from_group")


def run(
    ctx: StepContext[object],  # no forum call: the roster state only
    event: str | None,
    group_id: int,
    user_id: int | None = None,
    created_at: str | None = None,
) -> bool:
    """Record the change; True if the roster state changed (an echo changes nothing)."""
    if event in GROUP_USER_EVENTS and user_id is not None:
        at = parse_time(created_at) if created_at else ctx.now
        return roster_state.on_group_user(ctx.redis, event, group_id, user_id, at)
    return roster_state.on_group_changed(ctx.redis, group_id)
