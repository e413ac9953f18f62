"""The admin API bucket: ``max_admin_api_reqs_per_minute`` over a sliding window.

Like Discourse's ``RateLimiter``: the last ``limit`` request times are kept; a
request is refused while the oldest of them is younger than the window, and the
answer says how long until it ages out. The window is configurable so tests can
compress a minute into a fraction of a second.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable


class AdminRateLimiter:
    def __init__(
        self,
        limit: int | None = None,
        window_seconds: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._stamps: deque[float] = deque()
        self.limit = limit
        self.window = window_seconds

    @property
    def enabled(self) -> bool:
        return self.limit is not None

    def configure(self, limit: int | None, window_seconds: float | None = None) -> None:
        with self._lock:
            self.limit = limit
            if window_seconds is not None:
                self.window = window_seconds
            self._stamps.clear()

    def hit(self) -> int | None:
        """Count one request; None when allowed, else whole seconds to wait (≥ 1)."""
        with self._lock:
            if self.limit is None:
                return None
            now = self._clock()
            while self._stamps and now - self._stamps[0] >= self.window:
                self._stamps.popleft()
            if len(self._stamps) >= self.limit:
                wait = self.window - (now - self._stamps[0])
                return max(1, math.ceil(wait))
            self._stamps.append(now)
            return None
