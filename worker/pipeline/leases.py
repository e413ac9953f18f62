"""A Redis lock that lives only as long as the job holding it.

``held(redis, key)`` takes a short lease (``lease_seconds``) and renews it from a
background thread while the block runs. A job that ends releases it; a worker that is
killed stops renewing, so the lease is gone within ``lease_seconds`` — before dramatiq
redelivers the dead worker's job (``DIAMOND_HEARTBEAT_TIMEOUT_MS``, 60 s by default).
A lock held elsewhere is not waited for in the worker thread: ``LeaseBusy`` says when
to come back, and the retry middleware runs the job again then.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from redis.exceptions import LockError

from worker.errors import LeaseBusy

log = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 20.0
DEFAULT_WAIT_SECONDS = 5.0  # how long a second job waits for the lock before retrying later


@contextmanager
def held(
    client: redis.Redis,
    key: str,
    *,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
) -> Iterator[None]:
    # Not thread-local: the renewing thread must see the token the job thread took.
    lock = client.lock(key, timeout=lease_seconds, thread_local=False)
    if not lock.acquire(blocking_timeout=wait_seconds):
        remaining = client.pttl(key)
        raise LeaseBusy(key, max(100, int(remaining) if remaining and remaining > 0 else 1000))
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(lease_seconds / 3):
            try:
                lock.reacquire()  # back to a full lease, only if it is still ours
            except (LockError, redis.RedisError) as exc:
                log.warning("could not renew the lease on %s: %s", key, exc)

    renewer = threading.Thread(target=renew, name=f"lease:{key}", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join(timeout=5)
        try:
            lock.release()
        except LockError:
            log.warning("the lease on %s expired before the job ended", key)
