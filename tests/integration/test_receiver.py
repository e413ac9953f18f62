"""The webhook receiver, table-driven, against a real Redis server."""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from dramatiq.message import Message
from werkzeug.test import Client

from tests.conftest import DISCOURSE_REF
from worker.pipeline import routes
from worker.pipeline.receiver import (
    MAX_BODY_BYTES,
    ReceiverConfig,
    ReceiverConfigError,
    build_receiver,
    sign,
    verify,
)
from worker.redis_server import EmbeddedRedis
from worker.settings import SettingsError

SECRET = "test-webhook-secret"
API_USER = "diamond_bot"
WEBHOOKS = DISCOURSE_REF / "webhooks"
ROUTED = ("post_created", "topic_created", "user_created", "user_approved")
POST_BODY = (WEBHOOKS / "post__post_created__2025.12.0-latest-body.json").read_bytes()

pytestmark = pytest.mark.integration


@pytest.fixture
def probe_routes(preserve_routes: None) -> Iterator[None]:
    for event in ROUTED:
        routes.add_route(event, "probe.seen", ids={"object_id": "id"}, pass_event=True)
    yield


def make_client(url: str, secret: str | None = SECRET) -> Client:
    app = build_receiver(
        ReceiverConfig(secret=secret, api_username=API_USER),
        url,
        extra_actor_modules=["worker.pipeline.probe"],
    )
    return Client(app)


@pytest.fixture
def client(redis_url: str, probe_routes: None) -> Client:
    return make_client(redis_url)


def headers(body: bytes, event: str = "post_created", *, event_id: str = "47", **extra: str):
    h = {
        "X-Discourse-Event-Type": event.split("_")[0],
        "X-Discourse-Event": event,
        "X-Discourse-Event-Id": event_id,
        "X-Discourse-Instance": "https://forum.example",
        "X-Discourse-Event-Signature": sign(SECRET, body),
        "Content-Type": "application/json",
    }
    h.update(extra)
    return h


def enqueued(client: redis.Redis) -> list[tuple[str, dict]]:
    """(actor, kwargs) of every message waiting on the probe queue."""
    raw = client.hvals("diamond:probe.msgs")
    messages = [Message.decode(data) for data in raw]
    return sorted((m.actor_name, m.kwargs) for m in messages)


def test_signature_matches_the_discourse_test_vector() -> None:
    vector = "sha256=162f107f6b5022353274eb1a7197885cfd35744d8d08e5bcea025d309386b7d6"
    assert sign("my_lovely_secret_for_web_hook", b'{"ping":"OK"}') == vector
    assert verify("my_lovely_secret_for_web_hook", b'{"ping":"OK"}', vector)
    assert not verify("my_lovely_secret_for_web_hook", b'{"ping": "OK"}', vector)


def _post(body: bytes, **header_overrides: str | None) -> tuple[bytes, dict]:
    h = headers(body)
    for name, value in header_overrides.items():
        key = name.replace("_", "-")
        if value is None:
            h.pop(key, None)
        else:
            h[key] = value
    return body, h


BIG = b'{"post": {"id": 1, "raw": "' + b"x" * (2 * MAX_BODY_BYTES) + b'"}}'
CASES = {
    "valid signature is accepted": (_post(POST_BODY), 202),
    "wrong signature is refused": (
        _post(POST_BODY, X_Discourse_Event_Signature="sha256=" + "0" * 64),
        401,
    ),
    "signature of another body is refused": (
        _post(POST_BODY, X_Discourse_Event_Signature=sign(SECRET, b"{}")),
        401,
    ),
    "signature with another secret is refused": (
        _post(POST_BODY, X_Discourse_Event_Signature=sign("other", POST_BODY)),
        401,
    ),
    "missing signature is refused": (_post(POST_BODY, X_Discourse_Event_Signature=None), 401),
    "signature without sha256= prefix is refused": (
        _post(POST_BODY, X_Discourse_Event_Signature=sign(SECRET, POST_BODY)[7:]),
        401,
    ),
    "2 MiB body is too large": (_post(BIG), 413),
    "malformed JSON is a bad request": (_post(b'{"post": {"id": 1,'), 400),
    "body that is not an object is a bad request": (_post(b"[1, 2]"), 400),
    "post event without a post object is a bad request": (
        _post((WEBHOOKS / "user__user_created__2025.12.0-latest-body.json").read_bytes()),
        400,
    ),
    "post without an id is a bad request": (_post(b'{"post": {"username": "a"}}'), 400),
    "post with a non-integer id is a bad request": (_post(b'{"post": {"id": "12"}}'), 400),
    "missing event headers are a bad request": (
        _post(POST_BODY, X_Discourse_Event=None, X_Discourse_Event_Type=None),
        400,
    ),
}


@pytest.mark.parametrize(("request_", "status"), CASES.values(), ids=CASES.keys())
def test_webhook_answers(
    client: Client, redis_client: redis.Redis, request_: tuple[bytes, dict], status: int
) -> None:
    body, h = request_
    response = client.post("/webhook", data=body, headers=h)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert "Traceback" not in response.get_data(as_text=True)
    assert len(enqueued(redis_client)) == (1 if status == 202 else 0)


def test_body_over_limit_without_content_length_is_too_large(
    client: Client, redis_client: redis.Redis
) -> None:
    # A chunked request declares no length: the receiver reads at most 1 MiB + 1 byte.
    stream = io.BytesIO(BIG)
    response = client.post(
        "/webhook",
        input_stream=stream,
        headers=headers(BIG),
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert stream.tell() <= MAX_BODY_BYTES + 1
    assert enqueued(redis_client) == []


def test_get_is_not_allowed_and_other_paths_are_not_found(client: Client) -> None:
    assert client.get("/webhook").status_code == 405
    assert client.post("/admin", data=b"{}").status_code == 404


CAPTURED = sorted(WEBHOOKS.glob("*-body.json"))


@pytest.mark.parametrize("body_file", CAPTURED, ids=[p.name for p in CAPTURED])
def test_every_captured_delivery_signed_with_the_secret_is_accepted(
    client: Client, redis_client: redis.Redis, body_file: Path
) -> None:
    meta = json.loads(body_file.with_name(body_file.name.replace("-body", "-header")).read_text())
    body = body_file.read_bytes()
    h = headers(body, meta["Event"], event_id=meta["EventId"])
    h["X-Discourse-Event-Type"] = meta["EventType"]
    response = client.post("/webhook", data=body, headers=h)
    expected = 200 if meta["Event"] == "ping" else 202 if meta["Event"] in ROUTED else 204
    assert response.status_code == expected, response.get_data(as_text=True)
    if expected == 202:
        object_id = json.loads(body)[meta["EventType"]]["id"]
        kwargs = {"object_id": object_id, "event": meta["Event"]}
        assert enqueued(redis_client) == [("probe.seen", kwargs)]
    else:
        assert enqueued(redis_client) == []


def test_duplicate_delivery_is_enqueued_once(client: Client, redis_client: redis.Redis) -> None:
    first = client.post("/", data=POST_BODY, headers=headers(POST_BODY, event_id="47"))
    again = client.post("/", data=POST_BODY, headers=headers(POST_BODY, event_id="47"))
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json == {"status": "duplicate"}
    assert enqueued(redis_client) == [("probe.seen", {"object_id": 12, "event": "post_created"})]


def test_same_change_under_another_delivery_id_is_enqueued_once(
    client: Client, redis_client: redis.Redis
) -> None:
    client.post("/", data=POST_BODY, headers=headers(POST_BODY, event_id="47"))
    response = client.post("/", data=POST_BODY, headers=headers(POST_BODY, event_id="48"))
    assert response.status_code == 200
    assert len(enqueued(redis_client)) == 1


def test_a_later_edit_of_the_same_post_is_not_a_duplicate(
    client: Client, redis_client: redis.Redis
) -> None:
    edited = json.loads(POST_BODY)
    edited["post"]["updated_at"] = "2026-01-02T14:00:00.000Z"
    edited_body = json.dumps(edited).encode()
    client.post("/", data=POST_BODY, headers=headers(POST_BODY, event_id="47"))
    response = client.post("/", data=edited_body, headers=headers(edited_body, event_id="49"))
    assert response.status_code == 202
    assert len(enqueued(redis_client)) == 2


def test_event_by_diamonds_own_user_is_ignored(client: Client, redis_client: redis.Redis) -> None:
    own = json.loads(POST_BODY)
    own["post"]["username"] = API_USER.upper()  # usernames compare case-insensitively
    body = json.dumps(own).encode()
    response = client.post("/", data=body, headers=headers(body))
    assert response.status_code == 204
    assert enqueued(redis_client) == []


def test_unused_event_is_no_content(client: Client, redis_client: redis.Redis) -> None:
    body = b'{"category": {"id": 3}}'
    response = client.post("/", data=body, headers=headers(body, "category_created"))
    assert response.status_code == 204
    assert enqueued(redis_client) == []


def test_healthz_reports_redis_reachable(client: Client) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.json["redis"]) == (200, "ok")


def test_redis_down_answers_503_and_a_retry_after_recovery_is_accepted(
    probe_routes: None, tmp_path: Path
) -> None:
    server = EmbeddedRedis(data_dir=tmp_path).start()
    try:
        client = make_client(server.url)
        server.stop()
        response = client.post("/", data=POST_BODY, headers=headers(POST_BODY))
        assert response.status_code == 503
        assert "Traceback" not in response.get_data(as_text=True)
        assert client.get("/healthz").status_code == 503
        server.start()
        retry = client.post("/", data=POST_BODY, headers=headers(POST_BODY))
        assert retry.status_code == 202  # the failed attempt left no dedup claim behind
    finally:
        server.cleanup()


def test_receiver_refuses_to_start_without_a_secret(redis_url: str) -> None:
    with pytest.raises(ReceiverConfigError, match="DIAMOND_WEBHOOK_SECRET"):
        make_client(redis_url, secret="")


def test_serve_command_needs_a_secret_unless_the_development_flag_is_given(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, probe_routes: None
) -> None:
    from worker.commands import serve

    monkeypatch.setenv("DIAMOND_REDIS_URL", redis_url)
    monkeypatch.delenv("DIAMOND_WEBHOOK_SECRET", raising=False)
    args = argparse.Namespace(no_secret=False, actors=["worker.pipeline.probe"])
    with pytest.raises(SettingsError, match="DIAMOND_WEBHOOK_SECRET"):
        serve.receiver_factory(args)
    args.no_secret = True
    app = serve.receiver_factory(args)()
    unsigned = headers(POST_BODY)
    del unsigned["X-Discourse-Event-Signature"]
    assert Client(app).post("/", data=POST_BODY, headers=unsigned).status_code == 202


def test_delivery_after_redis_forgot_its_scripts_is_still_enqueued(
    client: Client, redis_client: redis.Redis
) -> None:
    routes.add_route("post_created", "probe.on_post", ids={"post_id": "id"})  # two actors
    redis_client.script_flush()  # what a Redis restart without the scripts looks like
    response = client.post("/", data=POST_BODY, headers=headers(POST_BODY))
    assert response.status_code == 202 and response.json["jobs"] >= 2
    assert ("probe.on_post", {"post_id": 12}) in enqueued(redis_client)
    assert ("probe.seen", {"object_id": 12, "event": "post_created"}) in enqueued(redis_client)
