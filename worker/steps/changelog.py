"""The rules changelog (enqueued by ``worker.pipeline.changelog``), posted to the staff.

gather (the audit-log category) → engine (``worker.engine.changelog.plan_changelog``) →
Applier. The changelog states what Diamond itself now runs on and acts on no member, so
it is written as it is in shadow mode too, not wrapped as a rehearsal. Nothing to record
(the loaded rules were recorded when the change was announced).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from worker.engine.changelog import plan_changelog
from worker.forum import calls
from worker.reads.forum_view import category_ids
from worker.steps import StepContext

log = logging.getLogger(__name__)


class ChangelogForum(calls.ListCategories, calls.CreateTopic, Protocol):
    """The forum calls of the changelog (the category list; the post via the Applier)."""


def run(
    ctx: StepContext[ChangelogForum],
    lines: list[str],
    *,
    old_checksum: str,
    new_checksum: str,
    changed_at: datetime,
) -> None:
    """Post what changed in the rules (``lines``, key by key) to the audit log."""
    slug = ctx.rules.community.categories.audit_log
    category_id = category_ids(ctx.forum, ctx.redis).get(slug)
    if category_id is None:
        log.error(
            "rules changelog not posted: no category %r (run `diamond apply`): %s",
            slug,
            "; ".join(lines),
        )
        return
    actions = plan_changelog(
        ctx.rules,
        lines,
        old_checksum=old_checksum,
        new_checksum=new_checksum,
        changed_at=changed_at,
        category_id=category_id,
    )
    replace(ctx, live=True).apply(actions)
