"""Every topic Diamond opens has a title no other topic of the forum ever had.

Discourse refuses a topic whose title a listable topic already holds, for admins too
(``Topic validates :title, unique_among``), so a title that repeats (the audit of week
3, every year) stops the job that writes it. The test opens every kind of topic the
engines write over two years of weeks, for many members and squads, and looks for a
title twice; ``diamond check`` refuses a title template that cannot be unique.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.obligations import SH, Thread, shipped_rules
from tests.support.rules_cases import edit, problems_of
from worker import actions as a
from worker.apply import Applier
from worker.engine.camp import Camper, camp_log_actions, evaluate_camp, verdict_actions
from worker.engine.facts import MemberFact, Roster, Squad
from worker.engine.gating import Applicant, GatingFacts, evaluate_application, gating_actions
from worker.engine.obligations import SquadWeek, evaluate_week, plan_weekly_threads
from worker.engine.penalties import plan_audit
from worker.engine.recognition import BadgeDecision, badge_actions
from worker.engine.squads import Graduate, plan_squads, squad_actions
from worker.engine.weeks import Week
from worker.rules import Rules
from worker.steps.health_report import report_actions


def two_years() -> Iterator[Week]:
    """Every ISO week of 2026 and 2027 (2026 has 53)."""
    week = Week(2026, 1)
    while week.year < 2028:
        yield week
        week = week.next()


def _squads(cohort: str, count: int) -> list[Squad]:
    return [
        Squad(
            slug=f"sq-{cohort}-{n}",
            full_name=f"{cohort} 第{n}组",
            cohort=cohort,
            members=tuple(f"m{n}{i}" for i in range(10)),
            leader=f"m{n}0",
            category_id=100 + n,
        )
        for n in range(1, count + 1)
    ]


def _weekly_topics(rules: Rules) -> Iterator[a.Action]:
    """Threads, summaries, public notices, audit summaries and halts, badges, health."""
    from tests.pure.test_health import community_world, report_for

    squads = _squads("2026-01", 3)
    report = report_for(*community_world())
    badge = rules.badges.badges[0]
    for week in two_years():
        yield from plan_weekly_threads(rules, squads, week, {})
        monday = dt.datetime.fromisocalendar(week.year, week.number, 1).replace(hour=9, tzinfo=SH)
        weeks = []
        for sq in squads:
            t = Thread(topic_id=900 + week.number)
            writers = sq.members[:-1]  # the last member writes nothing and climbs the ladder
            posts = [t.post(u, monday + dt.timedelta(hours=i), 900) for i, u in enumerate(writers)]
            for i, u in enumerate(writers):
                for target in (posts[(i - 1) % len(posts)], posts[(i + 1) % len(posts)]):
                    t.post(u, monday + dt.timedelta(days=1), 150, reply_to=target.post_number)
            weeks.append(SquadWeek(sq, week, tuple(t.posts), None))
        results = evaluate_week(rules.obligations, SH, week, weeks)
        late = monday + dt.timedelta(days=8)
        histories = {sq.members[-1]: {week.previous(): 4} for sq in squads}  # 6: public notice
        audit = plan_audit(rules, results, histories, now=late, audit_log_category_id=77)
        assert not audit.halted
        yield from audit.actions
        nobody = evaluate_week(
            rules.obligations, SH, week, [SquadWeek(sq, week, (), None) for sq in squads]
        )
        halted = plan_audit(rules, nobody, {}, now=late, audit_log_category_id=77)
        assert halted.halted
        yield from halted.actions
        decisions = [BadgeDecision(badge, "ann", True, reason_url=f"/t/{week.number}/2")]
        yield from badge_actions(rules, decisions, week, audit_category_id=52)
        yield from report_actions(rules, dataclasses.replace(report, week=week), 5)


def _people_topics(rules: Rules) -> Iterator[a.Action]:
    """Gating and camp audit entries for many applicants, a username applying again."""
    good = "我是一名软件工程师,喜欢读书和写作。" * 20
    referrer = MemberFact(user_id=2, username="mentor", groups=frozenset({"members"}))
    start = dt.datetime(2026, 3, 2, 10, 0, tzinfo=SH)
    for uid in range(10, 130):
        name = f"ap{uid % 40}"  # a rejected applicant's name is free again: reused
        application = (good, good + "加微信", "字" * 50)[uid % 3]
        applicant = Applicant(
            user_id=uid,
            username=name,
            email=f"{name}.{uid}@example.com",
            fields={"referrer": "mentor", "application": application, "payment": "ORDER-1"},
        )
        facts = GatingFacts(applicant=applicant, referrer=referrer)
        decision = evaluate_application(rules, facts)
        yield from gating_actions(rules, facts, decision, audit_category_id=9, camp_ends="x")
        for extensions in range(rules.camp.extension.times + 1):
            camper = Camper(user_id=uid, username=name, started_at=start, extensions=extensions)
            now = start + dt.timedelta(days=30 * (extensions + 1))
            verdict = evaluate_camp(rules, camper, [], frozenset({name}), now)
            yield from verdict_actions(rules, camper, verdict, audit_category_id=3)
            # the camp check's run log: one topic per run (here: each single decision)
            yield from camp_log_actions(rules, [(camper, verdict)], audit_category_id=3, now=now)


def _squad_topics(rules: Rules) -> Iterator[a.Action]:
    """A cohort formed, then refilled twice with late graduates (same count of squads)."""
    for cohort in ("2026-03", "2026-04", "2027-03"):
        graduates = [Graduate(f"{cohort}-u{i}", activity=i) for i in range(20)]
        roster = Roster()
        for late in range(3):
            plan = plan_squads(rules, cohort, graduates, roster)
            yield from squad_actions(rules, plan, audit_category_id=3)
            roster = Roster(tuple(p.squad for p in plan.squads) + roster.squads)
            roster = Roster(tuple({s.slug: s for s in roster.squads}.values()))
            graduates = [*graduates, Graduate(f"{cohort}-late{late}", activity=1)]


def every_topic(rules: Rules) -> list[a.CreateTopic]:
    actions = [*_weekly_topics(rules), *_people_topics(rules), *_squad_topics(rules)]
    return [act for act in actions if isinstance(act, a.CreateTopic)]


def _more_extensions(rules: Rules) -> Rules:
    """The shipped rules, with three camp extensions (each extension is audited)."""
    extension = rules.camp.extension.model_copy(update={"times": 3})
    camp = rules.camp.model_copy(update={"extension": extension})
    return rules.model_copy(update={"camp": camp})


def test_no_two_topics_diamond_opens_in_two_years_share_a_title() -> None:
    rules = _more_extensions(shipped_rules())
    topics = every_topic(rules)
    by_title = Counter(t.title.lower() for t in topics)  # Discourse compares lower-cased
    # one example per kind of topic (the idempotency key's first part) whose title repeats
    twice = {t.key.split(":")[0]: t.title for t in topics if by_title[t.title.lower()] > 1}
    keys = {t.key.split(":")[0] for t in topics}
    assert keys >= {
        "weekly-thread",
        "summary",
        "ladder",
        "audit-summary",
        "audit-halted",
        "badge-audit",
        "health-report",
        "gating-audit",
        "camp-audit",
        "squads-audit",
    }
    assert twice == {}
    # a shadow run's entries (the one door wraps them) collide with no live entry either
    shadow = Applier(None, None, live=False, rules=rules)  # type: ignore[arg-type]
    both = Counter(
        title.lower()
        for t in topics
        for title in (t.title, shadow.marked_for_shadow(t).title)  # type: ignore[attr-defined]
    )
    assert [title for title, n in both.items() if n > 1] == []
    # and each is long enough for Discourse's default min_topic_title_length (15)
    assert {t.key.split(":")[0]: t.title for t in topics if len(t.title) < 15} == {}


_REFUSED = (
    "titles a new forum topic each time, and Discourse refuses a title another topic already "
    "has: use {wanted} in it so that no two are alike"
)

# (edits as (file, old text, new text), every expected problem) on the minimal rules
TITLE_CASES: dict[str, tuple[list[tuple[str, str, str]], list[str]]] = {
    "an audit title without the year comes back every year": (
        [("messages/zh.yml", '"中文 {year}-{week}", body', '"第{week}周审计", body')],
        [
            "rules/messages/zh.yml:14:11: summary.title: sent as rules/obligations.yml "
            "messages.audit_halted, it "
            + _REFUSED.format(wanted="{year} and {week}, or {iso_week}"),
            "rules/messages/zh.yml:14:11: summary.title: sent as rules/obligations.yml "
            "messages.audit_summary, it " + _REFUSED.format(wanted="{year} and {week}"),
        ],
    ),
    "the ISO week serves only where it is filled in": (
        [("messages/zh.yml", '"中文 {year}-{week}", body', '"{iso_week}", body')],
        [
            "rules/messages/zh.yml:14:11: summary.title: placeholder {iso_week} is not filled "
            "when sent as rules/obligations.yml messages.audit_summary; available to every "
            "use: {community}, {week}, {year}, {members}, {penalised} (did you mean {week}?)",
            "rules/messages/zh.yml:14:11: summary.title: sent as rules/obligations.yml "
            "messages.audit_summary, it " + _REFUSED.format(wanted="{year} and {week}"),
        ],
    ),
    "a public notice without a title would be titled with the community's name": (
        [
            (
                "obligations.yml",
                "        - action: silence\n",
                "        - action: public_notice\n          template: warning\n"
                "        - action: silence\n",
            )
        ],
        [
            "rules/messages/en.yml:12:1: warning: sent as rules/obligations.yml "
            "penalties.ladder[1].actions[0].template, it opens a forum topic, and without a "
            "title every one would be titled with the community's name, which Discourse "
            "refuses the second time: give it a title with {member} and {year} and {week}, "
            "or {member} and {year} and {dates}",
            "rules/messages/zh.yml:12:1: warning: sent as rules/obligations.yml "
            "penalties.ladder[1].actions[0].template, it opens a forum topic, and without a "
            "title every one would be titled with the community's name, which Discourse "
            "refuses the second time: give it a title with {member} and {year} and {week}, "
            "or {member} and {year} and {dates}",
        ],
    ),
    "a shadow entry's title needs words besides the live title": (
        [("messages/en.yml", '"English shadow {title}"', '" {title} "')],
        [
            "rules/messages/en.yml:18:15: shadow_mode.title: needs words besides {title}, e.g. "
            "【演习】{title}: a shadow entry and the later live one for the same thing must not "
            "share a title (Discourse refuses a title another topic holds)",
        ],
    ),
    "the shadow-mode wrapper must be there in every language": (
        [
            ("messages/zh.yml", "shadow_mode:", "shadow_mood:"),
            ("messages/en.yml", "shadow_mode:", "shadow_mood:"),
        ],
        [
            "rules/messages/en.yml:2:1: template 'shadow_mode' is missing: Diamond writes "
            "with it (copy it from the rules Diamond ships)",
            "rules/messages/zh.yml:2:1: template 'shadow_mode' is missing: Diamond writes "
            "with it (copy it from the rules Diamond ships)",
        ],
    ),
    "a squad's summary needs the squad as well": (
        [("messages/en.yml", '"English {squad} {year}-{week}"', '"English {year}-{week}"')],
        [
            "rules/messages/en.yml:17:10: weekly.title: sent as rules/obligations.yml "
            "messages.squad_weekly_summary, it "
            + _REFUSED.format(
                wanted="{squad} and {year} and {week}, or {squad} and {year} and {dates}"
            ),
        ],
    ),
}


@pytest.mark.parametrize("case", TITLE_CASES)
def test_diamond_check_refuses_a_topic_title_that_can_repeat(rules_dir: Path, case: str) -> None:
    edits, expected = TITLE_CASES[case]
    for file, old, new in edits:
        edit(rules_dir, file, old, new)
    assert problems_of(rules_dir) == expected
