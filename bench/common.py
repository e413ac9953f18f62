"""What every benchmark reports: named figures with their targets."""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    target: str = ""  # e.g. "<= 3 s"; empty when informational
    ok: bool | None = None  # None when there is no target

    def row(self) -> str:
        verdict = {True: "ok", False: "MISSED", None: ""}[self.ok]
        return f"{self.name:<48} {self.value:>12,.2f} {self.unit:<10} {self.target:<14} {verdict}"


def at_most(name: str, value: float, unit: str, limit: float) -> Figure:
    return Figure(name, value, unit, f"<= {limit:g} {unit}", value <= limit)


def at_least(name: str, value: float, unit: str, floor: float) -> Figure:
    return Figure(name, value, unit, f">= {floor:g} {unit}", value >= floor)


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    start = time.perf_counter()
    elapsed: list[float] = []
    yield lambda: elapsed[0] if elapsed else time.perf_counter() - start
    elapsed.append(time.perf_counter() - start)


def emit(figures: list[Figure]) -> None:
    """Print the figures, and a JSON line the runner collects (``BENCH-JSON``)."""
    for figure in figures:
        print(figure.row())
    print("BENCH-JSON " + json.dumps([asdict(f) for f in figures]), file=sys.stdout, flush=True)
