"""``diamond worker``: dramatiq worker processes running every declared actor."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable, MutableMapping
from typing import TYPE_CHECKING

from worker.settings import Settings, load_settings

if TYPE_CHECKING:
    from worker.pipeline.config import PipelineSettings

log = logging.getLogger(__name__)

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


def preflight(settings: Settings) -> None:
    """Raise (one line, via the CLI) if Redis is unreachable or the forum refuses the key."""
    import redis

    from worker.forum.client import ForumClient
    from worker.forum.errors import ForumUnavailable

    client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=3)
    client.ping()
    try:
        # One admin read (of the 60 a minute): a refused key fails every job, so stop here.
        ForumClient.from_settings(settings, client, on_limit="wait").list_badges()
    except ForumUnavailable as exc:
        log.warning("worker: the forum is unreachable now (%s); starting anyway", exc)


def prometheus_env(environ: MutableMapping[str, str], cfg: PipelineSettings | None = None) -> None:
    """What dramatiq's Prometheus middleware reads when imported (in every process);
    ``cfg``: the pipeline settings (the process's own unless given)."""
    from worker.pipeline.config import pipeline_settings

    port = (pipeline_settings() if cfg is None else cfg).worker_metrics_port
    if port:
        environ.setdefault("dramatiq_prom_host", "0.0.0.0")
        environ["dramatiq_prom_port"] = str(port)
        # One directory per container: its worker processes add up their counters there.
        environ.setdefault("dramatiq_prom_db", "/tmp/diamond-prometheus")


def start_dramatiq(argv: list[str]) -> int:
    """Run dramatiq's worker (it forks the worker processes) until it stops."""
    from dramatiq.cli import main as dramatiq_main
    from dramatiq.cli import make_argument_parser

    return int(dramatiq_main(make_argument_parser().parse_args(argv)) or 0)


def run(args: argparse.Namespace, *, start: Callable[[list[str]], int] = start_dramatiq) -> int:
    """``start``: runs dramatiq's worker with its command line (``dramatiq_argv``)."""
    from worker.pipeline.boot import EXTRA_MODULES_ENV

    settings = load_settings()
    # Fail with one line before forking: jobs need Redis, the forum and a key it accepts.
    settings.require("forum_url", "api_key", "redis_url")
    preflight(settings)
    # Worker processes read these in boot(); the environment is how they get there.
    if args.actors:
        os.environ[EXTRA_MODULES_ENV] = ",".join(args.actors)
    if args.heartbeat_timeout_ms:
        os.environ["DIAMOND_HEARTBEAT_TIMEOUT_MS"] = str(args.heartbeat_timeout_ms)
    prometheus_env(os.environ)
    return start(dramatiq_argv(args))
