"""A steady-state week of a large community, and what its forum calls cost at 10,000 members.

    python -m bench.scale [--members 1000] [--campers 1000] [--squad-size 10]

The real pipeline (receiver, dramatiq workers, scheduler, Redis) runs against the sandbox,
as in ``diamond demo``; the community is built directly in the sandbox (members, squads
with their groups and private categories, as ``form_squads`` leaves them) so sign-up and
the camp are skipped. Then one week happens: Monday's threads, articles (40 % on Tuesday,
50 % on Saturday, 10 % never), reviews of the ring's neighbours (the pairs complete on
Tuesday on Wednesday, the rest on Sunday; 10 % of writers skip theirs), the Friday,
Sunday and Monday reminders (each carrying its squad's roll call), the catch-up scans,
the Tuesday audit with its ladder, and the weekly badges and health report of the
audited week. Separately, a camp check of a 1,000-person intake (85 % pass, 15 %
extended).

Figures:

- **calls per member-week by kind** (the client's endpoint label): every call in the
  week window (Monday 00:00 to the audit and the badge and report runs of that week) over
  the members. The runs that belong to the next week (its thread opening) are left out.
- **the true minimum**, counted from what happened, not from Diamond's calls:
    * writes that carry information nobody else sends: each distinct forum change the
      Applier recorded in the window (``diamond:done:*``: a weekly thread, a reminder, a
      PM, a penalty, a badge...), except that staff audit-log entries count once per kind
      (one post lists a run's decisions) and so do group membership changes
      (``PUT/DELETE /groups/{id}/members.json`` take up to 1,000 usernames:
      ``groups_controller.rb#add_members``, ``ADD_MEMBERS_LIMIT``). The roll call is no
      write of its own: with ``article.roll_call: reminders`` (shipped) it comes with the
      reminder posted in the squad's thread, one write, and the first post is never
      edited (``roll_call: posts`` would add its edits, about four per squad a week);
    * reads no body or list carries: one per scheduled run that read the forum at all
      (its list; a run whose facts Redis held needs none), except the catch-up scan, which
      must list every public post since its last run to find what webhooks missed: one
      ``GET /posts.json`` page per 50 of them, plus the page that reaches the last one seen
      (``LatestPostsQuery::PAGE_SIZE``), counted before each run, and the pending sign-ups
      once (``bench.common.catchup_lists``); and nothing per post event:
      the signed ``post_created`` body carries every fact of the post
      (``WebHookPostSerializer``) and the weekly thread's facts (category, title, first
      post) come from the answer that opened it, so neither ``GET /posts/{id}.json`` nor
      ``GET /t/{id}.json`` is needed (the figures list any left, by job). The roster is
      state kept current by Diamond's own writes and the ``group_user`` events; what no
      body carries is a hand change whose event was lost, so a run that reconciles the
      roster needs its ``GET /groups.json`` listing (``user_count`` per group): it counts
      once for each run that made it, besides that run's own list if it read anything
      else (the listing's pages, 36 groups each, count as one; member re-reads as none).
  Next week's thread opening is left out of both sides.
  ``api_calls`` / minimum must stay <= 1.10.
- **roster/group reads per member-week**: ``GET /groups.json`` and
  ``GET /groups/{name}/members.json`` in the week. The roster's freshness is judged on the
  story's clock (``worker.clock``), so the bench sees the reads a live forum makes between
  runs hours apart (before the roster became state: ``1 + squads`` a run, 1.3 a member-week).
- **projected waves at 10,000 members** under 50 calls/minute: each wave's calls scale
  with the members (a wave's fixed reads do not, so this errs on the slow side); the
  camp check is measured on a 1,000-person intake directly.

Targets (issue #17): <= 1.0 call per member-week at 1,000 members; the Friday reminder
wave <= 25 min and the 1,000-person camp check <= 10 min at 10,000 members; 0 failed jobs.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.common import (
    Figure,
    at_most,
    catchup_lists,
    done_keys,
    emit,
    minimum_reads_of_run,
    minimum_writes,
)

BUDGET_PER_MINUTE = 50  # what Diamond may count on of the forum's 60 a minute
PROJECTED_MEMBERS = 10_000
TARGET_PER_MEMBER_WEEK = 1.0
TARGET_FRIDAY_MINUTES = 25.0
TARGET_CAMP_MINUTES = 10.0
TARGET_RATIO = 1.10
CATCHUP = "catchup_scan"
# The roster's reads (the reconcile's listing, a group's members), shown as their own line.
ROSTER_READS = ("GET /groups.json", "GET /groups/{name}/members.json")
# Reads of one object each, shown per job (``figures``): the ones to avoid.
PER_OBJECT_READS = ("GET /t/{id}.json", "GET /posts/{id}.json")
# The week measured: Monday 16 March 2026 (community time zone) and its Tuesday audit.
WEEK_MONDAY = datetime(2026, 3, 16)
SEED_AT = datetime(2026, 3, 2, 10, 0)  # members joined their squads two weeks before


@dataclass
class Wave:
    name: str
    calls: Counter[str] = field(default_factory=Counter)
    runs: int = 0
    # Reads no body or list could spare (the true minimum's): per run that read at all, its
    # one list, or for the catch-up scan the pages of what it had to list.
    min_reads: int = 0

    def add_run(self, calls: Counter[str], min_reads: int = 1) -> None:
        self.calls.update(calls)
        self.runs += 1
        self.min_reads += minimum_reads_of_run(calls, min_reads)

    @property
    def total(self) -> int:
        return sum(self.calls.values())


@dataclass
class Measured:
    members: int
    squads: int
    waves: dict[str, Wave] = field(default_factory=dict)
    posts: Counter[str] = field(default_factory=Counter)  # calls while posts were handled
    done: Counter[str] = field(default_factory=Counter)  # done records by key kind
    done_keys: list[str] = field(default_factory=list)  # the week's done records
    failed_jobs: int = 0
    wall_seconds: float = 0.0
    story: dict[str, int] = field(default_factory=dict)

    def week_calls(self) -> Counter[str]:
        total: Counter[str] = Counter(self.posts)
        for wave in self.waves.values():
            total.update(wave.calls)
        return total


class Bench:
    """The running stack, the sandbox's forum state and a clock that fires jobs."""

    def __init__(self, workdir: Path) -> None:
        from worker.demo.stack import DemoStack, StackOptions

        self.tz = ZoneInfo("Asia/Shanghai")
        self.stack = DemoStack(
            workdir, StackOptions(simulated_start=SEED_AT.replace(tzinfo=self.tz))
        )
        self.rng = random.Random(17)

    def start(self) -> None:
        from worker.config_sync.apply import sync
        from worker.config_sync.desired import load_desired
        from worker.demo.timeline import SimulatedTime
        from worker.forum.client import ForumClient
        from worker.pipeline import runtime
        from worker.pipeline.broker import setup_broker
        from worker.pipeline.jobs import load_actors
        from worker.rules import load_rules

        settings = self.stack.settings
        assert settings is not None and self.stack.redis is not None
        self.redis = self.stack.redis
        runtime.reset()
        runtime.configure(redis_url=self.stack.redis_url, settings_obj=settings)
        broker = setup_broker(self.stack.redis_url)
        load_actors()
        self.rules = load_rules(settings.rules_dir)
        self.client = ForumClient.from_settings(settings, self.redis, on_limit="wait")
        desired = load_desired(
            settings.plugin_config_dir,
            receiver_url=settings.receiver_url,
            webhook_secret=settings.webhook_secret.get_secret_value(),
            badges=self.rules.badges.badges,
        )
        report = sync(self.client, desired)
        if not report.converged:
            raise RuntimeError(f"diamond apply did not converge: {report.final_plan}")
        self.forum = self.stack.sandbox.forum
        self.sim = SimulatedTime(
            self.redis,
            broker,
            self.rules.tz,
            SEED_AT.replace(tzinfo=self.tz),
            settle=self.settle,
        )

    def stop(self) -> None:
        self.stack.stop()

    def settle(self) -> None:
        self.stack.wait_idle(timeout=600)

    def calls(self) -> Counter[str]:
        from worker.forum.client import CALL_COUNTS_KEY

        raw = self.redis.hgetall(CALL_COUNTS_KEY)
        return Counter({k.decode(): int(v) for k, v in raw.items()})

    def catchup_lists(self) -> int:
        """The lists the catch-up scan's next run must read (``bench.common``)."""
        return catchup_lists(self.redis, self.forum)

    def at(self, day: datetime, hour: int, minute: int = 0) -> datetime:
        return day.replace(hour=hour, minute=minute, tzinfo=self.tz)

    # --------------------------------------------------------------- the community

    def seed_members(self, n: int, squad_size: int) -> dict[str, list[str]]:
        """``n`` members in squads of ``squad_size`` (group, leader group, category)."""
        from worker.engine.squads import Squad, leader_group_name, squad_bio

        forum = self.forum
        groups = self.rules.community.groups
        members_group = forum.find_group(groups.members)
        leaders_group = forum.find_group(groups.leaders)
        users = [self._user(f"m{i:05d}") for i in range(n)]
        forum.add_members(members_group, users)
        squads: dict[str, list[str]] = {}
        for s, start in enumerate(range(0, n, squad_size)):
            chunk = users[start : start + squad_size]
            slug = f"s26-{s + 1:04d}"
            squad = Squad(
                slug=slug, full_name=f"Squad {s + 1:04d}", cohort="2026-02-16", members=()
            )
            group = forum.create_group(
                name=slug,
                full_name=squad.full_name,
                bio_raw=squad_bio(self.rules, squad, None),
                visibility_level=2,
                members_visibility_level=2,
                messageable_level=3,
                mentionable_level=3,
            )
            lead = forum.create_group(name=leader_group_name(self.rules, slug), visibility_level=3)
            forum.add_members(group, chunk)
            forum.add_members(group, chunk[:1], owners=True)
            forum.add_members(lead, chunk[:1])
            if leaders_group is not None:
                forum.add_members(leaders_group, chunk[:1])
            forum.create_category(
                name=squad.full_name,
                slug=slug,
                permissions={slug: 1, "staff": 1},
                moderating_group_ids=[lead.id],
            )
            squads[slug] = [u.username for u in chunk]
        return squads

    def _user(self, username: str) -> Any:
        return self.forum.create_user(
            username=username,
            email=f"{username}@example.com",
            active=True,
            approved=True,
            trust_level=1,
            emit=False,
        )

    def seed_campers(self, n: int, started: datetime, passing: float) -> None:
        """``n`` campers whose camp ended: ``passing`` of them did every task."""
        from worker.engine.camp import Camper, CampPost
        from worker.state.membership import MembershipStore

        camp = self.rules.camp
        store = MembershipStore(self.redis)
        group = self.forum.find_group(self.rules.community.groups.camp)
        users = [self._user(f"c{i:05d}") for i in range(n)]
        self.forum.add_members(group, users)
        for i, user in enumerate(users):
            store.start_camp(Camper(user.id, user.username, started), city=None, volunteer=False)
            if i >= n * passing:
                continue
            posts = [CampPost(1, started + timedelta(hours=2), 400, "introductions", True)]
            posts += [
                CampPost(10 + d, started + timedelta(days=d, hours=3), 50, "checkins", True)
                for d in range(camp.tasks.checkins.min_days)
            ]
            mates = [users[(i + k) % n].username for k in (1, 2, 3, 4)]
            posts += [
                CampPost(20 + k, started + timedelta(days=1, hours=k), 60, "checkins", False, m)
                for k, m in enumerate(mates)
            ]
            for post in posts:
                store.record_camp_post(user.username, post)

    # --------------------------------------------------------------- people write

    def reply(self, username: str, topic_id: int, raw: str, to: int | None = None) -> Any:
        user = self.forum.find_user(username)
        return self.forum.create_post(user, raw=raw, topic_id=topic_id, reply_to_post_number=to)


def _thread_ids(bench: Bench, week: Any) -> dict[str, int]:
    from worker.state.ledger import Ledger

    return Ledger(bench.redis).threads(week)


def run_week(bench: Bench, members: int, squad_size: int) -> Measured:
    from worker.demo.people import article_text, review_text
    from worker.engine.weeks import Week

    squads = bench.seed_members(members, squad_size)
    m = Measured(members=members, squads=len(squads))
    rng = bench.rng
    monday = bench.at(WEEK_MONDAY, 0)
    iso = monday.isocalendar()
    week = Week(iso.year, iso.week)
    # Nothing from the seeding counts; the scheduler starts just before the week.
    bench.sim.advance_to(monday - timedelta(minutes=30))
    from worker.forum.client import CALL_COUNTS_KEY

    bench.redis.delete(CALL_COUNTS_KEY)
    done_before = set(_done_keys(bench))

    def fire_due(until: datetime) -> None:
        for moment, job in bench.sim.due(bench.sim.now, until):
            bench.settle()
            from worker import clock

            clock.set_simulated_now(bench.redis, moment)
            before = bench.calls()
            # The scan lists what came since its last run: 50 posts a page at best.
            pages = bench.catchup_lists() if job.name == CATCHUP else 1
            if bench.sim.scheduler.fire(job, moment):
                bench.sim.fired.append((job.name, moment))
                bench.settle()
                wave = m.waves.setdefault(
                    _wave_name(job.name, moment), Wave(_wave_name(job.name, moment))
                )
                wave.add_run(bench.calls() - before, pages)
        bench.settle()
        from worker import clock

        clock.set_simulated_now(bench.redis, until)

    def people(when: datetime, act: Callable[[], None]) -> None:
        fire_due(when)
        before = bench.calls()
        act()
        bench.settle()
        m.posts.update(bench.calls() - before)

    # Who writes when: 40 % Tuesday, 50 % Saturday, 10 % never; 10 % skip reviews.
    plan: dict[str, str] = {}
    lazy_reviewers: set[str] = set()
    for names in squads.values():
        for name in names:
            r = rng.random()
            plan[name] = "tue" if r < 0.4 else "sat" if r < 0.9 else "never"
            if rng.random() < 0.1:
                lazy_reviewers.add(name)
    articles: dict[str, dict[str, int]] = {s: {} for s in squads}  # squad -> writer -> post#

    def write(day: str) -> None:
        threads = _thread_ids(bench, week)
        for slug, names in squads.items():
            topic = threads.get(slug)
            if topic is None:
                continue
            for name in names:
                if plan[name] == day:
                    post = bench.reply(name, topic, f"## {name}\n\n" + article_text(rng))
                    articles[slug][name] = post.post_number

    def review(final: bool) -> None:
        threads = _thread_ids(bench, week)
        for slug, written in articles.items():
            order = sorted(written, key=lambda n: written[n])
            ring = _ring(order)
            for reviewer, targets in ring.items():
                if reviewer in lazy_reviewers:
                    continue
                for author in targets:
                    both_tue = plan[reviewer] == "tue" and plan[author] == "tue"
                    adjacent = abs(order.index(reviewer) - order.index(author)) == 1
                    if final == (both_tue and adjacent):
                        continue  # Wednesday: the Tuesday pairs; Sunday: the rest
                    bench.reply(
                        reviewer,
                        threads[slug],
                        f"@{author} " + review_text(rng, 120),
                        to=written[author],
                    )

    t0 = time.monotonic()
    people(bench.at(WEEK_MONDAY + timedelta(days=1), 10), lambda: write("tue"))
    people(bench.at(WEEK_MONDAY + timedelta(days=2), 20), lambda: review(False))
    people(bench.at(WEEK_MONDAY + timedelta(days=5), 15), lambda: write("sat"))
    people(bench.at(WEEK_MONDAY + timedelta(days=6), 18), lambda: review(True))
    fire_due(bench.at(WEEK_MONDAY + timedelta(days=8), 23, 30))
    # The weekly badges and report of the audited week (Sunday's runs reported the week
    # before, which had nothing): run once more now, as next Sunday would.
    for name in ("recognition_weekly_badges", "recognition_weekly_report"):
        before = bench.calls()
        job = bench.sim.scheduler.jobs[name]
        moment = bench.at(WEEK_MONDAY + timedelta(days=8), 23, 40)
        from worker import clock

        clock.set_simulated_now(bench.redis, moment)
        bench.sim.scheduler.fire(job, moment)
        bench.settle()
        wave = m.waves[name] = Wave(name)  # replaces Sunday's empty run
        wave.add_run(bench.calls() - before)
    m.wall_seconds = time.monotonic() - t0
    # Next week's thread opening is next week's.
    m.waves.pop("obligations_open_threads (next week)", None)
    # Next week's thread opening (its own done records) is next week's, as its calls are.
    new_done = [
        k
        for k in _done_keys(bench)
        if k not in done_before and not (k.startswith("weekly-thread:") and str(week) not in k)
    ]
    m.done = Counter(k.split(":", 1)[0] for k in new_done)
    m.done_keys = new_done
    m.failed_jobs = bench.stack.failed_jobs()
    m.story = {
        "articles": sum(len(w) for w in articles.values()),
        "threads": len(_thread_ids(bench, week)),
    }
    return m


def _wave_name(job: str, moment: datetime) -> str:
    if job == "obligations_open_threads" and moment.date() > WEEK_MONDAY.date():
        return "obligations_open_threads (next week)"
    return job


def _ring(order: list[str]) -> dict[str, tuple[str, ...]]:
    from worker.engine.obligations import neighbour_indexes

    return {
        order[i]: tuple(order[j] for j in targets)
        for i, targets in enumerate(neighbour_indexes(len(order), 1))
    }


def _done_keys(bench: Bench) -> list[str]:
    return done_keys(bench.redis)


def run_camp_check(bench: Bench, campers: int) -> Wave:
    """The daily camp check the day a 1,000-person intake's camp ends."""
    from worker import clock

    moment = bench.at(WEEK_MONDAY + timedelta(days=14), 9)
    bench.sim.advance_to(moment - timedelta(minutes=1))
    days = bench.rules.camp.duration_days
    bench.seed_campers(campers, moment - timedelta(days=days, hours=1), passing=0.85)
    # One camper of the same intake joined yesterday: the cohort is not complete, so this
    # check forms no squads (formation is a wave of its own, not the check's).
    late = bench._user("c-late")
    bench.forum.add_members(bench.forum.find_group(bench.rules.community.groups.camp), [late])
    from worker.engine.camp import Camper
    from worker.state.membership import MembershipStore

    MembershipStore(bench.redis).start_camp(
        Camper(late.id, late.username, moment - timedelta(days=1)), city=None, volunteer=False
    )
    wave = Wave("membership_camp_check")
    before = bench.calls()
    clock.set_simulated_now(bench.redis, moment)
    bench.sim.scheduler.fire(bench.sim.scheduler.jobs["membership_camp_check"], moment)
    bench.settle()
    wave.calls = bench.calls() - before
    wave.runs = 1
    return wave


# ------------------------------------------------------------------- figures


def minutes_at(calls: float) -> float:
    return calls / BUDGET_PER_MINUTE


def figures(m: Measured, camp: Wave | None, camp_size: int) -> list[Figure]:
    week = m.week_calls()
    total = sum(week.values())
    per = m.members
    out = [
        Figure(f"calls/member-week {label}", n / per, "calls") for label, n in week.most_common()
    ]
    out.append(at_most("calls per member-week", total / per, "calls", TARGET_PER_MEMBER_WEEK))
    roster_reads = sum(week[label] for label in ROSTER_READS)
    out.append(Figure("roster/group reads per member-week", roster_reads / per, "calls"))
    minimum = _minimum(m)
    out += [
        Figure("true minimum per member-week", minimum / per, "calls"),
        at_most("calls / true minimum", total / max(1, minimum), "x", TARGET_RATIO),
        Figure("calls while posts were handled", sum(m.posts.values()), "calls"),
    ]
    # Per-object reads, by who made them: each is a fact no body or list carried.
    reads = {"posts handled": m.posts, **{n: w.calls for n, w in m.waves.items()}}
    for name, calls in sorted(reads.items()):
        for label in PER_OBJECT_READS:
            if calls.get(label):
                out.append(Figure(f"{label} by {name}"[:48], calls[label], "calls"))
    scale = PROJECTED_MEMBERS / m.members
    for name, wave in sorted(m.waves.items()):
        projected = minutes_at(wave.total / max(1, wave.runs) * scale)
        label = f"@10k {name.removeprefix('obligations_').removeprefix('recognition_')}"
        if name == _friday_wave(m):
            out.append(at_most(label[:48], projected, "min", TARGET_FRIDAY_MINUTES))
        else:
            out.append(Figure(label[:48], projected, "min"))
    if camp is not None:
        out.append(
            at_most(
                f"camp check of {camp_size} campers",
                minutes_at(camp.total),
                "min",
                TARGET_CAMP_MINUTES,
            )
        )
        out += [
            Figure(f"camp check calls {label}"[:48], n, "calls")
            for label, n in camp.calls.most_common(6)
        ]
    out += [
        at_most("failed jobs", m.failed_jobs, "jobs", 0),
        Figure("members", m.members, ""),
        Figure("squads", m.squads, ""),
        *(Figure(f"story: {k}", v, "") for k, v in m.story.items()),
        Figure("week wall time", m.wall_seconds, "s"),
    ]
    return out


def _friday_wave(m: Measured) -> str:
    fridays = [n for n in m.waves if n.startswith("obligations_remind_")]
    # The Friday run is the first reminder of the week (rules/obligations.yml order).
    from worker.engine.obligations import reminder_id
    from worker.rules import load_rules

    rules = load_rules(Path(__file__).resolve().parents[1] / "rules")
    first = rules.obligations.reminders[0]
    name = f"obligations_remind_{reminder_id(first)}"
    return name if name in fridays else ""


def _minimum(m: Measured) -> int:
    """See the module docstring: information-carrying writes plus unavoidable reads."""
    # The week's changes counted as one run's: its audit-log entries once per kind, its
    # membership changes once per group (``bench.common.minimum_writes``).
    writes = sum(minimum_writes(m.done_keys).values())
    # A run that read anything needed at least its one list (the catch-up scan the pages
    # of what it listed; the roster reconcile's listing once more); runs served from Redis
    # none (``Wave.add_run``).
    return writes + sum(w.min_reads for w in m.waves.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--squad-size", type=int, default=10)
    parser.add_argument("--campers", type=int, default=1000)
    parser.add_argument("--dump", help="write each job's calls and the done records (JSON)")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="diamond-scale-"))
    from worker.demo.run import _environment, _quiet_logging

    bench = Bench(workdir)
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    with _quiet_logging(workdir / "logs" / "bench.log"):
        try:
            bench.stack.start_all()
            with _environment(bench.stack.env):
                bench.start()
                measured = run_week(bench, args.members, args.squad_size)
                camp = run_camp_check(bench, args.campers) if args.campers else None
        finally:
            bench.stop()
    if args.dump:
        waves = {n: dict(w.calls) for n, w in measured.waves.items()}
        runs = {n: w.runs for n, w in measured.waves.items()}
        data = {"waves": waves, "runs": runs, "posts": dict(measured.posts)}
        Path(args.dump).write_text(json.dumps({**data, "done": dict(measured.done)}, indent=1))
    emit(figures(measured, camp, args.campers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
