"""``diamond report [--week W] [--html FILE] [--lang zh|en]``: the health report.

Reads the forum and Redis like the weekly job, changes nothing on the forum
(stage snapshots are not saved either), and prints the report in the terminal;
``--html FILE`` also writes the self-contained page (charts and the interaction
graph drawing). Without ``--week``: the latest audited week.

Exit codes: 0 shown, 1 error (bad week, broken rules, settings).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "show the community health report (terminal; --html FILE for the page with charts)"
EXIT_OK, EXIT_ERROR = 0, 1


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--week", help="ISO week, e.g. 2026-W47 (default: latest audited week)")
    parser.add_argument("--html", type=Path, metavar="FILE", help="also write the HTML page here")
    parser.add_argument("--lang", choices=("zh", "en"), help="language (default: the community's)")


def run(args: argparse.Namespace) -> int:
    from worker import clock
    from worker.engine.weeks import Week, audit_week
    from worker.reads.forum_view import cached_roster
    from worker.report import render_html, render_text
    from worker.steps.health_report import build_health

    asked = None
    if args.week:
        try:
            asked = Week.parse(args.week)
        except ValueError as exc:
            print(f"diamond report: {exc}", file=sys.stderr)
            return EXIT_ERROR
    context = _context()
    if context is None:
        return EXIT_ERROR
    client, redis_client, rules, settings = context
    week = asked or audit_week(rules.obligations, clock.now(redis_client), rules.tz)
    report, _ = build_health(
        client,
        redis_client,
        rules,
        cached_roster(client, redis_client, rules),
        week,
        base_url=settings.public_url,
        api_username=settings.api_username,
        save_snapshot=False,
    )
    print(render_text(rules, report, args.lang), end="")
    if args.html:
        try:
            args.html.write_text(render_html(rules, report, args.lang), encoding="utf-8")
        except OSError as exc:
            print(f"diamond report: cannot write {args.html}: {exc}", file=sys.stderr)
            return EXIT_ERROR
        print(f"\nHTML: {args.html}")
    return EXIT_OK


def _context():
    from worker.commands.context import forum_context

    return forum_context()
