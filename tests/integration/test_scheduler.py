"""The scheduler: once per period across several schedulers, catch-up within the grace."""

from __future__ import annotations

import itertools
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis
from dramatiq.message import Message

from worker.pipeline import probe
from worker.pipeline.broker import setup_broker
from worker.pipeline.jobs import load_actors
from worker.pipeline.scheduler import (
    LEADER_KEY,
    PERIODIC_JOBS,
    PeriodicJob,
    Scheduler,
    add_periodic_job,
    due_runs,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.integration


def job(name: str = "weekly_audit", **cron: object) -> dict[str, PeriodicJob]:
    return {name: PeriodicJob(name, "probe.seen_schedule", cron or {"hour": 9, "minute": 0})}


def sent(client: redis.Redis) -> list[dict]:
    """kwargs of every message waiting on the probe queue, oldest first."""
    messages = [Message.decode(raw) for raw in client.hvals(f"diamond:{probe.QUEUE}.msgs")]
    return [m.kwargs for m in sorted(messages, key=lambda m: m.message_timestamp)]


@pytest.fixture
def broker(redis_url: str):
    broker = setup_broker(redis_url)
    load_actors(["worker.pipeline.probe"])
    return broker


def clock(at: datetime):
    return lambda: at


def test_run_enqueued_twice_in_one_period_is_enqueued_once(broker, redis_client) -> None:
    scheduler = Scheduler(broker, redis_client, SHANGHAI, jobs=job())
    run = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
    assert scheduler.fire(scheduler.jobs["weekly_audit"], run) is True
    assert scheduler.fire(scheduler.jobs["weekly_audit"], run) is False
    assert sent(redis_client) == [{"scheduled_for": "2026-03-02T09:00:00+08:00"}]


def test_cron_fields_are_read_in_the_community_time_zone(broker, redis_client) -> None:
    # 09:00 in Shanghai is 01:00 UTC; a UTC clock at 01:05 is 5 minutes after the run.
    now = datetime(2026, 3, 2, 1, 5, tzinfo=ZoneInfo("UTC"))
    scheduler = Scheduler(broker, redis_client, SHANGHAI, jobs=job(), clock=clock(now))
    assert scheduler.catch_up() == 1
    assert sent(redis_client) == [{"scheduled_for": "2026-03-02T09:00:00+08:00"}]


def test_missed_run_within_the_grace_is_caught_up_once(broker, redis_client) -> None:
    now = datetime(2026, 3, 2, 9, 40, tzinfo=SHANGHAI)
    for _ in range(2):  # a restart, then another: still one run
        scheduler = Scheduler(
            broker, redis_client, SHANGHAI, jobs=job(), grace=timedelta(hours=1), clock=clock(now)
        )
        scheduler.lead()
        redis_client.delete(LEADER_KEY)
    assert sent(redis_client) == [{"scheduled_for": "2026-03-02T09:00:00+08:00"}]


def test_run_missed_by_more_than_the_grace_is_skipped(broker, redis_client) -> None:
    now = datetime(2026, 3, 2, 10, 30, tzinfo=SHANGHAI)
    scheduler = Scheduler(
        broker, redis_client, SHANGHAI, jobs=job(), grace=timedelta(hours=1), clock=clock(now)
    )
    assert scheduler.catch_up() == 0
    assert sent(redis_client) == []


def test_only_one_scheduler_leads(broker, redis_client) -> None:
    first = Scheduler(broker, redis_client, SHANGHAI, jobs=job())
    second = Scheduler(broker, redis_client, SHANGHAI, jobs=job())
    assert first.lead() and not second.lead()
    first.resign()
    assert second.lead()


def test_a_standby_takes_the_lead_when_the_leader_dies_and_makes_the_missed_run(
    broker, redis_client
) -> None:
    now = datetime(2026, 3, 2, 9, 10, tzinfo=SHANGHAI)
    before = clock(datetime(2026, 3, 2, 8, 50, tzinfo=SHANGHAI))
    leader = Scheduler(
        broker, redis_client, SHANGHAI, jobs=job(), leader_ttl_seconds=0.3, clock=before
    )
    standby = Scheduler(
        broker, redis_client, SHANGHAI, jobs=job(), leader_ttl_seconds=0.3, clock=clock(now)
    )
    assert leader.lead() and not standby.lead()
    time.sleep(0.4)  # the leader died at 09:00 without firing or resigning
    assert standby.lead()
    assert sent(redis_client) == [{"scheduled_for": "2026-03-02T09:00:00+08:00"}]


def test_two_schedulers_running_fire_each_periodic_job_once_per_period(
    broker, redis_url: str, redis_client: redis.Redis
) -> None:
    every_second = {
        "a": PeriodicJob("a", "probe.seen_schedule", {"second": "*"}),
        "b": PeriodicJob("b", "probe.seen_schedule", {"second": "*/2"}, {"tag": "b"}),
    }
    schedulers = [
        Scheduler(broker, redis.Redis.from_url(redis_url), SHANGHAI, jobs=every_second)
        for _ in range(2)
    ]
    for scheduler in schedulers:
        scheduler.start()
    try:
        time.sleep(3.3)
    finally:
        for scheduler in schedulers:
            scheduler.stop()
    runs = sent(redis_client)
    a_runs = [r["scheduled_for"] for r in runs if "tag" not in r]
    b_runs = [r["scheduled_for"] for r in runs if r.get("tag") == "b"]
    assert len(a_runs) >= 3 and len(b_runs) >= 1
    assert len(a_runs) == len(set(a_runs)) and len(b_runs) == len(set(b_runs))
    # Seconds are consecutive: none skipped, none doubled.
    stamps = sorted(datetime.fromisoformat(s) for s in a_runs)
    assert all(b - a == timedelta(seconds=1) for a, b in itertools.pairwise(stamps))


def test_due_runs_lists_fire_times_in_the_window() -> None:
    trigger = PeriodicJob("x", "a", {"minute": "*/5"}).trigger(SHANGHAI)
    since = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
    runs = due_runs(trigger, since, since + timedelta(minutes=12))
    assert [r.minute for r in runs] == [5, 10]


def test_a_typo_in_a_cron_field_fails_at_declaration() -> None:
    with pytest.raises(ValueError):
        add_periodic_job("broken", "probe.seen_schedule", hour=25)
    assert "broken" not in PERIODIC_JOBS


def test_catch_up_scan_is_a_periodic_job() -> None:
    load_actors()
    assert PERIODIC_JOBS["catchup_scan"].actor == "catchup.catchup_scan"


def test_camp_check_cron_uses_crontab_day_numbers_not_apschedulers() -> None:
    from worker.pipeline.scheduler import cron_fields

    # crontab 1 = Monday; APScheduler's own 1 would be Tuesday
    assert cron_fields("0 9 * * 1")["day_of_week"] == "mon"
    assert cron_fields("0 9 * * 1-5")["day_of_week"] == "mon-fri"
    assert cron_fields("0 9 * * 7")["day_of_week"] == "sun"
