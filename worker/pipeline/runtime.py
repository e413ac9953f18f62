"""What actors share inside one worker process: settings, a Redis client, the forum client.

    from worker.pipeline.runtime import forum, redis_client, settings

Built on first use and kept for the process (connection pools are thread-safe).
The Redis client talks to the same Redis as the broker (``setup_broker``).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import redis

from worker.settings import Settings, load_settings

if TYPE_CHECKING:
    from worker.forum.client import ForumClient

_lock = threading.Lock()
_state: dict[str, object] = {}


def configure(*, redis_url: str | None = None, settings_obj: Settings | None = None) -> None:
    """Set what later calls return (``setup_broker`` passes the broker's Redis URL)."""
    with _lock:
        if redis_url is not None and _state.get("redis_url") != redis_url:
            _state["redis_url"] = redis_url
            _state.pop("redis", None)
            _state.pop("forum", None)
        if settings_obj is not None:
            _state["settings"] = settings_obj
            _state.pop("forum", None)


def reset() -> None:
    with _lock:
        _state.clear()


def settings() -> Settings:
    with _lock:
        if "settings" not in _state:
            _state["settings"] = load_settings()
        return _state["settings"]  # type: ignore[return-value]


def redis_client() -> redis.Redis:
    url = _state.get("redis_url") or settings().redis_url
    with _lock:
        if "redis" not in _state:
            if not url:
                raise RuntimeError("no Redis URL: call setup_broker() or set DIAMOND_REDIS_URL")
            _state["redis"] = redis.Redis.from_url(str(url), socket_connect_timeout=2)
        return _state["redis"]  # type: ignore[return-value]


def forum() -> ForumClient:
    """The one forum client of this process (rate limit shared through Redis)."""
    from worker.forum.client import ForumClient

    cfg, client = settings(), redis_client()
    with _lock:
        if "forum" not in _state:
            _state["forum"] = ForumClient.from_settings(cfg, client)
        return _state["forum"]  # type: ignore[return-value]
