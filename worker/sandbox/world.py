"""A sandbox world saved to a file and started again: the forum and Diamond's records.

    save_world(path, forum, redis_client)      # diamond demo --save, diamond sandbox --save
    world = load_world(path)                   # diamond sandbox --world
    restore_forum(forum, world); restore_redis(redis_client, world)

The file holds the forum's state (users, groups, categories, topics, posts, badges,
settings, id counters) and every key of Diamond's Redis but the job queues (the ledger,
strikes, campers, the simulated clock), so ``diamond whatif`` and the other read
commands see the same history as when it was saved. It is a pickle: start only worlds
you (or your demo) saved; a world file from elsewhere could run code when loaded.
"""

from __future__ import annotations

import gzip
import itertools
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from worker.sandbox.state import Forum

FORMAT = "diamond-world/1"
# What a world is made of; the lock, clock, hooks and API keys are the running process's.
FORUM_FIELDS = (
    "users", "groups", "categories", "topics", "posts", "badges", "user_badges",
    "user_fields", "reviewables", "webhooks", "invites", "tags", "settings",
    "screened_emails", "sent_emails", "show_emails_log",
)  # fmt: skip
# Not part of a world: dramatiq's keys (same "diamond:" namespace: queues, acks,
# heartbeats), processes' liveness, and the old forum's API budget (its window would hold
# the new one's first minute hostage).
_QUEUE_MARKS = (".msgs", ".DQ", ".XQ", "__acks__", "__heartbeats__")
_NOT_WORLD_PREFIXES = ("diamond:forum:ratelimit", "diamond:forum:calls", "diamond:health:")


class WorldError(ValueError):
    """The file is not a world this version can start."""


@dataclass
class World:
    forum: dict[str, Any]
    redis: dict[bytes, tuple[bytes, int]] = field(default_factory=dict)  # key: (dump, ttl ms)
    meta: dict[str, str] = field(default_factory=dict)


def _is_queue_key(key: bytes) -> bool:
    text = key.decode(errors="replace")
    return any(mark in text for mark in _QUEUE_MARKS) or text.startswith(_NOT_WORLD_PREFIXES)


def capture_forum(forum: Forum) -> dict[str, Any]:
    with forum.lock:
        state = {name: getattr(forum, name) for name in FORUM_FIELDS}
        ids = {}
        for kind, counter in list(forum._ids.items()):
            value = next(counter)  # taken to read it; the live forum goes on from there
            ids[kind] = value
            forum._ids[kind] = itertools.count(value)
        state["_ids"] = ids
        return pickle.loads(pickle.dumps(state))  # a copy: later changes do not leak in


def capture_redis(redis_client: redis.Redis) -> dict[bytes, tuple[bytes, int]]:
    """Every world key with its time to live (caches must still expire after a restore)."""
    out = {}
    for key in redis_client.scan_iter(count=1000):
        if _is_queue_key(key):
            continue
        dumped, ttl = redis_client.dump(key), redis_client.pttl(key)
        if dumped is not None:
            out[key] = (dumped, max(int(ttl), 0))
    return out


def save_world(
    path: Path,
    forum: Forum,
    redis_client: redis.Redis | None = None,
    meta: dict[str, str] | None = None,
) -> World:
    world = World(
        capture_forum(forum), capture_redis(redis_client) if redis_client else {}, meta or {}
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with gzip.open(tmp, "wb") as out:
        pickle.dump({"format": FORMAT, **world.__dict__}, out, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)  # never half a world under the real name
    return world


def load_world(path: Path) -> World:
    try:
        with gzip.open(path, "rb") as raw:
            doc = pickle.load(raw)
    except FileNotFoundError:
        raise WorldError(f"{path}: no such file") from None
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
        raise WorldError(f"{path}: not a saved world ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise WorldError(f"{path}: not a {FORMAT} file")
    return World(doc["forum"], doc.get("redis") or {}, doc.get("meta") or {})


def restore_forum(forum: Forum, world: World) -> None:
    """Replace ``forum``'s content with the world's (its API key and URL stay)."""
    with forum.lock:
        for name in FORUM_FIELDS:
            setattr(forum, name, world.forum[name])
        forum._ids = {k: itertools.count(v) for k, v in world.forum["_ids"].items()}


def restore_redis(redis_client: redis.Redis, world: World) -> int:
    """Put the world's keys into an empty database; refuses one holding other keys."""
    held = redis_client.dbsize()
    if held:
        raise WorldError(
            f"the Redis database holds {held} keys: a world is restored into an empty one"
        )
    pipe = redis_client.pipeline(transaction=False)
    for key, (dumped, ttl) in world.redis.items():
        pipe.restore(key, ttl, dumped, replace=True)
    pipe.execute()
    return len(world.redis)
