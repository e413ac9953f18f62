"""The catch-up scan: what webhooks missed, found by reading the forum.

Discourse does not guarantee delivery (retries are off by default, timeouts are
never retried), so every few minutes the scan reads posts and pending users
newer than the last ones it saw (ids remembered in Redis) and feeds them to the
same actors, through the same dispatcher, as webhooks would: a post that did
arrive by webhook has the same event identity and is not enqueued again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import dramatiq
import redis

from worker.pipeline import runtime
from worker.pipeline.config import pipeline_settings
from worker.pipeline.dedup import Deduper
from worker.pipeline.dispatch import Dispatcher, Outcome
from worker.pipeline.jobs import diamond_actor
from worker.pipeline.routes import BadEvent
from worker.pipeline.scheduler import add_periodic_job

log = logging.getLogger(__name__)

LAST_POST_KEY = "diamond:catchup:last_post_id"
LAST_USER_KEY = "diamond:catchup:last_user_id"
MAX_PER_SCAN = 500  # bounds one scan's work; the next scan goes on from there


@dataclass
class ScanReport:
    posts_seen: int = 0
    users_seen: int = 0
    enqueued: int = 0  # jobs sent
    duplicates: int = 0
    last_post_id: int = 0
    last_user_id: int = 0


def scan(
    client: Any,
    redis_client: redis.Redis,
    broker: dramatiq.Broker,
    *,
    api_username: str,
    dedup_ttl_seconds: int,
    max_items: int = MAX_PER_SCAN,
) -> ScanReport:
    """Feed posts and pending users newer than the remembered ids to their actors.

    ``client`` is a ``ForumClient`` (``iter_posts_since``, ``iter_admin_users``).
    The remembered id advances only past items that were dispatched, so an error
    midway (rate limit, Redis) loses nothing: the next scan starts there.
    """
    dispatcher = Dispatcher(broker, Deduper(redis_client, dedup_ttl_seconds), api_username)
    report = ScanReport()

    last_post = int(redis_client.get(LAST_POST_KEY) or 0)
    posts = client.iter_posts_since(last_post)
    report.last_post_id, report.posts_seen = _feed(
        dispatcher, report, "post", "post_created", posts, last_post, max_items
    )
    redis_client.set(LAST_POST_KEY, report.last_post_id)

    last_user = int(redis_client.get(LAST_USER_KEY) or 0)
    pending = sorted(
        (u for u in client.iter_admin_users("pending") if _int_id(u) > last_user), key=_int_id
    )
    report.last_user_id, report.users_seen = _feed(
        dispatcher, report, "user", "user_created", pending, last_user, max_items
    )
    redis_client.set(LAST_USER_KEY, report.last_user_id)
    return report


def _feed(
    dispatcher: Dispatcher,
    report: ScanReport,
    event_type: str,
    event: str,
    objects: Iterable[Mapping[str, Any]],
    last_id: int,
    max_items: int,
) -> tuple[int, int]:
    seen = 0
    for obj in objects:
        if seen >= max_items:
            break
        object_id = _int_id(obj)
        if object_id <= last_id:
            continue
        try:
            outcome, jobs = dispatcher.dispatch(event_type, event, obj)
        except BadEvent as exc:
            log.warning("catch-up: skipped %s %s: %s", event_type, object_id, exc)
            outcome, jobs = Outcome.UNUSED, 0
        report.enqueued += jobs
        report.duplicates += outcome is Outcome.DUPLICATE
        last_id, seen = object_id, seen + 1
    return last_id, seen


def _int_id(obj: Mapping[str, Any]) -> int:
    value = obj.get("id")
    return value if isinstance(value, int) and not isinstance(value, bool) else -1


@diamond_actor(queue="catchup", time_limit=600, max_retries=2)
def catchup_scan(scheduled_for: str | None = None) -> None:
    """Periodic: one catch-up scan (see ``scan``)."""
    cfg = runtime.settings()
    report = scan(
        runtime.forum(),
        runtime.redis_client(),
        dramatiq.get_broker(),
        api_username=cfg.api_username,
        dedup_ttl_seconds=pipeline_settings().dedup_ttl_seconds,
    )
    log.info(
        "catch-up scan%s: %d posts, %d pending users read; %d jobs enqueued, %d already seen",
        f" for {scheduled_for}" if scheduled_for else "",
        report.posts_seen,
        report.users_seen,
        report.enqueued,
        report.duplicates,
    )


add_periodic_job(
    "catchup_scan",
    catchup_scan.actor_name,
    minute=f"*/{pipeline_settings().catchup_interval_minutes}",
)
