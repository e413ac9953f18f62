"""Webhook deliveries, as Discourse's ``Jobs::EmitWebHookEvent`` makes them.

Events are filtered per hook (active, subscribed or wildcard, category and tag
filters), serialized once, signed (``sha256=<hex HMAC-SHA256(secret, body)>``)
and POSTed from one background thread. A failed delivery is logged and not
retried, as in Discourse's default. ``wait_idle()`` lets tests wait for the queue.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import requests

from worker.sandbox.event_types import EVENT_GROUP, EVENT_ID

if TYPE_CHECKING:
    from worker.sandbox.models import WebHook
    from worker.sandbox.state import Forum

log = logging.getLogger(__name__)

DISCOURSE_VERSION = "2026.9.0-sandbox"


def signature(secret: str, body: bytes) -> str:
    """The ``X-Discourse-Event-Signature`` value for a body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


@dataclass
class Delivery:
    """One POST to one hook, with what came back (status None: no answer)."""

    hook_id: int
    event_id: int
    event_type: str
    event: str
    url: str
    headers: dict[str, str]
    body: bytes
    status: int | None = None
    error: str | None = None
    duration_ms: int = 0
    response_body: str = ""

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class _Job:
    delivery: Delivery
    content_type: int
    done: threading.Event = field(default_factory=threading.Event)


class WebhookEmitter:
    """Subscribes to a forum's events and delivers them asynchronously."""

    def __init__(self, forum: Forum, *, timeout: float = 5.0) -> None:
        self.forum = forum
        self.timeout = timeout
        self.deliveries: list[Delivery] = []
        self._event_ids = itertools.count(1)
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition()
        self._session = requests.Session()
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
        self._thread.start()
        forum.event_sink = self.on_event

    # ── producing ──────────────────────────────────────────────────────────
    def on_event(
        self, event: str, body: dict[str, Any], forum: Forum, context: dict[str, Any]
    ) -> None:
        only = context.get("only_hook")
        if only is not None:  # the admin "ping" button: this hook, active or not
            hook = forum.webhooks.get(only)
            if hook is not None:
                self._enqueue(hook, event, event, body)
            return
        event_id = EVENT_ID.get(event)
        for hook in list(forum.webhooks.values()):
            if not hook.active:
                continue
            if not (hook.wildcard_web_hook or event_id in hook.event_type_ids):
                continue
            if not self._passes_filters(hook, context):
                continue
            # The type a plugin's hooks are enqueued with (chat: ``:chat_message``), else
            # the event's group.
            event_type = context.get("event_type") or EVENT_GROUP.get(event, event.split("_")[0])
            self._enqueue(hook, event, event_type, body)

    def ping(self, hook: WebHook) -> Delivery:
        return self._enqueue(hook, "ping", "ping", {"ping": "OK"})

    @staticmethod
    def _passes_filters(hook: WebHook, context: dict[str, Any]) -> bool:
        if "category_id" in context:  # EmitWebHookEvent#category_webhook_invalid?
            category_id = context["category_id"]
            if hook.category_ids and (category_id is None or category_id not in hook.category_ids):
                return False
        topic = context.get("topic")
        if topic is None:
            return True
        if hook.category_ids and topic.category_id not in hook.category_ids:
            return False
        return not (hook.tag_names and not set(hook.tag_names) & set(topic.tags))

    def _enqueue(
        self, hook: WebHook, event: str, event_type: str, body: dict[str, Any]
    ) -> Delivery:
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        event_id = next(self._event_ids)
        content_type = "application/json"
        if hook.content_type == 2:
            content_type = "application/x-www-form-urlencoded"
            raw = urlencode({"payload": raw.decode()}).encode()
        headers = {
            "Accept": "*/*",
            "Connection": "close",
            "Content-Type": content_type,
            "User-Agent": f"Discourse/{DISCOURSE_VERSION}",
            "X-Discourse-Instance": self.forum.base_url,
            "X-Discourse-Event-Id": str(event_id),
            "X-Discourse-Event-Type": event_type,
            "X-Discourse-Event": event,
        }
        if hook.secret:
            headers["X-Discourse-Event-Signature"] = signature(hook.secret, raw)
        delivery = Delivery(
            hook_id=hook.id,
            event_id=event_id,
            event_type=event_type,
            event=event,
            url=hook.payload_url,
            headers=headers,
            body=raw,
        )
        with self._idle:
            self._pending += 1
        self._queue.put(_Job(delivery, hook.content_type))
        return delivery

    # ── delivering ─────────────────────────────────────────────────────────
    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                self._deliver(job.delivery)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def _deliver(self, delivery: Delivery) -> None:
        started = time.monotonic()
        try:
            response = self._session.post(
                delivery.url, data=delivery.body, headers=delivery.headers, timeout=self.timeout
            )
            delivery.status = response.status_code
            delivery.response_body = response.text[:1000]
        except requests.RequestException as exc:
            delivery.error = type(exc).__name__
        delivery.duration_ms = int((time.monotonic() - started) * 1000)
        with self.forum.lock:
            self.deliveries.append(delivery)
            hook = self.forum.webhooks.get(delivery.hook_id)
            if hook is not None:
                ok = delivery.status is not None and 200 <= delivery.status < 300
                hook.last_delivery_status = 3 if ok else 2
        if delivery.error or (delivery.status or 0) >= 400:
            log.info(
                "webhook %s to %s failed: %s",
                delivery.event,
                delivery.url,
                delivery.error or delivery.status,
            )

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until every queued delivery was attempted; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    flush = wait_idle

    def delivered(self, event: str | None = None) -> list[Delivery]:
        with self.forum.lock:
            return [d for d in self.deliveries if event is None or d.event == event]

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=2)
        self._session.close()
