"""``diamond demo``: a whole cohort's life on a sandbox forum, through the real pipeline."""

from __future__ import annotations

import argparse
import signal
import sys
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


def _interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(args: argparse.Namespace) -> int:
    from worker.demo.people import CastSize
    from worker.demo.run import DemoOptions, run_demo
    from worker.demo.stack import DemoError
    from worker.rules import RulesInvalid

    if args.weeks < 1:
        print("diamond demo: --weeks must be at least 1", file=sys.stderr)
        return 2
    # SIGTERM/SIGHUP stop the demo the way Ctrl-C does: every process it started ends.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    options = DemoOptions(
        size=CastSize.small() if args.small else CastSize.full(),
        weeks=args.weeks,
        seed=args.seed,
        workdir=args.workdir,
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
    if not result.ok:
        print(f"diamond demo: {result.failed_jobs} job(s) failed; see {result.workdir}/logs")
        return 1
    return 0
