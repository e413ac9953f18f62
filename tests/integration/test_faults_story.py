"""A squad's week under faults and duplicate deliveries ends with the effects of a clean
run: nothing lost, nothing twice, no job dead-lettered."""

from __future__ import annotations

import threading
import time
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


# The story's clock for an outage: one real second is five minutes of the forum's downtime,
# and the worker's retry waits (DIAMOND_*_BACKOFF_MS, set by run_story) shrink alike.
OUTAGE_COMPRESSION = 300


def test_a_15_minute_forum_outage_across_the_reminders_and_the_audit_ends_with_all_done_once(
    clean: Story, clock: Clock, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebuild takes the forum offline for 10-15 minutes and its proxy answers 502 to
    every call: here from Monday's thread run, from Friday's reminders and from Tuesday's
    audit, each for 15 minutes of the story's clock. Everything is done once."""
    outages: list[float] = []

    def outage(step: str, forum: Any) -> None:
        if step in ("open_threads", "remind friday", "audit"):
            rule = forum.add_fault("*:502=1")
            started = time.monotonic()
            seconds = 15 * 60 / OUTAGE_COMPRESSION

            def lift() -> None:
                forum.faults.rules.remove(rule)
                outages.append((time.monotonic() - started) * OUTAGE_COMPRESSION / 60)

            threading.Timer(seconds, lift).start()

    done = _run(Story(on_step=outage), clock, redis_url, tmp_path, monkeypatch)
    assert len(outages) == 3 and min(outages) >= 15
    assert done.injected > 0  # the forum did refuse calls meanwhile
    _compare(done, clean)
