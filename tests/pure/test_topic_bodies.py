"""A topic's facts from the signed ``topic_created`` body, parsed on the REAL capture
(``discourse/webhooks/topic__topic_created__*``; WebHookTopicViewSerializer)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import DISCOURSE_REF
from worker.reads.parse import TopicFacts, topic_facts_of, topic_facts_of_body

CAPTURE = DISCOURSE_REF / "webhooks" / "topic__topic_created__2025.12.0-latest-body.json"


def captured_topic() -> dict[str, Any]:
    return dict(json.loads(CAPTURE.read_text())["topic"])


def test_the_captured_topic_created_body_gives_every_fact_the_steps_use() -> None:
    assert topic_facts_of_body(captured_topic()) == TopicFacts(
        category_id=4,
        private_message=False,
        tags=(),
        title="发帖之前，请选择一个类别或标签，将此话题与相关讨论分组，以便其他人可以轻松找到它。",
        created_at="2026-01-02T12:40:25.548Z",
        authors={1: "user1"},  # the first post's author: the topic's creator
    )


@pytest.mark.parametrize(
    "tags",
    [
        ["digest", "week-1"],  # TopicTagsMixin of older Discourse: names
        [{"id": 3, "name": "digest", "slug": "digest"}, {"id": 5, "name": "week-1"}],
        # newer Discourse: a translated tag's name is its display name; the tag is the original
        [{"id": 3, "name": "精华", "slug": "digest", "original_name": "digest"}, "week-1"],
    ],
)
def test_tags_are_read_by_their_own_name_in_each_shape_discourse_sends(tags: list[Any]) -> None:
    topic = {**captured_topic(), "tags": tags}
    assert topic_facts_of_body(topic).tags == ("digest", "week-1")
    assert topic_facts_of(topic).tags == ("digest", "week-1")


def test_a_body_without_tags_has_none_and_a_private_message_has_no_category() -> None:
    topic = {**captured_topic(), "archetype": "private_message", "category_id": None}
    del topic["tags"]  # tagging off: TopicTagsMixin#include_tags? leaves the key out
    facts = topic_facts_of_body(topic)
    assert (facts.private_message, facts.category_id, facts.tags) == (True, None, ())


@pytest.mark.parametrize(
    "change",
    [
        {"created_at": None},
        {"id": "8"},
        {"title": 7},
        {"archetype": None},
        {"category_id": "4"},
        {"tags": "digest"},
        {"tags": [{"id": 3}]},
        {"created_by": None},
        {"created_by": {"id": 1}},
    ],
)
def test_a_body_missing_a_fact_the_steps_use_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="topic\\."):
        topic_facts_of_body({**captured_topic(), **change})
