"""Announcing a change of the rules: once per change, then a job posts the changelog.

``rules_changelog_announcer`` is the ``RulesHolder(on_loaded=...)`` hook of every process
that loads the rules (the worker, the scheduler). The rules it loads are compared with the
rules recorded in Redis as last loaded (``worker.rules.loaded``); the process that records
a new checksum enqueues ``rules.post_changelog`` (``worker.jobs.changelog``) with what
changed, key by key. Others, and restarts with the same rules, find it recorded and stay
silent. The first rules ever recorded are no change: nothing is posted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import dramatiq
import redis

from worker.rules.diff import dump_changes
from worker.rules.loaded import checksum, dump_of, record_loaded
from worker.rules.models import Rules

log = logging.getLogger(__name__)

QUEUE = "staff"
ACTOR = "rules.post_changelog"


def announce_rules(
    client: redis.Redis, broker: dramatiq.Broker, rules: Rules, *, now: datetime | None = None
) -> bool:
    """Record ``rules`` as loaded; enqueue the changelog if this call recorded a change."""
    when = now or datetime.now(UTC)
    previous = record_loaded(client, rules, when)
    if previous is None or not previous.dump:
        return False
    lines = [str(change) for change in dump_changes(previous.dump, dump_of(rules))]
    if not lines:  # another version of Diamond dumped the same rules differently
        return False
    broker.enqueue(
        dramatiq.Message(
            queue_name=QUEUE,
            actor_name=ACTOR,
            args=(lines, previous.checksum, checksum(rules), when.isoformat()),
            kwargs={},
            options={},
        )
    )
    log.info("rules changed (%s → %s): %s", previous.checksum, checksum(rules), "; ".join(lines))
    return True


def rules_changelog_announcer(
    client: Callable[[], redis.Redis], broker: Callable[[], dramatiq.Broker]
) -> Callable[[Rules], None]:
    """A ``RulesHolder(on_loaded=...)`` hook; ``client`` and ``broker`` are called late
    (the holder may load before the process has set up its broker)."""

    def on_loaded(rules: Rules) -> None:
        try:
            announce_rules(client(), broker(), rules)
        except redis.RedisError as exc:  # Redis down: the command that needs it says so
            log.warning("rules changelog not recorded: Redis unreachable (%s)", exc)
        except Exception:  # the rules are in force whatever happens to their changelog
            log.exception("could not record or announce the loaded rules")

    return on_loaded
