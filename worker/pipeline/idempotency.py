"""Run an action once, even if its job runs twice or a worker dies mid-job.

    with once(redis, f"welcome-pm:{user_id}") as first:
        if first:
            client.send_private_message(...)

- A finished action leaves a ``done`` record (``ttl``), so later runs skip it.
- While it runs, a lease (``lease_seconds``) keeps a concurrent duplicate from
  acting at the same time; that duplicate gets ``ActionBusy`` (``worker.errors.LeaseBusy``)
  and the retry middleware runs it again after the lease.
- If the worker is SIGKILLed after acting but before the record is written, the
  redelivered job acts again: that window is one Redis round trip wide. For
  writes where it matters, check the forum before acting (``already_done``) or
  make the write itself idempotent; ``worker.apply`` does both.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from worker.errors import LeaseBusy
from worker.state import keys

PREFIX = keys.ONCE_PREFIX
DEFAULT_TTL_SECONDS = 400 * 24 * 3600  # longer than any rule's look-back
DEFAULT_LEASE_SECONDS = 300

# Release the lease only if it is still ours (it may have expired and been taken).
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


# Another run of the same action holds its lease right now: the worker's ``LeaseBusy``.
ActionBusy = LeaseBusy


def already_done(client: redis.Redis, key: str) -> bool:
    return bool(client.exists(keys.once_done(key)))


def mark_done(client: redis.Redis, key: str, ttl: int = DEFAULT_TTL_SECONDS) -> None:
    client.set(keys.once_done(key), "1", ex=ttl)


@contextmanager
def once(
    client: redis.Redis,
    key: str,
    ttl: int = DEFAULT_TTL_SECONDS,
    *,
    lease_seconds: int = DEFAULT_LEASE_SECONDS,
) -> Iterator[bool]:
    """Yield True if this run should act (then record it done), False if it was done.

    The done record is written only when the block exits without an exception.
    """
    done_key = keys.once_done(key)
    lease_key = keys.once_lease(key)
    if client.exists(done_key):
        yield False
        return
    token = uuid.uuid4().hex
    if not client.set(lease_key, token, nx=True, ex=lease_seconds):
        remaining = client.pttl(lease_key)
        raise LeaseBusy(key, max(100, int(remaining) if remaining and remaining > 0 else 1000))
    try:
        if client.exists(done_key):  # finished between our check and our lease
            yield False
            return
        yield True
        client.set(done_key, "1", ex=ttl)
    finally:
        client.eval(_RELEASE, 1, lease_key, token)
