"""Chat webhooks through the real receiver, and the chat actor's record in Redis.

No real captured chat delivery exists yet: the bodies (``tests/support/chat_webhooks/``) are
built by hand from Discourse's chat serializers (see the README there). They are signed with
our own secret and posted with the headers Discourse's ``EmitWebHookEvent`` sends for the
chat plugin's hooks (``X-Discourse-Event-Type: chat_message``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from werkzeug.test import Client

from tests.integration.test_receiver_captures import enqueued
from worker.jobs.chat import on_chat_message
from worker.pipeline.chat_body import parse_chat_message
from worker.pipeline.receiver import ReceiverConfig, build_receiver, sign
from worker.state.chat import ChatStore
from worker.state.keys import chat_category as category_key
from worker.state.keys import chat_message as message_key

pytestmark = pytest.mark.integration

BODIES = Path(__file__).resolve().parents[1] / "support" / "chat_webhooks"
SECRET = "chat-secret-of-our-own"


def _post(receiver: Client, name: str, *, event_type: str = "chat_message", event: str = ""):
    body = (BODIES / f"{name}.json").read_bytes()
    headers = {
        "X-Discourse-Event-Type": event_type,
        "X-Discourse-Event": event or name,
        "X-Discourse-Event-Id": "901",
        "X-Discourse-Instance": "https://forum.example",
        "X-Discourse-Event-Signature": sign(SECRET, body),
        "Content-Type": "application/json",
    }
    return receiver.post("/webhook", data=body, headers=headers)


@pytest.fixture
def receiver(redis_url: str, preserve_routes: None) -> Iterator[Client]:
    config = ReceiverConfig(secret=SECRET, api_username="diamond_bot")
    yield Client(build_receiver(config, redis_url))


def _facts(name: str) -> dict:
    return parse_chat_message(json.loads((BODIES / f"{name}.json").read_text())["chat_message"])


def test_a_chat_message_is_accepted_and_its_facts_ride_with_the_job(
    receiver: Client, redis_client: redis.Redis
) -> None:
    response = _post(receiver, "chat_message_created")
    assert response.status_code == 202, response.get_data(as_text=True)
    kwargs = {
        "message_id": 311,
        "channel_id": 7,
        "event": "chat_message_created",
        "facts": _facts("chat_message_created"),
    }
    assert enqueued(redis_client) == [(on_chat_message.actor_name, kwargs)]


def test_a_chat_event_under_another_type_is_refused(receiver: Client) -> None:
    # The type is the body's root key (EmitWebHookEvent#build_webhook_body): a body re-rooted
    # under the event's group name, "chat", is still not what Discourse sends.
    obj = json.loads((BODIES / "chat_message_created.json").read_text())["chat_message"]
    body = json.dumps({"chat": obj}).encode()
    headers = {
        "X-Discourse-Event-Type": "chat",
        "X-Discourse-Event": "chat_message_created",
        "X-Discourse-Event-Signature": sign(SECRET, body),
    }
    response = receiver.post("/webhook", data=body, headers=headers)
    assert response.status_code == 400
    assert "'chat_message', not 'chat'" in response.get_json()["error"]


def test_a_body_without_its_channel_is_refused(receiver: Client, redis_client) -> None:
    response = _post(receiver, "chat_message_created", event="chat_message_created")
    assert response.status_code == 202
    broken = json.loads((BODIES / "chat_message_created.json").read_text())
    del broken["chat_message"]["channel"]
    body = json.dumps(broken).encode()
    headers = {
        "X-Discourse-Event-Type": "chat_message",
        "X-Discourse-Event": "chat_message_created",
        "X-Discourse-Event-Id": "902",
        "X-Discourse-Event-Signature": sign(SECRET, body),
    }
    assert receiver.post("/webhook", data=body, headers=headers).status_code == 400


def test_diamonds_own_chat_messages_do_not_come_back_as_jobs(
    redis_url: str, redis_client: redis.Redis, preserve_routes: None
) -> None:
    config = ReceiverConfig(secret=SECRET, api_username="bob")  # bob wrote the message
    response = _post(Client(build_receiver(config, redis_url)), "chat_message_created")
    assert response.status_code == 204
    assert enqueued(redis_client) == []


def test_the_record_follows_creation_edit_trash_and_restore(redis_client: redis.Redis) -> None:
    created, trashed = _facts("chat_message_created"), _facts("chat_message_trashed")
    assert ChatStore(redis_client).record("chat_message_created", created) == "recorded"
    stored = redis_client.hgetall(message_key(311))
    assert stored[b"username"] == b"bob" and stored[b"units"] == b"15"
    assert stored[b"in_reply_to_user_id"] == b"23" and stored[b"mentioned_user_ids"] == b"23"
    assert redis_client.zrange(category_key(12), 0, -1) == [b"311"]

    ChatStore(redis_client).record("chat_message_trashed", trashed)
    assert redis_client.hget(message_key(311), "deleted_at") == b"2026-03-04T12:41:17Z"
    # a late 'created' delivery does not undo what came after it
    assert ChatStore(redis_client).record("chat_message_created", created).startswith("kept")
    assert redis_client.hget(message_key(311), "edited") == b"1"
    ChatStore(redis_client).record("chat_message_restored", trashed)
    assert redis_client.hget(message_key(311), "deleted_at") == b""


def test_messages_outside_a_category_channel_are_not_kept(redis_client: redis.Redis) -> None:
    facts = dict(_facts("chat_message_created"), category_id=None)
    assert ChatStore(redis_client).record("chat_message_created", facts).startswith("ignored")
    assert not redis_client.exists(message_key(311))
