"""What Diamond writes in shadow mode says so, and never uses up a live idempotency key."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.support.obligations import shipped_rules
from tests.support.sandbox_squad import admin_client, squad_on_forum
from tests.support.steps import step_ctx
from worker import actions as a
from worker.apply import Applier
from worker.engine.facts import Roster
from worker.engine.weeks import Week, week_times
from worker.steps import audit

pytestmark = pytest.mark.integration
W47 = Week(2026, 47)
MEMBERS = ("ann", "ben", "cyd", "dee")


def _world(sandbox, redis_client):
    rules = shipped_rules()
    client = admin_client(sandbox)
    squad = squad_on_forum(sandbox, client, "sq-7", MEMBERS, "2026年11月期 第7写作小组")
    audit_log = client.create_category(
        "审计日志 Audit log", slug=rules.community.categories.audit_log
    )
    audit_log_id = int(audit_log.get("category", audit_log)["id"])
    return rules, client, Roster((squad,)), audit_log_id


def _audit(rules, client, redis_client, roster, *, live: bool):
    now = week_times(rules.obligations, W47, rules.tz).review_cap + dt.timedelta(hours=1)
    return audit.run(
        step_ctx(client, redis_client, rules, now=now, live=live), W47, roster=roster, confirm=True
    )


def _topics_in(sandbox, category_id: int) -> list[tuple[str, str]]:
    """(title, first post's raw) of every topic Diamond opened in the category, oldest first
    (not the "About the category" topic the forum opens with it)."""
    forum = sandbox.forum
    out = []
    for topic in sorted(forum.topics.values(), key=lambda t: t.id):
        if topic.category_id == category_id and not topic.title.startswith("About the "):
            first = next(p for p in forum.posts.values() if p.topic_id == topic.id)
            out.append((topic.title, first.raw))
    return out


def test_a_shadow_audit_log_entry_says_it_is_shadow_mode_in_title_and_body(
    sandbox, redis_client
) -> None:
    rules, client, roster, audit_log_id = _world(sandbox, redis_client)

    _audit(rules, client, redis_client, roster, live=False)

    ((title, raw),) = _topics_in(sandbox, audit_log_id)
    marker = rules.render("shadow_mode", None, title="TITLE", body="BODY")
    before, _, after = marker.title.partition("TITLE")
    assert title.startswith(before) and title.endswith(after) and (before or after)
    assert raw.startswith(marker.body.partition("BODY")[0])
    plain = rules.render(rules.obligations.messages.audit_summary, None, week=47, year=2026)
    assert title != plain.title


def test_the_live_audit_after_a_shadow_one_writes_its_own_entry(sandbox, redis_client) -> None:
    rules, client, roster, audit_log_id = _world(sandbox, redis_client)

    shadow = _audit(rules, client, redis_client, roster, live=False)
    live = _audit(rules, client, redis_client, roster, live=True)

    assert "audit-summary:2026-W47" in {act.key for act in shadow.report.done}
    assert "audit-summary:2026-W47" in {act.key for act in live.report.done}
    assert live.report.already_done == []
    titles = [title for title, _raw in _topics_in(sandbox, audit_log_id)]
    assert len(titles) == 2 and len({t.lower() for t in titles}) == 2  # unique, as Discourse wants
    plain = rules.render(rules.obligations.messages.audit_summary, None, week=47, year=2026)
    assert titles[1] == plain.title  # the live entry reads as a real one


def test_a_shadow_run_reads_only_shadow_records(sandbox, redis_client) -> None:
    rules, client, _roster, audit_log_id = _world(sandbox, redis_client)
    entry = a.CreateTopic(
        key="audit-summary:2026-W01",
        reason="test",
        category_id=audit_log_id,
        title="Audit of 2026 week 1, a title",
        raw="body of the audit entry",
        affects_members=False,
    )
    live = Applier(client, redis_client, live=True, rules=rules)
    live.apply([entry])

    shadow = Applier(client, redis_client, live=False, rules=rules)
    assert not shadow.is_done(entry.key)  # the live record is not the shadow one
    assert shadow.apply([entry]).done == [entry]
    assert shadow.is_done(entry.key)
    assert shadow.apply([entry]).already_done == [entry]  # a shadow rerun acts once too
