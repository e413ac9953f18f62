"""``diamond audit --week 2026-W47 [--squad S] [--dry-run] [--confirm CHECKSUM] [--early]``.

Prints every member's result, why it is not clean, and the planned actions. Without
``--dry-run`` it records the week's strikes and applies the plan through the one door
(members are only acted on in live mode); keys already done are skipped, so running it
again changes nothing. It refuses a week whose audit moment (the rules' audit cron
after the week's review window) has not come, when members may still write, unless
told ``--early``. When more than the rules' share of members would be penalised it
applies nothing but the staff alert. ``--dry-run`` prints the plan's checksum;
``--confirm CHECKSUM`` applies that plan, past the guard rail, and only if it is still
the plan (octoDNS's ``--checksum``): else nothing is done and the new checksum printed.

Exit codes: 0 audited (or dry run shown), 1 error, 2 a human is needed: halted by the
guard rail, the plan changed since the dry run, or the week's audit moment to come.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping

from worker import actions as a
from worker.engine.obligations import Shortfall
from worker.engine.penalties import AuditPlan
from worker.engine.weeks import Week

HELP = "audit one week's obligations: results table and planned actions (--dry-run, --confirm)"
EXIT_OK, EXIT_ERROR, EXIT_HALTED = 0, 1, 2  # as every command (worker.cli)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--week", required=True, help="ISO week, e.g. 2026-W47")
    parser.add_argument("--squad", help="only this squad (its group name)")
    parser.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
    parser.add_argument(
        "--confirm",
        metavar="CHECKSUM",
        help="apply the plan a --dry-run printed this checksum for, even past the guard rail",
    )
    parser.add_argument(
        "--early",
        action="store_true",
        help="audit a week whose audit moment has not come yet (members may still write)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        week = Week.parse(args.week)
    except ValueError as exc:
        print(f"diamond audit: {exc}", file=sys.stderr)
        return EXIT_ERROR
    from worker import clock
    from worker.steps import StepContext
    from worker.steps import audit as audit_step

    context = _context()
    if context is None:
        return EXIT_ERROR
    client, redis_client, rules, settings = context
    now = clock.now(redis_client)
    moment = audit_step.audit_moment(rules, week)
    early = now < moment
    when = moment.astimezone(rules.tz).strftime("%Y-%m-%d %H:%M %Z")
    if early and not args.dry_run and not args.early:
        print(
            f"diamond audit: {week} is audited at {when}, when its review window has "
            "closed; members may still write until then. Nothing done. Look with "
            "--dry-run; add --early to audit it now anyway.",
            file=sys.stderr,
        )
        return EXIT_HALTED
    try:
        audit = audit_step.run(
            StepContext(client, redis_client, rules, now, settings.live),
            week,
            dry_run=args.dry_run,
            checksum=args.confirm,
            squad=args.squad,
        )
    except ValueError as exc:
        print(f"diamond audit: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if audit.changed:
        print(
            f"diamond audit: the plan of {week} changed since the dry run that printed "
            f"{args.confirm}: nothing done. Its checksum now is {audit.checksum}; look at it "
            f"with --dry-run, then --confirm {audit.checksum}",
            file=sys.stderr,
        )
        return EXIT_HALTED
    shown = audit.confirmable if args.dry_run and audit.confirmable is not None else audit.plan
    print(
        render_plan(
            shown,
            live=settings.live,
            dry_run=args.dry_run,
            why=audit.why,
            halted=audit.plan.halted,
            checksum=audit.checksum,
        )
    )
    if early:
        print(f"\nnote: {week}'s audit moment is {when}: members may still write until then")
    if audit.report is not None:
        print(f"\napplied: {audit.report.summary()}")
    return EXIT_HALTED if audit.plan.halted else EXIT_OK


def _context():
    from worker.commands.context import forum_context

    return forum_context()


_STATUS = {"on_time": "on time", "late": "LATE", "missing": "MISSING"}


def render_why(why: Iterable[Shortfall]) -> str:
    """A member's shortfalls for people, e.g. "article 856/1200 字; review of @bob missing"."""
    parts = []
    for s in why:
        if s.kind == "missing_article":
            parts.append(f"article {s.units or 0}/{s.minimum} 字" if s.units else "no article")
        elif s.kind == "late_article":
            parts.append("article late")
        elif s.kind in ("missing_review", "late_review"):
            parts.append(f"review of @{s.author} {s.kind.split('_')[0]}")
        else:
            parts.append(_WHY_WORDS.get(s.kind, s.kind))
    return "; ".join(parts)


_WHY_WORDS = {"on_leave": "on leave", "staff": "staff", "new": "new: owes nothing yet"}


def render_results(plan: AuditPlan, why: Mapping[str, Iterable[Shortfall]] | None = None) -> str:
    rows = [("squad", "member", "article", "reviews", "strikes", "active", "note")]
    for squad in plan.results.squads:
        for r in squad.results:
            reviews = " ".join(f"{x.author}:{_STATUS[x.status]}" for x in r.reviews) or "-"
            note = "new" if not r.obliged else "staff" if r.exempt else "leave" if r.excused else ""
            if why is not None:
                note = render_why(why.get(r.username, ()))
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


def render_plan(
    plan: AuditPlan,
    *,
    live: bool,
    dry_run: bool,
    why: Mapping[str, Iterable[Shortfall]] | None = None,
    halted: bool | None = None,
    checksum: str | None = None,
) -> str:
    """``plan`` for people; ``halted``: whether the guard rail stops it without --confirm
    (a dry run shows the whole plan --confirm would apply, and says so)."""
    halted = plan.halted if halted is None else halted
    head = (
        f"audit of {plan.week}: {plan.audited} members audited, {len(plan.penalised)} penalised "
        f"({plan.share:.0%}, max {plan.max_share:.0%})"
    )
    confirm = f"--confirm {checksum}" if checksum else "--dry-run, then --confirm CHECKSUM"
    if halted and dry_run:
        head += f"\nHALTED by the guard rail: only the staff alert applies, unless {confirm}"
    elif halted:
        head += f"\nHALTED by the guard rail: nothing applied to members; check, then {confirm}"
    mode = "dry run" if dry_run else ("live" if live else "shadow mode: members are not acted on")
    parts = [
        head,
        f"mode: {mode}",
        "",
        render_results(plan, why),
        "",
        "planned actions:",
        render_actions(plan.actions),
    ]
    if checksum:
        parts += ["", f"checksum: {checksum} (apply exactly this plan: --confirm {checksum})"]
    if plan.notes:
        parts += ["", "notes:", *(f"- {n}" for n in plan.notes)]
    return "\n".join(parts)
