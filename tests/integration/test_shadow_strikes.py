"""Shadow mode keeps its strikes in a book of its own: going live starts clean."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.support.obligations import shipped_rules
from tests.support.sandbox_squad import admin_client, squad_on_forum
from tests.support.steps import step_ctx
from worker.engine.facts import Roster
from worker.engine.weeks import Week, week_times
from worker.state.ledger import Ledger
from worker.steps import audit as audit_step

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
    client = admin_client(sandbox)
    squad = squad_on_forum(sandbox, client, "sq-7", MEMBERS, "2026年11月期 第7写作小组")
    roster = Roster((squad,))
    ledger = Ledger(redis_client)
    ledger.record_strikes(W47.previous(), {"dee": 2}, live=False)  # a shadow week before

    def audit(live: bool):
        now = week_times(rules.obligations, W47, rules.tz).review_cap + dt.timedelta(hours=1)
        return audit_step.run(
            step_ctx(client, redis_client, rules, now=now, live=live),
            W47,
            roster=roster,
            confirm=True,
        )

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
