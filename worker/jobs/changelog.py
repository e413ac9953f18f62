"""The job that posts the rules changelog (enqueued by ``worker.pipeline.changelog``).

Thin: gets its ``StepContext`` (``context=True``) and calls ``worker.steps.changelog``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from worker.pipeline.changelog import ACTOR, QUEUE
from worker.pipeline.jobs import diamond_actor
from worker.steps import StepContext, changelog

if TYPE_CHECKING:
    from worker.forum.client import ForumClient


@diamond_actor(queue=QUEUE, time_limit=120, actor_name=ACTOR, context=True)
def post_changelog(
    ctx: StepContext[ForumClient],
    lines: list[str],
    old_checksum: str,
    new_checksum: str,
    changed_at: str,
) -> None:
    changelog.run(
        ctx,
        lines,
        old_checksum=old_checksum,
        new_checksum=new_checksum,
        changed_at=datetime.fromisoformat(changed_at),
    )
