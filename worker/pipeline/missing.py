"""Facts owed: dead-lettered post and user jobs are re-fed by the catch-up scan
(``refeed_dead_events``) once the forum answers, a bounded number of times each.

Which posts are missing meanwhile (so no decision about their authors is taken) is state,
kept by the post step itself: ``worker.state.membership.note_missing_post``.
"""

from __future__ import annotations

import logging

import dramatiq
import redis

from worker.pipeline import deadletters

log = logging.getLogger(__name__)

# Webhook jobs that carry facts: re-fed from the dead-letter queue by the catch-up scan.
FACT_ACTORS = frozenset({"posts.on_post", "posts.on_topic_edited", "membership.on_user"})
REFEEDS_OPTION = "diamond_refeeds"
# A job that dead-letters this many times after being re-fed stays for staff (a bug or a
# request the forum refuses is not fixed by sending it again every few minutes).
MAX_REFEEDS = 3


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
