"""Shadow mode keeps its strikes in a book of its own: going live starts clean."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.test_obligations_support import shipped_rules
from worker.engine.facts import Roster, Squad
from worker.engine.weeks import Week, week_times
from worker.forum.client import ForumClient
from worker.ledger.store import Ledger
from worker.ledger.weekly import run_audit

pytestmark = pytest.mark.integration
W47 = Week(2026, 47)
MEMBERS = ("ann", "ben", "cyd", "dee")


def test_strikes_recorded_in_shadow_are_not_in_the_live_record(redis_client) -> None:
    ledger = Ledger(redis_client)
    ledger.record_strikes(W47, {"ann": 2, "ben": None}, live=False)
    ledger.record_strikes(W47, {"ann": 1})
    assert ledger.histories(["ann", "ben"]) == {"ann": {W47: 1}}
    assert ledger.histories(["ann", "ben"], live=False) == {"ann": {W47: 2}, "ben": {W47: None}}


def test_a_shadow_audit_acts_on_no_one_and_going_live_starts_from_a_clean_record(
    sandbox, redis_client
) -> None:
    rules = shipped_rules()
    client = ForumClient(sandbox.url, sandbox.api_key, "system", timeout=(2, 10))
    for name in MEMBERS:
        sandbox.forum.create_user(username=name, email=f"{name}@example.org", approved=True)
    group = client.create_group("sq-7", full_name="第7组")
    group_id = int(group.get("basic_group", group)["id"])
    client.add_group_members(group_id, list(MEMBERS))
    made = client.create_category("第7组", slug="sq-7", permissions={"sq-7": 1})
    category_id = int(made.get("category", made)["id"])
    squad = Squad(
        "sq-7", "2026年11月期 第7写作小组", "2026-11", MEMBERS, "ann", None, group_id, category_id
    )
    roster = Roster((squad,))
    ledger = Ledger(redis_client)
    ledger.record_strikes(W47.previous(), {"dee": 2}, live=False)  # a shadow week before

    def audit(live: bool):
        now = week_times(rules.obligations, W47, rules.tz).review_cap + dt.timedelta(hours=1)
        return run_audit(client, redis_client, rules, roster, W47, now=now, live=live, confirm=True)

    shadow = audit(live=False)  # nobody wrote this week: everyone misses

    assert shadow.recorded
    assert all(not act.affects_members for act in shadow.report.done)  # summaries, audit log
    assert {a.kind for a in shadow.report.shadowed} >= {"SendPrivateMessage"}
    shadow_book = ledger.histories(MEMBERS, live=False)
    assert shadow_book["dee"][W47] > 0 and shadow_book["dee"][W47.previous()] == 2
    assert ledger.histories(MEMBERS) == {}  # the live record is untouched
    dee_shadow = shadow.plan.standings["dee"]
    assert dee_shadow.before == 2  # the shadow ladder climbs on the shadow weeks

    live = audit(live=True)

    assert live.plan.standings["dee"].before == 0  # no shadow strike counts
    assert ledger.histories(["dee"]) == {"dee": {W47: shadow_book["dee"][W47]}}
