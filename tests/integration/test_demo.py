"""`diamond demo`: the cast, simulated time, the stack's processes, and a short story end to end.

The full demo (80 applicants, four weeks) is `make demo`; here a small cohort and one
week run through the real pipeline (sandbox webhooks → receiver → Redis → worker →
client → sandbox) in about fifteen seconds.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis

from worker.demo.context import Agenda, Demo
from worker.demo.people import CastSize, make_cast
from worker.demo.stack import DEMO_MARKER_KEY, DemoError, DemoStack, StackOptions
from worker.demo.timeline import SimulatedTime, is_frequent
from worker.engine.gating import normalise_email
from worker.pipeline.scheduler import PeriodicJob

SHANGHAI = ZoneInfo("Asia/Shanghai")
APPROVED_KINDS = ("good", "disposable", "unpaid")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by a parent that is gone) is not running.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except OSError:
        return False


# ---------------------------------------------------------------------- the cast


def test_full_cast_has_eighty_applicants_of_every_kind_in_the_brief() -> None:
    cast = make_cast(CastSize.full())
    kinds = Counter(a.kind for a in cast.applicants)
    assert len(cast.applicants) == 80
    for kind in ("good", "promoter", "short", "no_referrer", "over_quota", "notes_only"):
        assert kinds[kind] >= 1, kind
    habits = Counter(a.habit for a in cast.applicants if a.kind == "good")
    assert {"diligent", "misser", "dropout", "digest"} <= set(habits)
    assert Counter(a.camp for a in cast.applicants)["absent"] >= 1


def test_no_referrer_has_more_approvals_than_the_monthly_quota_but_over_quota_ones() -> None:
    cast = make_cast(CastSize.full())
    approved = Counter(a.referrer for a in cast.applicants if a.kind in APPROVED_KINDS)
    assert max(approved.values()) <= 3
    for person in cast.by_kind("over_quota"):
        assert approved[person.referrer] == 3  # the referrer's quota is already used up


def test_flawed_applicants_are_referred_by_founders_with_spare_quota() -> None:
    cast = make_cast(CastSize.full())
    approved = Counter(a.referrer for a in cast.applicants if a.kind in APPROVED_KINDS)
    for kind in ("short", "notes_only", "duplicate", "promoter"):
        for person in cast.by_kind(kind):
            assert approved[person.referrer] == 0, (kind, person.referrer)


def test_duplicate_applicant_shares_a_normalised_inbox_with_an_earlier_one() -> None:
    cast = make_cast(CastSize.full())
    (duplicate,) = cast.by_kind("duplicate")
    others = {normalise_email(a.email) for a in cast.applicants if a is not duplicate}
    assert normalise_email(duplicate.email) in others
    assert duplicate.email not in {a.email for a in cast.applicants if a is not duplicate}


def test_cast_is_the_same_for_the_same_seed_and_differs_for_another() -> None:
    assert make_cast(seed=3) == make_cast(seed=3)
    assert make_cast(seed=3).applicants != make_cast(seed=4).applicants


# ---------------------------------------------------------------------- time


def test_agenda_runs_moments_in_time_order_then_by_order_then_as_added() -> None:
    agenda, ran = Agenda(), []
    t = datetime(2026, 3, 1, 9, tzinfo=SHANGHAI)
    agenda.at(t + timedelta(hours=1), "late", lambda: ran.append("late"))
    agenda.at(t, "second", lambda: ran.append("second"))
    agenda.at(t, "header", lambda: ran.append("header"), order=0)
    agenda.at(t, "third", lambda: ran.append("third"))
    while (entry := agenda.pop()) is not None:
        entry.action()
    assert ran == ["header", "second", "third", "late"]


@pytest.mark.integration
def test_simulated_time_fires_each_due_run_at_its_moment_and_sub_hourly_jobs_once_a_day(
    redis_client: redis.Redis,
) -> None:
    jobs = {
        "daily": PeriodicJob("daily", "x.daily", {"hour": "9", "minute": "0"}),
        "often": PeriodicJob("often", "x.often", {"minute": "*/5"}),
    }
    start = datetime(2026, 3, 1, 8, tzinfo=SHANGHAI)
    fired: list[tuple[str, datetime]] = []
    settled = []

    class Broker:  # records what the scheduler enqueues, at the simulated time it did
        def get_actor(self, name: str):
            class Actor:
                def send_with_options(self, kwargs):
                    fired.append((name, sim.now))

            return Actor()

    sim = SimulatedTime(
        redis_client, Broker(), SHANGHAI, start, settle=lambda: settled.append(1), jobs=jobs
    )
    assert is_frequent(jobs["often"], SHANGHAI, start) and sim.frequent == {"often"}
    sim.advance_to(start + timedelta(days=2))
    assert fired == [
        ("x.daily", datetime(2026, 3, 1, 9, tzinfo=SHANGHAI)),
        ("x.often", datetime(2026, 3, 2, 3, tzinfo=SHANGHAI)),
        ("x.daily", datetime(2026, 3, 2, 9, tzinfo=SHANGHAI)),
        ("x.often", datetime(2026, 3, 3, 3, tzinfo=SHANGHAI)),
    ]
    assert sim.now == start + timedelta(days=2)
    assert len(settled) == 5  # before each run, and once at the end
    with pytest.raises(ValueError):
        sim.advance_to(start)


# ---------------------------------------------------------------------- the stack


@pytest.mark.integration
def test_stack_refuses_an_external_redis_holding_someone_elses_data(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = redis.Redis.from_url(redis_url)
    client.set("production:data", "precious")
    monkeypatch.setenv("DIAMOND_REDIS_URL", redis_url)
    with pytest.raises(DemoError, match="not the demo's"):
        DemoStack.start(tmp_path)
    assert client.get("production:data") == b"precious"


@pytest.mark.integration
def test_stack_starts_twice_in_fresh_directories_and_leaves_no_process_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DIAMOND_REDIS_URL", raising=False)
    monkeypatch.setenv("DIAMOND_FORUM_URL", "https://real-forum.example.org")  # must not leak
    pids: list[int] = []
    for run in ("first", "second"):
        stack = DemoStack.start(tmp_path / run, StackOptions(worker_threads=2))
        try:
            assert stack.env["DIAMOND_FORUM_URL"] == stack.sandbox.url
            assert stack.redis.get(DEMO_MARKER_KEY) == b"1"
            assert not stack.redis.exists("diamond:test:left-by-the-first-run")
            stack.redis.set("diamond:test:left-by-the-first-run", 1)
            assert all(_alive(pid) for pid in stack.child_pids())
            pids += [*stack.child_pids(), stack.redis_server.process.pid]
            with pytest.raises(KeyboardInterrupt):  # Ctrl-C in the middle of the story
                raise KeyboardInterrupt
        finally:
            stack.stop()
        stack.stop()  # a second stop is harmless
    assert not [pid for pid in pids if _alive(pid)]


# ---------------------------------------------------------------------- a short story


@pytest.mark.integration
def test_short_story_runs_through_the_real_pipeline_and_stops_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from worker.demo.run import DemoOptions, run_demo

    monkeypatch.delenv("DIAMOND_REDIS_URL", raising=False)
    seen: dict[str, object] = {}

    def inspect(demo: Demo) -> None:
        seen["pids"] = demo.stack.child_pids()
        seen["deliveries"] = Counter(d.status for d in demo.stack.sandbox.deliveries())
        forum = demo.stack.sandbox.forum
        with forum.lock:
            seen["pm_titles"] = [
                t.title for t in forum.topics.values() if t.archetype == "private_message"
            ]
        seen["community"] = demo.rules.community.name

    result = run_demo(DemoOptions.smoke(workdir=tmp_path, quiet=True, inspect=inspect))

    outcomes = result.facts["gate_outcomes_day0"]
    cast = make_cast(CastSize.small())
    for person in cast.applicants:
        if person.confirms == "never":  # never confirmed their email: never gated
            expected: tuple[str, ...] = ("unconfirmed",)
        else:
            expected = ("camp",) if person.kind == "good" else ("rejected", "held")
        assert outcomes[person.username] in expected, person
    assert result.facts["squads_formed"], "the cohort was split into squads"
    week = result.facts["weeks"][1]
    assert week["articles"] >= week["members"] - 2  # the misser and the dropout may skip
    assert seen["deliveries"][202] > 50  # webhooks were queued by the receiver
    assert result.failed_jobs == 0
    assert result.forum_calls, "Diamond's calls were counted"
    assert any(line.startswith("Applicants: 12") for line in result.summary)
    assert (tmp_path / "logs" / "worker.log").stat().st_size > 0
    assert not [pid for pid in seen["pids"] if _alive(pid)]
    # What members receive: every PM says what it is about; the leave asked in time is
    # granted and the one asked too late refused, each answered; the roll call is shown.
    assert seen["pm_titles"] and seen["community"] not in seen["pm_titles"]
    leave = [line for line in result.summary if line.startswith("Leave: ")]
    assert len(leave) == 2 and "已批准" in leave[0] and "未批准" in leave[1], leave
    assert any(line.startswith("Roll call of ") for line in result.summary)


@pytest.mark.integration
def test_a_compressed_budget_window_reaches_diamonds_rate_limiter(
    redis_client: redis.Redis,
) -> None:
    from worker.forum.client import ForumClient
    from worker.settings import load_settings

    settings = load_settings(
        forum_url="http://127.0.0.1:9", api_key="k" * 8, api_window_seconds=2.5
    )
    limiter = ForumClient.from_settings(settings, redis_client).limiter
    assert (limiter.limit, limiter.period) == (50, 2.5)
