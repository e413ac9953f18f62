"""What every benchmark reports: named figures with their targets."""

from __future__ import annotations

import json
import math
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any


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


# ─────────────────────── the true minimum of forum calls (issue #17) ───────────────────────
# Shared by ``bench.scale`` and ``bench.api_calls``: what a run of Diamond's could not do
# with fewer calls, counted from what happened (the Applier's done records, what the run
# read), never from Diamond's own calls.

DONE_PREFIX = "diamond:done:"  # worker.apply.DONE_PREFIX
# Done-record kinds (the key's first word) that are staff audit-log entries: one post a
# run lists its decisions.
AUDIT_KEYS = ("gating-audit", "camp-audit", "audit-summary")
# Done-record kinds that are group membership changes: one call per group a run
# (``PUT/DELETE /groups/{id}/members.json`` take up to 1,000 usernames:
# ``groups_controller.rb#add_members``, ``ADD_MEMBERS_LIMIT``).
GROUP_KEYS = ("camp-join", "camp-promote", "camp-leave", "camp-alumni", "camp-remove", "squad-add")
GROUP_KEYS += ("squad-remove", "squad-lead", "leaders", "ladder-remove", "ladder-group")
# Group kinds whose key's second word is the group's (a squad's slug); the others change
# one group each (the camp's, the alumni's, the leaders').
PER_SQUAD_GROUP_KEYS = ("squad-add", "squad-remove", "squad-lead")
GROUP_BATCH = 1_000  # usernames per membership call
GROUPS_LISTING = "GET /groups.json"  # the roster reconcile's listing (``user_count`` per group)


def done_keys(redis: Any) -> list[str]:
    """Every done record's key (``diamond:done:<key>``, the prefix removed)."""
    return [
        k.decode().removeprefix(DONE_PREFIX)
        for k in redis.scan_iter(match=DONE_PREFIX + "*", count=5000)
        if not k.endswith(b":claim") and not k.endswith(b":sent")
    ]


def minimum_writes(keys: Iterable[str]) -> Counter[str]:
    """The writes one run needs for the changes it recorded (done keys), by kind: one per
    distinct change, except staff audit-log entries (once per kind: one post lists them)
    and group membership changes (once per group, per 1,000 usernames)."""
    units: Counter[tuple[str, str]] = Counter()
    for key in set(keys):
        kind, _, rest = key.partition(":")
        if kind in AUDIT_KEYS:
            units[(kind, "")] = 1
        elif kind in GROUP_KEYS:
            units[(kind, rest.split(":", 1)[0] if kind in PER_SQUAD_GROUP_KEYS else "")] += 1
        else:
            units[(kind, key)] += 1
    writes: Counter[str] = Counter()
    for (kind, _group), n in units.items():
        writes[kind] += math.ceil(n / GROUP_BATCH) if kind in GROUP_KEYS else n
    return writes


def minimum_reads_of_run(calls: Mapping[str, int], lists: int = 1) -> int:
    """The reads a scheduled run needs: none if Redis held its facts (it read nothing),
    else its one list (``lists``: the catch-up scan the pages of what it must list), and
    the roster reconcile's listing once more when the run made it (a hand change whose
    event was lost is seen only there; its pages count as one, member re-reads as none)."""
    gets = {k for k, n in calls.items() if n and k.startswith("GET ")}
    return (lists if gets - {GROUPS_LISTING} else 0) + (1 if GROUPS_LISTING in gets else 0)


LATEST_POSTS_PAGE = 50  # Discourse's latest posts page (``LatestPostsQuery::PAGE_SIZE``)


def catchup_lists(redis: Any, forum: Any) -> int:
    """The lists the catch-up scan's next run must read to find what webhooks missed: the
    ``GET /posts.json`` pages of the public posts newer than its watermark (a first scan
    looks back ``FIRST_SCAN_LOOKBACK_POSTS``), 50 a page, plus the page that reaches the
    last one seen; and one listing of the pending sign-ups (a lost ``user_created`` is
    seen only there). ``forum``: the sandbox's."""
    from worker.pipeline.catchup import FIRST_SCAN_LOOKBACK_POSTS, LAST_POST_KEY

    remembered = redis.get(LAST_POST_KEY)
    with forum.lock:
        newest = max(forum.posts, default=0)
        mark = int(remembered) if remembered else newest - FIRST_SCAN_LOOKBACK_POSTS
        listed = sum(
            1
            for post_id, post in forum.posts.items()
            if post_id > mark
            and post.deleted_at is None
            and forum.topics[post.topic_id].archetype == "regular"
            and forum.topics[post.topic_id].deleted_at is None
        )
    return listed // LATEST_POSTS_PAGE + 1 + 1
