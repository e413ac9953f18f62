"""One request budget for every process and host that talks to the forum.

Discourse has a single admin-API bucket for the whole site
(``max_admin_api_reqs_per_minute``, 60 by default), so the budget must be shared
by every worker process, the receiver and CLI commands: it lives in Redis.

The window is a sliding log (a sorted set of request timestamps) checked and
updated in one Lua script, so two processes can never both take the last slot.
The clock is Redis's own (``TIME``), so hosts with skewed clocks still agree.

``acquire()`` never sleeps: it returns 0 when a request may go now, or how many
seconds to wait. The caller decides what waiting means (a worker raises
``RateLimited`` and lets dramatiq retry; a CLI command may sleep).

When the forum itself answers 429, ``penalize(wait)`` pauses everyone sharing
the limiter until that time, so one worker's 429 is not rediscovered by all.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from typing import Protocol

import redis

from worker.state import keys

DEFAULT_KEY = keys.FORUM_RATELIMIT

# KEYS[1] = window log, KEYS[2] = pause marker
# ARGV[1] = window (µs), ARGV[2] = limit, ARGV[3] = unique member
# Returns {1, 0} when granted, {0, wait_µs} when not.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then
  return {0, paused * 1000}
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
  return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = tonumber(oldest[2]) + window - now
if wait < 1 then wait = 1 end
return {0, wait}
"""

# KEYS[1] = pause marker, ARGV[1] = pause (ms). Only ever extends a pause.
_PENALIZE = """
local ms = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[1]) < ms then
  redis.call('SET', KEYS[1], '1', 'PX', ms)
end
return 1
"""


class RateLimiter(Protocol):
    """What the forum client needs from a limiter."""

    limit: int
    period: float

    def acquire(self) -> float:
        """Take one request slot: 0.0 if granted, else seconds until one may free up."""
        ...

    def penalize(self, wait_seconds: float) -> None:
        """The forum said 429: nobody sharing this limiter sends for ``wait_seconds``."""
        ...


class RedisRateLimiter:
    """Sliding-window limiter shared through Redis by every process and host."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        limit: int = 50,
        period: float = 60.0,
        key: str = DEFAULT_KEY,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1 request")
        if period <= 0:
            raise ValueError("period must be positive")
        self.redis = client
        self.limit = limit
        self.period = period
        self.key = key
        self._acquire = client.register_script(_ACQUIRE)
        self._penalize = client.register_script(_PENALIZE)

    @property
    def _pause_key(self) -> str:
        return f"{self.key}:paused"

    def acquire(self) -> float:
        granted, wait_us = self._acquire(
            keys=[self.key, self._pause_key],
            args=[int(self.period * 1_000_000), self.limit, uuid.uuid4().hex],
        )
        return 0.0 if int(granted) == 1 else int(wait_us) / 1_000_000

    def penalize(self, wait_seconds: float) -> None:
        ms = int(wait_seconds * 1000)
        if ms > 0:
            self._penalize(keys=[self._pause_key], args=[ms])

    def reset(self) -> None:
        self.redis.delete(self.key, self._pause_key)

    def __repr__(self) -> str:
        return f"RedisRateLimiter({self.limit}/{self.period:g}s, key={self.key!r})"


class LocalRateLimiter:
    """The same sliding window inside one process, for tools that run without Redis.

    Not shared: two processes each get the full budget. ``ForumClient.from_settings``
    only falls back to it when no Redis is configured.
    """

    def __init__(self, *, limit: int = 50, period: float = 60.0) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1 request")
        if period <= 0:
            raise ValueError("period must be positive")
        self.limit = limit
        self.period = period
        self._sent: deque[float] = deque()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> float:
        with self._lock:
            now = time.monotonic()
            if self._paused_until > now:
                return self._paused_until - now
            while self._sent and self._sent[0] <= now - self.period:
                self._sent.popleft()
            if len(self._sent) < self.limit:
                self._sent.append(now)
                return 0.0
            return max(self._sent[0] + self.period - now, 0.001)

    def penalize(self, wait_seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + wait_seconds)

    def __repr__(self) -> str:
        return f"LocalRateLimiter({self.limit}/{self.period:g}s)"
