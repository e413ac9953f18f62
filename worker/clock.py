"""Where the edges get ``now`` from; engines never read the clock themselves.

In production it is the system clock. The demo and end-to-end tests replay
weeks in minutes by setting a simulated time in Redis (``set_simulated_now``);
every process that shares the Redis (receiver, workers, scheduler) then sees
the same simulated ``now``. That key is honoured only when the setting
``DIAMOND_SIMULATED_CLOCK`` is on (the demo, ``diamond sandbox`` and tests turn it
on): in production a stray key moves nothing, and is warned about once (per Redis
connection pool: once a process). A worker process chooses its clock once, at start
(``process_clock``).
"""

from __future__ import annotations

import functools
import logging
import weakref
from collections.abc import Callable
from datetime import UTC, datetime

import redis

from worker.settings import SIMULATED_CLOCK_VAR, simulated_clock_setting
from worker.state import keys

log = logging.getLogger(__name__)

SIMULATED_NOW_KEY = keys.SIMULATED_NOW
# The stray-key warning is given once per Redis connection pool (a process has one; a
# ``ReadOnlyRedis`` over it shares it): nothing a test or a fresh client has to reset.
_warned_pools: weakref.WeakSet[object] = weakref.WeakSet()


def system_now() -> datetime:
    return datetime.now(UTC)


def now(redis_client: redis.Redis | None = None, *, simulated: bool | None = None) -> datetime:
    """The simulated time if the setting is on and one is set in Redis, else the system
    time (aware, UTC). ``simulated``: the setting as the caller's settings hold it (an
    actor's process); None reads it afresh."""
    if redis_client is None:
        return system_now()
    if simulated is None:
        simulated = simulated_clock_setting()
    if simulated:
        value = redis_client.get(SIMULATED_NOW_KEY)
        if value:
            return datetime.fromisoformat(value.decode() if isinstance(value, bytes) else value)
    elif _not_warned(redis_client) and redis_client.exists(SIMULATED_NOW_KEY):
        _warned_pools.add(redis_client.connection_pool)
        log.warning(
            "Redis holds a simulated time (%s) but %s is off: using the system clock",
            SIMULATED_NOW_KEY,
            SIMULATED_CLOCK_VAR,
        )
    return system_now()


def _not_warned(redis_client: redis.Redis) -> bool:
    return redis_client.connection_pool not in _warned_pools


def set_simulated_now(redis_client: redis.Redis, when: datetime | None) -> None:
    """Move the shared simulated clock (``None`` returns to the system clock)."""
    if when is None:
        redis_client.delete(SIMULATED_NOW_KEY)
        return
    if when.tzinfo is None:
        raise ValueError("simulated time must be timezone-aware")
    redis_client.set(SIMULATED_NOW_KEY, when.astimezone(UTC).isoformat())


def process_clock(redis_client: redis.Redis, *, simulated: bool) -> Callable[[], datetime]:
    """The ``now`` of a worker process, chosen once when it starts (``simulated``: its
    settings' ``DIAMOND_SIMULATED_CLOCK``): the shared simulated clock in Redis for the demo
    and tests, else the system clock itself — no Redis round trip per job in production. A
    stray simulated key is warned about here, once."""
    if simulated:
        return functools.partial(now, redis_client, simulated=True)
    now(redis_client, simulated=False)  # warns if Redis holds a simulated time
    return functools.partial(datetime.now, UTC)
