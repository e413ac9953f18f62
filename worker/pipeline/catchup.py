"""The catch-up scan: what webhooks missed, found by reading the forum.

Discourse does not guarantee delivery (retries are off by default, timeouts are
never retried), so every few minutes the scan reads posts newer than the last one
it saw (id remembered in Redis) and the pending users, and feeds them to the same
actors, through the same dispatcher, as webhooks would: a post that did arrive by
webhook has the same event identity and is not enqueued again.

Pending users have no watermark: an email sign-up is listed as pending only once
its email is confirmed, which may be days after later sign-ups were scanned. Each
pending user is fed once, and again only after ``USER_REFEED_SECONDS`` while still
pending (a held application waits for staff: re-gating it every few minutes would
spend the admin API budget for nothing). One listing call per 100 pending users,
without ``show_emails`` (each such call writes a staff-action-log entry).

Chat messages whose deliveries were lost are read back from the channels with a gap
(``worker.pipeline.chat_catchup``: the channel list, then one call per gapped channel), at
most hourly, or at once when posts were missed too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dramatiq
import redis

from worker.pipeline import missing, runtime
from worker.pipeline.chat_catchup import ChatCatchup, catch_up_chat
from worker.pipeline.config import pipeline_settings
from worker.pipeline.jobs import diamond_actor
from worker.pipeline.routes import BadEvent, Deduper, Dispatcher, Outcome
from worker.pipeline.scheduler import add_periodic_job
from worker.state import keys
from worker.state.chat import ChatStore

if TYPE_CHECKING:
    from worker.forum.client import ForumClient

log = logging.getLogger(__name__)

LAST_POST_KEY = keys.CATCHUP_LAST_POST
USERS_FED_KEY = keys.CATCHUP_USERS_FED  # sorted set: pending user id -> when fed
USER_REFEED_SECONDS = 24 * 3600
MAX_PER_SCAN = 500  # bounds one scan's work; the next scan goes on from there
# The very first scan looks back this many post ids, not to the forum's first post:
# before Diamond was installed there were no webhooks to miss (history is the
# ledger's `rebuild`, not the scan's job).
FIRST_SCAN_LOOKBACK_POSTS = 1000
# Chat is read back at most this often (the channel list costs a call per 50 channels),
# and at once when the scan found posts the webhooks missed (the receiver was down).
CHAT_CATCHUP_SECONDS = 3600


@dataclass
class ScanReport:
    posts_seen: int = 0
    users_seen: int = 0
    enqueued: int = 0  # jobs sent
    duplicates: int = 0
    last_post_id: int = 0
    users_pending: int = 0  # listed as pending (fed now or earlier)
    refed: int = 0  # dead-lettered fact jobs sent again
    chat: ChatCatchup | None = None  # channels read back, messages recorded


def scan(
    client: ForumClient,
    redis_client: redis.Redis,
    broker: dramatiq.Broker,
    *,
    api_username: str,
    dedup_ttl_seconds: int,
    max_items: int = MAX_PER_SCAN,
    first_scan_lookback: int = FIRST_SCAN_LOOKBACK_POSTS,
    user_refeed_seconds: float = USER_REFEED_SECONDS,
) -> ScanReport:
    """Feed posts newer than the remembered id, and pending users not fed lately.

    ``client`` is a ``ForumClient`` (``iter_posts_since``, ``iter_admin_users``).
    The remembered id advances only past items that were dispatched, and a user counts
    as fed only once dispatched, so an error midway (rate limit, Redis) loses nothing.
    """
    dispatcher = Dispatcher(broker, Deduper(redis_client, dedup_ttl_seconds), api_username)
    report = ScanReport()
    remembered = redis_client.get(LAST_POST_KEY)
    if remembered is None:
        report.last_post_id = max(0, client.latest_post_id() - first_scan_lookback)
    else:
        report.last_post_id = int(remembered)
    try:
        for post in client.iter_posts_since(report.last_post_id):
            if report.posts_seen >= max_items:
                break
            if _feed(dispatcher, report, "post", "post_created", post, report.last_post_id):
                report.last_post_id = _int_id(post)
                report.posts_seen += 1
    finally:  # what was dispatched stays dispatched, even if reading failed midway
        redis_client.set(LAST_POST_KEY, report.last_post_id)
    # Posts the webhooks missed mean the receiver was down or failing: chat may have lost
    # deliveries in the middle of a channel too, not only its latest ones.
    posts_missed = report.enqueued > 0  # jobs for posts no webhook brought
    chat_due = redis_client.set(keys.CHAT_CATCHUP_DONE, "1", nx=True, ex=CHAT_CATCHUP_SECONDS)
    if chat_due or posts_missed:
        report.chat = catch_up_chat(client, ChatStore(redis_client), suspicious=posts_missed)

    pending = sorted((u for u in client.iter_admin_users("pending") if _int_id(u) > 0), key=_int_id)
    report.users_pending = len(pending)
    fed = {int(member): score for member, score in redis_client.zscan_iter(USERS_FED_KEY)}
    now = time.time()
    due = [u for u in pending if now - fed.get(_int_id(u), float("-inf")) >= user_refeed_seconds]
    for user in due[:max_items]:
        _feed(dispatcher, report, "user", "user_created", user, 0)
        redis_client.zadd(USERS_FED_KEY, {str(_int_id(user)): now})
        report.users_seen += 1
    gone = set(fed) - {_int_id(u) for u in pending}  # decided, deleted: keep the set small
    if gone:
        redis_client.zrem(USERS_FED_KEY, *map(str, gone))
    # The forum has just answered: facts whose jobs gave up are owed, send them again
    # (dedup would skip them above: the receiver claimed them when they first came).
    report.refed = missing.refeed_dead_events(redis_client, broker)
    return report


def _feed(
    dispatcher: Dispatcher,
    report: ScanReport,
    event_type: str,
    event: str,
    obj: Mapping[str, Any],
    last_id: int,
) -> bool:
    """Dispatch one object newer than ``last_id``; False if it is not newer."""
    object_id = _int_id(obj)
    if object_id <= last_id:
        return False
    try:
        outcome, jobs = dispatcher.dispatch(event_type, event, obj)
    except BadEvent as exc:
        log.warning("catch-up: skipped %s %s: %s", event_type, object_id, exc)
        return True
    report.enqueued += jobs
    report.duplicates += outcome is Outcome.DUPLICATE
    return True


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
        "catch-up scan%s: %d posts, %d of %d pending users fed; %d jobs enqueued, %d already "
        "seen, %d dead-lettered re-fed; chat: %d of %d channels read back, %d messages",
        f" for {scheduled_for}" if scheduled_for else "",
        report.posts_seen,
        report.users_seen,
        report.users_pending,
        report.enqueued,
        report.duplicates,
        report.refed,
        report.chat.reads if report.chat else 0,
        report.chat.channels if report.chat else 0,
        report.chat.recorded if report.chat else 0,
    )


add_periodic_job(
    "catchup_scan",
    catchup_scan.actor_name,
    source="DIAMOND_CATCHUP_INTERVAL_MINUTES",
    minute=f"*/{pipeline_settings().catchup_interval_minutes}",
)
