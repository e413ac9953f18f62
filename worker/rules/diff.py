"""What changed between two sets of rules, key by key (``diamond whatif``, the changelog).

    changes = rule_changes(old, new)   # [RuleChange("obligations.article.min_length", 800, 1200)]

Pure: both rule sets are plain frozen models; every leaf is compared by its dotted path
(lists by index, e.g. ``obligations.penalties.ladder[1].strikes``). A key present on one
side only shows ``None`` on the other.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from worker.rules.models import Rules


class RuleChange(NamedTuple):
    key: str  # dotted path, the file first: "obligations.article.min_length"
    old: Any
    new: Any

    def __str__(self) -> str:
        return f"{self.key}: {_show(self.old)} → {_show(self.new)}"


def rule_changes(old: Rules, new: Rules) -> list[RuleChange]:
    """Every leaf that differs, in a stable order (by key)."""
    return dump_changes(old.model_dump(mode="json"), new.model_dump(mode="json"))


def dump_changes(old: dict[str, Any], new: dict[str, Any]) -> list[RuleChange]:
    """``rule_changes`` of two ``model_dump(mode="json")`` (a copy recorded in Redis)."""
    before = dict(_leaves("", old))
    after = dict(_leaves("", new))
    keys = sorted(set(before) | set(after))
    return [
        RuleChange(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)
    ]


def _leaves(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _leaves(f"{prefix}.{key}" if prefix else str(key), item)
    elif isinstance(value, list) and value and any(isinstance(v, dict | list) for v in value):
        for index, item in enumerate(value):
            yield from _leaves(f"{prefix}[{index}]", item)
    else:
        yield prefix, value


def _show(value: Any, limit: int = 60) -> str:
    text = "(none)" if value is None else repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ─────────────────────────── when a change takes effect ───────────────────────────

AT_ONCE = "at once: the scheduler and the worker re-read the rules within 30 s"
NEXT_WEEK = (
    "from the next week to be audited on; weeks already audited keep the rules they were "
    "first audited under"
)
WHEN: tuple[tuple[str, str], ...] = (  # the first prefix that matches a key decides
    ("obligations.audit.cron", AT_ONCE),
    ("obligations.reminders", "at once: reminders not sent yet follow the new schedule"),
    ("obligations.messages", "messages written from now on"),
    ("obligations.", NEXT_WEEK),
    ("camp.check_schedule", AT_ONCE),
    ("camp.messages", "messages written from now on"),
    ("camp.", "camps that start after the change; camps under way keep their thresholds"),
    ("squads.messages", "messages written from now on"),
    ("squads.", "the next formation of squads; squads formed already stay as they are"),
    ("gating.", "applications decided from now on; decided ones are not decided again"),
    ("health.report_cron", AT_ONCE),
    ("health.", "the next health report"),
    ("badges.", "the next badge run"),
    ("messages.", "messages written from now on"),
    ("community.timezone", AT_ONCE + " (weeks and schedules are counted in the new zone)"),
    ("community.", AT_ONCE),
)


def takes_effect(key: str) -> str:
    """When a change of ``key`` takes effect in the running worker (``diamond check``)."""
    return next((when for prefix, when in WHEN if key.startswith(prefix)), AT_ONCE)


def render_effects(changes: list[RuleChange]) -> list[str]:
    """One line per change, with when it takes effect."""
    if not changes:
        return ["no change from the rules in force"]
    return [f"{change}  ⇒ {takes_effect(change.key)}" for change in changes]
