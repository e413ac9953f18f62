"""A squad's week on the sandbox forum, end to end.

Members post in the weekly thread → webhooks → receiver → Redis → the obligations
actor keeps the ledger; then the reminders, the weekly audit (twice: the guard rail
halts it once, with one alert), ``diamond audit --confirm`` (twice: acts once) and
the right PMs, strikes and summary on the forum.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import dramatiq
import pytest
import redis

from tests.support.obligations import SH
from tests.support.pipeline import live_worker, serving, wait_for
from tests.support.steps import remember_roster
from worker.engine.facts import Roster, Squad
from worker.engine.obligations import reminder_id
from worker.engine.weeks import Week
from worker.forum.client import ForumClient
from worker.pipeline import runtime
from worker.pipeline.receiver import ReceiverConfig, build_receiver
from worker.sandbox.cooking import mentions
from worker.state.ledger import Ledger

pytestmark = pytest.mark.integration

SECRET = "obligations-e2e-secret"
W47 = Week(2026, 47)
ARTICLE = "这是我本周的文章。" * 100  # 900 units
REVIEW = "写得很好,我学到了很多。" * 12  # 120 units


class Clock:
    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now.astimezone(dt.UTC)

    def set(self, day: int, hh: int, mm: int = 0) -> dt.datetime:
        self.now = dt.datetime(2026, 11, day, hh, mm, tzinfo=SH)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2026, 11, 16, 0, 5, tzinfo=SH))


@pytest.fixture
def forum(clock: Clock) -> Iterator[object]:
    from worker.sandbox import start_sandbox

    running = start_sandbox(port=0, api_key="obligations-e2e-key", clock=clock)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def receiver_url(redis_url: str, preserve_routes: None) -> Iterator[str]:
    app = build_receiver(
        ReceiverConfig(secret=SECRET, api_username="system"),
        redis_url,
        extra_actor_modules=["worker.jobs.obligations"],
    )
    with serving(app) as base:
        yield f"{base}/webhook"


def _pms_to(forum, username: str) -> list[str]:
    state = forum.forum
    user = state.find_user(username)
    return [
        t.title
        for t in state.topics.values()
        if t.archetype == "private_message" and user.id in t.allowed_user_ids
    ]


def _reminder_posts(forum, thread: int) -> list[str]:
    """Diamond's reminders in the weekly thread, oldest first."""
    state = forum.forum
    posts = [state.posts[i] for i in state.topics[thread].post_ids]
    return [p.raw for p in posts if p.raw.startswith("⏰")]


def test_a_squads_week_reminders_audit_and_ladder_act_once(
    forum, clock: Clock, receiver_url: str, redis_url: str, tmp_path: Path, monkeypatch, capsys
) -> None:
    # ── the community: rules, settings, a squad of four with a category ──
    live_worker(monkeypatch, forum, redis_url, tmp_path)
    import worker.jobs.obligations as jobs

    client = ForumClient(forum.url, forum.api_key, "system", timeout=(2, 10))
    members = ["alice", "bob", "carol", "dave"]
    for name in members:
        forum.forum.create_user(
            username=name, name=name.title(), email=f"{name}@example.org", approved=True
        )
    group = client.create_group("sq-1", full_name="1组")
    group_id = int(group.get("basic_group", group)["id"])
    client.add_group_members(group_id, members)
    category = client.create_category("1组", slug="sq-1", permissions={"sq-1": 1})
    category_id = int(category.get("category", category)["id"])
    client.create_category("Audit log", slug="audit-log", permissions={"staff": 1})
    roster = Roster(
        (Squad("sq-1", "1组", "2026-11", tuple(members), "alice", None, group_id, category_id),)
    )
    # The squad has no squad marker: the forum view remembers it, for the actors and the
    # commands alike.
    remember_roster(redis.Redis.from_url(redis_url), roster)
    forum.add_webhook(
        receiver_url, secret=SECRET, events=["post_created", "post_edited", "post_destroyed"]
    )
    ledger = Ledger(redis.Redis.from_url(redis_url))

    # ── Monday: the weekly thread opens ──
    jobs.open_threads(scheduled_for=clock.set(16, 0, 5).isoformat())
    thread = ledger.threads(W47)["sq-1"]
    assert forum.forum.topics[thread].title == "2026年11月16日–22日作业 · 1组"

    worker = dramatiq.Worker(
        dramatiq.get_broker(), queues={"obligations", "posts"}, worker_timeout=50
    )
    worker.start()
    try:

        def post(user: str, day: int, hh: int, raw: str, reply_to: int | None = None) -> dict:
            clock.set(day, hh)
            seen = len(ledger.posts(W47, "sq-1"))
            answer = client.as_user(user).create_post(thread, raw, reply_to_post_number=reply_to)
            wait_for(lambda: len(ledger.posts(W47, "sq-1")) > seen, what=f"{user}'s post")
            return answer

        a = post("alice", 17, 10, "初稿,稍后补全。" * 4)  # a stub first...
        clock.set(17, 18)
        client.as_user("alice").update_post(a["id"], ARTICLE)  # ...edited to full on Tuesday
        wait_for(
            lambda: (
                len(next(p for p in ledger.posts(W47, "sq-1") if p.id == a["id"]).versions) == 2
            ),
            what="alice's edit",
        )
        b = post("bob", 18, 10, ARTICLE)
        c = post("carol", 19, 10, ARTICLE)
        post("bob", 18, 12, REVIEW, reply_to=a["post_number"])
        post("alice", 19, 9, REVIEW, reply_to=b["post_number"])
        post("carol", 20, 9, REVIEW, reply_to=b["post_number"])
        quote = f'[quote="alice, post:{a["post_number"]}, topic:{thread}"]\n初稿\n[/quote]\n'
        post("carol", 20, 10, quote + REVIEW)
        post("bob", 20, 11, REVIEW, reply_to=c["post_number"])
        # alice never reviews carol; dave never writes.
    finally:
        worker.stop(timeout=5_000)

    rules = runtime.rules()
    friday, monday = (rid for rid in map(reminder_id, rules.obligations.reminders[::2]))
    # ── reminders: Friday 20:00 (articles), Monday 20:00 (reviews), in the squad's thread ──
    jobs.remind(reminder=friday, scheduled_for=clock.set(20, 20).isoformat())
    jobs.remind(reminder=friday, scheduled_for=clock.set(20, 20).isoformat())  # twice: once
    [nudge] = _reminder_posts(forum, thread)
    assert mentions(nudge) == {"dave", "alice"}  # who has not written, the leader cc'd
    jobs.remind(reminder=monday, scheduled_for=clock.set(23, 20).isoformat())
    [_, review_nudge] = _reminder_posts(forum, thread)
    assert mentions(review_nudge) == {"alice"}  # alice owes carol's review; she leads too
    assert f"/t/{thread}/{c['post_number']}" in review_nudge and "@carol" not in review_nudge
    assert [_pms_to(forum, m) for m in members] == [[], [], [], []]  # no PM to anyone

    # ── Tuesday 23:00: the audit; 2 of 4 penalised > 30%: halted, twice, one alert ──
    audit_at = clock.set(24, 23).isoformat()
    jobs.weekly_audit(scheduled_for=audit_at)
    jobs.weekly_audit(scheduled_for=audit_at)
    alerts = [
        t for t in forum.forum.topics.values() if t.title.startswith("2026年第47周审计已暂停")
    ]
    assert len(alerts) == 1
    assert _pms_to(forum, "dave") == []  # nobody was acted on
    assert ledger.histories(members) == {}

    # ── staff confirm from the command line, twice: it acts once ──
    from worker import clock as diamond_clock
    from worker.cli import main

    # the commands read the shared clock: staff look the next morning
    diamond_clock.set_simulated_now(ledger.redis, clock.set(25, 9))
    remember_roster(ledger.redis, roster)  # as it was: the view's entry may have expired
    assert main(["audit", "--week", "2026-W47", "--dry-run"]) == 2  # the halted plan
    checksum = re.search(r"checksum: (\w+)", capsys.readouterr().out)[1]
    assert main(["audit", "--week", "2026-W47", "--confirm", checksum]) == 0
    assert main(["audit", "--week", "2026-W47", "--confirm", checksum]) == 0
    assert _pms_to(forum, "dave") == ["每周义务提醒"]  # ladder step 1
    assert ledger.histories(members) == {
        "alice": {W47: 1},  # one review missing: below the first step (2)
        "bob": {W47: 0},
        "carol": {W47: 0},
        "dave": {W47: 2},
    }
    assert _pms_to(forum, "alice") == []  # no ladder letter for 1 strike
    thread_posts = [forum.forum.posts[i] for i in forum.forum.topics[thread].post_ids]
    summaries = [p for p in thread_posts if "本周文章" in p.raw]
    assert len(summaries) == 1 and "@dave" in summaries[0].raw.split("未交")[1]
