"""Diamond's webhook parsing, fed the REAL deliveries captured from Discourse forums.

Each capture in ``shared/discourse/webhooks/`` (body + headers, and the Koishi adapter's
capture of a 2.9.0.beta4 ``post_created``) is signed with our own secret over its raw
bytes and posted to the real receiver with every actor module loaded, so the routes are
the ones production has. The test reads what was enqueued on Redis: actor and kwargs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from dramatiq.message import Message
from werkzeug.test import Client

from tests.conftest import DISCOURSE_REF
from worker.pipeline import routes
from worker.pipeline.receiver import ReceiverConfig, build_receiver, sign, verify
from worker.reads import forum_view
from worker.reads.parse import (
    POST_BODY_FACTS,
    USER_BODY_FACTS,
    TopicFacts,
    topic_facts_of_body,
)

CAPTURES = DISCOURSE_REF / "webhooks"
KOISHI = CAPTURES / "koishi_capture_discourse_2.9.0.beta4.txt"
SECRET = "captures-secret-of-our-own"
API_USER = "diamond_bot"

pytestmark = pytest.mark.integration


def _capture(group: str, event: str) -> tuple[bytes, dict[str, str]]:
    """The raw body bytes and the headers (EventType, Event, EventId, Instance) of one."""
    stem = next(CAPTURES.glob(f"{group}__{event}__*-body.json")).name[: -len("-body.json")]
    body = (CAPTURES / f"{stem}-body.json").read_bytes()
    meta = json.loads((CAPTURES / f"{stem}-header.json").read_text())
    return body, meta


def _koishi() -> tuple[bytes, dict[str, str]]:
    """The 2.9.0.beta4 capture: a JS object of lower-case headers, then the JSON body."""
    text = KOISHI.read_text()
    head, rest = text.split("\n}\n", 1)
    headers = {}
    for line in head.splitlines():
        if line.strip().startswith("'x-discourse-"):
            name, _, value = line.strip().rstrip(",").partition(": ")
            headers[name.strip("'")] = value.strip("'")
    body_text = rest[rest.index("{") : rest.rindex("\n}") + 2]
    meta = {
        "EventType": headers["x-discourse-event-type"],
        "Event": headers["x-discourse-event"],
        "EventId": headers["x-discourse-event-id"],
        "Instance": headers["x-discourse-instance"],
    }
    return body_text.encode(), meta


def _headers(body: bytes, meta: dict[str, str], secret: str = SECRET) -> dict[str, str]:
    return {
        "X-Discourse-Event-Type": meta["EventType"],
        "X-Discourse-Event": meta["Event"],
        "X-Discourse-Event-Id": meta["EventId"],
        "X-Discourse-Instance": meta["Instance"],
        "X-Discourse-Event-Signature": sign(secret, body),
        "Content-Type": "application/json",
    }


def _receiver(redis_url: str, api_user: str = API_USER) -> Client:
    return Client(build_receiver(ReceiverConfig(secret=SECRET, api_username=api_user), redis_url))


@pytest.fixture
def receiver(redis_url: str, preserve_routes: None) -> Iterator[Client]:
    yield _receiver(redis_url)


def enqueued(client: redis.Redis) -> list[tuple[str, dict[str, Any]]]:
    """(actor, kwargs) of every message waiting on any of Diamond's queues."""
    found = []
    for key in client.scan_iter("diamond:*.msgs"):
        found += [Message.decode(data) for data in client.hvals(key)]
    return sorted(((m.actor_name, m.kwargs) for m in found), key=repr)


def _actor(module: str, name: str) -> str:
    import importlib

    return getattr(importlib.import_module(module), name).actor_name


def test_a_captured_post_created_feeds_the_post_actor_with_the_post_id(
    receiver: Client, redis_client: redis.Redis
) -> None:
    body, meta = _capture("post", "post_created")
    response = receiver.post("/webhook", data=body, headers=_headers(body, meta))
    assert response.status_code == 202, response.get_data(as_text=True)
    on_post = _actor("worker.jobs.posts", "on_post")
    # The author rides along: a post whose job fails is a missing fact of that member.
    author = {"author": json.loads(body)["post"]["username"]}
    assert author == {"author": "user1"}
    # So does the post itself (what the steps read of it): no GET /posts/{id} needed.
    facts = {k: v for k, v in json.loads(body)["post"].items() if k in POST_BODY_FACTS}
    assert set(facts) == set(POST_BODY_FACTS)
    assert enqueued(redis_client) == [
        (on_post, {"post_id": 12, "event": "post_created", "hints": author, "body": facts})
    ]


def test_a_post_created_from_discourse_2_9_is_parsed_the_same_way(
    receiver: Client, redis_client: redis.Redis
) -> None:
    body, meta = _koishi()
    assert json.loads(body)["post"]["id"] == 14
    response = receiver.post("/webhook", data=body, headers=_headers(body, meta))
    assert response.status_code == 202, response.get_data(as_text=True)
    on_post = _actor("worker.jobs.posts", "on_post")
    author = {"author": json.loads(body)["post"]["username"]}
    facts = {k: v for k, v in json.loads(body)["post"].items() if k in POST_BODY_FACTS}
    assert enqueued(redis_client) == [
        (on_post, {"post_id": 14, "event": "post_created", "hints": author, "body": facts})
    ]


@pytest.mark.parametrize(("event", "user_id"), [("user_created", 4), ("user_approved", 56)])
def test_a_captured_user_event_feeds_the_gating_actor_with_the_user_id_and_the_bodys_hints(
    receiver: Client, redis_client: redis.Redis, event: str, user_id: int
) -> None:
    body, meta = _capture("user", event)
    user = json.loads(body)["user"]
    response = receiver.post("/webhook", data=body, headers=_headers(body, meta))
    assert response.status_code == 202, response.get_data(as_text=True)
    on_user = _actor("worker.jobs.membership", "on_user")
    # The admin-scoped body carries the email and the inviter (none here), which the admin
    # user view does not: the gating job gets them from the signed body.
    hints = {"email": user["email"], "invited_by": None}
    assert user["email"] and "@" in user["email"]
    # And the user's facts it carries (an approval's fields: the gate reads nothing).
    facts = {key: user[key] for key in USER_BODY_FACTS if key in user}
    assert ("user_fields" in facts) == (event == "user_approved")
    assert enqueued(redis_client) == [
        (on_user, {"user_id": user_id, "hints": hints, "event": event, "body": facts})
    ]


def test_captured_events_no_job_needs_are_answered_204_and_enqueue_nothing(
    receiver: Client, redis_client: redis.Redis
) -> None:
    assert routes.routes_for("category_created") == []
    body, meta = _capture("category", "category_created")
    response = receiver.post("/webhook", data=body, headers=_headers(body, meta))
    assert response.status_code == 204
    assert enqueued(redis_client) == []


def test_a_captured_topic_created_keeps_the_topics_facts_and_enqueues_nothing(
    receiver: Client, redis_client: redis.Redis
) -> None:
    """The first post's job finds them: no ``GET /t/{id}.json`` (``worker.jobs.posts``)."""
    assert routes.routes_for("topic_created") == []
    body, meta = _capture("topic", "topic_created")
    response = receiver.post("/webhook", data=body, headers=_headers(body, meta))
    assert response.status_code == 202
    assert enqueued(redis_client) == []
    facts = forum_view.kept_topic_facts(redis_client, 8, need_created=True)
    assert facts == topic_facts_of_body(json.loads(body)["topic"])
    assert (facts.category_id, facts.authors) == (4, {1: "user1"})


def test_a_late_topic_created_never_overwrites_what_was_kept_since(
    receiver: Client, redis_client: redis.Redis
) -> None:
    """The body is the topic as created; a read (or an edit's) kept before it is newer."""
    newer = TopicFacts(9, False, ("digest",), "Renamed", "2026-01-02T12:40:25.548Z", {1: "user1"})
    forum_view.keep_topic_facts(redis_client, 8, newer)
    body, meta = _capture("topic", "topic_created")
    response = receiver.post("/webhook", data=body, headers=_headers(body, meta))
    assert response.status_code == 202
    assert forum_view.kept_topic_facts(redis_client, 8) == newer


@pytest.mark.parametrize(
    "change", [{"created_at": None}, {"id": 0}, {"tags": "digest"}, {"created_by": None}]
)
def test_a_topic_created_body_missing_a_fact_is_refused_and_nothing_kept(
    receiver: Client, redis_client: redis.Redis, change: dict[str, Any]
) -> None:
    raw, meta = _capture("topic", "topic_created")
    payload = json.loads(raw)
    payload["topic"].update(change)
    body = json.dumps(payload).encode()
    response = receiver.post("/webhook", data=body, headers=_headers(body, meta))
    assert response.status_code == 400, response.get_data(as_text=True)
    assert forum_view.kept_topic_facts(redis_client, 8) is None


def test_a_topic_diamond_itself_opened_is_not_kept_from_its_body(
    redis_url: str, redis_client: redis.Redis, preserve_routes: None
) -> None:
    """Diamond keeps its own topics' facts from the answer that opened them."""
    body, meta = _capture("topic", "topic_created")
    as_author = _receiver(redis_url, api_user="user1")
    response = as_author.post("/webhook", data=body, headers=_headers(body, meta))
    assert response.status_code == 204
    assert forum_view.kept_topic_facts(redis_client, 8) is None


def test_a_captured_topic_body_carries_what_a_topic_route_would_read(
    receiver: Client, redis_client: redis.Redis
) -> None:
    """topic_created has no route today; a route on it (ids ``id``) would get topic 8."""
    routes.add_route(
        "topic_created", _actor("worker.jobs.posts", "on_topic_edited"), ids={"topic_id": "id"}
    )
    body, meta = _capture("topic", "topic_created")
    response = receiver.post("/webhook", data=body, headers=_headers(body, meta))
    assert response.status_code == 202
    on_topic_edited = _actor("worker.jobs.posts", "on_topic_edited")
    assert enqueued(redis_client) == [(on_topic_edited, {"topic_id": 8})]


def test_the_captured_ping_is_answered_pong(receiver: Client, redis_client: redis.Redis) -> None:
    body, meta = _capture("ping", "ping")
    response = receiver.post("/webhook", data=body, headers=_headers(body, meta))
    assert response.status_code == 200
    assert response.json == {"status": "pong"}
    assert enqueued(redis_client) == []


@pytest.mark.parametrize(
    ("group", "event", "author"),
    [("post", "post_created", "user1"), ("topic", "topic_created", "user1")],
)
def test_the_author_is_read_where_each_captured_body_keeps_it(
    group: str, event: str, author: str
) -> None:
    body, meta = _capture(group, event)
    obj = routes.event_object(meta["EventType"], json.loads(body))
    assert routes.author_of(meta["EventType"], obj) == author


def test_what_diamonds_own_user_posted_is_not_routed_back(
    redis_url: str, redis_client: redis.Redis, preserve_routes: None
) -> None:
    body, meta = _capture("post", "post_created")
    as_author = _receiver(redis_url, api_user="USER1")  # names compare case-insensitively
    response = as_author.post("/webhook", data=body, headers=_headers(body, meta))
    assert response.status_code == 204
    assert enqueued(redis_client) == []


def test_identity_of_captured_bodies_uses_updated_at_only_where_it_is_there() -> None:
    post_body, _ = _capture("post", "post_created")
    post = routes.event_object("post", json.loads(post_body))
    assert routes.identity("post_created", post) == "post_created:12:2026-01-02T13:58:49.606Z"
    for group, event in (("user", "user_created"), ("user", "user_approved")):
        body, _ = _capture(group, event)
        assert routes.identity(event, routes.event_object(group, json.loads(body))) is None


def test_a_captured_post_redelivered_under_a_new_event_id_is_enqueued_once(
    receiver: Client, redis_client: redis.Redis
) -> None:
    body, meta = _capture("post", "post_created")
    first = receiver.post("/webhook", data=body, headers=_headers(body, meta))
    again = receiver.post("/webhook", data=body, headers=_headers(body, {**meta, "EventId": "48"}))
    assert (first.status_code, again.status_code) == (202, 200)
    assert len(enqueued(redis_client)) == 1


def test_two_user_events_of_one_captured_user_are_both_enqueued(
    receiver: Client, redis_client: redis.Redis
) -> None:
    """No updated_at in user bodies: only the delivery id dedups, so a later event counts."""
    body, meta = _capture("user", "user_created")
    receiver.post("/webhook", data=body, headers=_headers(body, meta))
    later = {**meta, "Event": "user_updated", "EventId": "29"}
    response = receiver.post("/webhook", data=body, headers=_headers(body, later))
    assert response.status_code == 202
    assert len(enqueued(redis_client)) == 2


@pytest.mark.parametrize(
    "path", sorted(CAPTURES.glob("*-body.json")), ids=lambda p: p.name.split("__")[1]
)
def test_every_capture_signed_over_its_raw_bytes_verifies_and_a_reformatted_one_does_not(
    receiver: Client, path: Path
) -> None:
    body = path.read_bytes()
    meta = json.loads(path.with_name(path.name.replace("-body", "-header")).read_text())
    header = sign(SECRET, body)
    assert verify(SECRET, body, header)
    compact = json.dumps(json.loads(body), separators=(",", ":")).encode()
    assert compact != body and not verify(SECRET, compact, header)
    h = {**_headers(body, meta), "X-Discourse-Event-Signature": header}
    assert receiver.post("/webhook", data=compact, headers=h).status_code == 401


@pytest.mark.parametrize("missing", ["X-Discourse-Event", "X-Discourse-Event-Type"])
def test_a_capture_without_its_event_headers_is_a_bad_request(
    receiver: Client, redis_client: redis.Redis, missing: str
) -> None:
    body, meta = _capture("post", "post_created")
    h = _headers(body, meta)
    del h[missing]
    assert receiver.post("/webhook", data=body, headers=h).status_code == 400
    assert enqueued(redis_client) == []


def test_a_capture_posted_under_another_event_type_is_a_bad_request(
    receiver: Client, redis_client: redis.Redis
) -> None:
    body, meta = _capture("user", "user_created")
    h = _headers(body, {**meta, "EventType": "post", "Event": "post_created"})
    response = receiver.post("/webhook", data=body, headers=h)
    assert response.status_code == 400
    assert "post" in response.json["error"]
    assert enqueued(redis_client) == []
