"""Sign-up to squads on the sandbox forum through the real pipeline:
sandbox webhook → signed receiver → Redis → dramatiq worker → ForumClient → sandbox."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import dramatiq
import pytest
import redis
from werkzeug.serving import make_server

from tests.support.scenario import ScenarioReport, run_cohort
from tests.support.steps import step_ctx
from tests.support.world import API_KEY, ROOT, SECRET, World, membership_world
from worker.engine.facts import Roster
from worker.pipeline import runtime
from worker.pipeline.broker import setup_broker
from worker.pipeline.jobs import load_actors
from worker.pipeline.receiver import Receiver, ReceiverConfig
from worker.reads.forum_view import load_roster
from worker.rules import Rules
from worker.settings import Settings
from worker.state.membership import MembershipStore
from worker.steps import form_squads

pytestmark = pytest.mark.integration
SH = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 2, 10, 0, tzinfo=SH)
QUEUE = "membership"
QUEUES = (QUEUE, "posts")  # post events go to the one post actor (worker.jobs.posts)


@dataclass
class PipelineDiamond:
    """Diamond as deployed: only webhooks and the scheduler's enqueue reach it."""

    world: World
    broker: dramatiq.Broker
    worker: dramatiq.Worker

    @property
    def client(self) -> Any:
        return self.world.client

    @property
    def redis(self) -> redis.Redis:
        return self.world.redis

    @property
    def rules(self) -> Rules:
        return self.world.rules

    def set_now(self, moment: datetime) -> None:
        self.world.set_now(moment)

    def settle(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        quiet = 0
        while quiet < 2:  # two quiet rounds: an actor may have enqueued another
            assert time.monotonic() < deadline, "pipeline did not settle"
            self.world.sandbox.wait_idle(timeout=10)
            before = sum(len(self.world.sandbox.deliveries()) for _ in (0,))
            for queue in QUEUES:
                self.broker.join(queue, timeout=int(timeout * 1000))
            self.worker.join()
            self.world.sandbox.wait_idle(timeout=10)
            quiet = quiet + 1 if len(self.world.sandbox.deliveries()) == before else 0

    def applicant_signed_up(self, user_id: int) -> None:
        return None  # the user_created webhook carries it

    def posted(self, post_id: int) -> None:
        return None  # the post_created webhook carries it

    def camp_check(self, now: datetime) -> None:
        # What the scheduler does at camp.check_schedule: enqueue, with the run's time.
        self.broker.get_actor("membership.camp_check").send(scheduled_for=now.isoformat())


@pytest.fixture
def pipeline(redis_url: str, redis_client: redis.Redis) -> Iterator[PipelineDiamond]:
    broker = setup_broker(redis_url)
    load_actors()
    receiver = Receiver(ReceiverConfig(secret=SECRET, api_username="system"), broker, redis_client)
    server = make_server("127.0.0.1", 0, receiver, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/webhooks/discourse"
    worker = None
    try:
        with membership_world(redis_client, START, receiver_url=url) as world:
            runtime.configure(
                redis_url=redis_url,
                settings_obj=Settings(
                    forum_url=world.sandbox.url,
                    api_key=API_KEY,
                    api_username="system",
                    redis_url=redis_url,
                    rules_dir=ROOT / "rules",
                    mode="live",
                    api_requests_per_minute=10_000,
                ),
            )
            worker = dramatiq.Worker(
                broker, queues=set(QUEUES), worker_threads=4, worker_timeout=50
            )
            worker.start()
            yield PipelineDiamond(world, broker, worker)
    finally:
        if worker is not None:
            worker.stop(timeout=5_000)
        server.shutdown()


def _audit_topics(world: World) -> list[Any]:
    forum = world.sandbox.forum
    with forum.lock:
        audit = next(c for c in forum.categories.values() if c.slug == "audit-log")
        return [t for t in forum.topics.values() if t.category_id == audit.id]


def _raw_of(world: World, topic: Any) -> str:
    forum = world.sandbox.forum
    with forum.lock:
        return forum.posts[topic.post_ids[0]].raw


def test_a_cohort_goes_from_signup_to_private_squads(pipeline: PipelineDiamond) -> None:
    world = pipeline.world
    report: ScenarioReport = run_cohort(world.people, pipeline, start=START, n=20, seed=3)
    forum = world.sandbox.forum

    # Gating: every decision as the rules say, each explained in the audit log.
    for p in report.people:
        assert report.decisions[p.username] == p.expected, p
    audit = _audit_topics(world)
    for p in report.people:
        assert any(re.search(rf"@{p.username}(?!\w)", t.title) for t in audit), p.username
    held = [p for p in report.people if p.expected == "hold"]
    rejected = [p for p in report.people if p.expected == "reject"]
    with forum.lock:
        for p in held:
            user = forum.find_user(p.username)
            assert user is not None and not user.approved  # stays pending for a human
        for p in rejected:
            assert forum.find_user(p.username) is None  # deleted
    short = next(p for p in held if p.kind == "short")
    summary = next(t for t in audit if f"@{short.username}" in t.title)
    assert "application.min_length" in _raw_of(world, summary)

    # Camp: diligent and late campers pass (late after the extension), lazy ones leave.
    approved = [p for p in report.people if p.expected == "approve"]
    for p in approved:
        assert report.camp[p.username] == ("removed" if p.camp == "lazy" else "passed"), p
    assert any(p.camp == "late" for p in approved)

    # Squads: everyone who passed is in exactly one squad, with a leader who owns it.
    passed = sorted(u for u, state in report.camp.items() if state == "passed")
    placed = sorted(u for members in report.squads.values() for u in members)
    assert placed == passed
    roster = load_roster(world.client, world.rules)
    assert all(s.leader in s.members for s in roster.squads)

    # Each squad's category: its members read it, other members and campers cannot.
    squad = roster.squads[0]
    outsider = next(u for u in passed if u not in squad.members)
    inside = world.people.as_user(squad.members[0])
    outside = world.people.as_user(outsider)
    assert squad.category_id is not None
    assert inside.get_category(squad.category_id)["id"] == squad.category_id
    with pytest.raises(Exception):  # noqa: B017 - 403/404, both mean "cannot read"
        outside.get_category(squad.category_id)
    assert squad.slug not in {c["slug"] for c in outside.list_categories()}
    with forum.lock:
        category = forum.categories[squad.category_id]
        lead = forum.find_group(f"{squad.slug}-lead")
        assert lead is not None and category.moderating_group_ids == [lead.id]
        assert forum.find_user(squad.leader).id in forum.find_group(squad.slug).owners  # type: ignore[union-attr]

    # Re-running formation changes nothing (no writes at all).
    store = MembershipStore(world.redis)
    (cohort,) = store.cohorts()
    again = form_squads.run(step_ctx(world.client, world.redis, world.rules), cohort)
    assert not again.plan.changed and again.report.done == []
    assert Roster(roster.squads) == load_roster(world.client, world.rules)
