"""A squad's week under faults and duplicate deliveries ends with the effects of a clean
run: nothing lost, nothing twice, no job dead-lettered."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from tests.support.fault_story import (
    Clock,
    Story,
    assert_same_effects,
    clean_run,
    run_story,
    story_forum,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def clean(redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Story:
    """The clean run's effects (own forum, Redis flushed afterwards)."""
    return clean_run(redis_url, tmp_path, monkeypatch)


_compare = assert_same_effects


def _run(story: Story, clock: Clock, redis_url: str, tmp_path: Path, monkeypatch: Any) -> Story:
    forum = story_forum(clock, seed=19)
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
