"""The recognition store in a real Redis: posts, likes, badges held, stage snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis

from worker.engine.facts import LikeFact, PostFact
from worker.engine.textlen import QuoteRef
from worker.state.recognition import RecognitionStore, decode_post, encode_post

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 16, 2, tzinfo=UTC)


def fact(pid: int, at: datetime = T0, **extra) -> PostFact:
    return PostFact(pid, 10, pid, 7, "ann", at, 120, **extra)


def test_a_post_survives_the_round_trip() -> None:
    post = fact(
        3,
        category_id=5,
        reply_to_post_number=1,
        quotes=(QuoteRef("bob", 9, 2),),
        mentions=("cat",),
        private_message=True,
        tags=("digest",),
        like_count=4,
        topic_title="标题",
    )
    assert decode_post(encode_post(post, "link-only")) == (post, "link-only")
    assert decode_post(encode_post(fact(4))) == (fact(4), None)


def test_posts_between_is_a_half_open_window_and_keeps_ad_signals(
    redis_client: redis.Redis,
) -> None:
    store = RecognitionStore(redis_client)
    for i in range(5):
        store.put_post(fact(i + 1, T0 + timedelta(days=i)), "link-only" if i == 2 else None)
    posts, ads = store.posts_between(T0 + timedelta(days=1), T0 + timedelta(days=3))
    assert [p.id for p in posts] == [2, 3]
    assert ads == {3: "link-only"}


def test_an_edited_post_replaces_the_old_one_and_a_deleted_one_is_forgotten(
    redis_client: redis.Redis,
) -> None:
    store = RecognitionStore(redis_client)
    store.put_post(fact(1))
    store.put_post(PostFact(1, 10, 1, 7, "ann", T0, 900))
    assert store.post(1).units == 900
    store.put_post(PostFact(1, 10, 1, 7, "ann", T0, 900, deleted=True))
    assert store.post(1) is None
    assert store.posts_between(T0 - timedelta(days=1), T0 + timedelta(days=1)) == ([], {})


def test_a_like_is_kept_once_with_its_first_time(redis_client: redis.Redis) -> None:
    store = RecognitionStore(redis_client)
    assert store.put_like(LikeFact(1, "bob", T0)) is True
    assert store.put_like(LikeFact(1, "bob", T0 + timedelta(hours=1))) is False
    assert store.likes_between(T0, T0 + timedelta(days=1)) == [LikeFact(1, "bob", T0)]
    store.remove_like(1, "bob")
    assert store.likes_between(T0, T0 + timedelta(days=1)) == []


def test_badges_held_follow_grants_and_revocations(redis_client: redis.Redis) -> None:
    store = RecognitionStore(redis_client)
    store.record_badges([("full", "ann"), ("full", "bob"), ("streak", "ann")])
    store.record_badges([], [("full", "bob")])
    assert store.held(["full", "streak", "none"]) == {
        "full": frozenset({"ann"}),
        "streak": frozenset({"ann"}),
        "none": frozenset(),
    }


def test_stage_snapshots_by_week(redis_client: redis.Redis) -> None:
    store = RecognitionStore(redis_client)
    store.save_stages("2026-W47", {"camp": {"b", "a"}, "members": set()})
    assert store.stages("2026-W47") == {"camp": frozenset({"a", "b"}), "members": frozenset()}
    assert store.stages("2026-W46") is None


def test_prune_forgets_what_no_report_reads(redis_client: redis.Redis) -> None:
    store = RecognitionStore(redis_client)
    store.put_post(fact(1, T0 - timedelta(days=60)))
    store.put_post(fact(2, T0))
    store.put_like(LikeFact(1, "bob", T0 - timedelta(days=60)))
    assert store.prune(T0 - timedelta(days=30)) == 2
    assert store.post(1) is None and store.post(2) is not None
    assert store.likes_between(T0 - timedelta(days=90), T0) == []
