"""`make bench`: run every benchmark in its own process and print one table.

Each benchmark is a module ``bench/<name>.py`` with ``main()`` that prints its
figures through ``bench.common.emit``. A separate process per benchmark keeps
peak-memory figures honest.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.common import Figure

HERE = Path(__file__).parent
SKIP = {"__init__", "__main__", "common"}


def discover() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.py") if p.stem not in SKIP)


def run_one(name: str) -> tuple[list[Figure], str]:
    proc = subprocess.run(
        [sys.executable, "-m", f"bench.{name}"],
        capture_output=True,
        text=True,
        cwd=HERE.parent,
    )
    figures: list[Figure] = []
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH-JSON "):
            figures.extend(Figure(**f) for f in json.loads(line.removeprefix("BENCH-JSON ")))
    error = "" if proc.returncode == 0 else (proc.stderr.strip().splitlines() or ["failed"])[-1]
    return figures, error


def main(argv: list[str]) -> int:
    names = argv or discover()
    failed = False
    print(f"{'figure':<48} {'value':>12} {'unit':<10} {'target':<14} verdict")
    print("-" * 96)
    for name in names:
        print(f"[{name}]", flush=True)
        figures, error = run_one(name)
        for figure in figures:
            print(figure.row(), flush=True)
        if error:
            failed = True
            print(f"  {name} failed: {error}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
