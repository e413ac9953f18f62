"""A leader gets one PM thread per squad per week: Diamond replies in it afterwards."""

from __future__ import annotations

import pytest

from tests.support.obligations import SH, W47, Thread, at, pm_rules, shipped_rules, squad
from worker import actions as a
from worker.apply import Applier
from worker.engine.facts import Roster
from worker.engine.obligations import SquadWeek, evaluate_week, plan_reminders
from worker.engine.squads import Graduate, plan_squads, squad_actions
from worker.forum.client import ForumClient


def _progress(as_of):
    t = Thread()
    t.post("lead", at(17), 900)
    sq = squad("lead", "alice", "bob", leader="lead")
    return evaluate_week(
        shipped_rules().obligations, SH, W47, [SquadWeek(sq, W47, tuple(t.posts), 900)], as_of=as_of
    )


def _leader_pms(actions: list[a.Action]) -> list[a.SendPrivateMessage]:
    return [x for x in actions if isinstance(x, a.SendPrivateMessage) and x.recipients == ("lead",)]


def test_every_reminder_of_a_week_writes_to_the_leaders_thread_of_that_week() -> None:
    rules = pm_rules()  # squad_thread delivery cc's the leader in the thread instead
    reminders = rules.obligations.reminders
    pms = [
        pm
        for reminder, when in zip(reminders, (at(20, 20), at(22, 16), at(23, 20)), strict=True)
        for pm in _leader_pms(plan_reminders(rules, reminder, _progress(when)))
    ]
    assert len(pms) == 3
    assert {pm.thread for pm in pms} == {f"leader:sq-3:{W47}"}
    assert all("3组" in pm.thread_title and "11月16日–22日" in pm.thread_title for pm in pms)


@pytest.mark.integration
def test_three_notes_to_a_leader_in_one_week_are_one_pm_thread(sandbox, redis_client) -> None:
    rules = pm_rules()
    sandbox.forum.create_user(username="lead", email="lead@example.org", approved=True)
    client = ForumClient(sandbox.url, sandbox.api_key, "system", timeout=(2, 10))
    applier = Applier(client, redis_client, live=True, rules=rules)
    reminders = rules.obligations.reminders
    for reminder, when in zip(reminders, (at(20, 20), at(22, 16), at(23, 20)), strict=True):
        applier.apply(_leader_pms(plan_reminders(rules, reminder, _progress(when))))

    topics = [t for t in sandbox.forum.topics.values() if t.archetype == "private_message"]
    assert len(topics) == 1
    (topic,) = topics
    assert len(topic.post_ids) == 3
    assert "3组" in topic.title


def test_the_leaders_member_list_leaves_the_leader_out() -> None:
    rules = shipped_rules()
    graduates = [Graduate(f"u{i}", activity=i) for i in range(10)]
    plan = plan_squads(rules, "2611", graduates, Roster())
    for pm in squad_actions(rules, plan, audit_category_id=3):
        if isinstance(pm, a.SendPrivateMessage) and pm.key.startswith("squad-leader-list:"):
            (leader,) = pm.recipients
            assert f"@{leader}\n" not in pm.raw + "\n"
            assert pm.raw.count("- @") >= 1


def test_the_health_part_joins_the_leaders_week_thread_once_the_squad_owes_something() -> None:
    import dataclasses

    from tests.pure.test_health import community_world, report_for
    from worker.engine.health import SquadWeek as Tally
    from worker.steps.health_report import report_actions

    rules = shipped_rules()
    report = report_for(*community_world())
    # blue formed this week: nobody in it owed an article yet (every member exempt).
    fresh = dict(report.completion)
    fresh["blue"] = (*fresh["blue"][:-1], Tally(report.week, 0, 0, 0))
    owing = {**report.owing, report.week: report.owing[report.week] - {"blue"}}
    report = dataclasses.replace(report, completion=fresh, owing=owing)
    parts = [x for x in report_actions(rules, report, 9) if isinstance(x, a.SendPrivateMessage)]

    assert [pm.thread for pm in parts] == [f"leader:red:{report.week}"]
