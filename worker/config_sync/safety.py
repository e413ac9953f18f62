"""Guard rail: a plan that updates or deletes too much of what Diamond owns is refused.

A bug, a wrong ``plugin_config/`` directory or a half-read forum must not rewrite or
empty the forum in one go. Counted per resource kind (groups, categories, badges,
user fields, webhook) over the resources Diamond owns on the forum right now.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from worker.config_sync.desired import SafetyOptions
from worker.config_sync.plan import Plan


class UnsafePlan(Exception):
    """The plan touches more than the configured share; ``reasons`` say where."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


@dataclass(frozen=True)
class Refusal:
    resource: str
    touched: int
    owned: int
    limit: float

    def __str__(self) -> str:
        return (
            f"would update or delete {self.touched} of {self.owned} {self.resource}s Diamond owns "
            f"({self.touched / self.owned:.0%} > {self.limit:.0%})"
        )


def refusals(plan: Plan, options: SafetyOptions) -> list[Refusal]:
    """Each resource kind whose share of touched owned resources is over the limit."""
    touched = Counter(change.resource for change in plan.changes if change.touches_owned)
    found = []
    for resource, count in sorted(touched.items()):
        owned = plan.owned_counts.get(resource, 0)
        if count <= options.always_allow or owned == 0:
            continue
        if count / owned > options.max_change_share:
            found.append(Refusal(resource, count, owned, options.max_change_share))
    return found


def unsafe_reasons(plan: Plan, options: SafetyOptions) -> list[str]:
    """One readable line per refusal."""
    return [str(refusal) for refusal in refusals(plan, options)]


def check_safety(plan: Plan, options: SafetyOptions, *, force: bool = False) -> None:
    """Raise ``UnsafePlan`` unless the plan is within limits or ``force`` is given."""
    reasons = unsafe_reasons(plan, options)
    if reasons and not force:
        raise UnsafePlan(reasons)
