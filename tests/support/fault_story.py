"""A small squad's week told through the real pipeline, for fault tests: the same story
with and without faults (or duplicate deliveries) must leave the same effects.

Monday the thread opens; four members post (articles, reviews; dave writes nothing);
each post is a webhook job; Friday and Monday reminders; the Tuesday audit. Jobs run on a
real dramatiq worker (in this process) against real Redis and a sandbox forum.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dramatiq
import pytest
import redis

from tests.support.pipeline import live_worker
from tests.support.steps import remember_roster
from worker.engine.facts import Roster, Squad
from worker.engine.obligations import reminder_id
from worker.engine.weeks import Week
from worker.forum.client import ForumClient, ReadRetry
from worker.pipeline import runtime
from worker.pipeline.broker import setup_broker
from worker.pipeline.config import PipelineSettings
from worker.state.ledger import Ledger

SH = dt.timezone(dt.timedelta(hours=8))
W47 = Week(2026, 47)
MEMBERS = ("alice", "bob", "carol", "dave")
ARTICLE = "这是我本周的文章。" * 100
REVIEW = "写得很好,我学到了很多。" * 12
QUEUES = {"obligations", "posts", "notices"}
# What a worker process of the story reads (``tests.support.crash_worker``).
CLAIM_LEASE_ENV = "DIAMOND_STORY_CLAIM_LEASE_SECONDS"
# The story's reads are retried as in production (as often), on a compressed clock.
QUICK_READ_RETRY = ReadRetry(base_wait=0.01, max_wait=0.05)
_MARK = re.compile(r"\s*<!-- diamond:[0-9a-f]+ -->")
_IDS = re.compile(r"(?:https?://[\w.:-]+)?/t/[^\s)]*?\d+(/\d+)?")  # links name each run's port


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 16, 0, 5, tzinfo=SH)

    def __call__(self) -> dt.datetime:
        return self.now.astimezone(dt.UTC)

    def set(self, day: int, hh: int, mm: int = 0) -> str:
        self.now = dt.datetime(2026, 11, day, hh, mm, tzinfo=SH)
        return self.now.isoformat()


@dataclass
class Story:
    """How jobs are delivered (``copies`` at once) and what the forum does meanwhile."""

    faults: tuple[str, ...] = ()
    copies: int = 1
    # Called before each step with its name; may switch faults on or off.
    on_step: Callable[[str, Any], None] | None = None
    # Called once the step's jobs are enqueued, with the step's name and what runs them
    # (``start_worker``'s handle): may kill workers or restart Redis while they run.
    after_enqueue: Callable[[str, Any], None] | None = None
    dead_letters: int = 0
    injected: int = 0  # faults the forum injected after the members' posts
    effects: Counter[tuple[Any, ...]] = field(default_factory=Counter)
    strikes: dict[str, Any] = field(default_factory=dict)


@contextmanager
def _worker(broker: dramatiq.Broker) -> Iterator[dramatiq.Worker]:
    queues = QUEUES | {q + ".DQ" for q in QUEUES}
    worker = dramatiq.Worker(broker, queues=queues, worker_threads=6, worker_timeout=20)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop(timeout=10_000)


def _busy(client: redis.Redis) -> int:
    """Jobs queued, delayed or in flight (retries included); -1 while Redis is away."""
    try:
        busy = sum(client.llen(f"diamond:{q}") for q in QUEUES)
        busy += sum(client.llen(f"diamond:{q}.DQ") for q in QUEUES)
        busy += sum(client.scard(k) for k in client.scan_iter("diamond:__acks__.*"))
    except (redis.ConnectionError, redis.TimeoutError):  # BusyLoadingError included
        return -1
    return busy


def in_flight(client: redis.Redis) -> int:
    """Jobs a worker has taken and not acknowledged yet (0 while Redis is away)."""
    try:
        return sum(client.scard(k) for k in client.scan_iter("diamond:__acks__.*"))
    except (redis.ConnectionError, redis.TimeoutError):
        return 0


def _idle(client: redis.Redis, deadline: float) -> None:
    """Every queue, delay queue and in-flight set empty (retries included)."""
    quiet_since = None
    while time.monotonic() < deadline:
        busy = _busy(client)
        if busy == 0:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > 0.3:
                return
        else:
            quiet_since = None
        time.sleep(0.05)
    left = {
        k.decode(): client.type(k).decode()
        for k in client.scan_iter("diamond:*")
        if not k.startswith((b"diamond:done", b"diamond:ledger"))
    }
    raise AssertionError(f"the story's jobs did not finish in time: {left}")


def run_story(
    forum: Any,
    clock: Clock,
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    story: Story,
    *,
    timeout: float = 40.0,
    start_worker: Callable[[dramatiq.Broker, Roster], Any] | None = None,
) -> Story:
    """Tell the story; ``start_worker(broker, roster)`` is a context manager running the
    jobs (default: a dramatiq worker in this process)."""
    live_worker(monkeypatch, forum, redis_url, tmp_path)
    # Retries come quickly here: the same policy, on a shorter clock. In the environment for
    # the worker processes a story may start; read from it afresh for this process's broker.
    monkeypatch.setenv("DIAMOND_MIN_BACKOFF_MS", "20")
    monkeypatch.setenv("DIAMOND_MAX_BACKOFF_MS", "400")
    monkeypatch.setenv("DIAMOND_RETRY_MAX_BACKOFF_MS", "400")
    quick = PipelineSettings()
    runtime.configure(read_retry=QUICK_READ_RETRY)  # the runtime's client: reads too
    broker = setup_broker(redis_url, settings=quick)
    import worker.jobs.obligations as jobs
    import worker.jobs.posts as posts

    rds = redis.Redis.from_url(redis_url)
    admin = ForumClient(forum.url, forum.api_key, "system", timeout=(2, 10))
    for name in MEMBERS:
        forum.forum.create_user(
            username=name, name=name.title(), email=f"{name}@example.org", approved=True
        )
    group = admin.create_group("sq-1", full_name="1组")
    group_id = int(group.get("basic_group", group)["id"])
    admin.add_group_members(group_id, list(MEMBERS))
    category = admin.create_category("1组", slug="sq-1", permissions={"sq-1": 1})
    category_id = int(category.get("category", category)["id"])
    admin.create_category("Audit log", slug="audit-log", permissions={"staff": 1})
    roster = story_roster(group_id, category_id)
    # The story's squad has no squad marker: the forum view remembers it (every worker
    # process of the story reads it from the same Redis).
    remember_roster(rds, roster)
    before = set(forum.forum.topics)
    deadline = time.monotonic() + timeout

    def step(name: str, actor: Any, *args: Any, **kwargs: Any) -> None:
        if story.on_step is not None:
            story.on_step(name, forum)
        message = actor.message(*args, **kwargs)
        for _ in range(story.copies):  # at-least-once: the same message, delivered again
            broker.enqueue(message)
        if story.after_enqueue is not None:
            story.after_enqueue(name, running)
        _idle(rds, deadline)

    for fault in story.faults:
        forum.add_fault(fault)
    rules = runtime.rules()
    friday, monday = (reminder_id(r) for r in rules.obligations.reminders[::2])
    with (start_worker or (lambda b, _r: _worker(b)))(broker, roster) as running:
        step("open_threads", jobs.open_threads, scheduled_for=clock.set(16, 0, 5))
        thread = Ledger(rds).threads(W47)["sq-1"]
        saved = list(forum.faults.rules)
        forum.clear_faults()  # members' own posts are not Diamond's to retry
        written = []
        for user, day, raw, reply_to in [
            ("alice", 17, ARTICLE, None),
            ("bob", 18, ARTICLE, None),
            ("carol", 19, ARTICLE, None),
            ("bob", 18, REVIEW, 2),
            ("alice", 19, REVIEW, 3),
            ("carol", 20, REVIEW, 3),
            ("bob", 20, REVIEW, 4),
        ]:
            clock.set(day, 10)
            answer = admin.as_user(user).create_post(thread, raw, reply_to_post_number=reply_to)
            written.append(int(answer["id"]))
        for rule in saved:
            forum.add_fault(rule)
        for post_id in written:  # the webhook jobs
            step("on_post", posts.on_post, post_id, "post_created")
        step("remind friday", jobs.remind, reminder=friday, scheduled_for=clock.set(20, 20))
        step("remind monday", jobs.remind, reminder=monday, scheduled_for=clock.set(23, 20))
        step("audit", jobs.weekly_audit, scheduled_for=clock.set(24, 23))
    story.injected = len(forum.faults.injected)
    forum.clear_faults()
    story.dead_letters = sum(rds.hlen(f"diamond:{q}.XQ.msgs") for q in QUEUES)
    story.effects = _effects(forum, before)
    story.strikes = Ledger(rds).histories(MEMBERS)
    return story


def story_roster(group_id: int, category_id: int) -> Roster:
    """The story's one squad (the in-process story and a worker process build it alike)."""
    return Roster((Squad("sq-1", "1组", "2026-11", MEMBERS, "alice", None, group_id, category_id),))


def story_forum(clock: Clock, seed: int = 0) -> Any:
    """A sandbox forum on a free port, on the story's clock."""
    from worker.sandbox import start_sandbox

    return start_sandbox(port=0, api_key="fault-story-key", clock=clock, seed=seed)


def clean_run(redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Story:
    """The story with no fault, on a forum of its own; Redis is flushed afterwards."""
    own_clock = Clock()
    forum = story_forum(own_clock)
    try:
        with monkeypatch.context() as patch:
            story = run_story(forum, own_clock, redis_url, tmp_path / "clean", patch, Story())
    finally:
        forum.stop()
    redis.Redis.from_url(redis_url).flushall()
    assert story.effects and story.dead_letters == 0
    return story


def assert_same_effects(story: Story, clean: Story) -> None:
    """Nothing lost, nothing twice, the same strikes, no job dead-lettered."""
    lost = clean.effects - story.effects
    doubled = story.effects - clean.effects
    assert not lost and not doubled, f"lost: {list(lost)}\ndoubled: {list(doubled)}"
    assert story.strikes == clean.strikes
    assert story.dead_letters == 0


def _effects(forum: Any, before: set[int]) -> Counter[tuple[Any, ...]]:
    """Diamond's writes: each topic and post it made, by where and what (ids left out)."""
    state = forum.forum
    out: Counter[tuple[Any, ...]] = Counter()
    with state.lock:
        system = state.find_user("system").id
        for topic in state.topics.values():
            if topic.id in before:
                continue
            names = sorted(state.users[u].username for u in topic.allowed_user_ids if u != system)
            for post_id in topic.post_ids:
                post = state.posts[post_id]
                if post.user_id != system or post.deleted_at is not None:
                    continue
                text = _IDS.sub("/t/…", _MARK.sub("", post.raw))
                out[(topic.archetype, topic.title, tuple(names), post.post_number > 1, text)] += 1
    return out
