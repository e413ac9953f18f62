"""A camp check leaves one staff audit-log topic for the run, not one per camper."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.world import RULES
from worker import actions as a
from worker.engine import camp


def _decided(n: int):
    now = datetime(2026, 3, 30, 1, tzinfo=UTC)
    started = now - timedelta(days=RULES.camp.duration_days + 1)
    out = []
    for i in range(n):
        camper = camp.Camper(100 + i, f"camper{i}", started, extensions=1)
        out.append((camper, camp.evaluate_camp(RULES, camper, [], [], now)))
    return now, out


def test_a_run_of_many_verdicts_writes_one_audit_topic_listing_each_camper():
    now, decided = _decided(3)
    acts = camp.camp_log_actions(RULES, decided, audit_category_id=9, now=now)
    assert len(acts) == 1 and isinstance(acts[0], a.CreateTopic)
    assert all(f"@camper{i}" in acts[0].raw for i in range(3))
    assert not acts[0].affects_members and acts[0].category_id == 9
    per_camper = [
        x
        for camper, verdict in decided
        for x in camp.verdict_actions(RULES, camper, verdict, audit_category_id=None)
    ]
    assert not [x for x in per_camper if isinstance(x, a.CreateTopic)]


def test_the_same_run_again_has_the_same_key_and_another_run_another():
    now, decided = _decided(3)
    once = camp.camp_log_actions(RULES, decided, audit_category_id=9, now=now)
    again = camp.camp_log_actions(RULES, decided, audit_category_id=9, now=now)
    other = camp.camp_log_actions(RULES, decided[:2], audit_category_id=9, now=now)
    assert once[0].key == again[0].key != other[0].key
    assert once[0].title != other[0].title  # Discourse keeps titles unique


def test_no_audit_category_or_no_verdict_writes_nothing():
    now, decided = _decided(2)
    assert camp.camp_log_actions(RULES, decided, audit_category_id=None, now=now) == []
    assert camp.camp_log_actions(RULES, [], audit_category_id=9, now=now) == []
