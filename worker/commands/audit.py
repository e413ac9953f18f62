"""``diamond audit --week 2026-W47 [--squad S] [--dry-run] [--confirm]``: the weekly audit.

Prints every member's result and the planned actions. Without ``--dry-run`` it
records the week's strikes and applies the plan through the one door (members
are only acted on in live mode); keys already done are skipped, so running it
again changes nothing. When more than the rules' share of members would be
penalised it applies nothing but the staff alert; ``--confirm`` applies anyway.

Exit codes: 0 audited (or dry run shown), 2 halted by the guard rail (a human must
look), 1 error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable

from worker import actions as a
from worker.engine.penalties import AuditPlan
from worker.engine.weeks import Week

HELP = "audit one week's obligations: results table and planned actions (--dry-run, --confirm)"
EXIT_OK, EXIT_ERROR, EXIT_HALTED = 0, 1, 2  # as every command (worker.cli)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--week", required=True, help="ISO week, e.g. 2026-W47")
    parser.add_argument("--squad", help="only this squad (its group name)")
    parser.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
    parser.add_argument(
        "--confirm", action="store_true", help="apply even past the guard rail (max share)"
    )


def run(args: argparse.Namespace) -> int:
    try:
        week = Week.parse(args.week)
    except ValueError as exc:
        print(f"diamond audit: {exc}", file=sys.stderr)
        return EXIT_ERROR
    from worker import clock
    from worker.ledger.weekly import run_audit

    context = _context()
    if context is None:
        return EXIT_ERROR
    client, redis_client, rules, settings, roster_loader = context
    try:
        audit = run_audit(
            client,
            redis_client,
            rules,
            roster_loader(client, rules),
            week,
            now=clock.now(redis_client),
            live=settings.live,
            dry_run=args.dry_run,
            confirm=args.confirm,
            squad=args.squad,
        )
    except ValueError as exc:
        print(f"diamond audit: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(render_plan(audit.plan, live=settings.live, dry_run=args.dry_run))
    if audit.report is not None:
        print(f"\napplied: {audit.report.summary()}")
    return EXIT_HALTED if audit.plan.halted else EXIT_OK


def _context():
    from worker.commands.context import forum_context
    from worker.jobs.obligations import roster_loader

    return forum_context(roster_loader)


_STATUS = {"on_time": "on time", "late": "LATE", "missing": "MISSING"}


def render_results(plan: AuditPlan) -> str:
    rows = [("squad", "member", "article", "reviews", "strikes", "active", "note")]
    for squad in plan.results.squads:
        for r in squad.results:
            reviews = " ".join(f"{x.author}:{_STATUS[x.status]}" for x in r.reviews) or "-"
            note = "new" if not r.obliged else "staff" if r.exempt else "leave" if r.excused else ""
            standing = plan.standings.get(r.username)
            rows.append(
                (
                    squad.squad.slug,
                    r.username,
                    _STATUS[r.article],
                    reviews,
                    str(r.strikes),
                    str(standing.active) if standing else "-",
                    note,
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def render_actions(actions: Iterable[a.Action]) -> str:
    lines = []
    for act in actions:
        target = ""
        if isinstance(act, a.SendPrivateMessage):
            target = "to " + ",".join(act.recipients)
        elif isinstance(act, a.SilenceUser):
            target = f"{act.username} until {act.until.isoformat(timespec='minutes')}"
        elif isinstance(act, a.RemoveFromGroup | a.AddToGroup):
            target = f"{','.join(act.usernames)} {act.group}"
        elif isinstance(act, a.CreatePost):
            target = f"in topic {act.topic_id}"
        elif isinstance(act, a.CreateTopic):
            target = f"in category {act.category_id}: {act.title}"
        staff = "" if act.affects_members else " (staff only)"
        lines.append(f"- {act.kind} {target}{staff} [{act.key}] — {act.reason}")
    return "\n".join(lines) or "(none)"


def render_plan(plan: AuditPlan, *, live: bool, dry_run: bool) -> str:
    head = (
        f"audit of {plan.week}: {plan.audited} members audited, {len(plan.penalised)} penalised "
        f"({plan.share:.0%}, max {plan.max_share:.0%})"
    )
    if plan.halted:
        head += "\nHALTED by the guard rail: nothing applied to members; re-run with --confirm"
    mode = "dry run" if dry_run else ("live" if live else "shadow mode: members are not acted on")
    parts = [
        head,
        f"mode: {mode}",
        "",
        render_results(plan),
        "",
        "planned actions:",
        render_actions(plan.actions),
    ]
    if plan.notes:
        parts += ["", "notes:", *(f"- {n}" for n in plan.notes)]
    return "\n".join(parts)
