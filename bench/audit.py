"""The weekly audit engine at scale: 100,000 members, 100,000 articles, 200,000 reviews.

10,000 squads of 10 in thread mode; every member writes (some late, some edited
from a stub); each reviews the neighbours above and below, a few late or missing.
Timed: ``evaluate_week`` (results of every member) + ``plan_audit`` (standings,
ladder, guard rail, actions), with a strike history for every member.
Targets: <= 3 s and <= 1 GiB peak resident memory.

    python -m bench.audit
"""

from __future__ import annotations

import datetime as dt
import gc
import random
import time
from pathlib import Path

from bench.common import Figure, at_most, emit, peak_rss_mib, stopwatch
from worker.engine.facts import Squad
from worker.engine.obligations import Version, WeekPost, evaluate_week
from worker.engine.penalties import plan_audit
from worker.engine.textlen import QuoteRef
from worker.engine.weeks import Week, week_times
from worker.rules import load_rules

MEMBERS = 100_000
SQUAD_SIZE = 10
WEEK = Week(2026, 47)
ROOT = Path(__file__).resolve().parent.parent


def build(rules, seed: int = 47):
    """Squads and their posts: one article per member and two reviews each."""
    from worker.engine.obligations import SquadWeek

    rnd = random.Random(seed)
    tz = rules.tz
    times = week_times(rules.obligations, WEEK, tz)
    monday = WEEK.start(tz).astimezone(dt.UTC)  # posts carry UTC times, as Discourse sends
    squads = []
    post_id = 0
    articles = reviews = 0
    for s in range(MEMBERS // SQUAD_SIZE):
        names = tuple(f"u{s}_{i}" for i in range(SQUAD_SIZE))
        squad = Squad(f"sq-{s}", f"{s}组", "2026-11", names, leader=names[0], category_id=s + 1)
        topic = 100_000 + s
        posts = []
        floors = []
        for i, name in enumerate(names):
            post_id += 1
            created = monday + dt.timedelta(hours=rnd.randint(1, 140), seconds=i)
            if rnd.random() < 0.03:
                created = times.deadline + dt.timedelta(hours=rnd.randint(1, 20))  # late
            versions = (Version(created, rnd.randint(800, 2000)),)
            if rnd.random() < 0.05:  # stub edited to full later
                versions = (Version(created, 50), Version(created + dt.timedelta(hours=3), 900))
            floors.append(WeekPost(post_id, topic, i + 2, name, created, versions, None))
        articles += len(floors)
        floors.sort(key=lambda p: p.created_at)
        posts.extend(floors)
        number = len(names) + 2
        for i, art in enumerate(floors):
            for target in (floors[i - 1], floors[(i + 1) % len(floors)]):
                if rnd.random() < 0.01:
                    continue  # missing review
                post_id += 1
                number += 1
                when = max(art.created_at, target.created_at) + dt.timedelta(
                    hours=rnd.randint(1, 12)
                )
                # 30% review by quoting the article, the rest by replying to it
                quotes = ()
                reply_to: int | None = target.post_number
                if rnd.random() < 0.3:
                    quotes, reply_to = (QuoteRef(target.username, topic, target.post_number),), None
                units = rnd.randint(100, 400) if rnd.random() > 0.01 else 40  # 1% too short
                version = Version(when, units, quotes)
                posts.append(
                    WeekPost(post_id, topic, number, art.username, when, (version,), reply_to)
                )
                reviews += 1
        squads.append(SquadWeek(squad, WEEK, tuple(posts), topic))
    histories = {
        f"u{s}_{i}": {WEEK.shift(-k): rnd.choice((0, 0, 0, 1, 2)) for k in range(1, 5)}
        for s in range(MEMBERS // SQUAD_SIZE)
        for i in range(SQUAD_SIZE)
    }
    return squads, histories, articles, reviews


def main() -> None:
    rules = load_rules(ROOT / "rules")
    squads, histories, articles, reviews = build(rules)
    gc.collect()
    cpu_start = time.process_time()
    with stopwatch() as elapsed:
        results = evaluate_week(rules.obligations, rules.tz, WEEK, squads)
        evaluated = elapsed()
        plan = plan_audit(
            rules,
            results,
            histories,
            now=week_times(rules.obligations, WEEK, rules.tz).review_cap,
            user_ids={name: n for n, name in enumerate(histories)},
            threads={sw.squad.slug: sw.thread_topic_id for sw in squads},
            audit_log_category_id=1,
            confirmed=True,
        )
    total = elapsed()
    cpu = time.process_time() - cpu_start
    peak = peak_rss_mib()
    missed = sum(1 for r in results.by_member.values() if r.outcome == "missed")
    emit(
        [
            Figure("members", len(results.by_member), "members"),
            Figure("articles", articles, "posts"),
            Figure("reviews posted", reviews, "posts"),
            Figure("members who missed something", missed, "members"),
            Figure("ladder decisions", len(plan.decisions), "decisions"),
            Figure("actions planned", len(plan.actions), "actions"),
            Figure("evaluate_week", evaluated, "s"),
            at_most("audit engine (evaluate + plan), wall clock", total, "s", 3.0),
            Figure("audit engine, CPU time of this process", cpu, "s"),
            at_most("peak resident memory", peak, "MiB", 1024.0),
        ]
    )


if __name__ == "__main__":
    main()
