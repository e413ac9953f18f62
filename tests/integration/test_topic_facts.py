"""A member's own topic is known from the signed ``topic_created`` body, not read back.

Discourse fires ``topic_created`` and the first post's ``post_created`` as two Sidekiq jobs
(config/initializers/012-web_hook_events.rb), so either may arrive first. The receiver keeps
the topic's facts from its body; the first post's job that finds none yet waits a little
(``DIAMOND_TOPIC_WAITS_MS``) and reads ``GET /t/{id}.json`` only if they are still
missing then (the ``topic_created`` delivery was lost).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dramatiq
import pytest
import redis
import requests

from tests.support.pipeline import live_worker, queue_worker, serving, wait_for
from tests.support.sandbox_squad import admin_client
from worker.jobs import posts
from worker.pipeline import runtime
from worker.pipeline.receiver import ReceiverConfig, build_receiver
from worker.sandbox.webhooks import Delivery
from worker.state.recognition import RecognitionStore

pytestmark = pytest.mark.integration

SECRET = "topic-facts-webhook-secret"
TOPIC_READ = "GET /t/{id}.json"
NOWHERE = "http://127.0.0.1:9/held"  # the sandbox's deliveries fail here; the test replays them


@pytest.fixture
def pipeline(
    sandbox: Any,
    redis_url: str,
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    preserve_routes: None,
) -> Iterator[str]:
    """The receiver (every actor module's routes) on a local port and a worker on the posts
    queue, against the sandbox; yields the receiver's webhook URL."""
    monkeypatch.setenv("DIAMOND_TOPIC_WAITS_MS", "[300, 300]")  # seconds are too long here
    live_worker(monkeypatch, sandbox, redis_url, tmp_path)
    app = build_receiver(ReceiverConfig(secret=SECRET, api_username="system"), redis_url)
    with serving(app) as base, queue_worker(dramatiq.get_broker(), posts.QUEUE):
        yield f"{base}/webhook"


def _member_opens_a_topic(sandbox: Any) -> dict[str, Any]:
    """``ann`` opens her introduction; the answer (post 1: ``id``, ``topic_id``)."""
    sandbox.forum.create_user(username="ann", email="ann@example.org", approved=True)
    client = admin_client(sandbox)
    made = client.create_category(
        "Introductions", slug="introductions", permissions={"everyone": 1}
    )
    category_id = int(made.get("category", made)["id"])
    return client.as_user("ann").create_topic(
        "大家好，我是安，来自杭州的一名设计师", "你好。" * 60, category_id, tags=["digest"]
    )


def _replay(url: str, delivery: Delivery) -> int:
    """Post a delivery the sandbox made (its signed body and headers) to the receiver."""
    return requests.post(url, data=delivery.body, headers=delivery.headers, timeout=10).status_code


def _recorded(redis_client: redis.Redis, post_id: int) -> None:
    wait_for(lambda: RecognitionStore(redis_client).post(post_id) is not None, "the post recorded")


def _topic_reads() -> int:
    return runtime.forum().call_counts[TOPIC_READ]


def test_a_member_opening_a_topic_costs_no_topic_read(
    sandbox: Any, pipeline: str, redis_client: redis.Redis
) -> None:
    sandbox.add_webhook(pipeline, secret=SECRET, events=["topic_created", "post_created"])
    post = _member_opens_a_topic(sandbox)
    assert sandbox.wait_idle()

    _recorded(redis_client, post["id"])
    assert _topic_reads() == 0  # category, archetype, tags, title: all in the signed body
    assert [d.status for d in sandbox.deliveries()] == [202, 202]
    stored = RecognitionStore(redis_client).post(post["id"])
    topic = sandbox.forum.topics[post["topic_id"]]
    assert stored is not None
    assert (stored.category_id, stored.tags, stored.private_message) == (
        topic.category_id,
        ("digest",),
        False,
    )


def test_a_first_post_arriving_before_its_topic_waits_for_the_topics_body(
    sandbox: Any, pipeline: str, redis_client: redis.Redis
) -> None:
    sandbox.add_webhook(NOWHERE, secret=SECRET, events=["topic_created", "post_created"])
    post = _member_opens_a_topic(sandbox)
    assert sandbox.wait_idle()
    (topic_created,) = sandbox.deliveries("topic_created")
    (post_created,) = sandbox.deliveries("post_created")

    assert _replay(pipeline, post_created) == 202
    # The job found no facts of the topic and came back later, without reading it.
    wait_for(lambda: redis_client.hlen(f"diamond:{posts.QUEUE}.DQ.msgs") == 1, "the waiting job")
    assert _topic_reads() == 0
    assert _replay(pipeline, topic_created) == 202

    _recorded(redis_client, post["id"])
    assert _topic_reads() == 0


def test_a_first_post_whose_topic_body_was_lost_reads_the_topic_once_after_waiting(
    sandbox: Any, pipeline: str, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.add_webhook(NOWHERE, secret=SECRET, events=["post_created"])
    post = _member_opens_a_topic(sandbox)
    assert sandbox.wait_idle()
    (post_created,) = sandbox.deliveries("post_created")

    with caplog.at_level(logging.INFO, logger=posts.__name__):
        assert _replay(pipeline, post_created) == 202
        _recorded(redis_client, post["id"])
    waits = [r for r in caplog.records if "not known yet" in r.getMessage()]
    assert len(waits) == len(runtime.settings().topic_waits_ms)  # it waited, then read
    assert _topic_reads() == 1
