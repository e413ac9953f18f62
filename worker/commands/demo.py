"""``diamond demo``: a whole cohort's life on a sandbox forum, through the real pipeline.

The rules come from ``DIAMOND_RULES_DIR`` when it is set (else ``rules/``), so an edited
copy can be tried on the story. ``--keep`` leaves the forum, Redis, receiver and workers
running with the story's world after the summary, with a settings file for the CLI, until
Ctrl-C; ``--save FILE`` writes the world for ``diamond sandbox --world FILE``.

Exit codes: 0 the story ran and did what it promised; 1 an error, a failed job, or
something it promised did not happen (e.g. an audit halted by the guard rail); 130 Ctrl-C
(but with ``--keep``, Ctrl-C after the story is how it ends: 0).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HELP = "live a whole cohort's life on a sandbox forum with an embedded Redis (3 minutes)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--weeks", type=int, default=4, help="weeks of writing after the camp (default 4)"
    )
    parser.add_argument(
        "--small", action="store_true", help="a small cohort (12 applicants) for a quick look"
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the cast (default 7)")
    parser.add_argument(
        "--workdir", type=Path, help="directory for logs and the report (default: a new temp dir)"
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="after the story, keep the forum, Redis and receiver running until Ctrl-C",
    )
    parser.add_argument(
        "--save", type=Path, metavar="FILE", help="save the story's world to FILE at the end"
    )


def _interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _run_demo(options: Any) -> Any:
    """The demo itself, stopped by SIGTERM/SIGHUP the way Ctrl-C stops it: every process
    it started ends."""
    from worker.demo.run import run_demo

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    return run_demo(options)


def run(args: argparse.Namespace, *, run_demo: Callable[[Any], Any] = _run_demo) -> int:
    """``run_demo``: runs the demo with its ``DemoOptions`` and gives its ``DemoResult``."""
    from worker.demo.people import CastSize
    from worker.demo.run import DemoOptions
    from worker.demo.stack import DemoError
    from worker.rules import RulesInvalid

    if args.weeks < 1:
        print("diamond demo: --weeks must be at least 1", file=sys.stderr)
        return 2
    from worker.demo.stack import StackOptions

    rules_dir = os.environ.get("DIAMOND_RULES_DIR", "").strip()
    if rules_dir and not Path(rules_dir).is_dir():
        print(f"diamond demo: DIAMOND_RULES_DIR={rules_dir} is not a directory", file=sys.stderr)
        return 1
    options = DemoOptions(
        size=CastSize.small() if args.small else CastSize.full(),
        weeks=args.weeks,
        seed=args.seed,
        workdir=args.workdir,
        stack=StackOptions(rules_dir=Path(rules_dir) if rules_dir else None),
        save=args.save,
        keep=hold if args.keep else None,
    )
    try:
        result = run_demo(options)
    except KeyboardInterrupt:
        print("\ndiamond demo: interrupted; every process it started was stopped.", file=sys.stderr)
        return 130
    except DemoError as exc:
        print(f"\ndiamond demo: {exc}", file=sys.stderr)
        return 1
    except RulesInvalid as exc:
        print("\ndiamond demo: rules/ has problems:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    if result.failed_jobs:
        print(f"diamond demo: {result.failed_jobs} job(s) failed; see {result.workdir}/logs")
    for line in result.broken:
        print(f"diamond demo: not done: {line}")
    return 0 if result.ok else 1


def hold(demo: Any, env_file: Path, wait: Any = None) -> None:
    """``--keep``: say how to reach the world, then wait for Ctrl-C (or SIGTERM)."""
    import time

    stack = demo.stack
    print(
        "\nThe story's world is still running (Ctrl-C stops it all):\n"
        f"  forum     {stack.sandbox.url}\n"
        f"  receiver  http://127.0.0.1:{stack.receiver_port}/webhook\n"
        f"  Redis     {stack.redis_url}\n"
        f"  rules     {stack.env.get('DIAMOND_RULES_DIR')}\n"
        "Point the CLI at it (the file holds the demo's API key; owner-only):\n"
        f"  export DIAMOND_ENV_FILE={env_file}\n"
        "  diamond whatif --rules YOUR-RULES-COPY\n"
        "  diamond audit --week WEEK --dry-run",
        flush=True,
    )
    try:
        if wait is not None:
            wait()
        else:
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        print("\ndiamond demo: stopping the world…", flush=True)
