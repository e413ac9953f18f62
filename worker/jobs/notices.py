"""The job that posts a staff notice (raised by ``worker.pipeline.notices.raise_notice``).

Thin: gets its ``StepContext`` (``context=True``) and calls ``worker.steps.notices``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from worker.pipeline.jobs import diamond_actor
from worker.pipeline.notices import ACTOR, QUEUE
from worker.steps import StepContext, notices

if TYPE_CHECKING:
    from worker.forum.client import ForumClient


@diamond_actor(queue=QUEUE, time_limit=120, actor_name=ACTOR, context=True)
def post_notice(
    ctx: StepContext[ForumClient], condition: str, lines: list[str], raised_at: str
) -> None:
    notices.run(ctx, condition, lines, raised_at)
