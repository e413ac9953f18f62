"""Benchmark: the weekly health report for 10,000 members and 1,000,000 interactions.

Targets: building the report and rendering it (terminal, forum post, HTML, every
leader's part) in <= 10 s and <= 2 GiB peak memory. Badge evaluation over the
same facts is reported beside it.

    python -m bench.report
"""

from __future__ import annotations

import os
import random
import time
from datetime import timedelta
from pathlib import Path

from bench.common import Figure, at_most, emit, peak_rss_mib, stopwatch
from worker.engine.facts import LikeFact, PostFact, Roster, Squad
from worker.engine.graph import PostIndex, week_range, week_start
from worker.engine.health import HealthFacts, build_report, paused_gc
from worker.engine.recognition import RecognitionFacts, WeekResult, evaluate_badges
from worker.engine.textlen import QuoteRef
from worker.engine.weeks import Week
from worker.report import render_html, render_leader_part, render_post, render_text
from worker.rules import load_rules

MEMBERS = 10_000
SQUAD_SIZE = 10
TARGET_INTERACTIONS = 1_000_000
LIKES = 400_000
CROSS_SQUAD = 0.15  # share of replies that go to another squad
QUOTE_SHARE = 0.1
WEEK = Week(2026, 47)
ROOT = Path(__file__).resolve().parent.parent


def build_world(rules) -> tuple[HealthFacts, int]:
    rng = random.Random(8)
    tz = rules.tz
    names = [f"u{i:05d}" for i in range(MEMBERS)]
    squads = tuple(
        Squad(f"sq-{k:04d}", f"第{k}组", "2026-11", tuple(names[i : i + SQUAD_SIZE]), names[i])
        for k, i in enumerate(range(0, MEMBERS, SQUAD_SIZE))
    )
    roster = Roster(squads)
    weeks = week_range(WEEK, rules.health.lookback_weeks + rules.health.isolation_weeks - 1)
    posts: list[PostFact] = []
    results: dict[Week, dict[str, WeekResult]] = {}
    pid = 0
    articles_by_week: list[list[PostFact]] = []
    for w in weeks:
        monday = week_start(w, tz)
        week_articles = []
        for m, name in enumerate(names):
            pid += 1
            post = PostFact(
                pid, pid, 1, m, name, monday + timedelta(days=2, seconds=m), 900, category_id=10
            )
            posts.append(post)
            week_articles.append(post)
        articles_by_week.append(week_articles)
        results[w] = {}
        for squad_index, squad in enumerate(squads):
            base = squad_index * SQUAD_SIZE
            for j, name in enumerate(squad.members):
                art = week_articles[base + j]
                owed = frozenset(
                    {
                        week_articles[base + (j - 1) % SQUAD_SIZE].id,
                        week_articles[base + (j + 1) % SQUAD_SIZE].id,
                    }
                )
                status = "met" if rng.random() < 0.85 else "missed"
                results[w][name] = WeekResult(status, art.id, art.created_at, owed, 2, False)
    replies = TARGET_INTERACTIONS - LIKES
    numbers: dict[int, int] = {}
    for _ in range(replies):
        wk = rng.randrange(len(weeks))
        author = rng.randrange(MEMBERS)
        if rng.random() < CROSS_SQUAD:
            target = rng.randrange(MEMBERS)
        else:
            target = (author // SQUAD_SIZE) * SQUAD_SIZE + rng.randrange(SQUAD_SIZE)
        article = articles_by_week[wk][target]
        number = numbers.get(article.topic_id, 1) + 1
        numbers[article.topic_id] = number
        pid += 1
        quotes = ()
        if rng.random() < QUOTE_SHARE:
            other = articles_by_week[wk][rng.randrange(MEMBERS)]
            quotes = (QuoteRef(other.username, other.topic_id, 1),)
        posts.append(
            PostFact(
                pid,
                article.topic_id,
                number,
                author,
                names[author],
                article.created_at + timedelta(hours=1 + rng.random() * 48),
                rng.choice((40, 120, 300)),
                category_id=10,
                reply_to_post_number=1,
                quotes=quotes,
            )
        )
    likes = []
    for _ in range(LIKES):
        post = posts[rng.randrange(len(posts))]
        likes.append(LikeFact(post.id, names[rng.randrange(MEMBERS)], post.created_at))
    recognition = RecognitionFacts(
        posts=PostIndex(posts),
        likes=likes,
        roster=roster,
        results=results,
        category_ids={"digests": 11, "introductions": 12},
        base_url="https://forum.example",
    )
    stages = {
        "pending": frozenset(f"p{i}" for i in range(200)),
        "camp": frozenset(f"c{i}" for i in range(300)),
        "members": frozenset(names),
        "alumni": frozenset(f"a{i}" for i in range(500)),
    }
    facts = HealthFacts(recognition=recognition, stages=stages, staff=frozenset({"system"}))
    return facts, len(posts)


def main() -> None:
    rules = load_rules(ROOT / "rules")
    with stopwatch() as setup:
        facts, post_count = build_world(rules)
    load_before = os.getloadavg()[0]
    cpu_start = time.process_time()
    with stopwatch() as report_time:
        report = build_report(rules, facts, WEEK)
    with stopwatch() as render_time, paused_gc():  # as worker.steps.health_report renders
        text = render_text(rules, report)
        post = render_post(rules, report)
        html = render_html(rules, report)
        parts = [render_leader_part(rules, report, s.slug) for s in report.squads]
    cpu_total = time.process_time() - cpu_start
    with stopwatch() as badge_time:
        decisions = evaluate_badges(rules, facts.recognition, WEEK, held={})
    interactions = sum(1 for p in facts.recognition.posts if p.post_number > 1) + len(
        facts.recognition.likes
    )
    total = report_time() + render_time()
    figures: list[Figure] = [
        Figure("members", MEMBERS, "members"),
        Figure("interactions (replies, quotes' posts, likes)", interactions, "items"),
        Figure("posts", post_count, "posts"),
        Figure("world setup (not part of the target)", setup(), "s"),
        Figure("build_report", report_time(), "s"),
        Figure("render text + post + HTML + leader parts", render_time(), "s"),
        at_most("report total (build + render)", total, "s", 10),
        Figure("report total, CPU time of this process", cpu_total, "s"),
        Figure("evaluate_badges (7 badges)", badge_time(), "s"),
        Figure("badge grants decided", len(decisions), "grants"),
        Figure("graph edges this week", report.graph.current.edges, "edges"),
        Figure("HTML size", len(html.encode()) / 1024, "KiB"),
        Figure("post + terminal size", (len(post.body) + len(text)) / 1024, "KiB"),
        Figure("leader parts", len(parts), "PMs"),
        at_most("peak memory", peak_rss_mib(), "MiB", 2048),
        Figure("machine load average (1 min) before the report", load_before, "procs"),
    ]
    emit(figures)


if __name__ == "__main__":
    main()
