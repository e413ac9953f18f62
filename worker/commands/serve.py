"""``diamond serve``: the webhook receiver under gunicorn (``--dev``: werkzeug's server)."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from worker.settings import SettingsError, load_settings

HELP = "run the webhook receiver (gunicorn; --dev for werkzeug's development server)"
log = logging.getLogger(__name__)

NO_SECRET_FLAG = "--insecure-dev-no-secret"
# Discourse's webhook bodies are a few KiB sent from a nearby host: 10 s is ample for a
# real sender and bounds what a trickling client can hold.
READ_TIMEOUT_SECONDS = 10.0


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bind", default="0.0.0.0:8080", help="host:port (default 0.0.0.0:8080)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=2, help="threads per worker process")
    parser.add_argument(
        "--read-timeout",
        type=float,
        default=READ_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help="a request not fully received this long after its connection opened (or its "
        f"previous request was answered) is answered 408 (default {READ_TIMEOUT_SECONDS:g})",
    )
    parser.add_argument("--dev", action="store_true", help="werkzeug's server, one process")
    parser.add_argument(
        NO_SECRET_FLAG,
        dest="no_secret",
        action="store_true",
        help="accept unsigned webhooks when DIAMOND_WEBHOOK_SECRET is empty (development only)",
    )
    parser.add_argument(
        "--actors",
        nargs="*",
        default=[],
        metavar="MODULE",
        help="extra actor modules to import (besides ACTOR_MODULES)",
    )


def receiver_factory(args: argparse.Namespace) -> Any:
    """A zero-argument callable building the WSGI app (called in each server process)."""
    from worker.pipeline.config import pipeline_settings
    from worker.pipeline.receiver import ReceiverConfig, build_receiver

    settings = load_settings()
    settings.require("redis_url")
    secret = settings.webhook_secret.get_secret_value() or None
    if secret is None and not args.no_secret:
        raise SettingsError(
            f"DIAMOND_WEBHOOK_SECRET: must be set (or pass {NO_SECRET_FLAG} for local development)"
        )
    config = ReceiverConfig(
        secret=secret,
        api_username=settings.api_username,
        dedup_ttl_seconds=pipeline_settings().dedup_ttl_seconds,
    )

    def factory() -> Any:
        return build_receiver(config, settings.redis_url, extra_actor_modules=args.actors)

    return factory


def run(args: argparse.Namespace) -> int:
    factory = receiver_factory(args)
    app = factory()  # fail here, before forking, on bad wiring
    if app.config.secret is None:
        log.warning("receiver accepts UNSIGNED webhooks (%s): development only", NO_SECRET_FLAG)
    host, _, port = args.bind.rpartition(":")
    if args.dev:
        from werkzeug.serving import run_simple

        run_simple(host or "127.0.0.1", int(port), app, threaded=True)
        return 0
    return run_gunicorn(
        factory,
        bind=args.bind,
        workers=args.workers,
        threads=args.threads,
        read_timeout=args.read_timeout,
    )


def run_gunicorn(
    factory: Any,
    *,
    bind: str,
    workers: int,
    threads: int,
    read_timeout: float = READ_TIMEOUT_SECONDS,
) -> int:
    from gunicorn.app.base import BaseApplication

    from worker.pipeline.server_worker import BufferedThreadWorker

    # The workers are forked from this process: they inherit the class attribute.
    BufferedThreadWorker.read_timeout = read_timeout

    class ReceiverApplication(BaseApplication):
        def load_config(self) -> None:
            options = {
                "bind": bind,
                "workers": workers,
                "threads": threads,
                # gthread, but a request is read whole before a thread serves it:
                # slow clients cannot hold the threads (see server_worker).
                "worker_class": "worker.pipeline.server_worker.BufferedThreadWorker",
                "keepalive": 5,  # Discourse reuses connections; so does a proxy
                "timeout": 30,
                "graceful_timeout": 20,
                "accesslog": None,
                "errorlog": "-",
                "loglevel": "info",
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return factory()  # in each worker, after the fork: its own Redis connections

    ReceiverApplication().run()
    return 0
