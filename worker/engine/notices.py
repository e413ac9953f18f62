"""Staff notices: a failure a human must know about, as a post in the staff audit log.

Pure: the condition, what happened and ``now`` in; the action that tells the staff
out. One topic per condition per day (Discourse keeps topic titles unique among
listable topics for the life of the forum, so the day is in the title), replies to
it for later occurrences that day. How often a condition may be told at all is
decided before (``worker.pipeline.notices``: a window per condition in Redis).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from worker import actions as a
from worker.rules import Rules

# condition -> message template (rules/messages/*.yml; placeholders in FIXED_TEMPLATES)
TEMPLATES: dict[str, str] = {
    "jobs_failed": "notice_jobs_failed",
    "rules_invalid": "notice_rules_invalid",
    # a decision about people held back while their facts are missing (worker.state.membership)
    "camp_facts_missing": "notice_camp_facts_missing",
    "audit_facts_missing": "notice_audit_facts_missing",
    # a job stopped on a state only a person can sort out (worker.errors.NeedsHuman)
    "needs_human": "notice_needs_human",
}
MAX_LINES = 30  # a notice is read on a phone; the rest is one command away


@dataclass(frozen=True)
class Notice:
    condition: str  # a key of TEMPLATES
    lines: tuple[str, ...]  # one per job that gave up / per rule problem
    raised_at: datetime  # names this notice: a retried job posts it once
    suppressed: int = 0  # occurrences in the window before it that were not posted


def topic_day(rules: Rules, now: datetime) -> str:
    """The community's day of ``now``: the day's topic of a condition is named by it."""
    return now.astimezone(rules.tz).date().isoformat()


def plan_notice(
    rules: Rules, notice: Notice, *, category_id: int, topic_id: int | None
) -> list[a.Action]:
    """The post telling the staff, in the community's default language; a new topic when
    the condition has none ``topic_day`` yet (``topic_id`` None), else a reply to it."""
    local = notice.raised_at.astimezone(rules.tz)
    day = topic_day(rules, notice.raised_at)
    lines = list(notice.lines[:MAX_LINES])
    if len(notice.lines) > MAX_LINES:
        lines.append("…")
    msg = rules.render(
        TEMPLATES[notice.condition],
        None,
        date=day,
        time=local.strftime("%H:%M"),
        count=len(notice.lines),
        details="\n".join(f"- `{line}`" for line in lines),
        suppressed=notice.suppressed,
    )
    # A title without the day would be refused by Discourse from the second day on.
    title = msg.title if day in msg.title else f"{msg.title} · {day}"
    reason = f"staff notice {notice.condition}: {len(notice.lines)} line(s)"
    if topic_id is None:
        return [
            a.CreateTopic(
                key=f"notice:{notice.condition}:{day}",
                reason=reason,
                category_id=category_id,
                title=title,
                raw=msg.body,
                affects_members=False,
            )
        ]
    return [
        a.CreatePost(
            key=f"notice:{notice.condition}:{notice.raised_at.isoformat()}",
            reason=reason,
            topic_id=topic_id,
            raw=msg.body,
            affects_members=False,
        )
    ]
