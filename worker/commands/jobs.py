"""``diamond jobs failed`` and ``diamond jobs retry ID|--all``: the dead-letter queue."""

from __future__ import annotations

import argparse
import sys

from worker.settings import load_settings

HELP = "list jobs that gave up (kept a week) and send them again"


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")
    sub.add_parser("failed", help="list dead-lettered jobs, oldest first")
    retry = sub.add_parser("retry", help="enqueue dead-lettered jobs again (fix the cause first)")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("ids", nargs="*", default=[], metavar="ID", help="message ids")
    which.add_argument("--all", action="store_true", help="every dead-lettered job")


def run(args: argparse.Namespace) -> int:
    import redis

    from worker.pipeline.deadletters import dead_jobs, retry

    settings = load_settings()
    settings.require("redis_url")
    client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=3)
    jobs = dead_jobs(client)
    if args.jobs_command == "failed":
        for job in jobs:
            print(job.describe())
        print(f"{len(jobs)} job(s) gave up" + (": `diamond jobs retry ID|--all`" if jobs else ""))
        return 0
    if not args.all and not args.ids:
        print("diamond jobs retry: give message ids or --all", file=sys.stderr)
        return 1
    from worker.pipeline.broker import setup_broker
    from worker.pipeline.jobs import load_actors

    broker = setup_broker(settings.redis_url)
    load_actors()
    chosen = jobs if args.all else [j for j in jobs if j.id in set(args.ids)]
    unknown = set(args.ids) - {j.id for j in chosen}
    sent = sum(retry(client, broker, job) for job in chosen)
    print(f"{sent} job(s) sent again")
    for job_id in sorted(unknown):
        print(f"not in any dead-letter queue: {job_id}", file=sys.stderr)
    return 1 if unknown else 0
