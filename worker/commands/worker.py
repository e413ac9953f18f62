"""``diamond worker``: dramatiq worker processes running every declared actor."""

from __future__ import annotations

import argparse
import os

from worker.settings import load_settings

HELP = "run dramatiq workers (jobs from webhooks, the scheduler and the catch-up scan)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--processes", "-p", type=int, default=2, help="worker processes")
    parser.add_argument("--threads", "-t", type=int, default=4, help="threads per process")
    parser.add_argument("--queues", "-Q", nargs="*", help="only these queues (default: all)")
    parser.add_argument(
        "--actors",
        nargs="*",
        default=[],
        metavar="MODULE",
        help="extra actor modules to import (besides ACTOR_MODULES)",
    )
    parser.add_argument(
        "--heartbeat-timeout-ms",
        type=int,
        help="a worker silent this long is presumed dead and its jobs are redelivered "
        "(default DIAMOND_HEARTBEAT_TIMEOUT_MS or 60000)",
    )
    parser.add_argument(
        "--shutdown-timeout-ms",
        type=int,
        default=30_000,
        help="on SIGTERM, how long running jobs may finish before being abandoned "
        "(they are redelivered)",
    )


def dramatiq_argv(args: argparse.Namespace) -> list[str]:
    argv = [
        "worker.pipeline.boot:boot",
        "--processes",
        str(args.processes),
        "--threads",
        str(args.threads),
        "--worker-shutdown-timeout",
        str(args.shutdown_timeout_ms),
    ]
    if args.queues:
        argv += ["--queues", *args.queues]
    if getattr(args, "verbose", False):
        argv.append("-v")
    return argv


def run(args: argparse.Namespace) -> int:
    from dramatiq.cli import main as dramatiq_main
    from dramatiq.cli import make_argument_parser

    from worker.pipeline.boot import EXTRA_MODULES_ENV

    load_settings().require("redis_url")  # fail with one line before forking
    # Worker processes read these in boot(); the environment is how they get there.
    if args.actors:
        os.environ[EXTRA_MODULES_ENV] = ",".join(args.actors)
    if args.heartbeat_timeout_ms:
        os.environ["DIAMOND_HEARTBEAT_TIMEOUT_MS"] = str(args.heartbeat_timeout_ms)
    return int(dramatiq_main(make_argument_parser().parse_args(dramatiq_argv(args))) or 0)
