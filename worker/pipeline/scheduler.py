"""The scheduler: cron triggers in the community's time zone that only enqueue.

Declare a periodic job next to its actor (the module is in ``ACTOR_MODULES``)::

    from worker.pipeline.scheduler import add_periodic_job
    add_periodic_job("weekly_audit", "obligations.weekly_audit",
                     day_of_week="mon", hour=9, minute=0)

The cron fields are APScheduler ``CronTrigger`` fields, read in the community's
time zone. The actor is sent ``scheduled_for=<ISO 8601 time of the run>`` (plus
any fixed ``kwargs``): which week or day a run is for comes from that, not from
the clock when the job happens to execute.

Exactly once per period, with several schedulers running:
- a leader lock in Redis (renewed while alive) lets one scheduler fire; another
  takes over within ``LEADER_TTL_SECONDS`` if it dies;
- each run claims ``diamond:periodic:<job>:<scheduled_for>`` with ``SET NX``
  before enqueueing, so a run is enqueued once even if two schedulers both fire;
- a run missed while no scheduler was up (or during a failover) is made on start
  or on taking the lead, if it is at most ``grace`` old.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from types import MappingProxyType
from typing import Any

import dramatiq
import redis
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

log = logging.getLogger(__name__)

LEADER_KEY = "diamond:scheduler:leader"
PERIOD_PREFIX = "diamond:periodic:"
LEADER_TTL_SECONDS = 30
PERIOD_KEY_TTL_SECONDS = 40 * 24 * 3600  # longer than any period plus grace

# Take the lead if free, or keep it if ours. 1 = we lead (2 = just became leader).
_LEAD = """
local holder = redis.call('get', KEYS[1])
if holder == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 2
end
return 0
"""
_RESIGN = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class PeriodicJob:
    name: str  # stable: it is part of the once-per-period key
    actor: str
    cron: Mapping[str, Any]
    kwargs: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def trigger(self, tz: tzinfo) -> CronTrigger:
        return CronTrigger(timezone=tz, **self.cron)


PERIODIC_JOBS: dict[str, PeriodicJob] = {}


# crontab's day-of-week numbers (0 and 7 = Sunday); APScheduler's own numbers start at
# Monday, so a moderator's "0 9 * * 1" must be translated, not passed through.
_CRON_DAYS = {"0": "sun", "1": "mon", "2": "tue", "3": "wed", "4": "thu", "5": "fri", "6": "sat"}
_CRON_DAYS["7"] = "sun"


def cron_fields(expr: str) -> dict[str, str]:
    """A 5-field crontab from rules/ as APScheduler ``CronTrigger`` fields (0 = Sunday)."""
    minute, hour, day, month, day_of_week = expr.split()
    day_of_week = re.sub(r"\d+", lambda m: _CRON_DAYS.get(m.group(0), m.group(0)), day_of_week)
    return {"minute": minute, "hour": hour, "day": day, "month": month, "day_of_week": day_of_week}


def add_periodic_job(
    name: str, actor: str, *, kwargs: Mapping[str, Any] | None = None, **cron: Any
) -> PeriodicJob:
    """Run ``actor`` on a cron schedule (``CronTrigger`` fields: minute, hour, day_of_week...)."""
    if not cron:
        raise ValueError(f"periodic job {name!r}: give at least one cron field")
    CronTrigger(**cron)  # a typo in a field fails here, at import, not at the first run
    job = PeriodicJob(
        name, actor, MappingProxyType(dict(cron)), MappingProxyType(dict(kwargs or {}))
    )
    PERIODIC_JOBS[name] = job
    return job


def due_runs(trigger: CronTrigger, since: datetime, until: datetime) -> list[datetime]:
    """Fire times of ``trigger`` in ``(since, until]``, oldest first."""
    runs: list[datetime] = []
    previous = None
    moment = trigger.get_next_fire_time(None, since + timedelta(microseconds=1))
    while moment is not None and moment <= until:
        runs.append(moment)
        previous = moment
        moment = trigger.get_next_fire_time(previous, previous + timedelta(microseconds=1))
    return runs


class Scheduler:
    """Fires periodic jobs into dramatiq; several may run, one leads."""

    def __init__(
        self,
        broker: dramatiq.Broker,
        redis_client: redis.Redis,
        tz: tzinfo,
        *,
        jobs: Mapping[str, PeriodicJob] | None = None,
        grace: timedelta = timedelta(hours=1),
        leader_ttl_seconds: float = LEADER_TTL_SECONDS,
        clock: Any = None,
    ) -> None:
        self.broker = broker
        self.redis = redis_client
        self.tz = tz
        self.jobs = dict(PERIODIC_JOBS if jobs is None else jobs)
        self.grace = grace
        self.leader_ttl_ms = int(leader_ttl_seconds * 1000)
        self.token = uuid.uuid4().hex
        self._now = clock or (lambda: datetime.now(self.tz))
        self._lead_script = redis_client.register_script(_LEAD)
        self._resign_script = redis_client.register_script(_RESIGN)
        self._fire_lock = threading.Lock()
        self._aps: BackgroundScheduler | None = None

    # --- leadership -------------------------------------------------------------

    def lead(self) -> bool:
        """Take or keep the lead; on taking it, make the runs missed within the grace."""
        try:
            state = int(self._lead_script(keys=[LEADER_KEY], args=[self.token, self.leader_ttl_ms]))
        except redis.RedisError as exc:
            log.warning("scheduler: Redis unreachable, not firing (%s)", exc)
            return False
        if state == 2:
            log.info("scheduler: leading (token %s)", self.token[:8])
            self.catch_up()
        return state > 0

    def resign(self) -> None:
        with contextlib.suppress(redis.RedisError):  # else the lead expires by itself
            self._resign_script(keys=[LEADER_KEY], args=[self.token])

    # --- firing -------------------------------------------------------------------

    def fire(self, job: PeriodicJob, scheduled_for: datetime) -> bool:
        """Enqueue one run of ``job`` unless this period's run was already enqueued."""
        stamp = scheduled_for.astimezone(self.tz).isoformat()
        key = f"{PERIOD_PREFIX}{job.name}:{stamp}"
        if not self.redis.set(key, self.token, nx=True, ex=PERIOD_KEY_TTL_SECONDS):
            return False
        try:
            actor = self.broker.get_actor(job.actor)
            actor.send_with_options(kwargs={**job.kwargs, "scheduled_for": stamp})
        except Exception:
            self.redis.delete(key)  # let a retry or the catch-up make this run
            raise
        log.info("scheduler: enqueued %s for %s", job.name, stamp)
        return True

    def tick(self, name: str) -> None:
        """APScheduler's callback: make the latest due run of ``name`` if we lead."""
        job = self.jobs[name]
        with self._fire_lock:
            if not self.lead():
                return
            now = self._now()
            runs = due_runs(job.trigger(self.tz), now - self.grace, now)
            if runs:
                self._fire_logged(job, runs[-1])

    def catch_up(self) -> int:
        """Make, for each job, its latest run within the grace that nobody made."""
        now = self._now()
        made = 0
        for job in self.jobs.values():
            runs = due_runs(job.trigger(self.tz), now - self.grace, now)
            if runs and self._fire_logged(job, runs[-1]):
                made += 1
        return made

    def _fire_logged(self, job: PeriodicJob, scheduled_for: datetime) -> bool:
        try:
            return self.fire(job, scheduled_for)
        except Exception:
            log.exception("scheduler: could not enqueue %s; it will be retried", job.name)
            return False

    # --- running ------------------------------------------------------------------

    def start(self) -> BackgroundScheduler:
        aps = BackgroundScheduler(timezone=self.tz)
        for job in self.jobs.values():
            aps.add_job(
                self.tick,
                job.trigger(self.tz),
                args=[job.name],
                id=job.name,
                misfire_grace_time=int(self.grace.total_seconds()),
                coalesce=True,
                max_instances=1,
            )
        # Keep (or take) the lead between fires, so a standby only takes over on failure.
        aps.add_job(
            self.lead,
            "interval",
            seconds=max(1.0, self.leader_ttl_ms / 3000),
            id="__leader__",
            max_instances=1,
            coalesce=True,
        )
        aps.start()
        self._aps = aps
        with self._fire_lock:
            self.lead()
        return aps

    def stop(self) -> None:
        if self._aps is not None:
            self._aps.shutdown(wait=False)
            self._aps = None
        self.resign()
