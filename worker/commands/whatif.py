"""``diamond whatif --rules DIR [--weeks W1..W2] [--camp] [--squads] [--applications]``.

Rehearse a rule change.

Replays the recorded weeks (the ledger's posts, leave and strike history in Redis; the
roster and staff read from the forum) under the current rules (``DIAMOND_RULES_DIR``) and
under the proposed ones, and prints per member what would change (outcome, strikes,
active strikes, ladder steps, reminders) and why ("article 856/1200 字"), with totals
and whether the guard rail would halt the audit. ``--camp``: every camper on record judged
again (pass, extend, fail). ``--squads``: each cohort's graduates split afresh (squads,
leaders, classes). ``--applications``: the applications decided in the last ``--since``
days re-decided from what gating recorded when it decided (approve, hold, reject, and why);
older ones without a record are named as not previewable. ``--only`` leaves the audit out.
Nothing is written: forum reads only (a few, counted in the shared API budget), and Redis
through a client that refuses writes.

Exit codes: 0 shown, 1 error (rules with problems, Redis, the forum).
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from worker.engine.weeks import Week
from worker.rules.models import Rules

if TYPE_CHECKING:
    import redis

    from worker.forum.client import ForumClient
    from worker.settings import Settings

HELP = "rehearse a rule change on recorded weeks: who would be judged differently, and why"
EXIT_OK, EXIT_ERROR = 0, 1
DEFAULT_LOOKBACK = 12  # weeks looked at when --weeks is not given
DEFAULT_SINCE_DAYS = 30  # applications looked at when --since is not given


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rules", type=Path, required=True, help="the proposed rules directory (a copy, edited)"
    )
    parser.add_argument(
        "--weeks",
        metavar="W1..W2",
        help="weeks to replay, e.g. 2026-W10..2026-W12 or one week (default: the recorded "
        f"weeks among the last {DEFAULT_LOOKBACK} audited)",
    )
    parser.add_argument("--camp", action="store_true", help="also: campers judged again")
    parser.add_argument("--squads", action="store_true", help="also: cohorts split again")
    parser.add_argument(
        "--applications",
        action="store_true",
        help="also: recent applications re-decided (screening lists, thresholds)",
    )
    parser.add_argument(
        "--since",
        type=_days,
        default=DEFAULT_SINCE_DAYS,
        metavar="DAYS",
        help=f"with --applications: those decided in the last DAYS days "
        f"(default {DEFAULT_SINCE_DAYS})",
    )
    parser.add_argument(
        "--only",
        action="store_true",
        help="with --camp/--squads/--applications: leave the weekly audit out",
    )


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        days = 0
    if days < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days (1 or more)")
    return days


def parse_weeks(text: str) -> list[Week]:
    from worker.engine.weeks import weeks_between

    first, sep, last = text.partition("..")
    start = Week.parse(first.strip())
    end = Week.parse(last.strip()) if sep else start
    if end < start:
        raise ValueError(f"--weeks {text}: {end} is before {start}")
    return weeks_between(start, end)


def run(args: argparse.Namespace) -> int:
    from worker import clock
    from worker.commands.context import forum_context
    from worker.rules import RulesInvalid, load_rules
    from worker.rules.diff import rule_changes
    from worker.whatif.readonly import ReadOnlyRedis
    from worker.whatif.render import render_changes

    try:
        wanted = parse_weeks(args.weeks) if args.weeks else None
    except ValueError as exc:
        print(f"diamond whatif: {exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        proposed = load_rules(args.rules)
    except RulesInvalid as exc:
        print(f"diamond whatif: the proposed rules in {args.rules} have problems:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_ERROR
    context = forum_context()
    if context is None:
        return EXIT_ERROR
    client, redis_client, current, settings = context
    now = clock.now(ReadOnlyRedis.over(redis_client))
    print(f"what-if: {settings.rules_dir} (current) → {args.rules} (proposed)")
    print("\n".join(render_changes(rule_changes(current, proposed))))
    if args.camp:
        from worker.whatif.membership import (
            chat_categories,
            judge_camp,
            read_camp_facts,
            render_camp,
        )

        camp = read_camp_facts(redis_client, chat_categories(client, (current, proposed)))
        print()
        print(
            "\n".join(render_camp(judge_camp(current, camp, now), judge_camp(proposed, camp, now)))
        )
    if args.squads:
        from worker.whatif.membership import read_squad_facts, render_squads, split

        cohorts = read_squad_facts(client, redis_client, current)
        print()
        print("\n".join(render_squads(split(current, cohorts), split(proposed, cohorts))))
    if args.applications:
        from datetime import timedelta

        from worker.whatif.gating import read_application_facts, redecide, render_applications

        apps = read_application_facts(redis_client, now, since=timedelta(days=args.since))
        print()
        print(
            "\n".join(
                render_applications(
                    current, proposed, apps, redecide(current, apps), redecide(proposed, apps)
                )
            )
        )
    if not (args.only and (args.camp or args.squads or args.applications)):
        print()
        _audit(args, client, redis_client, current, proposed, settings, now, wanted)
    reads = sum(client.call_counts.values())
    writes = sum(n for label, n in client.call_counts.items() if not label.startswith("GET "))
    print(
        f"\nnothing was written: {reads} forum calls ({writes} writes); Redis was read through "
        "a client that refuses writes (only the shared API budget counted the calls)"
    )
    return EXIT_OK


def _audit(
    args: argparse.Namespace,
    client: ForumClient,
    redis_client: redis.Redis,
    current: Rules,
    proposed: Rules,
    settings: Settings,
    now: datetime,
    wanted: list[Week] | None,
) -> None:
    from worker.engine.weeks import audit_week, weeks_between
    from worker.whatif.audit import compare, read_audit_facts, replay, weeks_with_posts
    from worker.whatif.render import render_audit, render_audited

    last = audit_week(current.obligations, now, current.tz)
    weeks = wanted or weeks_between(_back(last, DEFAULT_LOOKBACK - 1), last)
    facts = read_audit_facts(client, redis_client, current, weeks, live=settings.live)
    if wanted is None:
        weeks = [w for w in weeks_with_posts(facts.posts) if w in weeks]
    if not weeks:
        print(f"weekly audit: no recorded week to replay (nothing in the ledger up to {last})")
        return
    print(
        f"weeks replayed: {weeks[0]}..{weeks[-1]}; {len(facts.roster.members)} squad members "
        f"in {len(facts.roster.squads)} squads; strike history from the "
        f"{'live' if settings.live else 'shadow'} book\n"
    )
    print("\n".join(render_audited(weeks, facts.audited)) + "\n")
    diffs = compare(replay(current, facts, weeks), replay(proposed, facts, weeks))
    print("\n".join(render_audit(diffs)))


def _back(week: Week, count: int) -> Week:
    for _ in range(count):
        week = week.previous()
    return week
