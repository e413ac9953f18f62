"""``diamond ledger rebuild --since 2026-W40``: rebuild the obligations ledger from the forum.

Reads each squad category's topic list and each weekly thread (or article topic)
page by page, plus the leave category; then recomputes the strikes of every week
since whose review window has closed (no action is applied). ``diamond ledger show
--week W [--squad S]`` prints what the ledger holds.
"""

from __future__ import annotations

import argparse
import sys

from worker.engine.weeks import Week

HELP = "rebuild the obligations ledger from the forum (rebuild --since W) or show it"


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="ledger_command", required=True, metavar="ACTION")
    rebuild = sub.add_parser("rebuild", help="rebuild weeks >= --since from the forum")
    rebuild.add_argument("--since", required=True, help="first ISO week, e.g. 2026-W40")
    rebuild.add_argument(
        "--no-restrike", action="store_true", help="do not recompute the strikes of those weeks"
    )
    show = sub.add_parser("show", help="print the ledger's posts of one week")
    show.add_argument("--week", required=True)
    show.add_argument("--squad")


def run(args: argparse.Namespace) -> int:
    from worker import clock
    from worker.commands.audit import _context
    from worker.reads.forum_view import cached_roster
    from worker.state.ledger import Ledger
    from worker.steps import StepContext, rebuild_ledger

    try:
        week = Week.parse(args.since if args.ledger_command == "rebuild" else args.week)
    except ValueError as exc:
        print(f"diamond ledger: {exc}", file=sys.stderr)
        return 1
    context = _context()
    if context is None:
        return 1
    client, redis_client, rules, settings = context
    roster = cached_roster(client, redis_client, rules)
    if args.ledger_command == "rebuild":
        ctx = StepContext(client, redis_client, rules, clock.now(redis_client), settings.live)
        report = rebuild_ledger.run(ctx, week, roster=roster, restrike=not args.no_restrike)
        print(
            f"ledger rebuilt since {week}: {report.threads} threads, {report.topics} other "
            f"topics, {report.posts} posts, {report.leave} leave posts; strikes recomputed for "
            f"{', '.join(map(str, report.weeks_reaudited)) or 'no closed week'}"
        )
        return 0
    ledger = Ledger(redis_client)
    threads = ledger.threads(week)
    for squad in roster.squads:
        if args.squad and squad.slug != args.squad:
            continue
        print(f"{squad.slug} ({squad.full_name}) thread {threads.get(squad.slug, '-')}")
        for post in ledger.posts(week, squad.slug):
            versions = ", ".join(
                f"{v.units}@{v.at.isoformat(timespec='minutes')}" for v in post.versions
            )
            print(
                f"  #{post.post_number} {post.username} reply_to={post.reply_to_post_number} "
                f"[{versions}]"
            )
    return 0
