"""Set-up shared by the end-to-end tests: a live worker configuration and a local
HTTP server for the receiver."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
from werkzeug.serving import make_server

from worker.pipeline import runtime
from worker.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` on a free loopback port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def live_worker(
    monkeypatch: pytest.MonkeyPatch, forum: Any, redis_url: str, tmp_path: Path
) -> Path:
    """Settings of a live worker against ``forum`` (no API budget to wait for), with a
    copy of the shipped rules it may edit; returns that rules directory."""
    rules_dir = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules_dir)
    for name, value in {
        "DIAMOND_FORUM_URL": forum.url,
        "DIAMOND_API_KEY": forum.api_key,
        "DIAMOND_API_USERNAME": "system",
        "DIAMOND_REDIS_URL": redis_url,
        "DIAMOND_RULES_DIR": str(rules_dir),
        "DIAMOND_MODE": "live",
        "DIAMOND_API_REQUESTS_PER_MINUTE": "10000",
    }.items():
        monkeypatch.setenv(name, value)
    # The process takes these settings from now on (a client built before is dropped).
    runtime.configure(redis_url=redis_url, settings_obj=load_settings())
    return rules_dir


def redis_contents(client: redis.Redis, *, skip: tuple[str, ...] = ()) -> dict[bytes, object]:
    """Every key's logical value (and whether it expires), for "nothing was written".

    Not ``DUMP``: a hash's serialisation can change order while Redis rehashes it, with no
    write at all, so equal contents could compare unequal.
    """
    out: dict[bytes, object] = {}
    for key in client.scan_iter(count=1000):
        if key.decode(errors="replace").startswith(skip):
            continue
        kind = client.type(key).decode()
        value: object
        if kind == "string":
            value = client.get(key)
        elif kind == "hash":
            value = client.hgetall(key)
        elif kind == "set":
            value = client.smembers(key)
        elif kind == "zset":
            value = client.zrange(key, 0, -1, withscores=True)
        elif kind == "list":
            value = client.lrange(key, 0, -1)
        else:
            value = client.dump(key)
        out[key] = (kind, value, client.ttl(key) >= 0)
    return out


def wait_for(check: Callable[[], object], what: str = "", timeout: float = 20.0) -> None:
    """Poll ``check`` until it is truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or check}")


def create_audit_log(sandbox: Any) -> int:
    """The staff audit-log category on the sandbox, as `diamond apply` makes it; its id."""
    from worker.forum.client import ForumClient

    client = ForumClient(sandbox.url, sandbox.api_key, "system", timeout=(2, 10))
    category = client.create_category("Audit log", slug="audit-log", permissions={"staff": 1})
    return int(category.get("category", category)["id"])


def diamond_topics(sandbox: Any, category_id: int) -> list[Any]:
    """Diamond's topics in a category (titles start with "Diamond"; not the "About…" one)."""
    return [
        t
        for t in sandbox.forum.topics.values()
        if t.category_id == category_id and t.title.startswith("Diamond")
    ]


@contextmanager
def queue_worker(broker: Any, queue: str) -> Iterator[Any]:
    """A dramatiq worker on ``queue`` and its delay queue, stopped on exit."""
    import dramatiq

    w = dramatiq.Worker(broker, queues={queue, queue + ".DQ"}, worker_threads=2, worker_timeout=20)
    w.start()
    try:
        yield w
    finally:
        w.stop(timeout=5_000)


def dead_letters(redis_client: redis.Redis, queue: str) -> int:
    """How many messages of ``queue`` are in its dead-letter queue."""
    return int(redis_client.hlen(f"diamond:{queue}.XQ.msgs"))
