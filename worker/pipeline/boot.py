"""Entry point for dramatiq's worker processes: ``dramatiq worker.pipeline.boot:boot``.

``diamond worker`` runs dramatiq's CLI with it; each worker process calls
``boot()``, which connects the broker to ``DIAMOND_REDIS_URL``, imports every actor
module (``ACTOR_MODULES`` plus ``DIAMOND_EXTRA_ACTOR_MODULES``, comma-separated) and sets
up what the jobs share (``runtime.process()``).
"""

from __future__ import annotations

import logging
import os

from worker.logs import SecretFilter
from worker.pipeline import runtime
from worker.pipeline.broker import setup_broker
from worker.pipeline.config import pipeline_settings
from worker.pipeline.health import Heartbeat, forum_key_status
from worker.pipeline.jobs import load_actors
from worker.pipeline.notices import dead_letter_notifier
from worker.rules.problems import RulesInvalid

log = logging.getLogger(__name__)
EXTRA_MODULES_ENV = "DIAMOND_EXTRA_ACTOR_MODULES"


def extra_actor_modules() -> list[str]:
    return [m.strip() for m in os.environ.get(EXTRA_MODULES_ENV, "").split(",") if m.strip()]


def boot() -> None:
    # dramatiq set up logging in this process; scrub secrets from what it prints.
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, SecretFilter) for f in handler.filters):
            handler.addFilter(SecretFilter())
    cfg = runtime.settings()
    cfg.require("redis_url")
    broker = setup_broker(cfg.redis_url)
    # `diamond health worker` (the compose health check) reads what this keeps in Redis;
    # a job that gives up is also told to the staff on the forum.
    notify = dead_letter_notifier(runtime.redis_client, lambda: broker)
    broker.add_middleware(Heartbeat(runtime.redis_client, forum_key_status, on_dead_letter=notify))
    if pipeline_settings().worker_metrics_port:
        # Per-job metrics; its exposition server is forked by dramatiq's main process on
        # the port `diamond worker` put in dramatiq_prom_port.
        from dramatiq.middleware.prometheus import Prometheus

        broker.add_middleware(Prometheus())
    runtime.announce_rule_changes()  # this process runs the community: it tells rule changes
    load_actors(extra_actor_modules())
    # Set up once here what every job shares (forum client, rules, clock, mode), so a job
    # only asks for the rules now and the time.
    try:
        runtime.process()
    except RulesInvalid as exc:  # each job reports the problems until the files are fixed
        log.error("worker: the rules do not load (%d problem(s)); jobs wait", len(exc.problems))
