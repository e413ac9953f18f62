"""The rules the worker last loaded, recorded in Redis: what changed since, and by whom told.

    previous = record_loaded(redis_client, rules, now)   # a Loaded, or None
    current = last_loaded(redis_client)                  # the recorded Rules, or None

The record is shared by every process (worker, scheduler), so a change of the rule files
is announced once, by the first process that loads it, not once per process or restart.
The checksum is of the rules' content (``checksum``), not of the files: a comment or a
reordered key is no change.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, NamedTuple

import redis

from worker.redis_text import text
from worker.rules.models import Rules
from worker.state import keys

LOADED_KEY = keys.RULES_LOADED  # hash: checksum, rules (JSON), loaded_at (ISO)


class Loaded(NamedTuple):
    checksum: str
    dump: dict[str, Any]  # Rules.model_dump(mode="json")
    loaded_at: str


def dump_of(rules: Rules) -> dict[str, Any]:
    return rules.model_dump(mode="json")


def checksum(rules: Rules | dict[str, Any]) -> str:
    """A digest of the rules' content (16 hex digits)."""
    dump = rules if isinstance(rules, dict) else dump_of(rules)
    text = json.dumps(dump, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_loaded(client: redis.Redis) -> Loaded | None:
    raw = client.hgetall(LOADED_KEY)
    if not raw or b"rules" not in raw:
        return None
    return Loaded(
        text(raw[b"checksum"]),
        json.loads(raw[b"rules"]),
        text(raw.get(b"loaded_at")),
    )


def last_loaded(client: redis.Redis) -> Rules | None:
    """The rules the worker recorded as last loaded (None: none recorded, or unreadable)."""
    loaded = read_loaded(client)
    if loaded is None:
        return None
    try:
        return Rules.model_validate(loaded.dump)
    except ValueError:  # recorded by another version of Diamond
        return None


def record_loaded(client: redis.Redis, rules: Rules, now: datetime) -> Loaded | None:
    """Record ``rules`` as the rules in force if they differ from the recorded ones.

    Returns the record they replace when this call made the change (an empty ``dump``
    when nothing was recorded before), None when they were recorded already: of two
    processes loading the same edit, exactly one gets the previous record.
    """
    new = dump_of(rules)
    digest = checksum(new)
    with client.pipeline() as pipe:
        try:
            pipe.watch(LOADED_KEY)
            if text(pipe.hget(LOADED_KEY, "checksum")) == digest:
                return None
            before = read_loaded(pipe)
            pipe.multi()
            pipe.hset(
                LOADED_KEY,
                mapping={
                    "checksum": digest,
                    "rules": json.dumps(new, ensure_ascii=False),
                    "loaded_at": now.isoformat(),
                },
            )
            pipe.execute()
        except redis.WatchError:  # another process recorded them first
            return None
    return before or Loaded("", {}, "")
