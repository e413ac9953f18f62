"""The catch-up scan feeds what webhooks missed to the same actors, once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from dramatiq.message import Message

from worker.forum.errors import RateLimited
from worker.pipeline import probe, routes
from worker.pipeline.broker import setup_broker
from worker.pipeline.catchup import LAST_POST_KEY, scan
from worker.pipeline.jobs import load_actors
from worker.pipeline.routes import Deduper, Dispatcher

API_USER = "diamond_bot"
pytestmark = pytest.mark.integration


class ForumReadings:
    """What ``ForumClient`` returns for the two listings the scan reads (no HTTP)."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.pending: list[dict[str, Any]] = []
        self.fail_after: int | None = None
        self.channel_lists = 0  # chat catch-ups (each lists the channels once)

    def post(self, post_id: int, username: str = "alice", updated_at: str = "t1") -> None:
        self.posts.append({"id": post_id, "username": username, "updated_at": updated_at})

    def iter_posts_since(self, after_post_id: int) -> Iterator[dict[str, Any]]:
        for served, post in enumerate(p for p in self.posts if p["id"] > after_post_id):
            if self.fail_after is not None and served >= self.fail_after:
                raise RateLimited(30)
            yield post

    def latest_post_id(self) -> int:
        return max((p["id"] for p in self.posts), default=0)

    def iter_admin_users(self, flag: str) -> Iterator[dict[str, Any]]:
        assert flag == "pending"
        yield from self.pending

    def iter_chat_channels(self, *, page_size: int = 25) -> Iterator[dict[str, Any]]:
        self.channel_lists += 1
        return iter(())  # no chat channels (the chat catch-up: tests/integration/test_camp_chat)


@pytest.fixture
def wired(redis_url: str, preserve_routes: None):
    broker = setup_broker(redis_url)
    load_actors(["worker.pipeline.probe"])
    routes.ROUTES.clear()  # only the probe's routes: the domain modules' would add jobs
    routes.add_route("post_created", "probe.on_post", ids={"post_id": "id"})
    routes.add_route("user_created", "probe.seen", ids={"object_id": "id"}, pass_event=True)
    yield broker


def run_scan(forum: ForumReadings, client: redis.Redis, broker, **kw: Any):
    return scan(forum, client, broker, api_username=API_USER, dedup_ttl_seconds=3600, **kw)


def sent(client: redis.Redis) -> list[tuple[str, dict]]:
    messages = [Message.decode(raw) for raw in client.hvals(f"diamond:{probe.QUEUE}.msgs")]
    return sorted((m.actor_name, json.dumps(m.args or m.kwargs)) for m in messages)


def test_scan_feeds_posts_and_pending_users_and_remembers_the_last_ids(
    wired, redis_client: redis.Redis
) -> None:
    forum = ForumReadings()
    forum.post(5)
    forum.post(7)
    forum.pending = [{"id": 40, "username": "newbie"}]
    report = run_scan(forum, redis_client, wired)
    assert (report.enqueued, report.last_post_id, report.users_seen) == (3, 7, 1)
    assert sent(redis_client) == [
        ("probe.on_post", '{"post_id": 5}'),
        ("probe.on_post", '{"post_id": 7}'),
        ("probe.seen", '{"object_id": 40, "event": "user_created"}'),
    ]
    assert redis_client.get(LAST_POST_KEY) == b"7"


def test_a_user_who_confirms_after_a_later_user_was_scanned_is_still_fed(
    wired, redis_client: redis.Redis
) -> None:
    # 40 signed up first but confirms their email late: pending lists only active users.
    forum = ForumReadings()
    forum.pending = [{"id": 41}]
    run_scan(forum, redis_client, wired)
    forum.pending = [{"id": 40}, {"id": 41}]
    report = run_scan(forum, redis_client, wired)
    assert report.users_seen == 1
    assert ("probe.seen", '{"object_id": 40, "event": "user_created"}') in sent(redis_client)


def test_a_pending_user_is_fed_once_not_on_every_scan(wired, redis_client: redis.Redis) -> None:
    # A held application stays pending until staff decide: no re-gating every few minutes.
    forum = ForumReadings()
    forum.pending = [{"id": 40}]
    for _ in range(3):
        run_scan(forum, redis_client, wired)
    assert len(sent(redis_client)) == 1
    run_scan(forum, redis_client, wired, user_refeed_seconds=0)  # as if a day later: once more
    assert len(sent(redis_client)) == 2


def test_second_scan_sends_only_what_is_new(wired, redis_client: redis.Redis) -> None:
    forum = ForumReadings()
    forum.post(5)
    forum.pending = [{"id": 40}]
    run_scan(forum, redis_client, wired)
    forum.post(9)
    forum.pending.append({"id": 41})
    report = run_scan(forum, redis_client, wired)
    assert (report.posts_seen, report.users_seen, report.enqueued) == (1, 1, 2)
    assert len(sent(redis_client)) == 4


def test_post_that_arrived_by_webhook_is_not_sent_again(wired, redis_client: redis.Redis) -> None:
    webhook = Dispatcher(wired, Deduper(redis_client, 3600), API_USER)
    webhook.dispatch("post", "post_created", {"id": 5, "username": "alice", "updated_at": "t1"})
    forum = ForumReadings()
    forum.post(5)
    report = run_scan(forum, redis_client, wired)
    assert (report.enqueued, report.duplicates) == (0, 1)
    assert sent(redis_client) == [("probe.on_post", '{"post_id": 5}')]


def test_diamonds_own_posts_are_skipped(wired, redis_client: redis.Redis) -> None:
    forum = ForumReadings()
    forum.post(5, username=API_USER)
    report = run_scan(forum, redis_client, wired)
    assert (report.enqueued, report.last_post_id) == (0, 5)


def test_one_scan_is_bounded_and_the_next_goes_on(wired, redis_client: redis.Redis) -> None:
    forum = ForumReadings()
    for post_id in (1, 2, 3):
        forum.post(post_id)
    assert run_scan(forum, redis_client, wired, max_items=2).last_post_id == 2
    assert run_scan(forum, redis_client, wired, max_items=2).last_post_id == 3
    assert len(sent(redis_client)) == 3


def test_rate_limit_midway_keeps_what_was_sent(wired, redis_client: redis.Redis) -> None:
    forum = ForumReadings()
    for post_id in (1, 2, 3):
        forum.post(post_id)
    forum.fail_after = 1
    with pytest.raises(RateLimited):
        run_scan(forum, redis_client, wired)
    assert redis_client.get(LAST_POST_KEY) == b"1"
    forum.fail_after = None
    run_scan(forum, redis_client, wired)
    assert [a for a, _ in sent(redis_client)] == ["probe.on_post"] * 3


def test_first_scan_looks_back_a_bounded_number_of_posts_not_to_the_forums_start(
    wired, redis_client: redis.Redis
) -> None:
    forum = ForumReadings()
    for post_id in range(1, 31):
        forum.post(post_id)
    report = run_scan(forum, redis_client, wired, first_scan_lookback=10)
    assert (report.posts_seen, report.last_post_id) == (10, 30)
    assert sent(redis_client)[0] == ("probe.on_post", '{"post_id": 21}')


def test_chat_is_read_back_hourly_or_at_once_when_posts_were_missed(
    wired, redis_client: redis.Redis
) -> None:
    # The channel list costs a call per 50 channels: not on every scan of a few minutes.
    forum = ForumReadings()
    forum.post(5)
    first = run_scan(forum, redis_client, wired)
    second = run_scan(forum, redis_client, wired)
    assert forum.channel_lists == 1 and first.chat is not None and second.chat is None
    forum.post(9)  # a post no webhook brought: the receiver was down, chat may be lost too
    third = run_scan(forum, redis_client, wired)
    assert forum.channel_lists == 2 and third.chat is not None
