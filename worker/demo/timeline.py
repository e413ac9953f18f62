"""Simulated time: the shared clock moves forward and the scheduler fires what falls due.

``SimulatedTime.advance_to(when)`` walks from the current simulated time to
``when``. On the way, every periodic job that falls due (``PERIODIC_JOBS``,
declared by the domain modules next to their actors) is fired at its own
moment by the real ``worker.pipeline.scheduler.Scheduler`` (once-per-period
key, ``scheduled_for``, enqueue on Redis), after the pipeline has settled, with
the clock set to that moment. So a Sunday-night deadline sees everything posted
before it, and a Tuesday audit runs on Tuesday, however fast the demo goes.

Jobs that run more often than hourly in production (the catch-up scan, every
few minutes) would fire thousands of times over simulated weeks; they fire once
a simulated day instead, at ``FREQUENT_JOB_TIME``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, time, timedelta, tzinfo

import dramatiq
import redis

from worker import clock
from worker.pipeline.scheduler import PeriodicJob, Scheduler, due_runs

log = logging.getLogger(__name__)

FREQUENT_JOB_TIME = time(3, 0)  # local time of the daily run of a sub-hourly job


def is_frequent(job: PeriodicJob, tz: tzinfo, sample_day: datetime) -> bool:
    start = sample_day.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    return len(due_runs(job.trigger(tz), start, start + timedelta(days=1))) > 24


class SimulatedTime:
    def __init__(
        self,
        redis_client: redis.Redis,
        broker: dramatiq.Broker,
        tz: tzinfo,
        start: datetime,
        *,
        settle: Callable[[], None],
        jobs: Mapping[str, PeriodicJob] | None = None,
        on_fire: Callable[[PeriodicJob, datetime], None] | None = None,
    ) -> None:
        self.redis = redis_client
        self.tz = tz
        self.settle = settle  # waits until the pipeline is idle
        self.on_fire = on_fire
        self.scheduler = Scheduler(
            broker, redis_client, tz, jobs=jobs, clock=lambda: clock.now(redis_client)
        )
        self.frequent = {
            name for name, job in self.scheduler.jobs.items() if is_frequent(job, tz, start)
        }
        self.fired: list[tuple[str, datetime]] = []
        clock.set_simulated_now(redis_client, start)

    @property
    def now(self) -> datetime:
        return clock.now(self.redis).astimezone(self.tz)

    def jobs(self) -> list[str]:
        return sorted(self.scheduler.jobs)

    def due(self, since: datetime, until: datetime) -> list[tuple[datetime, PeriodicJob]]:
        """Runs in ``(since, until]``, oldest first (frequent jobs: once a day)."""
        runs: list[tuple[datetime, PeriodicJob]] = []
        for name, job in self.scheduler.jobs.items():
            if name in self.frequent:
                day = since.astimezone(self.tz).date()
                while True:
                    moment = datetime.combine(day, FREQUENT_JOB_TIME, tzinfo=self.tz)
                    if moment > until:
                        break
                    if moment > since:
                        runs.append((moment, job))
                    day += timedelta(days=1)
            else:
                runs.extend(
                    (moment, job) for moment in due_runs(job.trigger(self.tz), since, until)
                )
        return sorted(runs, key=lambda run: (run[0], run[1].name))

    def advance_to(self, when: datetime) -> None:
        """Move the clock to ``when``, firing every periodic run due on the way."""
        current = clock.now(self.redis)
        if when < current:
            raise ValueError(f"simulated time only moves forward ({when} < {current})")
        for moment, job in self.due(current, when):
            self.settle()
            clock.set_simulated_now(self.redis, moment)
            if self.scheduler.fire(job, moment):
                self.fired.append((job.name, moment))
                if self.on_fire is not None:
                    self.on_fire(job, moment)
        self.settle()
        clock.set_simulated_now(self.redis, when)

    def at(self, day: datetime, hour: int, minute: int = 0) -> datetime:
        """``day``'s date at a local time."""
        local = day.astimezone(self.tz)
        return local.replace(hour=hour, minute=minute, second=0, microsecond=0)
