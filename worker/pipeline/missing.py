"""Facts known to be missing: post events whose job failed and has not yet succeeded.

A post job that fails (and is retried, or dead-lettered) notes its post here with the
author the webhook body named; the job that finally handles the post clears it. While a
member has a post noted, no decision about them is taken (the camp check defers them):
a lost reply must not become an extension and then a removal. A post whose author is
unknown (the body had none) holds back every decision until it is handled.

Dead-lettered post and user jobs are re-fed by the catch-up scan (``refeed_dead_events``)
once the forum answers, a bounded number of times each.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import dramatiq
import redis

from worker.pipeline import deadletters
from worker.redis_text import text
from worker.state import keys

log = logging.getLogger(__name__)

MISSING_POSTS_KEY = keys.MISSING_POSTS  # hash: post id -> author ("" unknown)
UNKNOWN_AUTHOR = ""
# Webhook jobs that carry facts: re-fed from the dead-letter queue by the catch-up scan.
FACT_ACTORS = frozenset({"posts.on_post", "posts.on_topic_edited", "membership.on_user"})
REFEEDS_OPTION = "diamond_refeeds"
# A job that dead-letters this many times after being re-fed stays for staff (a bug or a
# request the forum refuses is not fixed by sending it again every few minutes).
MAX_REFEEDS = 3


def note_missing_post(client: redis.Redis, post_id: int, author: str | None) -> None:
    client.hset(MISSING_POSTS_KEY, str(post_id), author or UNKNOWN_AUTHOR)


def clear_missing_post(client: redis.Redis, post_id: int) -> None:
    client.hdel(MISSING_POSTS_KEY, str(post_id))


def missing_posts(client: redis.Redis) -> dict[int, str]:
    """Post id -> author (``UNKNOWN_AUTHOR`` when the body did not say)."""
    return {int(k): text(v) for k, v in client.hgetall(MISSING_POSTS_KEY).items()}


def held_back(missing: dict[int, str], usernames: Iterable[str]) -> set[str]:
    """Those of ``usernames`` whose decisions wait for a missing post (pure)."""
    names = set(usernames)
    authors = set(missing.values())
    if UNKNOWN_AUTHOR in authors:
        return names
    return {n for n in names if n.lower() in {a.lower() for a in authors}}


def refeed_dead_events(client: redis.Redis, broker: dramatiq.Broker) -> int:
    """Send dead-lettered fact jobs again (each at most ``MAX_REFEEDS`` times); returns
    how many were sent. Called when the forum has just answered (the scan read it)."""
    sent = 0
    for job in deadletters.dead_jobs(client):
        if job.message.actor_name not in FACT_ACTORS:
            continue
        refeeds = int(job.message.options.get(REFEEDS_OPTION, 0))
        if refeeds >= MAX_REFEEDS:
            continue
        job.message.options[REFEEDS_OPTION] = refeeds + 1
        if deadletters.retry(client, broker, job):
            sent += 1
            log.warning(
                "re-fed dead-lettered job %s [message %s] (%d of %d): its fact is owed",
                job.message.actor_name,
                job.id,
                refeeds + 1,
                MAX_REFEEDS,
            )
    return sent
