"""API calls of the demo scenario, and the same scenario under the forum's admin rate limit.

    python -m bench.api_calls [--weeks 4] [--small] [--skip-limited]

1. **Calls by endpoint vs the true minimum.** The demo's story (80 applicants, camp,
   squads, four weeks) runs through the real pipeline against the sandbox; every
   call Diamond's client makes is counted in Redis by endpoint template, and by who
   made it: each scheduled run (the calls from its firing until the pipeline is idle
   again, its own webhooks' jobs included, as ``bench.scale`` counts a wave), the
   events (people's actions and the jobs their webhooks start) and ``diamond apply``.
   The true minimum the story needs is counted from what happened, not from the
   calls, by the rules ``bench.scale`` uses (``bench.common``):

   - writes: each distinct change the ``Applier`` recorded (``diamond:done:<key>``),
     except that in a scheduled run staff audit-log entries count once per kind (one
     post lists the run's decisions) and group membership changes once per group
     (``add_members`` takes up to 1,000 usernames); a job an event started is a run
     of its own (one event, one decision), so there each change counts; plus each
     change ``diamond apply`` made;
   - reads: the six lists ``diamond apply`` plans from; per scheduled run that read
     at all, its one list (the catch-up scan the pages it must list, one per 50
     posts, and its listing of pending sign-ups), and the roster reconcile's
     ``GET /groups.json`` once more; one user read per sign-up event (a
     ``user_created`` body lacks ``user_fields``: the gate reads
     ``GET /admin/users/{id}.json``); one post read per ``post_edited`` event (its
     body lacks the like count). Nothing per ``post_created``: the signed body
     carries every fact of the post (``WebHookPostSerializer``) and of its topic
     (``category_id``, ``topic_title``, ``topic_archetype``; post 1's ``created_at``
     is the topic's), so neither ``GET /posts/{id}.json`` nor ``GET /t/{id}.json``
     is needed, for a weekly thread (the answer that opened it is kept) or a topic a
     member opened (introductions, check-ins, leave requests).

   Target: total calls <= 1.10 x minimum. The figures list each job whose calls
   exceed its minimum.

2. **Under the forum's limit.** The same story with the sandbox enforcing its admin
   API bucket of 60 requests, its window compressed (from a minute to a couple of
   seconds) so that the limit, not the story, sets the pace: ``calls / limit`` is
   ``--slowdown`` times the free run's time. Diamond's budget is 57 per the same
   window (``DIAMOND_API_REQUESTS_PER_MINUTE`` per ``DIAMOND_API_WINDOW_SECONDS``),
   as it would be 57 of Discourse's 60 a minute. Targets: zero failed jobs; the
   same story as without the limit; total time <= 1.2 x (calls / limit).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.common import (
    Figure,
    at_most,
    catchup_lists,
    done_keys,
    emit,
    minimum_reads_of_run,
    minimum_writes,
)
from worker.demo.context import Demo
from worker.demo.people import CastSize
from worker.demo.run import DemoOptions, run_demo
from worker.demo.stack import StackOptions

CONFIG_SYNC_READS = 6  # site settings, user fields, groups, categories, badges, webhooks
USER_EVENTS = ("user_created", "user_updated")
EDIT_EVENTS = ("post_edited",)  # post events whose facts Diamond reads (the body lacks likes)
TARGET_RATIO = 1.10
TARGET_TIME_FACTOR = 1.2
CATCHUP_JOB = "catchup_scan"
SETUP = "diamond apply"  # the calls before the story's first settle: the forum's set-up
EVENTS = "events"  # people's actions and the jobs their webhooks start


@dataclass
class Job:
    """One job's calls in the story (a scheduled job's over its runs) and its minimum."""

    calls: Counter[str] = field(default_factory=Counter)
    runs: int = 0
    min_reads: int = 0
    min_writes: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    @property
    def writes(self) -> int:
        return sum(n for k, n in self.calls.items() if not k.startswith("GET "))

    @property
    def minimum(self) -> int:
        return self.min_reads + sum(self.min_writes.values())


@dataclass
class Run:
    wall_seconds: float = 0.0
    calls: dict[str, int] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)  # by job (``Tally``), when counted
    config_changes: int = 0
    user_events: int = 0
    edit_events: int = 0
    failed_jobs: int = 0
    forum_429: int = 0
    story: dict[str, int] = field(default_factory=dict)  # what happened, to compare runs

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def min_writes(self) -> Counter[str]:
        writes: Counter[str] = Counter()
        for job in self.jobs.values():
            writes.update(job.min_writes)
        return writes

    @property
    def minimum_writes(self) -> int:
        return sum(self.min_writes().values()) + self.config_changes

    @property
    def run_reads(self) -> int:
        return sum(job.min_reads for job in self.jobs.values())

    @property
    def minimum_reads(self) -> int:
        return CONFIG_SYNC_READS + self.user_events + self.edit_events + self.run_reads

    @property
    def minimum(self) -> int:
        return self.minimum_writes + self.minimum_reads


class Tally:
    """Counts the story's calls and done records by who made them.

    The demo settles (waits until the pipeline is idle) before each scheduled run and
    after each of people's actions; each settle closes a stretch of calls, which belongs
    to the run fired in it, else to the events. Installed with ``DemoOptions.prepare``.
    """

    def __init__(self, run: Run) -> None:
        self.run = run
        self.label = SETUP
        self.pages = 1
        self.seen: set[str] = set()
        self.before: Counter[str] = Counter()

    def install(self, demo: Demo) -> None:
        self.demo = demo
        settle, fire = demo.settle, demo.sim.scheduler.fire

        def settled() -> None:
            settle()
            self.close()

        def fired(job: Any, moment: Any) -> bool:
            self.close()  # the pipeline is idle: advance_to settles before each run
            pages = self.catchup_lists() if job.name == CATCHUP_JOB else 1
            if not fire(job, moment):
                return False
            self.label, self.pages = job.name, pages
            return True

        demo.settle = settled  # type: ignore[method-assign]  # the bench's own accounting
        demo.sim.scheduler.fire = fired  # type: ignore[method-assign,assignment]

    def catchup_lists(self) -> int:
        return catchup_lists(self.demo.stack.redis, self.demo.stack.sandbox.forum)

    def close(self) -> None:
        now = _calls(self.demo)
        calls = now - self.before
        self.before = now
        label, self.label = self.label, EVENTS
        job = self.run.jobs.setdefault(label, Job())
        if label not in (SETUP, EVENTS):
            job.runs += 1
            job.min_reads += minimum_reads_of_run(calls, self.pages)
        job.calls.update(calls)
        if not any(not k.startswith("GET ") for k in calls):
            return  # no write, no new done record
        new = [k for k in done_keys(self.demo.stack.redis) if k not in self.seen]
        self.seen.update(new)
        if label == EVENTS:  # a job per event: each change its own write
            job.min_writes.update(k.split(":", 1)[0] for k in new)
        elif label != SETUP:  # diamond apply's changes are counted from its report
            job.min_writes.update(minimum_writes(new))


def _calls(demo: Demo) -> Counter[str]:
    from worker.forum.client import CALL_COUNTS_KEY

    redis = demo.stack.redis
    assert redis is not None
    return Counter({k.decode(): int(v) for k, v in redis.hgetall(CALL_COUNTS_KEY).items()})


def _collect(run: Run) -> Any:
    def inspect(demo: Demo) -> None:
        run.config_changes = int(demo.facts.get("config_changes", 0))  # type: ignore[arg-type]
        accepted = [d for d in demo.stack.sandbox.deliveries() if d.status == 202]
        run.user_events = len(
            {(d.event, _object_id(d)) for d in accepted if d.event in USER_EVENTS}
        )
        run.edit_events = len(
            {(d.event, _object_id(d)) for d in accepted if d.event in EDIT_EVENTS}
        )
        weeks = demo.facts.get("weeks", {})
        run.story = {
            "articles on record": sum(w["articles"] for w in weeks.values()),
            "members with strikes": len({n for w in weeks.values() for n in w["penalised"]}),
            "badges held": sum(len(v) for v in demo.view.badges().values()),
            "squads": len(demo.view.squads()),
        }
        run.forum_429 = sum(
            1 for _m, _p, status in demo.stack.sandbox.app.request_log if status == 429
        )

    return inspect


def _object_id(delivery: Any) -> Any:
    body = delivery.json()
    obj = body.get(delivery.event_type) or {}
    return obj.get("id"), obj.get("updated_at")


def scenario(options: DemoOptions, *, by_job: bool = True) -> Run:
    run = Run()
    if by_job:  # the limited run needs only its totals: no accounting slows it down
        options.prepare = Tally(run).install
    options.inspect = _collect(run)
    options.quiet = True
    result = run_demo(options)
    run.wall_seconds = result.wall_seconds
    run.calls = result.forum_calls
    run.failed_jobs = result.failed_jobs
    return run


def call_figures(run: Run) -> list[Figure]:
    figures = [
        Figure(f"calls {label}", n, "calls") for label, n in sorted(run.calls.items(), key=_order)
    ]
    figures += [
        Figure(f"minimum: {kind} writes", n, "calls")
        for kind, n in sorted(run.min_writes().items())
    ]
    figures += [
        Figure("minimum: diamond apply changes", run.config_changes, "calls"),
        Figure("minimum: diamond apply's lists", CONFIG_SYNC_READS, "calls"),
        Figure("minimum: reads for sign-up events", run.user_events, "calls"),
        Figure("minimum: reads for post edits", run.edit_events, "calls"),
        Figure("minimum: reads for scheduled runs", run.run_reads, "calls"),
        Figure("minimum: writes", run.minimum_writes, "calls"),
        Figure("minimum: unavoidable reads", run.minimum_reads, "calls"),
        Figure("calls: total", run.total, "calls"),
        Figure(
            "calls: writes",
            sum(n for k, n in run.calls.items() if not k.startswith("GET")),
            "calls",
        ),
        Figure("calls: minimum", run.minimum, "calls"),
        at_most("calls / minimum", run.total / max(1, run.minimum), "x", TARGET_RATIO),
        *job_figures(run),
        Figure("demo wall time (no forum limit)", run.wall_seconds, "s"),
        *story_figures("", run),
    ]
    return figures


def job_minimum(run: Run, name: str) -> int:
    """A job's share of the minimum (the events' also holds the sign-up and edit reads,
    ``diamond apply``'s its lists and changes)."""
    job = run.jobs[name]
    if name == EVENTS:
        return job.minimum + run.user_events + run.edit_events
    if name == SETUP:
        return CONFIG_SYNC_READS + run.config_changes
    return job.minimum


def job_figures(run: Run) -> list[Figure]:
    """Each job whose calls exceed its minimum: its calls, its minimum, and the calls of
    the endpoints it used most."""
    figures: list[Figure] = []
    over = sorted(
        ((job.total - job_minimum(run, name), name) for name, job in run.jobs.items()),
        reverse=True,
    )
    for excess, name in over:
        if excess <= 0:
            continue
        job = run.jobs[name]
        short = name.removeprefix("obligations_").removeprefix("recognition_")
        runs = f" ({job.runs} runs)" if job.runs else ""
        figures += [
            Figure(f"job {short}: calls{runs}"[:48], job.total, "calls"),
            Figure(f"job {short}: minimum"[:48], job_minimum(run, name), "calls"),
            *(
                Figure(f"job {short}: {label}"[:48], n, "calls")
                for label, n in sorted(job.calls.items(), key=_order)[:4]
            ),
        ]
    return figures


def _order(item: tuple[str, int]) -> tuple[int, str]:
    return (-item[1], item[0])


FORUM_LIMIT = 60  # Discourse's default max_admin_api_reqs_per_minute
DIAMOND_SHARE = 0.95


def story_figures(prefix: str, run: Run) -> list[Figure]:
    return [Figure(f"{prefix}story: {name}", n, "") for name, n in run.story.items()]


def limited_figures(run: Run, window: float, free: Run | None) -> list[Figure]:
    ideal = run.total * window / FORUM_LIMIT
    top = sorted(run.calls.items(), key=_order)[:6]
    figures = [
        *(Figure(f"limited: calls {label}", n, "calls") for label, n in top),
        *story_figures("limited: ", run),
    ]
    if free is not None:  # the limit may slow Diamond down, never change what it does
        differ = sum(1 for k, v in free.story.items() if run.story.get(k) != v)
        figures.append(at_most("limited: story figures unlike the free run", differ, "", 0))
    return [
        *figures,
        Figure(f"limited: forum limit ({FORUM_LIMIT} per window)", window, "s"),
        Figure("limited: calls", run.total, "calls"),
        Figure("limited: 429 answers from the forum", run.forum_429, "answers"),
        at_most("limited: failed jobs", run.failed_jobs, "jobs", 0),
        Figure("limited: calls / limit", ideal, "s"),
        at_most(
            "limited: time / (calls / limit)", run.wall_seconds / ideal, "x", TARGET_TIME_FACTOR
        ),
        Figure("limited: wall time", run.wall_seconds, "s"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument("--small", action="store_true", help="the smoke test's small cohort")
    parser.add_argument("--skip-limited", action="store_true", help="only count the calls")
    parser.add_argument(
        "--window", type=float, help="only the limited run, with this window (seconds per 60)"
    )
    parser.add_argument(
        "--slowdown",
        type=float,
        default=3.5,
        help="the limited run's limit makes it take this many times the free run (default 3.5)",
    )
    args = parser.parse_args(argv)
    size = CastSize.small() if args.small else CastSize.full()

    free: Run | None = None
    if args.window is None:
        free = scenario(DemoOptions(size=size, weeks=args.weeks))
        emit(call_figures(free))
        if args.skip_limited:
            return 0
        # The window in which 60 calls take `slowdown` times the free run's pace.
        window = round(args.slowdown * free.wall_seconds * FORUM_LIMIT / free.total, 3)
    else:
        window = args.window
    stack = StackOptions(
        forum_rate_limit=(FORUM_LIMIT, window),
        api_requests_per_minute=math.floor(FORUM_LIMIT * DIAMOND_SHARE),
        api_window_seconds=window,
    )
    limited = scenario(DemoOptions(size=size, weeks=args.weeks, stack=stack), by_job=False)
    emit(limited_figures(limited, window, free))
    return 0


if __name__ == "__main__":
    sys.exit(main())
