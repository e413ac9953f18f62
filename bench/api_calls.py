"""API calls of the demo scenario, and the same scenario under the forum's admin rate limit.

    python -m bench.api_calls [--weeks 4] [--small] [--skip-limited]

1. **Calls by endpoint vs the minimum.** The demo's story (80 applicants, camp,
   squads, four weeks) runs through the real pipeline against the sandbox; every
   call Diamond's client makes is counted in Redis by endpoint template. The
   minimum the story needs is counted from what happened, not from the calls:

   - one write per change Diamond applied (each ``Applier`` action leaves a
     ``diamond:done:<key>`` record: an approval, a group, a category, a membership
     batch, a badge grant, a PM, a penalty, a topic…) plus each change
     ``diamond apply`` made;
   - the unavoidable reads: the six lists ``diamond apply`` plans from; one read
     per user event about an applicant (``user_fields`` are not always in the
     payload) and per post event (actors get ids and read the state once); one
     topic read per topic those posts are in (a post read does not say its
     category, tags or title); one roster read per scheduled run (two for a
     catch-up scan: new posts, pending users).

   Target: total calls <= 1.10 x minimum.

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

from bench.common import Figure, at_most, emit
from worker.demo.context import Demo
from worker.demo.people import CastSize
from worker.demo.run import DemoOptions, run_demo
from worker.demo.stack import StackOptions

DONE_PREFIX = "diamond:done:"  # worker.apply.DONE_PREFIX
CONFIG_SYNC_READS = 6  # site settings, user fields, groups, categories, badges, webhooks
USER_EVENTS = ("user_created", "user_updated")
POST_EVENTS = ("post_created", "post_edited", "post_destroyed", "post_recovered")
TARGET_RATIO = 1.10
TARGET_TIME_FACTOR = 1.2
CATCHUP_JOB = "catchup_scan"


@dataclass
class Run:
    wall_seconds: float = 0.0
    calls: dict[str, int] = field(default_factory=dict)
    done_by_kind: Counter[str] = field(default_factory=Counter)
    config_changes: int = 0
    user_events: int = 0
    post_events: int = 0
    topics: int = 0  # distinct topics of the post events
    periodic_runs: Counter[str] = field(default_factory=Counter)
    failed_jobs: int = 0
    forum_429: int = 0
    story: dict[str, int] = field(default_factory=dict)  # what happened, to compare runs

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    @property
    def minimum_writes(self) -> int:
        return sum(self.done_by_kind.values()) + self.config_changes

    @property
    def minimum_reads(self) -> int:
        runs = sum(n for name, n in self.periodic_runs.items() if name != CATCHUP_JOB)
        return (
            CONFIG_SYNC_READS
            + self.user_events
            + self.post_events
            + self.topics
            + runs
            + 2 * self.periodic_runs[CATCHUP_JOB]
        )

    @property
    def minimum(self) -> int:
        return self.minimum_writes + self.minimum_reads


def _collect(run: Run) -> Any:
    def inspect(demo: Demo) -> None:
        redis = demo.stack.redis
        assert redis is not None
        for key in redis.scan_iter(match=DONE_PREFIX + "*", count=1000):
            action_key = key.decode().removeprefix(DONE_PREFIX)
            run.done_by_kind[action_key.split(":", 1)[0]] += 1
        run.config_changes = int(demo.facts.get("config_changes", 0))  # type: ignore[arg-type]
        accepted = [d for d in demo.stack.sandbox.deliveries() if d.status == 202]
        run.user_events = len(
            {(d.event, _object_id(d)) for d in accepted if d.event in USER_EVENTS}
        )
        posts = [d for d in accepted if d.event in POST_EVENTS]
        run.post_events = len({(d.event, _object_id(d)) for d in posts})
        run.topics = len({d.json()["post"].get("topic_id") for d in posts})
        run.periodic_runs = Counter(name for name, _when in demo.sim.fired)
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


def scenario(options: DemoOptions) -> Run:
    run = Run()
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
        for kind, n in sorted(run.done_by_kind.items())
    ]
    figures += [
        Figure("minimum: diamond apply changes", run.config_changes, "calls"),
        Figure("minimum: reads for user events", run.user_events, "calls"),
        Figure("minimum: reads for post events", run.post_events, "calls"),
        Figure("minimum: reads of their topics", run.topics, "calls"),
        Figure(
            "minimum: reads for scheduled runs",
            run.minimum_reads - run.user_events - run.post_events - run.topics - CONFIG_SYNC_READS,
            "calls",
        ),
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
        Figure("demo wall time (no forum limit)", run.wall_seconds, "s"),
        *story_figures("", run),
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
    limited = scenario(DemoOptions(size=size, weeks=args.weeks, stack=stack))
    emit(limited_figures(limited, window, free))
    return 0


if __name__ == "__main__":
    sys.exit(main())
