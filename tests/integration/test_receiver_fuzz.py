"""The receiver answers every input with 2xx or 4xx, never 500, and never hangs.

In-process (werkzeug's test client, real Redis): deeply nested JSON, absurd ids,
event types that contradict the body, random bytes and random JSON, all signed so
they get past the signature. Bounded: a few hundred examples, no shrinking database.
The framing and slow-client cases run against ``diamond serve`` (gunicorn) on
127.0.0.1 in ``tests/integration/test_receiver_server.py``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from dramatiq.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from tests.conftest import DISCOURSE_REF
from worker.pipeline import routes
from worker.pipeline.receiver import MAX_JSON_DEPTH, ReceiverConfig, build_receiver, sign

SECRET = "fuzz-webhook-secret"
WEBHOOKS = DISCOURSE_REF / "webhooks"
POST_BODY = json.loads((WEBHOOKS / "post__post_created__2025.12.0-latest-body.json").read_bytes())
USER_BODY = json.loads((WEBHOOKS / "user__user_created__2025.12.0-latest-body.json").read_bytes())

pytestmark = pytest.mark.integration


@pytest.fixture
def client(redis_url: str, preserve_routes: None) -> Iterator[Client]:
    app = build_receiver(
        ReceiverConfig(secret=SECRET, api_username="diamond_bot"),
        redis_url,
        extra_actor_modules=["worker.pipeline.probe"],
    )
    routes.add_route("post_created", "probe.seen", ids={"object_id": "id"}, pass_event=True)
    routes.add_route("user_created", "probe.seen", ids={"object_id": "id"}, pass_event=True)
    yield Client(app)


def send(
    client: Client, body: bytes, event_type: str = "post", event: str = "post_created"
) -> tuple[int, str]:
    response = client.post(
        "/webhook",
        data=body,
        headers={
            "X-Discourse-Event-Type": event_type,
            "X-Discourse-Event": event,
            "X-Discourse-Event-Id": uuid.uuid4().hex,  # never a duplicate
            "X-Discourse-Instance": "https://forum.example",
            "X-Discourse-Event-Signature": sign(SECRET, body),
            "Content-Type": "application/json",
        },
    )
    return response.status_code, response.get_data(as_text=True)


def probe_jobs(store: redis.Redis) -> list[dict[str, Any]]:
    return [Message.decode(raw).kwargs for raw in store.hvals("diamond:probe.msgs")]


def nested(depth: int, inner: bytes = b"1") -> bytes:
    return b"[" * depth + inner + b"]" * depth


def with_post(**fields: Any) -> bytes:
    return json.dumps({"post": {**POST_BODY["post"], **fields}}).encode()


DEEP = {
    "a body nested 1,000 levels": nested(1_000),
    "a body nested 100,000 levels": nested(100_000),
    "objects nested 5,000 levels": b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
    "a post field nested 1,000 levels": with_post().replace(
        b'"raw": ', b'"raw": ' + nested(1_000, b'"x"') + b', "raw2": '
    ),
    "a post field nested just past the limit": b'{"post": {"id": 1, "x": '
    + nested(MAX_JSON_DEPTH)
    + b"}}",
}


@pytest.mark.parametrize("body", DEEP.values(), ids=DEEP.keys())
def test_deeply_nested_json_is_a_bad_request(
    client: Client, redis_client: redis.Redis, body: bytes
) -> None:
    status, text = send(client, body)
    assert status == 400, text
    assert "nested" in text
    assert probe_jobs(redis_client) == []


def test_json_nested_as_deep_as_the_limit_is_accepted(
    client: Client, redis_client: redis.Redis
) -> None:
    # post object (1) + value (limit - 2 more) + the root: exactly the limit.
    body = b'{"post": {"id": 5, "x": ' + nested(MAX_JSON_DEPTH - 2) + b"}}"
    assert send(client, body)[0] == 202
    assert [job["object_id"] for job in probe_jobs(redis_client)] == [5]


ABSURD_IDS = {
    "2^64": 2**64,
    "2^63 (past bigint)": 2**63,
    "-1": -1,
    "0": 0,
    "true": True,
    "a float": 12.0,
    "a numeric string": "12",
}


@pytest.mark.parametrize("post_id", ABSURD_IDS.values(), ids=ABSURD_IDS.keys())
def test_an_absurd_id_is_a_bad_request_and_nothing_is_enqueued(
    client: Client, redis_client: redis.Redis, post_id: Any
) -> None:
    status, text = send(client, with_post(id=post_id))
    assert status == 400, text
    assert "'id'" in text
    assert probe_jobs(redis_client) == []


def test_the_largest_bigint_id_and_the_captures_ids_are_accepted(
    client: Client, redis_client: redis.Redis
) -> None:
    assert send(client, with_post(id=2**63 - 1))[0] == 202
    assert send(client, with_post(id=POST_BODY["post"]["id"]))[0] == 202
    assert sorted(job["object_id"] for job in probe_jobs(redis_client)) == [
        POST_BODY["post"]["id"],
        2**63 - 1,
    ]


CONTRADICTIONS = {
    "a post body sent as user_created under type post": (with_post(), "post", "user_created"),
    "a user body sent as post_created under type user": (
        json.dumps(USER_BODY).encode(),
        "user",
        "post_created",
    ),
    "a post body with a user object beside it": (
        json.dumps({**POST_BODY, "user": USER_BODY["user"]}).encode(),
        "post",
        "post_created",
    ),
    "a post event under type like": (
        json.dumps({"like": POST_BODY["post"]}).encode(),
        "like",
        "post_created",
    ),
}


@pytest.mark.parametrize(
    ("body", "event_type", "event"), CONTRADICTIONS.values(), ids=CONTRADICTIONS.keys()
)
def test_an_event_type_that_contradicts_the_body_is_a_bad_request(
    client: Client, redis_client: redis.Redis, body: bytes, event_type: str, event: str
) -> None:
    status, text = send(client, body, event_type, event)
    assert status == 400, text
    assert probe_jobs(redis_client) == []


def test_a_user_event_about_discourses_system_account_is_ignored(
    client: Client, redis_client: redis.Redis
) -> None:
    body = json.dumps({"user": {**USER_BODY["user"], "id": -1, "username": "system"}}).encode()
    assert send(client, body, "user", "user_created")[0] == 204
    assert probe_jobs(redis_client) == []


def test_an_updated_at_with_a_lone_surrogate_is_not_a_500(
    client: Client, redis_client: redis.Redis
) -> None:
    body = with_post().replace(b'"updated_at": "', b'"updated_at": "\\ud800')
    assert send(client, body)[0] in (202, 400)


# --- random input ----------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=30,
)
ids = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 2**31, 2**63 - 1, 2**63, 2**64]),
    json_values,
)
event_types = st.sampled_from(["post", "user", "topic", "like", "ping", "", "x" * 300])
events = st.sampled_from(["post_created", "user_created", "topic_edited", "post_liked", "nope"])


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[bytes, str, str]:
    kind = draw(st.sampled_from(["bytes", "json", "object", "deep"]))
    if kind == "bytes":
        body = draw(st.binary(max_size=300))
    elif kind == "json":
        body = json.dumps(draw(json_values)).encode()
    elif kind == "deep":
        depth = draw(st.integers(min_value=MAX_JSON_DEPTH - 2, max_value=3_000))
        body = b'{"post": {"id": 3, "raw": ' + nested(depth) + b"}}"
    else:
        root = draw(st.sampled_from(["post", "user", "topic", "like"]))
        obj = draw(st.dictionaries(st.sampled_from(["raw", "username", "user"]), json_values))
        obj["id"] = draw(ids)
        obj["updated_at"] = draw(st.text(max_size=30) | json_values)
        body = json.dumps({root: obj}).encode()
    return body, draw(event_types), draw(events)


@settings(
    max_examples=300,
    deadline=2000,  # ms per example: a hang fails, not just a slow run
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(delivery=deliveries())
def test_random_signed_deliveries_are_never_answered_500(
    client: Client, redis_client: redis.Redis, delivery: tuple[bytes, str, str]
) -> None:
    body, event_type, event = delivery
    status, text = send(client, body, event_type, event)
    assert status < 500, text
    for job in probe_jobs(redis_client):
        assert routes.is_id(job["object_id"]), job
