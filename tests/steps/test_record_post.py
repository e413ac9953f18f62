"""The post step with a small fake forum (``record_post.PostForum``) and the real Redis:
one post event feeds the camp, the obligations ledger and recognition from one read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.obligations import shipped_rules
from worker.engine.camp import Camper
from worker.engine.weeks import Week
from worker.forum.errors import NotFound
from worker.state.ledger import Ledger
from worker.state.membership import MembershipStore
from worker.state.recognition import RecognitionStore
from worker.steps import StepContext, record_post

NOW = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
W47 = Week.parse("2026-W47")
ARTICLE = "我的文章写在这里。" * 100


class FakeForum:
    """Just what ``record_post.PostForum`` names; reads counted in ``reads``."""

    api_username = "system"

    def __init__(self, posts: dict[int, dict[str, Any]], topics: dict[int, dict[str, Any]]):
        self.posts, self.topics = posts, topics
        self.reads: list[str] = []
        self.created: list[tuple[int, str]] = []

    def get_post(self, post_id: int) -> dict[str, Any]:
        self.reads.append(f"post {post_id}")
        if post_id not in self.posts:
            raise NotFound(f"post {post_id}")
        return self.posts[post_id]

    def get_topic(self, topic_id: int) -> dict[str, Any]:
        self.reads.append(f"topic {topic_id}")
        return self.topics[topic_id]

    def list_categories(self) -> list[dict[str, Any]]:
        self.reads.append("categories")
        return [{"slug": "introductions", "id": 5}, {"slug": "leave", "id": 6}]

    def list_groups(self) -> list[dict[str, Any]]:
        return []

    def iter_group_members(self, name: str) -> Any:
        return iter(())

    def create_post(self, topic_id: int, raw: str, **kw: Any) -> Any:
        self.created.append((topic_id, raw))
        return {"id": 900, "topic_id": topic_id}


def post(post_id: int, topic_id: int, username: str, raw: str, number: int = 2) -> dict[str, Any]:
    """A post as ``GET /posts/{id}.json`` and the signed ``post_created`` body carry it."""
    return {
        "id": post_id,
        "topic_id": topic_id,
        "post_number": number,
        "reply_to_post_number": None,
        "raw": raw,
        "category_id": None,
        "username": username,
        "user_id": 40,
        "created_at": "2026-11-18T09:00:00Z",
        "updated_at": "2026-11-18T09:00:00Z",
        "deleted_at": None,
        "user_deleted": False,
        "topic_archetype": "regular",
        "topic_title": "title",
    }


def topic(category_id: int, author: str) -> dict[str, Any]:
    return {
        "id": 70,
        "category_id": category_id,
        "archetype": "regular",
        "title": "大家好",
        "created_at": "2026-11-18T08:00:00Z",
        "post_stream": {"posts": [{"post_number": 1, "username": author, "id": 1}]},
    }


def run(redis_client: Any, forum: FakeForum, post_id: int, event: str, body: Any = None):
    ctx = StepContext(forum, redis_client, shipped_rules(), NOW, True)
    return record_post.run(ctx, post_id, event, body=body)


def test_a_campers_post_is_recorded_from_its_signed_body_without_reading_the_post(
    redis_client,
) -> None:
    MembershipStore(redis_client).start_camp(
        Camper(40, "newcomer", NOW), city=None, volunteer=False
    )
    body = post(11, 70, "newcomer", "大家好！我来自北京。" * 4, number=1)
    forum = FakeForum({}, {70: topic(5, "newcomer")})
    outcomes = run(redis_client, forum, 11, "post_created", body)
    assert outcomes["membership"] is True
    assert [p.category for p in MembershipStore(redis_client).camp_posts("newcomer")] == [
        "introductions"
    ]
    assert "post 11" not in forum.reads  # the body had every fact
    assert forum.reads.count("topic 70") == 1  # one topic read, shared by every domain
    assert outcomes["recognition"] == "stored"


def test_a_reply_in_a_squads_weekly_thread_is_filed_under_its_week(redis_client) -> None:
    Ledger(redis_client).record_thread(W47, "sq-3", 70)
    forum = FakeForum({12: post(12, 70, "ann", ARTICLE)}, {70: topic(30, "system")})
    outcomes = run(redis_client, forum, 12, "post_created")
    assert outcomes["obligations"] == "recorded"
    assert [p.id for p in Ledger(redis_client).posts(W47, "sq-3")] == [12]
    assert outcomes["membership"] is False  # ann is no camper


def test_a_post_the_forum_no_longer_has_is_removed_from_every_domain(redis_client) -> None:
    Ledger(redis_client).record_thread(W47, "sq-3", 70)
    forum = FakeForum({12: post(12, 70, "ann", ARTICLE)}, {70: topic(30, "system")})
    run(redis_client, forum, 12, "post_created")
    del forum.posts[12]
    outcomes = run(redis_client, forum, 12, "post_edited")
    assert outcomes["obligations"] == "removed"
    assert outcomes["recognition"] == "gone"
    assert Ledger(redis_client).posts(W47, "sq-3") == ()
    assert RecognitionStore(redis_client).post(12) is None


def test_a_post_the_step_fails_on_stays_a_missing_fact_of_its_author_until_it_succeeds(
    redis_client,
) -> None:
    from worker.forum.errors import ForumUnavailable
    from worker.state.membership import missing_posts

    class DownForum(FakeForum):
        def get_post(self, post_id: int) -> dict[str, Any]:
            raise ForumUnavailable("the forum is down")

    ctx = StepContext(DownForum({}, {}), redis_client, shipped_rules(), NOW, True)
    with pytest.raises(ForumUnavailable):
        record_post.run(ctx, 12, "post_edited", author="newcomer")
    assert missing_posts(redis_client) == {12: "newcomer"}  # no decision about them yet
    body = post(12, 70, "newcomer", "大家好！我来自北京。" * 4, number=1)
    run(redis_client, FakeForum({12: body}, {70: topic(5, "newcomer")}), 12, "post_edited")
    assert missing_posts(redis_client) == {}


def test_a_topic_edit_the_step_fails_on_holds_no_decision_back(redis_client) -> None:
    """A ``topic_edited`` names no author: noting its first post as missing would hold
    back every decision about everyone; the edit is caught up like any other instead."""
    from worker.forum.errors import ForumUnavailable
    from worker.state.membership import missing_posts

    class DownForum(FakeForum):
        def get_post(self, post_id: int) -> dict[str, Any]:
            raise ForumUnavailable("the forum is down")

    first = {"id": 70, "post_stream": {"posts": [{"post_number": 1, "id": 13}]}}
    ctx = StepContext(DownForum({}, {70: first}), redis_client, shipped_rules(), NOW, True)
    with pytest.raises(ForumUnavailable):
        record_post.run_topic_edit(ctx, 70)
    assert missing_posts(redis_client) == {}


def test_a_first_post_whose_topic_is_not_known_yet_waits_and_records_nothing(
    redis_client,
) -> None:
    """Its ``topic_created`` body may still be on the way: no topic read, the post stays a
    missing fact of its author until the job comes back."""
    from worker.state.membership import missing_posts

    body = post(11, 70, "newcomer", "大家好！我来自北京。" * 4, number=1)
    forum = FakeForum({}, {70: topic(5, "newcomer")})
    ctx = StepContext(forum, redis_client, shipped_rules(), NOW, True)
    with pytest.raises(record_post.TopicPending):
        record_post.run(ctx, 11, "post_created", body=body, author="newcomer", wait_for_topic=True)
    assert forum.reads == []
    assert missing_posts(redis_client) == {11: "newcomer"}
    assert RecognitionStore(redis_client).post(11) is None


def test_a_first_post_whose_topic_body_was_kept_is_recorded_without_reading_the_topic(
    redis_client,
) -> None:
    from worker.reads import forum_view
    from worker.reads.parse import topic_facts_of_body

    created = {**topic(5, "newcomer"), "tags": [], "created_by": {"username": "newcomer"}}
    del created["post_stream"]  # a webhook body has none
    forum_view.keep_created_topic(redis_client, 70, topic_facts_of_body(created))
    body = post(11, 70, "newcomer", "大家好！我来自北京。" * 4, number=1)
    forum = FakeForum({}, {70: topic(5, "newcomer")})
    ctx = StepContext(forum, redis_client, shipped_rules(), NOW, True)
    outcomes = record_post.run(ctx, 11, "post_created", body=body, wait_for_topic=True)
    assert outcomes["recognition"] == "stored"
    assert forum.reads == ["categories"]  # the leave category's id; no post, no topic read


@pytest.mark.parametrize(("event", "number"), [("post_created", 2), ("post_edited", 1)])
def test_replies_and_edits_never_wait_for_a_topic_body(
    redis_client, event: str, number: int
) -> None:
    """Only a new topic's first post has a ``topic_created`` of its own to wait for."""
    body = post(11, 70, "ann", ARTICLE, number=number)
    forum = FakeForum({11: body}, {70: topic(30, "system")})
    ctx = StepContext(forum, redis_client, shipped_rules(), NOW, True)
    record_post.run(ctx, 11, event, body=body, wait_for_topic=True)
    assert forum.reads.count("topic 70") == 1
