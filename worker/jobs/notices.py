"""The job that posts a staff notice (raised by ``worker.pipeline.notices.raise_notice``).

Gather (the audit-log category, the condition's topic of the day, how many occurrences
were not posted) → ``worker.engine.notices.plan_notice`` → the Applier (notices touch
no member, so they are posted in shadow mode too) → remember the day's topic.
"""

from __future__ import annotations

import logging
from datetime import datetime

from worker.apply import Applier
from worker.engine.notices import Notice, plan_notice, topic_day
from worker.forum.errors import ForumRejected
from worker.pipeline import runtime
from worker.pipeline.jobs import diamond_actor
from worker.pipeline.notices import QUEUE, SUPPRESSED_PREFIX, TOPIC_PREFIX, TOPIC_TTL_SECONDS
from worker.reads.forum_view import category_ids

log = logging.getLogger(__name__)


@diamond_actor(queue=QUEUE, time_limit=120, actor_name="notices.post_notice")
def post_notice(condition: str, lines: list[str], raised_at: str) -> None:
    rules = runtime.rules()
    redis_client = runtime.redis_client()
    client = runtime.forum()
    when = datetime.fromisoformat(raised_at)
    slug = rules.community.categories.audit_log
    topic_key = f"{TOPIC_PREFIX}{condition}:{topic_day(rules, when)}"
    try:
        category_id = category_ids(client, redis_client).get(slug)
        if category_id is None:
            log.error(
                "notice %s not posted: no category %r (run `diamond apply`): %s",
                condition,
                slug,
                "; ".join(lines),
            )
            return
        topic = redis_client.get(topic_key)
        suppressed = int(redis_client.get(SUPPRESSED_PREFIX + condition) or 0)
        notice = Notice(condition, tuple(lines), when, suppressed)
        actions = plan_notice(
            rules, notice, category_id=category_id, topic_id=int(topic) if topic else None
        )
        # A notice states Diamond's own condition (jobs that gave up, rules that do not
        # load), true in either mode and acting on no one: never marked as a shadow rehearsal.
        applier = Applier(client, redis_client, live=True, rules=rules)
        report = applier.apply(actions)
    except ForumRejected as exc:
        if exc.status in (401, 403):
            # Told with the key the forum refuses? No: health, metrics and logs say it.
            log.error(
                "notice %s not posted: the forum refuses the API key (%s); "
                "see `diamond health`: %s",
                condition,
                exc,
                "; ".join(lines),
            )
            return
        raise
    redis_client.decrby(SUPPRESSED_PREFIX + condition, suppressed)
    for action in report.done:
        result = report.results.get(action.key) or {}
        if action.kind == "CreateTopic" and result.get("topic_id"):
            redis_client.set(topic_key, int(result["topic_id"]), ex=TOPIC_TTL_SECONDS)
