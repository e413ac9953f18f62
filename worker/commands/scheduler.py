"""``diamond scheduler``: fires periodic jobs (only enqueues); run one or several."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import redis

from worker.settings import Settings, load_settings

HELP = "run the scheduler: cron jobs in the community's time zone, one leader among many"
log = logging.getLogger(__name__)

DEFAULT_TIMEZONE = "Asia/Shanghai"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--grace-seconds",
        type=int,
        help="make a run missed by at most this long (default DIAMOND_MISFIRE_GRACE_SECONDS)",
    )
    parser.add_argument(
        "--actors", nargs="*", default=[], metavar="MODULE", help="extra actor modules"
    )
    parser.add_argument("--list", action="store_true", help="print the jobs and exit")


def community_timezone(settings: Settings) -> ZoneInfo:
    """``DIAMOND_TIMEZONE`` if set, else ``community.timezone`` from the rules."""
    from worker.pipeline.config import pipeline_settings

    if pipeline_settings().timezone:
        return ZoneInfo(pipeline_settings().timezone)
    try:
        from worker.rules import load_rules

        return load_rules(settings.rules_dir).tz
    except Exception as exc:
        log.error(
            "scheduler: could not read the community time zone from %s (%s); using %s",
            settings.rules_dir,
            exc,
            DEFAULT_TIMEZONE,
        )
        return ZoneInfo(DEFAULT_TIMEZONE)


def list_jobs(jobs: dict, tz: ZoneInfo, now: datetime) -> list[str]:
    """One line per job: its name, where the rules set its time, its next run (local time)."""
    from worker.pipeline.scheduler import describe_cron

    lines = []
    for job in sorted(jobs.values(), key=lambda j: (j.next_run(tz, now) or now, j.name)):
        upcoming = job.next_run(tz, now)
        when = upcoming.strftime("%Y-%m-%d %a %H:%M") if upcoming else "never"
        lines.append(
            f"{job.name}: next {when} {tz.key}  [{describe_cron(job.cron)}]  "
            f"set by {job.source or 'code'}  → {job.actor}"
        )
    return lines


def run(args: argparse.Namespace) -> int:
    from worker.pipeline import runtime
    from worker.pipeline.broker import current_broker
    from worker.pipeline.jobs import load_actors
    from worker.pipeline.notices import rules_problems_notifier
    from worker.pipeline.runtime import RulesHolder
    from worker.pipeline.scheduler import Scheduler, jobs_for
    from worker.rules import RulesInvalid

    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # it logs every job it adds
    settings = load_settings()
    try:
        # It re-reads the rules every 30 s: a broken edit is told to the staff on the forum.
        holder = RulesHolder(
            settings.rules_dir,
            on_problems=rules_problems_notifier(runtime.redis_client, current_broker),
        )
    except RulesInvalid as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"diamond scheduler: the rules in {settings.rules_dir} do not load", file=sys.stderr)
        return 1
    load_actors(args.actors)
    tz = community_timezone(settings)
    if args.list:  # needs no Redis: the jobs come from the code and the rules
        for line in list_jobs(jobs_for(holder.rules), tz, datetime.now(tz)):
            print(line)
        return 0

    from worker.pipeline.broker import setup_broker
    from worker.pipeline.config import pipeline_settings

    settings.require("redis_url")
    redis.Redis.from_url(settings.redis_url, socket_connect_timeout=3).ping()  # one line if not
    broker = setup_broker(settings.redis_url)
    # It re-reads the rules every 30 s: a change is posted to the staff audit log (once).
    from worker.pipeline import runtime
    from worker.pipeline.changelog import rules_changelog_announcer

    runtime.configure(redis_url=settings.redis_url)
    holder.on_loaded = rules_changelog_announcer(runtime.redis_client, lambda: broker)
    holder.on_loaded(holder.rules)
    grace = args.grace_seconds or pipeline_settings().misfire_grace_seconds
    scheduler = Scheduler(
        broker,
        redis.Redis.from_url(settings.redis_url),
        tz,
        grace=timedelta(seconds=grace),
        rules=holder.get,
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    scheduler.start()
    log.info("scheduler: %d jobs in %s, grace %d s", len(scheduler.jobs), tz.key, grace)
    try:
        stop.wait()
    finally:
        scheduler.stop()
    return 0
