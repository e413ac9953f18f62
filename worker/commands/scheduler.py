"""``diamond scheduler``: fires periodic jobs (only enqueues); run one or several."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from datetime import timedelta
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


def run(args: argparse.Namespace) -> int:
    from worker.pipeline.broker import setup_broker
    from worker.pipeline.config import pipeline_settings
    from worker.pipeline.jobs import load_actors
    from worker.pipeline.scheduler import Scheduler

    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # it logs every job it adds
    settings = load_settings()
    settings.require("redis_url")
    broker = setup_broker(settings.redis_url)
    load_actors(args.actors)
    tz = community_timezone(settings)
    grace = args.grace_seconds or pipeline_settings().misfire_grace_seconds
    scheduler = Scheduler(
        broker, redis.Redis.from_url(settings.redis_url), tz, grace=timedelta(seconds=grace)
    )
    if args.list:
        for job in scheduler.jobs.values():
            print(f"{job.name}: {job.actor} {dict(job.cron)} ({tz.key})")
        return 0

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
