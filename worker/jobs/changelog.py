"""The job that posts the rules changelog (enqueued by ``worker.pipeline.changelog``).

Gather (the audit-log category) → ``worker.engine.changelog.plan_changelog`` → the
Applier. The changelog states what Diamond itself now runs on and acts on no member, so
it is written as it is in shadow mode too, not wrapped as a rehearsal.
"""

from __future__ import annotations

import logging
from datetime import datetime

from worker.apply import Applier
from worker.engine.changelog import plan_changelog
from worker.pipeline import runtime
from worker.pipeline.changelog import ACTOR, QUEUE
from worker.pipeline.jobs import diamond_actor
from worker.reads.forum_view import category_ids

log = logging.getLogger(__name__)


@diamond_actor(queue=QUEUE, time_limit=120, actor_name=ACTOR)
def post_changelog(lines: list[str], old_checksum: str, new_checksum: str, changed_at: str) -> None:
    rules = runtime.rules()
    redis_client = runtime.redis_client()
    client = runtime.forum()
    slug = rules.community.categories.audit_log
    category_id = category_ids(client, redis_client).get(slug)
    if category_id is None:
        log.error(
            "rules changelog not posted: no category %r (run `diamond apply`): %s",
            slug,
            "; ".join(lines),
        )
        return
    actions = plan_changelog(
        rules,
        lines,
        old_checksum=old_checksum,
        new_checksum=new_checksum,
        changed_at=datetime.fromisoformat(changed_at),
        category_id=category_id,
    )
    Applier(client, redis_client, live=True, rules=rules).apply(actions)
