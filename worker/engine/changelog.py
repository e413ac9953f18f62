"""The rules changelog: what a change of the rule files changed, posted to the staff audit log.

Pure: the changes (``worker.rules.diff``), the two checksums and the moment in; the topic
that tells the staff out, in the community's default language. One topic per change; its
title carries the day, the time and the new rules' checksum, so it is unique for the life
of the forum (Discourse refuses a title a listable topic already holds). Whether a change
is told at all is decided before (``worker.pipeline.changelog``: once per checksum).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from worker import actions as a
from worker.rules import Rules

TEMPLATE = "rules_changelog"  # placeholders declared in worker.rules.models.FIXED_TEMPLATES
MAX_LINES = 40  # read on a phone; `diamond whatif --rules` shows the rest


def plan_changelog(
    rules: Rules,
    changes: Sequence[str],
    *,
    old_checksum: str,
    new_checksum: str,
    changed_at: datetime,
    category_id: int,
) -> list[a.Action]:
    """The topic listing ``changes`` (one ``key: old → new`` each) in the audit log."""
    local = changed_at.astimezone(rules.tz)
    lines = [f"- `{line}`" for line in changes[:MAX_LINES]]
    if len(changes) > MAX_LINES:
        lines.append(f"- … (+{len(changes) - MAX_LINES})")
    msg = rules.render(
        TEMPLATE,
        None,
        date=local.date().isoformat(),
        time=local.strftime("%H:%M:%S"),
        count=len(changes),
        changes="\n".join(lines),
        old_checksum=old_checksum,
        checksum=new_checksum,
    )
    return [
        a.CreateTopic(
            key=f"rules_changelog:{old_checksum}:{new_checksum}:{changed_at.isoformat()}",
            reason=f"rules changelog {old_checksum} → {new_checksum}: {len(changes)} change(s)",
            category_id=category_id,
            title=msg.title,
            raw=msg.body,
            affects_members=False,
        )
    ]
