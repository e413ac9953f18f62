"""``diamond audit`` by hand: not before the week's audit moment, every member's reasons
shown, and ``--confirm CHECKSUM`` applies only the plan the person looked at."""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace

import pytest

from tests.support.obligations import SH, Thread, shipped_rules
from tests.support.pipeline import live_worker
from tests.support.sandbox_squad import admin_client, squad_on_forum
from tests.support.steps import remember_roster
from worker import clock
from worker.cli import main
from worker.commands import audit as audit_command
from worker.engine.facts import Roster
from worker.engine.weeks import Week
from worker.state.ledger import Ledger

pytestmark = pytest.mark.integration
W47 = Week(2026, 47)
MEMBERS = ("ann", "ben", "cyd", "dee")


@pytest.fixture
def community(sandbox, redis_url, redis_client, tmp_path, monkeypatch):
    """A squad of four on the sandbox; W47 in the ledger: dee's article is too short
    (500 of 800) and ann did not review cyd; dee had 4 strikes before (6: silenced)."""
    rules = shipped_rules()
    client = admin_client(sandbox)
    squad = squad_on_forum(sandbox, client, "sq-7", MEMBERS, "2026年11月期 第7写作小组")
    client.create_category("审计日志 Audit log", slug=rules.community.categories.audit_log)
    ledger = Ledger(redis_client)
    thread = Thread(topic_id=4700)
    monday = dt.datetime(2026, 11, 16, 9, 0, tzinfo=SH)
    ann, ben, cyd = (
        thread.post(u, monday + dt.timedelta(hours=i), 900) for i, u in enumerate(MEMBERS[:3])
    )
    thread.post("dee", monday + dt.timedelta(hours=4), 500)
    tuesday = monday + dt.timedelta(days=1)
    for reviewer, article in (("ann", ben), ("ben", ann), ("ben", cyd), ("cyd", ben), ("cyd", ann)):
        thread.post(reviewer, tuesday, 150, reply_to=article.post_number)
    for post in thread.posts:
        ledger.upsert_post(W47, "sq-7", post)
    ledger.record_strikes(W47.previous(), {"dee": 4})
    live_worker(monkeypatch, sandbox, redis_url, tmp_path)  # `diamond audit`'s settings
    remember_roster(redis_client, Roster((squad,)))  # no squad marker: the view remembers it
    yield SimpleNamespace(rules=rules, ledger=ledger, thread=thread, cyd=cyd, forum=sandbox.forum)


def _at(redis_client, day: int, hh: int, mm: int = 0) -> None:
    clock.set_simulated_now(redis_client, dt.datetime(2026, 11, day, hh, mm, tzinfo=SH))


def _pms_to(forum, username: str) -> list[str]:
    user = forum.find_user(username)
    return [
        t.title
        for t in forum.topics.values()
        if t.archetype == "private_message" and user.id in t.allowed_user_ids
    ]


def test_an_audit_before_the_weeks_audit_moment_is_refused_unless_early(
    community, redis_client, capsys
) -> None:
    _at(redis_client, 19, 12)  # Thursday of W47: members are still writing

    assert main(["audit", "--week", "2026-W47"]) == 2

    err = capsys.readouterr().err
    assert "2026-11-24 23:00" in err and "--early" in err
    assert community.ledger.histories(MEMBERS) == {"dee": {W47.previous(): 4}}  # no strike
    assert _pms_to(community.forum, "dee") == []
    assert not [t for t in community.forum.topics.values() if "审计已暂停" in t.title]  # no alert
    assert main(["audit", "--week", "2026-W47", "--dry-run"]) == 2  # a look: halted plan
    assert "members may still write" in capsys.readouterr().out

    assert main(["audit", "--week", "2026-W47", "--early"]) == 2  # told: the guard rail next
    assert community.ledger.histories(["ann"]) == {}  # halted: still nothing recorded
    assert len(_pms_to(community.forum, "dee")) == 0


def test_a_dry_run_says_why_for_each_member(community, redis_client, capsys) -> None:
    _at(redis_client, 25, 10)

    main(["audit", "--week", "2026-W47", "--dry-run"])

    rows = {line.split()[1]: line for line in capsys.readouterr().out.splitlines()[4:9]}
    assert rows["dee"].endswith("article 500/800 字")
    assert rows["ann"].endswith("review of @cyd missing")
    assert rows["ben"].rstrip().endswith("0")  # clean: nothing to say


def test_confirm_applies_the_plan_the_dry_run_showed_even_minutes_later(
    community, redis_client, capsys
) -> None:
    _at(redis_client, 25, 10)
    assert main(["audit", "--week", "2026-W47", "--dry-run"]) == 2  # 2 of 4: guard rail
    out = capsys.readouterr().out
    checksum = re.search(r"checksum: (\w+)", out)[1]
    assert "SilenceUser dee" in out  # what --confirm would do, past the guard rail

    _at(redis_client, 25, 10, 7)  # the silence is counted from now: same plan all the same
    assert main(["audit", "--week", "2026-W47", "--confirm", checksum]) == 0

    assert community.ledger.histories(["ann", "dee"]) == {
        "ann": {W47: 1},
        "dee": {W47.previous(): 4, W47: 2},
    }
    assert community.forum.find_user("dee").silenced_till is not None


def test_confirm_refuses_a_plan_that_changed_since_the_dry_run(
    community, redis_client, capsys
) -> None:
    _at(redis_client, 25, 10)
    main(["audit", "--week", "2026-W47", "--dry-run"])
    looked_at = re.search(r"checksum: (\w+)", capsys.readouterr().out)[1]
    # ann's review of cyd arrives (a late webhook): ann is clean after all
    late = community.thread.post(
        "ann", dt.datetime(2026, 11, 17, 20, tzinfo=SH), 150, reply_to=community.cyd.post_number
    )
    community.ledger.upsert_post(W47, "sq-7", late)

    assert main(["audit", "--week", "2026-W47", "--confirm", looked_at]) == 2

    err = capsys.readouterr().err
    now_is = re.search(r"checksum now is (\w+)", err)[1]
    assert now_is != looked_at and f"--confirm {now_is}" in err
    assert community.ledger.histories(["ann"]) == {}  # nothing applied
    assert _pms_to(community.forum, "dee") == []
    assert main(["audit", "--week", "2026-W47", "--confirm", now_is]) == 0
    assert community.ledger.histories(["ann"]) == {"ann": {W47: 0}}


def test_shortfalls_name_leave_and_newcomers_and_what_was_written() -> None:
    from worker.engine.facts import Squad
    from worker.engine.obligations import SquadWeek, evaluate_week, shortfalls

    rules = shipped_rules()
    squad = Squad("sq", "小组 sq", "c", ("amy", "bo", "cy"), "amy", category_id=1)
    thread = Thread(topic_id=1)
    thread.post("amy", dt.datetime(2026, 11, 16, 9, tzinfo=SH), 300)
    sw = SquadWeek(squad, W47, tuple(thread.posts), None)
    results = evaluate_week(rules.obligations, SH, W47, [sw], excused=frozenset({"bo"}))
    why = {u: shortfalls(rules.obligations, SH, r, sw) for u, r in results.by_member.items()}
    assert why["amy"][0].kind == "missing_article" and why["amy"][0].units == 300
    assert why["bo"][0].kind == "on_leave"
    assert audit_command.render_why(why["amy"]) == "article 300/800 字"
    assert audit_command.render_why(why["bo"]).startswith("on leave")
    assert audit_command.render_why(why["cy"]) == "no article"
