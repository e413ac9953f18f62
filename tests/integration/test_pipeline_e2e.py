"""A webhook from the sandbox forum reaches an actor, and the actor's effect lands on the forum.

sandbox forum ──signed POST──▶ receiver ──▶ Redis ──▶ worker: probe.reply ──▶ forum client
                                                                               │
the reply (by Diamond's API user) ──webhook──▶ receiver: own user, ignored ◀───┘
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import dramatiq
import pytest
import requests

from tests.support.pipeline import serving, wait_for
from worker.pipeline import routes, runtime
from worker.pipeline.receiver import ReceiverConfig, build_receiver

SECRET = "e2e-webhook-secret"
pytestmark = pytest.mark.integration


@pytest.fixture
def receiver_url(redis_url: str, preserve_routes: None) -> Iterator[str]:
    routes.add_route("post_created", "probe.reply", ids={"post_id": "id", "topic_id": "topic_id"})
    app = build_receiver(
        ReceiverConfig(secret=SECRET, api_username="system"),
        redis_url,
        extra_actor_modules=["worker.pipeline.probe"],
    )
    with serving(app) as base:
        yield f"{base}/webhook"


def test_member_post_webhook_reaches_an_actor_whose_reply_lands_on_the_forum_once(
    sandbox, receiver_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIAMOND_FORUM_URL", sandbox.url)
    monkeypatch.setenv("DIAMOND_API_KEY", sandbox.api_key)
    monkeypatch.setenv("DIAMOND_API_USERNAME", "system")
    monkeypatch.setenv("DIAMOND_REDIS_URL", redis_url)
    runtime.configure(redis_url=redis_url)
    sandbox.add_webhook(receiver_url, secret=SECRET, events=["post_created"])
    sandbox.forum.create_user(
        username="alice", name="Alice", email="alice@example.org", approved=True, active=True
    )

    answer = requests.post(
        f"{sandbox.url}/posts.json",
        json={"title": "My first weekly article here", "raw": "Hello everyone, " * 10},
        headers=sandbox.headers("alice"),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    topic_id, post_id = answer.json()["topic_id"], answer.json()["id"]

    worker = dramatiq.Worker(dramatiq.get_broker(), queues={"probe"}, worker_timeout=50)
    worker.start()
    try:

        def topic_posts() -> list[dict]:
            page = requests.get(
                f"{sandbox.url}/t/{topic_id}.json", headers=sandbox.headers(), timeout=10
            )
            return page.json()["post_stream"]["posts"]

        wait_for(lambda: len(topic_posts()) >= 2, what="the actor's reply on the forum")
        sandbox.wait_idle()  # the reply's own webhook was delivered too
        time.sleep(0.3)  # and had time to loop, were it going to
    finally:
        worker.stop(timeout=5_000)

    posts = topic_posts()
    assert [p["username"] for p in posts] == ["alice", "system"]
    assert f"probe: seen post {post_id}" in posts[1]["cooked"]
    statuses = [d.status for d in sandbox.deliveries("post_created")]
    assert statuses == [202, 204]  # the member's post queued; Diamond's own reply ignored
