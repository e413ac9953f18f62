"""The facts of a chat message from its webhook body.

No real captured chat delivery exists yet: the bodies in ``tests/support/chat_webhooks/`` are
built by hand from Discourse's ``Chat::MessageSerializer`` and ``Chat::ChannelSerializer``
(see the README there), not taken from the sandbox, so the parser is checked against the
serializers rather than against our own imitation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from worker.pipeline.chat_body import parse_chat_message
from worker.pipeline.routes import BadEvent, event_object

BODIES = Path(__file__).resolve().parents[1] / "support" / "chat_webhooks"


def _body(name: str) -> dict[str, Any]:
    return json.loads((BODIES / f"{name}.json").read_text())


def test_a_created_message_gives_who_wrote_where_to_whom_and_how_long() -> None:
    facts = parse_chat_message(event_object("chat_message", _body("chat_message_created")))
    assert facts == {
        "message_id": 311,
        "channel_id": 7,
        "category_id": 12,
        "user_id": 24,
        "username": "bob",
        "created_at": "2026-03-04T12:30:05Z",
        "in_reply_to_id": 309,
        "in_reply_to_user_id": 23,
        "thread_id": None,
        "mentioned_user_ids": [23],
        "units": 15,  # 14 Chinese characters and one word, the mention
        "edited": False,
        "deleted_at": None,
    }


def test_a_trashed_message_carries_its_deletion_and_its_edit() -> None:
    facts = parse_chat_message(event_object("chat_message", _body("chat_message_trashed")))
    assert facts["deleted_at"] == "2026-03-04T12:41:17Z"
    assert facts["edited"] is True
    assert (
        facts["units"]
        < parse_chat_message(event_object("chat_message", _body("chat_message_created")))["units"]
    )


def test_a_channel_that_is_not_a_categorys_has_no_category() -> None:
    obj = _body("chat_message_created")["chat_message"]
    obj["channel"]["chatable_type"] = "DirectMessage"
    assert parse_chat_message(obj)["category_id"] is None


@pytest.mark.parametrize(
    "spoil",
    [
        lambda o: o.pop("message"),
        lambda o: o.pop("channel"),
        lambda o: o["message"].update(id="311"),
        lambda o: o["channel"].update(id=0),
        lambda o: o["message"].update(message=None),
    ],
)
def test_a_body_that_is_not_a_chat_message_is_refused(spoil: Any) -> None:
    obj = _body("chat_message_created")["chat_message"]
    spoil(obj)
    with pytest.raises(BadEvent):
        parse_chat_message(obj)
