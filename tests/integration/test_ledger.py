"""The obligations ledger in a real Redis: posts and their versions, threads, leave, strikes."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.support.obligations import W47, at, rules_with, shipped_rules, squad
from worker.engine.obligations import Version, WeekPost
from worker.engine.textlen import QuoteRef, count_units
from worker.reads.parse import classify_topic, cooked_length, week_post
from worker.state.ledger import Ledger, TopicInfo

pytestmark = pytest.mark.integration


def _post(post_id: int, units: int, when: dt.datetime, **kw) -> WeekPost:
    return WeekPost(
        post_id, 900, kw.pop("n", 2), kw.pop("u", "alice"), when, (Version(when, units),), **kw
    )


def test_an_edit_adds_a_version_and_a_repeat_delivery_adds_nothing(redis_client) -> None:
    ledger = Ledger(redis_client)
    ledger.upsert_post(W47, "sq-3", _post(1, 30, at(17)))
    ledger.upsert_post(W47, "sq-3", _post(1, 30, at(17)))  # the same delivery again
    edited = WeekPost(1, 900, 2, "alice", at(17), (Version(at(21), 900),))
    ledger.upsert_post(W47, "sq-3", edited)
    ledger.upsert_post(W47, "sq-3", edited)
    (stored,) = ledger.posts(W47, "sq-3")
    assert [(v.at, v.units) for v in stored.versions] == [(at(17), 30), (at(21), 900)]
    assert stored.as_at(at(20)).units == 30 and stored.as_at(at(22)).units == 900


def test_a_deleted_post_is_forgotten(redis_client) -> None:
    ledger = Ledger(redis_client)
    ledger.upsert_post(W47, "sq-3", _post(1, 900, at(17)))
    ledger.upsert_post(W47, "sq-3", _post(2, 900, at(18), u="bob"))
    assert ledger.remove_post(1) is True
    assert [p.id for p in ledger.posts(W47, "sq-3")] == [2]
    assert ledger.remove_post(1) is False  # twice is once


def test_posts_keep_quotes_and_reply_targets(redis_client) -> None:
    ledger = Ledger(redis_client)
    quote = QuoteRef("alice", 900, 2)
    post = WeekPost(5, 900, 3, "bob", at(18), (Version(at(18), 120, (quote,)),), 2)
    ledger.upsert_post(W47, "sq-3", post)
    assert ledger.posts_many(W47, ["sq-3", "sq-4"]) == {"sq-3": (post,), "sq-4": ()}


def test_threads_topics_and_categories(redis_client) -> None:
    ledger = Ledger(redis_client)
    ledger.record_thread(W47, "sq-3", 900)
    ledger.record_squad_categories({30: "sq-3"})
    assert ledger.threads(W47) == {"sq-3": 900}
    assert ledger.topic(900) == TopicInfo("thread", W47, "sq-3")
    assert ledger.topic(901) is None
    assert ledger.squad_of_category(30) == "sq-3" and ledger.squad_of_category(31) is None


def test_strikes_history_with_excused_weeks_and_rerecording(redis_client) -> None:
    ledger = Ledger(redis_client)
    ledger.record_strikes(W47, {"alice": 2, "bob": None})
    ledger.record_strikes(W47, {"alice": 3})  # a re-audit replaces the week
    ledger.record_strikes(W47.next(), {"alice": 0})
    assert ledger.histories(["alice", "bob", "carol"]) == {
        "alice": {W47: 3, W47.next(): 0},
        "bob": {W47: None},
    }


def test_clear_posts_since_a_week_keeps_older_weeks(redis_client) -> None:
    ledger = Ledger(redis_client)
    ledger.upsert_post(W47.previous(), "sq-3", _post(1, 900, at(10)))
    ledger.upsert_post(W47, "sq-3", _post(2, 900, at(17)))
    ledger.record_thread(W47, "sq-3", 900)
    assert ledger.clear_posts(W47) == 1
    assert ledger.posts(W47, "sq-3") == () and ledger.threads(W47) == {}
    assert len(ledger.posts(W47.previous(), "sq-3")) == 1
    assert ledger.remove_post(2) is False  # its place was forgotten too


# ─────────────────────────── ingest ───────────────────────────


def _json(post_id: int, raw: str | None, *, n: int = 2, cooked: str = "", **kw) -> dict:
    body = {
        "id": post_id,
        "topic_id": kw.pop("topic_id", 900),
        "post_number": n,
        "username": kw.pop("username", "alice"),
        "created_at": "2026-11-17T04:00:00.000Z",
        "updated_at": "2026-11-17T04:00:00.000Z",
        "cooked": cooked,
        **kw,
    }
    if raw is not None:
        body["raw"] = raw
    return body


def test_cooked_html_is_counted_like_raw_without_quotes_or_code() -> None:
    from worker.sandbox.cooking import cook

    raw = (
        '[quote="alice, post:2, topic:900"]\n引用的内容不算字数引用的内容\n[/quote]\n\n'
        "我觉得这篇文章写得很好 and the ending works `code here` 很好"
    )
    units, quotes = cooked_length(cook(raw))
    assert units == count_units(raw)
    assert quotes == (QuoteRef("alice", 900, 2),)


def test_ingest_records_thread_replies_and_skips_the_opening_post(redis_client) -> None:
    ledger = Ledger(redis_client)
    rules = shipped_rules()
    info = TopicInfo("thread", W47, "sq-3")
    assert ledger.ingest_post(rules, _json(1, "开帖", n=1, username="system"), info) == "ignored"
    assert ledger.ingest_post(rules, _json(2, "文章" * 10), info) == "recorded"
    assert ledger.ingest_post(rules, _json(2, None, deleted_at="x"), info) == "removed"
    assert ledger.ingest_post(rules, _json(3, "x"), TopicInfo("other")) == "ignored"
    assert ledger.posts(W47, "sq-3") == ()


def test_ingest_of_a_leave_post_records_the_weeks_asked(redis_client) -> None:
    ledger = Ledger(redis_client)
    rules = shipped_rules()
    ledger.ingest_post(rules, _json(7, "请假 2026-W48", topic_id=70), TopicInfo("leave"))
    ledger.ingest_post(rules, _json(8, "下周请假", topic_id=71, username="bob"), TopicInfo("leave"))
    requests = {r.username: r.weeks for r in ledger.leave_requests()}
    assert requests == {"alice": (W47.next(),), "bob": (W47,)}  # bob: the next week with notice


def test_an_edit_event_versions_from_its_update_time() -> None:
    body = _json(2, "文章" * 10, updated_at="2026-11-21T04:00:00Z")
    post = week_post(body, version_at=dt.datetime(2026, 11, 21, 4, tzinfo=dt.UTC))
    assert post.versions[0].at == dt.datetime(2026, 11, 21, 4, tzinfo=dt.UTC)
    assert post.created_at == dt.datetime(2026, 11, 17, 4, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("mode", "title", "category", "tags", "expected"),
    [
        pytest.param(
            "thread",
            "2026年11月16日–22日作业 · 3组",
            30,
            [],
            TopicInfo("thread", W47, "sq-3"),
            id="a thread is known by its week's title",
        ),
        pytest.param("thread", "闲聊", 30, [], TopicInfo("other"), id="another topic in the squad"),
        pytest.param(
            "topic",
            "我的文章",
            30,
            [],
            TopicInfo("article", W47, "sq-3"),
            id="topic mode: a topic in the squad category is an article",
        ),
        pytest.param("topic", "我的文章", 31, [], TopicInfo("other"), id="another category"),
        pytest.param("thread", "请假", 40, [], TopicInfo("leave"), id="the leave category"),
    ],
)
def test_classify_topic(mode, title, category, tags, expected) -> None:
    rules = rules_with(article={"mode": mode})
    topic = {
        "id": 5,
        "title": title,
        "category_id": category,
        "tags": tags,
        "created_at": at(16, 0, 5).astimezone(dt.UTC).isoformat(),
    }
    assert classify_topic(rules, topic, {30: squad("a", slug="sq-3")}, 40) == expected


def test_topic_mode_with_a_tag_only_counts_tagged_topics() -> None:
    rules = rules_with(article={"mode": "topic", "tag": "homework"})
    base = {"id": 5, "title": "t", "category_id": 30, "created_at": at(17).isoformat()}
    squads = {30: squad("a", slug="sq-3")}
    assert classify_topic(rules, {**base, "tags": []}, squads, None).kind == "other"
    tagged = {**base, "tags": [{"id": 1, "name": "homework", "slug": "homework"}]}
    assert classify_topic(rules, tagged, squads, None).kind == "article"
