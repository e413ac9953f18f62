"""The job that posts a staff notice (raised by ``worker.pipeline.notices.raise_notice``).

Thin: builds a ``StepContext`` and calls ``worker.steps.notices``.
"""

from __future__ import annotations

from worker.pipeline.jobs import diamond_actor
from worker.pipeline.notices import ACTOR, QUEUE
from worker.pipeline.runtime import step_context
from worker.steps import notices


@diamond_actor(queue=QUEUE, time_limit=120, actor_name=ACTOR)
def post_notice(condition: str, lines: list[str], raised_at: str) -> None:
    notices.run(step_context(), condition, lines, raised_at)
