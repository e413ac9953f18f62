"""The scheduler: cron triggers in the community's time zone that only enqueue.

Declare a periodic job next to its actor (the module is in ``ACTOR_MODULES``)::

    from worker.pipeline.scheduler import add_periodic_job
    add_periodic_job("weekly_audit", "obligations.weekly_audit",
                     day_of_week="mon", hour=9, minute=0)

Jobs whose times come from ``rules/`` are declared by a *schedule source*
instead (``add_schedule_source(fn)``, ``fn(rules) -> [PeriodicJob]``): a running
scheduler re-reads the rules and re-registers those jobs when the files change
(``Scheduler.refresh``), logging what was added, moved or removed.

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
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypedDict

import dramatiq
import redis
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from worker.pipeline import health
from worker.state import keys as redis_keys

if TYPE_CHECKING:
    from worker.rules import Rules

log = logging.getLogger(__name__)

LEADER_KEY = redis_keys.SCHEDULER_LEADER
PERIOD_PREFIX = redis_keys.PERIODIC_PREFIX
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
    # Where its time is set, for people: "obligations.yml audit.cron", or a setting.
    source: str = ""
    from_rules: bool = False  # made by a schedule source: follows the rule files

    def trigger(self, tz: tzinfo) -> CronTrigger:
        return CronTrigger(timezone=tz, **self.cron)

    def next_run(self, tz: tzinfo, after: datetime) -> datetime | None:
        return self.trigger(tz).get_next_fire_time(None, after)


PERIODIC_JOBS: dict[str, PeriodicJob] = {}
ScheduleSource = Callable[["Rules"], list[PeriodicJob]]
SCHEDULE_SOURCES: list[ScheduleSource] = []


# crontab's day-of-week numbers (0 and 7 = Sunday); APScheduler's own numbers start at
# Monday, so a moderator's "0 9 * * 1" must be translated, not passed through.
_CRON_DAYS = {"0": "sun", "1": "mon", "2": "tue", "3": "wed", "4": "thu", "5": "fri", "6": "sat"}
_CRON_DAYS["7"] = "sun"


class CronFields(TypedDict):
    minute: str
    hour: str
    day: str
    month: str
    day_of_week: str


def cron_fields(expr: str) -> CronFields:
    """A 5-field crontab from rules/ as APScheduler ``CronTrigger`` fields (0 = Sunday)."""
    minute, hour, day, month, day_of_week = expr.split()
    day_of_week = re.sub(r"\d+", lambda m: _CRON_DAYS.get(m.group(0), m.group(0)), day_of_week)
    return CronFields(minute=minute, hour=hour, day=day, month=month, day_of_week=day_of_week)


def periodic_job(
    name: str,
    actor: str,
    *,
    kwargs: Mapping[str, Any] | None = None,
    source: str = "",
    from_rules: bool = False,
    **cron: Any,
) -> PeriodicJob:
    """A checked job definition (``CronTrigger`` fields: minute, hour, day_of_week...)."""
    if not cron:
        raise ValueError(f"periodic job {name!r}: give at least one cron field")
    CronTrigger(**cron)  # a typo in a field fails here, at import, not at the first run
    return PeriodicJob(
        name,
        actor,
        MappingProxyType(dict(cron)),
        MappingProxyType(dict(kwargs or {})),
        source,
        from_rules,
    )


def add_periodic_job(
    name: str,
    actor: str,
    *,
    kwargs: Mapping[str, Any] | None = None,
    source: str = "",
    **cron: Any,
) -> PeriodicJob:
    """Run ``actor`` on a fixed cron schedule (one that does not come from the rules)."""
    job = periodic_job(name, actor, kwargs=kwargs, source=source, **cron)
    PERIODIC_JOBS[name] = job
    return job


def add_schedule_source(source: ScheduleSource, rules: Rules | None = None) -> None:
    """Declare jobs whose times come from the rules; with ``rules``, register them now too
    (``PERIODIC_JOBS`` then lists them for code that reads it once, like the demo)."""
    if source not in SCHEDULE_SOURCES:
        SCHEDULE_SOURCES.append(source)
    if rules is not None:
        for job in source(rules):
            PERIODIC_JOBS[job.name] = job


def jobs_for(rules: Rules | None) -> dict[str, PeriodicJob]:
    """Every periodic job under ``rules``: the fixed ones plus what each source makes."""
    jobs = {name: job for name, job in PERIODIC_JOBS.items() if not job.from_rules}
    if rules is None:
        return {**jobs, **{n: j for n, j in PERIODIC_JOBS.items() if j.from_rules}}
    for source in SCHEDULE_SOURCES:
        for job in source(rules):
            jobs[job.name] = job
    return jobs


@dataclass(frozen=True)
class ScheduleChange:
    added: tuple[str, ...] = ()
    moved: tuple[str, ...] = ()  # same name, another time (or arguments, or actor)
    removed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.moved or self.removed)


def diff_jobs(old: Mapping[str, PeriodicJob], new: Mapping[str, PeriodicJob]) -> ScheduleChange:
    """What changes between two sets of jobs, by name."""
    return ScheduleChange(
        added=tuple(sorted(set(new) - set(old))),
        moved=tuple(
            sorted(
                n
                for n in set(old) & set(new)
                if (dict(old[n].cron), old[n].actor, dict(old[n].kwargs))
                != (dict(new[n].cron), new[n].actor, dict(new[n].kwargs))
            )
        ),
        removed=tuple(sorted(set(old) - set(new))),
    )


def describe_cron(cron: Mapping[str, Any]) -> str:
    order = ("minute", "hour", "day", "month", "day_of_week")
    known = [str(cron.get(f, "*")) for f in order]
    extra = [f"{k}={v}" for k, v in cron.items() if k not in order]
    return " ".join(known + extra)


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
        rules: Callable[[], Rules] | None = None,
    ) -> None:
        self.broker = broker
        self.redis = redis_client
        self.tz = tz
        # The current rules (a ``RulesHolder.get``): ``refresh`` follows their schedules.
        self._rules = rules
        self._rules_seen: Rules | None = rules() if rules is not None else None
        if jobs is None:
            jobs = jobs_for(self._rules_seen) if rules is not None else PERIODIC_JOBS
        self.jobs = dict(jobs)
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
        with contextlib.suppress(redis.RedisError):  # `diamond health scheduler` reads it
            health.beat(self.redis, "scheduler", leading=int(state > 0), jobs=len(self.jobs))
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
        key = redis_keys.periodic_run(job.name, stamp)
        if not self.redis.set(key, self.token, nx=True, ex=PERIOD_KEY_TTL_SECONDS):
            return False
        try:
            actor = self.broker.get_actor(job.actor)
            actor.send_with_options(kwargs={**job.kwargs, "scheduled_for": stamp})
        except Exception:
            self.redis.delete(key)  # let a retry or the catch-up make this run
            raise
        log.info("scheduler: enqueued %s for %s", job.name, stamp)
        with contextlib.suppress(redis.RedisError):
            health.note(
                self.redis, "scheduler", last_success_at=time.time(), last_success_job=job.name
            )
        return True

    def tick(self, name: str) -> None:
        """APScheduler's callback: make the latest due run of ``name`` if we lead."""
        with self._fire_lock:
            job = self.jobs.get(name)
            if job is None or not self.lead():  # removed from the rules meanwhile
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

    # --- following the rules --------------------------------------------------------

    def refresh(self) -> ScheduleChange:
        """Re-register the jobs if the rules changed since last time; log the difference."""
        if self._rules is None:
            return ScheduleChange()
        try:
            rules = self._rules()
        except Exception:
            log.exception("scheduler: could not read the rules; keeping the schedule")
            return ScheduleChange()
        if rules is self._rules_seen:
            return ScheduleChange()
        self._rules_seen = rules
        if rules.tz.key != getattr(self.tz, "key", None):
            log.warning(
                "scheduler: community time zone changed to %s; jobs keep %s until a restart",
                rules.tz.key,
                getattr(self.tz, "key", self.tz),
            )
        return self.reschedule(jobs_for(rules))

    def reschedule(self, jobs: Mapping[str, PeriodicJob]) -> ScheduleChange:
        """Replace the jobs (and their triggers, if running) by ``jobs``."""
        change = diff_jobs(self.jobs, jobs)
        old = self.jobs
        with self._fire_lock:
            self.jobs = dict(jobs)
            if self._aps is not None:
                for name in change.removed:
                    with contextlib.suppress(Exception):
                        self._aps.remove_job(name)
                for name in change.added:
                    self._add_aps_job(self._aps, self.jobs[name])
                for name in change.moved:
                    self._aps.reschedule_job(name, trigger=self.jobs[name].trigger(self.tz))
        for name in change.added:
            log.info(
                "scheduler: added %s (%s) at %s",
                name,
                jobs[name].source or "-",
                describe_cron(jobs[name].cron),
            )
        for name in change.moved:
            log.info(
                "scheduler: moved %s (%s) from %s to %s",
                name,
                jobs[name].source or "-",
                describe_cron(old[name].cron),
                describe_cron(jobs[name].cron),
            )
        for name in change.removed:
            log.info("scheduler: removed %s (%s)", name, old[name].source or "-")
        return change

    def _fire_logged(self, job: PeriodicJob, scheduled_for: datetime) -> bool:
        try:
            return self.fire(job, scheduled_for)
        except Exception:
            log.exception("scheduler: could not enqueue %s; it will be retried", job.name)
            return False

    # --- running ------------------------------------------------------------------

    def _add_aps_job(self, aps: BackgroundScheduler, job: PeriodicJob) -> None:
        aps.add_job(
            self.tick,
            job.trigger(self.tz),
            args=[job.name],
            id=job.name,
            misfire_grace_time=int(self.grace.total_seconds()),
            coalesce=True,
            max_instances=1,
        )

    def start(self, *, refresh_seconds: float = 30.0) -> BackgroundScheduler:
        aps = BackgroundScheduler(timezone=self.tz)
        for job in self.jobs.values():
            self._add_aps_job(aps, job)
        if self._rules is not None:
            # The rule files may change while we run: their schedules follow.
            aps.add_job(
                self.refresh,
                "interval",
                seconds=refresh_seconds,
                id="__rules__",
                max_instances=1,
                coalesce=True,
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
            # Wait for a tick in progress (an enqueue: milliseconds), so nothing fires or
            # logs after stop() returned.
            self._aps.shutdown(wait=True)
            self._aps = None
        self.resign()
