"""Run the sandbox forum: in-process (tests, demo) or until Ctrl-C (``diamond sandbox``)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from worker.sandbox.app import SandboxApp
from worker.sandbox.faults import FaultInjector, FaultRule
from worker.sandbox.models import WebHook
from worker.sandbox.ratelimit import AdminRateLimiter
from worker.sandbox.state import Forum
from worker.sandbox.timeutil import system_now
from worker.sandbox.webhooks import Delivery, WebhookEmitter

DEFAULT_API_KEY = "sandbox-api-key"


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


@dataclass
class Sandbox:
    """A sandbox forum and its machinery, not yet (or not) listening on a port."""

    forum: Forum
    app: SandboxApp
    webhooks: WebhookEmitter
    faults: FaultInjector
    limiter: AdminRateLimiter

    @property
    def api_key(self) -> str:
        return self.forum.api_key

    def headers(self, username: str = "system") -> dict[str, str]:
        """Admin-key headers acting as ``username`` (impersonation, as Discourse allows)."""
        return {"Api-Key": self.forum.api_key, "Api-Username": username}

    def user_api_key(self, username: str) -> str:
        """A per-user key: requests with it act as that member."""
        return self.forum.create_api_key(username)

    def add_fault(self, rule: FaultRule | str) -> FaultRule:
        return self.faults.add(rule)

    def clear_faults(self) -> None:
        self.faults.clear()

    def set_rate_limit(self, limit: int | None, window_seconds: float = 60.0) -> None:
        """Enforce the admin bucket (None: off). A short window compresses the minute."""
        self.limiter.configure(limit, window_seconds)
        if limit is not None:
            with self.forum.lock:
                self.forum.settings["max_admin_api_reqs_per_minute"] = limit

    def add_webhook(
        self,
        payload_url: str,
        *,
        secret: str = "",
        events: Iterable[str] | None = None,
        active: bool = True,
        category_ids: Iterable[int] | None = None,
    ) -> WebHook:
        """Register a hook (all events when ``events`` is None)."""
        return self.forum.add_webhook(
            payload_url,
            secret=secret,
            events=list(events) if events is not None else None,
            active=active,
            category_ids=list(category_ids or []),
        )

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until every queued webhook delivery was attempted."""
        return self.webhooks.wait_idle(timeout)

    flush = wait_idle

    def deliveries(self, event: str | None = None) -> list[Delivery]:
        return self.webhooks.delivered(event)


def build_sandbox(
    *,
    api_key: str = DEFAULT_API_KEY,
    base_url: str = "http://127.0.0.1",
    rate_limit: tuple[int, float] | None = None,
    seed: int | None = 0,
    faults: Iterable[FaultRule | str] = (),
    seed_admin: bool = True,
    clock: Callable[[], datetime] = system_now,
    sleep: Callable[[float], None] | None = None,
) -> Sandbox:
    """A sandbox without a socket: use ``sandbox.app`` with werkzeug's test ``Client``."""
    forum = Forum(api_key=api_key, base_url=base_url, clock=clock)
    if seed_admin:
        forum.seed_admin()
    injector = FaultInjector(seed)
    for rule in faults:
        injector.add(rule)
    limiter = AdminRateLimiter()
    if rate_limit is not None:
        limiter.configure(rate_limit[0], rate_limit[1])
        forum.settings["max_admin_api_reqs_per_minute"] = rate_limit[0]

    def _on_setting(name: str, value: Any) -> None:
        if name == "max_admin_api_reqs_per_minute" and limiter.enabled:
            limiter.configure(int(value))

    forum.on_setting_change = _on_setting
    kwargs: dict[str, Any] = {"faults": injector, "limiter": limiter}
    if sleep is not None:
        kwargs["sleep"] = sleep
    app = SandboxApp(forum, **kwargs)
    emitter = WebhookEmitter(forum)
    return Sandbox(forum=forum, app=app, webhooks=emitter, faults=injector, limiter=limiter)


class RunningSandbox(Sandbox):
    """A sandbox listening on a port in a background thread; ``stop()`` ends it."""

    url: str
    _server: BaseWSGIServer
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self.webhooks.close()

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_sandbox(
    port: int = 0,
    api_key: str = DEFAULT_API_KEY,
    *,
    host: str = "127.0.0.1",
    rate_limit: tuple[int, float] | None = None,
    seed: int | None = 0,
    faults: Iterable[FaultRule | str] = (),
    seed_admin: bool = True,
    clock: Callable[[], datetime] = system_now,
) -> RunningSandbox:
    """Serve a fresh sandbox forum on ``host:port`` (0: any free port) in a thread."""
    sandbox = build_sandbox(
        api_key=api_key,
        rate_limit=rate_limit,
        seed=seed,
        faults=faults,
        seed_admin=seed_admin,
        clock=clock,
    )
    server = make_server(host, port, sandbox.app, threaded=True, request_handler=_QuietHandler)
    url = f"http://{host}:{server.server_port}"
    sandbox.forum.base_url = url
    running = RunningSandbox(**sandbox.__dict__)
    running.url = url
    running._server = server
    running._thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},  # stop() returns quickly in tests
        name="sandbox-forum",
        daemon=True,
    )
    running._thread.start()
    return running
