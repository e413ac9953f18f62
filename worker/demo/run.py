"""``run_demo``: start the stack, tell the story chapter by chapter, summarise, stop.

    result = run_demo(DemoOptions())          # the full demo (``diamond demo``)
    result = run_demo(DemoOptions.smoke())    # a short cohort for the smoke test

The story starts on a Sunday (applications), the camp runs the following week,
squads form the next Sunday, then ``weeks`` weeks of writing follow, each
audited on the Tuesday after; badges and the health report close it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from worker.demo.ch_camp import schedule_camp
from worker.demo.ch_chat import schedule_chat
from worker.demo.ch_gate import schedule_applications, set_up_forum
from worker.demo.ch_weeks import schedule_weeks
from worker.demo.ch_wrapup import schedule_wrapup
from worker.demo.context import Capabilities, Demo
from worker.demo.members import Members
from worker.demo.people import CastSize, make_cast
from worker.demo.progress import Progress
from worker.demo.stack import DemoStack, StackOptions
from worker.demo.summary import broken_promises, summary_lines
from worker.demo.timeline import SimulatedTime
from worker.demo.view import ForumView
from worker.redis_text import text

log = logging.getLogger(__name__)

# A Sunday: applications on day 0, the camp through Saturday, squads on day 7; the weeks of
# writing start the next day; the story ends on the Sunday evening after the last audit.
STORY_START = datetime(2026, 3, 1)
SET_UP_HOUR = 8


@dataclass
class DemoOptions:
    size: CastSize = field(default_factory=CastSize.full)
    weeks: int = 4
    seed: int = 7
    workdir: Path | None = None  # default: a new temporary directory
    stack: StackOptions = field(default_factory=StackOptions)
    quiet: bool = False
    # Called with the demo before the story starts (``bench.api_calls`` wraps its settle and
    # its scheduler's fire here, to count each run's calls).
    prepare: Callable[[Demo], None] | None = None
    # Called with the finished story before the stack stops (benchmarks read Redis here).
    inspect: Callable[[Demo], None] | None = None
    save: Path | None = None  # write the story's world here (``diamond sandbox --world``)
    # Keep the stack running after the story until this returns (``--keep``: Ctrl-C).
    keep: Callable[[Demo, Path], None] | None = None

    @classmethod
    def smoke(cls, **overrides: object) -> DemoOptions:
        """A small cohort and one week: every chapter runs, in a fraction of the time."""
        return cls(size=CastSize.small(), weeks=1, **overrides)  # type: ignore[arg-type]  # DemoOptions' own fields


@dataclass
class DemoResult:
    workdir: Path
    wall_seconds: float
    summary: list[str]
    unavailable: list[str]
    failed_jobs: int
    forum_calls: dict[str, int]
    report_html: Path | None
    facts: dict[str, object]
    broken: list[str] = field(default_factory=list)  # what the story promised and did not do

    @property
    def ok(self) -> bool:
        return self.failed_jobs == 0 and not self.broken


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """The demo's DIAMOND_* settings for this process too (actor modules read them at import)."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("DIAMOND_")}
    for key in saved:
        os.environ.pop(key)
    os.environ.update({k: v for k, v in values.items() if k.startswith("DIAMOND_")})
    try:
        yield
    finally:
        for key in [k for k in os.environ if k.startswith("DIAMOND_")]:
            os.environ.pop(key)
        os.environ.update(saved)


@contextlib.contextmanager
def _quiet_logging(log_file: Path) -> Iterator[None]:
    """This process's log lines go to ``log_file``; the terminal shows warnings only."""
    root = logging.getLogger()
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    saved = [(h, h.level) for h in root.handlers]
    saved_level = root.level
    for h, _level in saved:
        h.setLevel(max(h.level, logging.WARNING))
    root.addHandler(handler)
    root.setLevel(min(root.level or logging.INFO, logging.INFO))
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()
        for h, level in saved:
            h.setLevel(level)
        root.setLevel(saved_level)


def run_demo(options: DemoOptions | None = None, progress: Progress | None = None) -> DemoResult:
    options = options or DemoOptions()
    progress = progress or Progress(quiet=options.quiet)
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="diamond-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    progress.line(f"Diamond demo · working directory {workdir}")
    progress.line("Starting Redis, the sandbox forum, the receiver and the workers on loopback…")
    tz = ZoneInfo("Asia/Shanghai")
    start = STORY_START.replace(tzinfo=tz)
    stack_options = options.stack
    stack_options.simulated_start = start.replace(hour=SET_UP_HOUR)
    stack = DemoStack(workdir, stack_options)
    (workdir / "logs").mkdir(exist_ok=True)
    with _quiet_logging(workdir / "logs" / "demo.log"):
        return _run(stack, options, progress, start)


def _run(stack: DemoStack, options: DemoOptions, progress: Progress, start: datetime) -> DemoResult:
    workdir = stack.workdir
    try:
        stack.start_all()
        with _environment(stack.env):
            demo = _prepare(stack, options, progress, start)
            if options.prepare is not None:
                options.prepare(demo)
            progress.result(
                f"ready in {progress.elapsed():.1f} s: forum {stack.sandbox.url}, receiver "
                f"127.0.0.1:{stack.receiver_port}, worker pid {stack.children[1].pid}, "
                f"Redis {stack.redis_url}"
            )
            set_up_forum(demo)
            schedule_applications(demo)
            schedule_camp(demo)
            schedule_weeks(demo)
            schedule_chat(demo)
            # Badges and the health report of a week come the Sunday after its audit.
            finale = demo.week_monday(options.weeks + 1) + timedelta(days=6, hours=21, minutes=30)
            schedule_wrapup(demo, finale)
            demo.run_agenda(until=finale + timedelta(minutes=5))
            progress.done()
            lines = summary_lines(demo)
            broken = broken_promises(demo)
            failed = stack.failed_jobs()
            calls = _calls(stack)
            wall = progress.elapsed()
            _print_summary(progress, demo, lines, failed, calls, wall)
            for line in broken:
                progress.line(f"NOT DONE: {line}")
            if options.inspect is not None:
                options.inspect(demo)
            if options.save is not None:
                _save(demo, options.save)
                progress.line(f"World saved to {options.save} (diamond sandbox --world FILE)")
            if options.keep is not None:
                options.keep(demo, write_env_file(stack))
            return DemoResult(
                workdir=workdir,
                wall_seconds=wall,
                summary=lines,
                unavailable=list(demo.unavailable),
                failed_jobs=failed,
                forum_calls=calls,
                report_html=demo.facts.get("report_html"),
                facts=demo.facts,
                broken=broken,
            )
    finally:
        progress.done()
        stack.stop()


def _prepare(stack: DemoStack, options: DemoOptions, progress: Progress, start: datetime) -> Demo:
    from worker.pipeline import runtime
    from worker.pipeline.broker import setup_broker
    from worker.pipeline.jobs import load_actors
    from worker.rules import load_rules

    assert stack.settings is not None and stack.redis is not None
    runtime.reset()
    runtime.configure(redis_url=stack.redis_url, settings_obj=stack.settings)
    broker = setup_broker(stack.redis_url)
    load_actors()
    rules = load_rules(stack.settings.rules_dir)
    cast = make_cast(options.size, seed=options.seed)
    holder: dict[str, Demo] = {}
    sim = SimulatedTime(
        stack.redis,
        broker,
        rules.tz,
        start.replace(hour=SET_UP_HOUR),
        settle=lambda: holder["demo"].settle(),
    )
    demo = Demo(
        stack=stack,
        sim=sim,
        view=ForumView(stack.sandbox.forum),
        members=Members(stack.sandbox.url),
        cast=cast,
        rules=rules,
        progress=progress,
        caps=Capabilities.detect(),
        start=start,
        weeks=options.weeks,
    )
    holder["demo"] = demo
    progress.phase_count = 6
    return demo


def write_env_file(stack: DemoStack) -> Path:
    """``<workdir>/diamond.env``: the demo's settings for the CLI (owner-only: the API key)."""
    path = stack.workdir / "diamond.env"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.writelines(
            f"{k}={v}\n" for k, v in sorted(stack.env.items()) if k.startswith("DIAMOND_")
        )
    return path


def _save(demo: Demo, path: Path) -> None:
    from worker import clock
    from worker.sandbox.world import save_world

    stack = demo.stack
    assert stack.redis is not None
    meta = {
        "rules_dir": stack.env.get("DIAMOND_RULES_DIR", ""),
        "mode": stack.env.get("DIAMOND_MODE", "live"),
        "simulated_now": clock.now(stack.redis).isoformat(timespec="minutes"),
    }
    save_world(path, stack.sandbox.forum, stack.redis, meta)


def _calls(stack: DemoStack) -> dict[str, int]:
    from worker.forum.client import CALL_COUNTS_KEY

    assert stack.redis is not None
    raw = stack.redis.hgetall(CALL_COUNTS_KEY)
    return {text(k): int(v) for k, v in sorted(raw.items())}


def _print_summary(
    progress: Progress,
    demo: Demo,
    lines: list[str],
    failed: int,
    calls: dict[str, int],
    wall: float,
) -> None:
    progress.line("\n━━ Summary " + "━" * 60)
    for line in lines:
        progress.line(line)
    writes = sum(n for label, n in calls.items() if not label.startswith("GET "))
    progress.line(
        f"Pipeline: {len(demo.sim.fired)} scheduled runs fired, {failed} failed jobs; "
        f"Diamond made {sum(calls.values())} forum calls ({writes} writes)"
    )
    if demo.unavailable:
        progress.line("Not yet available in this build:")
        for line in dict.fromkeys(demo.unavailable):
            progress.line(f"  - {line}")
    progress.line(f"Done in {wall:.0f} s · logs in {demo.stack.logs_dir}")
