"""A fact is never lost because its job failed, and no decision about a person is taken
while facts it depends on are known to be missing."""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dramatiq
import pytest
import redis

from tests.support.pipeline import live_worker, wait_for
from tests.support.steps import remember_roster
from worker.forum.client import ForumClient
from worker.pipeline.broker import setup_broker
from worker.pipeline.config import PipelineSettings

pytestmark = pytest.mark.integration


@contextmanager
def worker(broker: dramatiq.Broker, queues: set[str]) -> Iterator[dramatiq.Worker]:
    every = queues | {q + ".DQ" for q in queues}
    w = dramatiq.Worker(broker, queues=every, worker_threads=2, worker_timeout=20)
    w.start()
    try:
        yield w
    finally:
        w.stop(timeout=5_000)


def _queue_idle(client: redis.Redis, queue: str) -> bool:
    busy = client.llen(f"diamond:{queue}") + client.zcard(f"diamond:{queue}.DQ")
    busy += sum(client.scard(k) for k in client.scan_iter("diamond:__acks__.*"))
    return busy == 0


# --- 1. a gating job redelivered after the applicant was deleted -----------------------------


def test_a_gating_job_redelivered_after_the_applicant_was_deleted_ends_quietly(
    sandbox: object,
    redis_url: str,
    redis_client: redis.Redis,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    live_worker(monkeypatch, sandbox, redis_url, tmp_path)
    broker = setup_broker(redis_url, settings=PipelineSettings())
    import worker.jobs.membership as jobs

    forum = sandbox.forum  # type: ignore[attr-defined]
    uid = forum.create_user(username="gone01", email="gone01@example.com", approved=False).id
    admin = ForumClient(sandbox.url, sandbox.api_key, "system")  # type: ignore[attr-defined]
    admin.delete_user(uid)  # rejected by an earlier run, or deleted by staff
    message = jobs.on_user.message(uid, None, "user_confirmed_email")
    with caplog.at_level(logging.INFO), worker(broker, {"membership"}):
        broker.enqueue(message)
        broker.enqueue(message)  # at-least-once: the same job delivered again
        wait_for(lambda: _queue_idle(redis_client, "membership"), what="the gating jobs")
        time.sleep(0.2)
    assert redis_client.hlen("diamond:membership.XQ.msgs") == 0
    assert not [r for r in caplog.records if "GAVE UP" in r.getMessage()]
    done = [r for r in caplog.records if "no longer exists" in r.getMessage()]
    assert len(done) == 2


# --- 2. a dead-lettered post event is re-fed once the forum answers ---------------------------


def _failing_since(client: redis.Redis, queue: str, *, hours: float) -> None:
    """Every message waiting on ``queue`` has been failing for ``hours`` (its first failure,
    as the retry middleware records it, is that long ago)."""
    from dramatiq import Message

    from worker.pipeline.broker import NAMESPACE
    from worker.pipeline.retries import FIRST_FAILED_OPTION

    messages = f"{NAMESPACE}:{queue}.msgs"
    since_ms = int((time.time() - hours * 3600) * 1000)
    for message_id, raw in client.hgetall(messages).items():
        message = Message.decode(raw)
        options = {**message.options, FIRST_FAILED_OPTION: since_ms}
        client.hset(messages, message_id, message.copy(options=options).encode())


def test_a_dead_lettered_post_event_is_re_fed_by_the_catch_up_scan(
    sandbox: object,
    redis_url: str,
    redis_client: redis.Redis,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from worker.pipeline.catchup import scan
    from worker.pipeline.routes import Deduper, Dispatcher
    from worker.state.membership import missing_posts

    live_worker(monkeypatch, sandbox, redis_url, tmp_path)
    broker = setup_broker(redis_url, settings=PipelineSettings())
    importlib.import_module("worker.jobs.posts")  # declares the post actor

    forum = sandbox.forum  # type: ignore[attr-defined]
    forum.create_user(username="diligent", email="diligent@example.com", approved=True)
    admin = ForumClient(sandbox.url, sandbox.api_key, "system")  # type: ignore[attr-defined]
    category = admin.create_category("Checkins", slug="checkins")
    category_id = int(category.get("category", category)["id"])
    topic = admin.as_user("diligent").create_topic(
        "Day five check-in: chapter three", "今天读完了一章。" * 5, category_id
    )
    post = admin.get_post(int(topic["id"]))
    # The webhook arrives (the receiver claims its identity) while the forum is down, for
    # longer than the job's retry window: the job gives up.
    Dispatcher(broker, Deduper(redis_client, 600), "system").dispatch("post", "post_created", post)
    _failing_since(redis_client, "posts", hours=25)  # longer than the job's retry window
    sandbox.add_fault("GET /posts/*:502=1")  # type: ignore[attr-defined]
    with worker(broker, {"posts"}):
        wait_for(lambda: redis_client.hlen("diamond:posts.XQ.msgs") == 1, what="the dead letter")
    assert missing_posts(redis_client) == {post["id"]: "diligent"}
    sandbox.clear_faults()  # type: ignore[attr-defined]  # the forum is back

    report = scan(admin, redis_client, broker, api_username="system", dedup_ttl_seconds=600)
    assert report.refed == 1  # the post itself is a duplicate for the scan: re-fed from the XQ
    with worker(broker, {"posts"}):
        wait_for(lambda: not missing_posts(redis_client), what="the re-fed post handled")
        wait_for(lambda: _queue_idle(redis_client, "posts"), what="the post queue idle")
    assert redis_client.hlen("diamond:posts.XQ.msgs") == 0


# --- 3. no camp decision while a camper's post event is missing -------------------------------


def test_the_camp_check_does_not_decide_a_camper_whose_reply_was_lost_with_its_job(
    sandbox: object, redis_client: redis.Redis
) -> None:
    import datetime as dt

    from tests.integration.test_whatif_membership import START, camp_world
    from tests.support.obligations import shipped_rules
    from tests.support.steps import step_ctx
    from worker.state.membership import MembershipStore, clear_missing_post, note_missing_post
    from worker.steps import camp_check

    camp_world(redis_client)
    rules = shipped_rules()
    now = START + dt.timedelta(days=8)
    client = ForumClient(sandbox.url, sandbox.api_key, "system")  # type: ignore[attr-defined]
    # c2 checked in on a fifth day, but that post's job failed: her record shows four days.
    note_missing_post(redis_client, 9001, "c2")
    deferred: list[str] = []
    # (shadow mode: the same decisions, no writes to the forum)
    checks = camp_check.run(
        step_ctx(client, redis_client, rules, now=now, live=False), deferred=deferred
    )
    assert deferred == ["c2"]
    assert {c.username: c.verdict.verdict for c in checks}.get("c2") is None  # not extended
    assert {c.username for c in checks} == {"c0", "c1", "c3", "c4", "c5"}  # the others are
    assert MembershipStore(redis_client).camper("c2") is not None  # still in the camp
    # Once the post is handled, the next check decides her.
    clear_missing_post(redis_client, 9001)
    later = camp_check.run(step_ctx(client, redis_client, rules, now=now, live=False))
    assert "c2" in {c.username for c in later}


def test_a_lost_post_whose_author_is_unknown_holds_back_every_decision() -> None:
    from worker.state.membership import UNKNOWN_AUTHOR, held_back

    assert held_back({1: "Alice"}, ["alice", "bob"]) == {"alice"}
    assert held_back({1: UNKNOWN_AUTHOR}, ["alice", "bob"]) == {"alice", "bob"}
    assert held_back({}, ["alice"]) == set()


def test_the_weekly_audit_waits_while_a_members_post_event_is_missing(
    sandbox: object,
    redis_url: str,
    redis_client: redis.Redis,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from worker.engine.facts import Roster, Squad
    from worker.state.membership import clear_missing_post, note_missing_post

    live_worker(monkeypatch, sandbox, redis_url, tmp_path)
    setup_broker(redis_url)
    jobs = importlib.import_module("worker.jobs.obligations")
    roster = Roster((Squad("sq-1", "1组", "2026-11", ("alice", "bob"), "alice", None, 1, 2),))
    remember_roster(redis_client, roster)

    def audits() -> list[str]:  # the job's one line once the audit step has planned
        lines = [r.getMessage() for r in caplog.records]
        return [x for x in lines if x.startswith("audit of ") and " deferred" not in x]

    note_missing_post(redis_client, 77, "bob")  # bob's article: its job failed
    with caplog.at_level(logging.INFO, logger="worker.jobs.obligations"):
        with pytest.raises(dramatiq.Retry):
            jobs.weekly_audit.fn(scheduled_for="2026-11-24T23:00:00+08:00")
        assert audits() == []  # no strike decided without bob's article
        clear_missing_post(redis_client, 77)
        jobs.weekly_audit.fn(scheduled_for="2026-11-24T23:00:00+08:00")
    [done] = audits()  # both had nothing posted: the guard rail holds the strikes back
    assert done.startswith("audit of 2026-W47 HALTED: 2/2 members")
