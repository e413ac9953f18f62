"""A staff notice (raised by ``worker.pipeline.notices.raise_notice``), posted.

gather (the audit-log category; the condition's topic of the day; how many occurrences
were not posted) → engine (``worker.engine.notices.plan_notice``) → Applier (notices
touch no member: posted in shadow mode too) → record (the day's topic; the suppressed
count told).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from worker.engine.notices import Notice, plan_notice, topic_day
from worker.forum import calls
from worker.forum.errors import ForumRejected
from worker.reads.forum_view import category_ids
from worker.state import keys
from worker.steps import StepContext

log = logging.getLogger(__name__)
TOPIC_TTL_SECONDS = 3 * 24 * 3600


class NoticeForum(calls.ListCategories, calls.CreateTopic, calls.CreatePost, Protocol):
    """The forum calls of a notice (the category list; the post goes through the Applier)."""


def run(ctx: StepContext[NoticeForum], condition: str, lines: list[str], raised_at: str) -> None:
    """Post the notice of ``condition`` raised at ``raised_at`` (ISO time)."""
    rules, redis_client = ctx.rules, ctx.redis
    when = datetime.fromisoformat(raised_at)
    slug = rules.community.categories.audit_log
    topic_key = keys.notice_topic(condition, topic_day(rules, when))
    suppressed_key = keys.notice_suppressed(condition)
    try:
        category_id = category_ids(ctx.forum, redis_client).get(slug)
        if category_id is None:
            log.error(
                "notice %s not posted: no category %r (run `diamond apply`): %s",
                condition,
                slug,
                "; ".join(lines),
            )
            return
        topic = redis_client.get(topic_key)
        suppressed = int(redis_client.get(suppressed_key) or 0)
        notice = Notice(condition, tuple(lines), when, suppressed)
        actions = plan_notice(
            rules, notice, category_id=category_id, topic_id=int(topic) if topic else None
        )
        # A notice states Diamond's own condition (jobs that gave up, rules that do not
        # load), true in either mode and acting on no one: never marked as a shadow rehearsal.
        applied = replace(ctx, live=True).apply(actions)
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
    redis_client.decrby(suppressed_key, suppressed)
    for action in applied.done:
        result = applied.results.get(action.key) or {}
        if action.kind == "CreateTopic" and result.get("topic_id"):
            redis_client.set(topic_key, int(result["topic_id"]), ex=TOPIC_TTL_SECONDS)
