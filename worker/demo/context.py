"""What every chapter of the demo shares, and the agenda that runs them in time order.

A chapter *schedules* what people do at simulated moments (``demo.agenda.at``);
the agenda runs every moment in order: the clock moves there (firing the
periodic jobs due on the way), the people act, the pipeline settles. Chapters
overlap in time (the camp extension runs during the first writing week), so
they are not run one after the other; each one prints its header when its first
moment comes and its results at the moment it chose.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import dramatiq

from worker.demo.members import Members
from worker.demo.people import Cast
from worker.demo.progress import Progress
from worker.demo.stack import DemoStack
from worker.demo.timeline import SimulatedTime
from worker.demo.view import ForumView
from worker.pipeline import routes
from worker.pipeline.scheduler import PERIODIC_JOBS
from worker.rules import Rules

log = logging.getLogger(__name__)

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Capabilities:
    """Which parts of Diamond are wired into the pipeline (declared actors and schedules)."""

    gating: bool
    camp: bool
    squads: bool
    obligations: bool
    recognition: bool
    health: bool
    report: bool

    @classmethod
    def detect(cls) -> Capabilities:
        actors = set(dramatiq.get_broker().actors)
        periodic = {job.actor for job in PERIODIC_JOBS.values()}

        def routed(event: str, prefix: str) -> bool:
            return any(r.actor.startswith(prefix) for r in routes.routes_for(event))

        def has(prefix: str) -> bool:
            return any(name.startswith(prefix) for name in actors | periodic)

        try:
            import worker.report  # noqa: F401

            report = True
        except ImportError:
            report = False
        return cls(
            gating=routed("user_created", "membership."),
            camp=any(a.startswith("membership.") and "camp" in a for a in periodic),
            squads=any(a.startswith("membership.") and "squad" in a for a in actors),
            obligations=any(a.startswith("obligations.") for a in periodic),
            recognition=has("recognition."),
            health=any("report" in a for a in periodic if not a.startswith("probe.")),
            report=report,
        )

    def missing(self, *names: str) -> list[str]:
        return [name for name in names if not getattr(self, name)]


WHAT_PROVIDES = {
    "gating": "an actor routed from user_created (worker/jobs/membership.py)",
    "camp": "the periodic camp check (worker/jobs/membership.py)",
    "squads": "the squad formation actor (worker/jobs/membership.py)",
    "obligations": "the weekly thread, reminder and audit schedules (worker/jobs/obligations.py)",
    "recognition": "the badge actors (worker/jobs/recognition.py)",
    "health": "the weekly health report job (worker/jobs/recognition.py)",
    "report": "the report renderer (worker/report/)",
}


@dataclass(order=True)
class _Entry:
    when: datetime
    order: int
    seq: int
    label: str = field(compare=False)
    action: Callable[[], None] = field(compare=False)


class Agenda:
    """Moments at which people act; run in time order (ties: ``order``, then insertion)."""

    def __init__(self) -> None:
        self._heap: list[_Entry] = []
        self._seq = itertools.count()

    def at(
        self, when: datetime, label: str, action: Callable[[], None], *, order: int = 50
    ) -> None:
        heapq.heappush(self._heap, _Entry(when, order, next(self._seq), label, action))

    def __len__(self) -> int:
        return len(self._heap)

    def pop(self) -> _Entry | None:
        return heapq.heappop(self._heap) if self._heap else None


@dataclass
class Demo:
    stack: DemoStack
    sim: SimulatedTime
    view: ForumView
    members: Members
    cast: Cast
    rules: Rules
    progress: Progress
    caps: Capabilities
    start: datetime  # local midnight of the first day (a Sunday)
    weeks: int
    rng: random.Random = field(default_factory=lambda: random.Random(11))
    agenda: Agenda = field(default_factory=Agenda)
    unavailable: list[str] = field(default_factory=list)  # lines for the summary
    facts: dict[str, Any] = field(default_factory=dict)  # what chapters learn, for the summary
    _last_status: float = 0.0

    # ------------------------------------------------------------------ time

    def day(self, n: int, hour: int = 0, minute: int = 0) -> datetime:
        """Local time on day ``n`` of the story (day 0 is the first Sunday)."""
        moment = datetime.combine(self.start.date() + timedelta(days=n), datetime.min.time())
        return moment.replace(hour=hour, minute=minute, tzinfo=self.rules.tz)

    def week_monday(self, week: int) -> datetime:
        """Local midnight of the Monday that starts writing week ``week`` (1-based)."""
        return self.day(1 + 7 * (week - 1) + 7)

    @staticmethod
    def fmt(moment: datetime) -> str:
        return f"{WEEKDAYS[moment.weekday()]} {moment:%d %b %H:%M}"

    def today(self) -> date:
        return self.sim.now.date()

    # ------------------------------------------------------------------ running

    def settle(self) -> None:
        self.stack.wait_idle(timeout=120, on_wait=lambda pending: self.show_status(pending))

    def show_status(self, pending: int | None = None) -> None:
        if time.monotonic() - self._last_status < 0.15:
            return
        self._last_status = time.monotonic()
        if pending is None:
            pending = self.stack.pending_jobs()
        calls = self.forum_calls()
        self.progress.status(
            f"{self.fmt(self.sim.now)} · jobs in flight {pending:3d} · "
            f"Diamond's forum calls {calls:5d}"
        )

    def forum_calls(self) -> int:
        from worker.forum.client import CALL_COUNTS_KEY

        assert self.stack.redis is not None
        return sum(int(v) for v in self.stack.redis.hvals(CALL_COUNTS_KEY))

    def run_agenda(self, until: datetime) -> None:
        """Run every scheduled moment up to ``until``, then move the clock there."""
        while True:
            entry = self.agenda.pop()
            if entry is None or entry.when > until:
                if entry is not None:
                    self.agenda.at(entry.when, entry.label, entry.action, order=entry.order)
                break
            if entry.when > self.sim.now:
                self.sim.advance_to(entry.when)
            self.show_status()
            log.debug("demo: %s %s", self.fmt(entry.when), entry.label)
            entry.action()
            self.settle()
        if until > self.sim.now:
            self.sim.advance_to(until)
        self.settle()

    def note_unavailable(self, chapter: str, *needs: str) -> bool:
        """Print and remember what a chapter misses; True if it can run."""
        missing = self.caps.missing(*needs)
        for name in missing:
            line = f"{chapter}: not yet available — needs {WHAT_PROVIDES[name]}"
            self.progress.warn(line)
            self.unavailable.append(line)
        return not missing
