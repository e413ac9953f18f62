"""The job that posts the rules changelog (enqueued by ``worker.pipeline.changelog``).

Thin: builds a ``StepContext`` and calls ``worker.steps.changelog``.
"""

from __future__ import annotations

from datetime import datetime

from worker.pipeline.changelog import ACTOR, QUEUE
from worker.pipeline.jobs import diamond_actor
from worker.pipeline.runtime import step_context
from worker.steps import changelog


@diamond_actor(queue=QUEUE, time_limit=120, actor_name=ACTOR)
def post_changelog(lines: list[str], old_checksum: str, new_checksum: str, changed_at: str) -> None:
    changelog.run(
        step_context(),
        lines,
        old_checksum=old_checksum,
        new_checksum=new_checksum,
        changed_at=datetime.fromisoformat(changed_at),
    )
