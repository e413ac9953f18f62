"""A squad's week under faults and duplicate deliveries ends with the effects of a clean
run: nothing lost, nothing twice, no job dead-lettered."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fault_story import Clock, Story, run_story

pytestmark = pytest.mark.integration


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _forum(clock: Clock, seed: int = 0) -> Any:
    from worker.sandbox import start_sandbox

    return start_sandbox(port=0, api_key="fault-story-key", clock=clock, seed=seed)


@pytest.fixture
def clean(redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Story]:
    """The clean run's effects (own forum, Redis flushed afterwards)."""
    import redis

    own_clock = Clock()
    forum = _forum(own_clock)
    try:
        with monkeypatch.context() as patch:
            story = run_story(forum, own_clock, redis_url, tmp_path / "clean", patch, Story())
    finally:
        forum.stop()
    redis.Redis.from_url(redis_url).flushall()
    assert story.effects and story.dead_letters == 0
    yield story


def _compare(story: Story, clean: Story) -> None:
    lost = clean.effects - story.effects
    doubled = story.effects - clean.effects
    assert not lost and not doubled, f"lost: {list(lost)}\ndoubled: {list(doubled)}"
    assert story.strikes == clean.strikes
    assert story.dead_letters == 0


def _run(story: Story, clock: Clock, redis_url: str, tmp_path: Path, monkeypatch: Any) -> Story:
    forum = _forum(clock, seed=19)
    try:
        return run_story(forum, clock, redis_url, tmp_path / "faulty", monkeypatch, story)
    finally:
        forum.stop()


def test_every_job_delivered_twice_at_once_has_the_effect_of_one(
    clean: Story, clock: Clock, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _compare(_run(Story(copies=2), clock, redis_url, tmp_path, monkeypatch), clean)


def test_a_story_under_500s_and_429s_ends_as_a_clean_run(
    clean: Story, clock: Clock, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    story = Story(faults=("*:500=0.2,502=0.1,429=0.1,wait=1",))
    _compare(_run(story, clock, redis_url, tmp_path, monkeypatch), clean)


def test_write_answers_lost_after_the_forum_committed_them_double_no_pm_or_post(
    clean: Story, clock: Clock, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A tenth of all writes, and more of the posts and PMs: the story makes only about a
    # dozen of those, and a tenth of a dozen may well lose none.
    writes = ("POST *:lost=0.1", "PUT *:lost=0.1", "DELETE *:lost=0.1")
    story = Story(faults=("POST /posts.json:lost=0.3", *writes))
    done = _run(story, clock, redis_url, tmp_path, monkeypatch)
    assert done.injected >= 2
    _compare(done, clean)


def test_a_forum_outage_across_the_friday_reminders_and_the_audit_ends_with_all_done_once(
    clean: Story, clock: Clock, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A rebuild takes the forum offline for 10-15 minutes and its proxy answers 502 to
    # every call; here the outage lasts 3 s of a story whose retries are compressed alike.
    def outage(step: str, forum: Any) -> None:
        if step in ("remind friday", "audit"):
            rule = forum.add_fault("*:502=1")
            threading.Timer(3.0, lambda: forum.faults.rules.remove(rule)).start()

    story = Story(on_step=outage)
    _compare(_run(story, clock, redis_url, tmp_path, monkeypatch), clean)
