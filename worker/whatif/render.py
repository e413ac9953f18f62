"""What-if reports for people: one line per member whose week would change, with why."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from worker.engine.weeks import Week
from worker.rules.diff import RuleChange
from worker.whatif.audit import MemberSide, Totals, WeekDiff


def render_changes(changes: Sequence[RuleChange]) -> list[str]:
    if not changes:
        return ["rule changes: none (the proposed rules are the current ones)"]
    return ["rule changes:", *(f"  {c}" for c in changes)]


def render_audited(weeks: Sequence[Week], audited: Mapping[Week, str]) -> list[str]:
    """Which of the replayed weeks the proposed rules would not touch (audited already)."""
    done = [w for w in weeks if w in audited]
    if not done:
        return ["already audited: none of these weeks; the proposed rules would judge them all"]
    later = max(done).next()
    return [
        f"already audited: {', '.join(map(str, done))}: a re-audit keeps the obligations "
        f"rules each was first audited under; the proposed rules apply from {later} on "
        "(below: what they would have done had they been in force)"
    ]


def _arrow(a: object, b: object) -> str:
    return str(a) if a == b else f"{a} → {b}"


def _halt(t: Totals) -> str:
    return "HALT" if t.halted else "no halt"


def render_totals(before: Totals, after: Totals) -> str:
    share = _arrow(f"{before.share:.0%}", f"{after.share:.0%}")
    return (
        f"penalised {_arrow(before.penalised, after.penalised)} of "
        f"{_arrow(before.audited, after.audited)} ({share}, max {after.max_share:.0%}); "
        f"strikes {_arrow(before.strikes, after.strikes)}; "
        f"ladder steps {_arrow(before.ladder, after.ladder)}; "
        f"reminders {_arrow(before.reminders, after.reminders)}; "
        f"guard rail: {_arrow(_halt(before), _halt(after))}"
    )


def _why(side: MemberSide) -> str:
    from worker.commands.audit import render_why

    return render_why(side.why) or "clean"


def _ladder(side: MemberSide) -> str:
    return ", ".join(side.ladder) or "—"


def render_week(diff: WeekDiff) -> list[str]:
    lines = [f"{diff.week}: {render_totals(diff.before, diff.after)}"]
    if diff.after.halted and not diff.before.halted:
        lines.append(
            f"  the proposed rules would HALT this audit: {diff.after.penalised} of "
            f"{diff.after.audited} penalised is more than {diff.after.max_share:.0%}; only "
            "the staff alert would apply until staff confirm"
        )
    if not diff.changes:
        lines.append("  no member's week would change")
        return lines
    rows = [("member", "squad", "outcome", "strikes", "active", "ladder", "reminders", "why")]
    for c in diff.changes:
        a, b = c.before, c.after
        why = _why(b) if _why(a) == _why(b) else f"{_why(a)} → {_why(b)}"
        rows.append(
            (
                f"@{c.username}",
                c.squad,
                _arrow(a.outcome, b.outcome),
                _arrow(a.strikes, b.strikes),
                _arrow(a.active, b.active),
                _arrow(_ladder(a), _ladder(b)),
                _arrow(a.reminders, b.reminders),
                why,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        lines.append(
            "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        )
    return lines


def render_audit(diffs: Sequence[WeekDiff]) -> list[str]:
    lines: list[str] = []
    for diff in diffs:
        lines += render_week(diff)
        lines.append("")
    if len(diffs) > 1:
        touched = {c.username for d in diffs for c in d.changes}
        pen_a = sum(d.before.penalised for d in diffs)
        pen_b = sum(d.after.penalised for d in diffs)
        halts = [str(d.week) for d in diffs if d.after.halted]
        lines.append(
            f"over {len(diffs)} weeks: {len(touched)} members' weeks change; penalisations "
            f"{_arrow(pen_a, pen_b)}; the proposed rules halt "
            + (", ".join(halts) if halts else "no audit")
        )
    return lines
