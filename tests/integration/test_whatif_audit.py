"""What-if for the weekly audit, on a small world (sandbox forum + real Redis).

The world: a squad of ten in W47's weekly thread, its posts in the ledger as the post
actor records them, one member with strikes from W46. What-if raises
``article.min_length`` and predicts the audit; then a real audit under the new rules
runs, and its plan, recorded strikes and PMs are what the prediction said. What-if
itself writes nothing: no forum call but GETs, no Redis key changed.
"""

from __future__ import annotations

import datetime as dt

import pytest
import redis

from tests.support.obligations import SH, W47, Thread, rules_with, shipped_rules
from tests.support.pipeline import redis_contents
from tests.support.steps import step_ctx
from worker.engine.facts import Roster, Squad
from worker.engine.weeks import Week
from worker.forum.client import ForumClient
from worker.rules.diff import rule_changes
from worker.state.ledger import Ledger
from worker.steps import audit
from worker.steps.audit import audit_moment
from worker.whatif.audit import compare, read_audit_facts, replay
from worker.whatif.readonly import ReadOnlyRedis, WriteRefused
from worker.whatif.render import render_audit, render_audited

pytestmark = pytest.mark.integration

MEMBERS = [f"m{i:02d}" for i in range(10)]
LONG, MEDIUM = 1300, 900  # MEDIUM passes 800 and fails 1200


def at(day: int, hh: int = 12) -> dt.datetime:
    return dt.datetime(2026, 11, day, hh, tzinfo=SH)


def build_world(sandbox, redis_client: redis.Redis) -> tuple[Roster, dict[str, int]]:
    """Users, a squad category and W47's thread on the forum; its posts in the ledger."""
    forum = sandbox.forum
    users = {
        name: forum.create_user(username=name, email=f"{name}@example.org", approved=True)
        for name in MEMBERS
    }
    category = forum.create_category(name="一组", slug="sq-1")
    system = forum.find_user("system")
    opening = forum.create_post(
        system, raw="W47 作业帖 " * 20, title="2026年第47周作业 · 一组", category_id=category.id
    )
    topic_id = opening.topic_id
    thread = Thread(topic_id)
    lengths = {name: LONG for name in MEMBERS}
    lengths.update({"m01": MEDIUM, "m02": MEDIUM, "m03": MEDIUM})
    del lengths["m09"]  # writes nothing either way
    floors = {
        name: thread.post(name, at(17, 8 + i), units).post_number
        for i, (name, units) in enumerate(lengths.items())
    }
    for reviewer in lengths:  # everyone reviews every article: only the ring decides
        for author, number in floors.items():
            if author != reviewer:
                thread.post(reviewer, at(18), 120, reply_to=number)
    ledger = Ledger(redis_client)
    squad = Squad("sq-1", "一组", "2026-11", tuple(MEMBERS), leader="m00", category_id=category.id)
    ledger.record_thread(W47, squad.slug, topic_id)
    for post in thread.posts:
        ledger.upsert_post(W47, squad.slug, post)
    # m03 already has strikes: a missing article now takes them to the second step.
    ledger.record_strikes(Week(2026, 46), {"m03": 2, **{u: 0 for u in MEMBERS if u != "m03"}})
    return Roster((squad,)), {u: user.id for u, user in users.items()}


def snapshot(redis_client: redis.Redis) -> dict[bytes, object]:
    return redis_contents(redis_client)


def forum_size(sandbox) -> tuple[int, int, int]:
    forum = sandbox.forum
    return len(forum.topics), len(forum.posts), len(forum.users)


def test_raising_min_length_predicts_what_the_real_audit_then_does_and_writes_nothing(
    sandbox, redis_client: redis.Redis
) -> None:
    roster, _ids = build_world(sandbox, redis_client)
    current, proposed = shipped_rules(), rules_with(article={"min_length": 1200})
    client = ForumClient(sandbox.url, sandbox.api_key, "system")
    keys_before, forum_before = snapshot(redis_client), forum_size(sandbox)

    facts = read_audit_facts(client, redis_client, current, [W47], roster=roster)
    [diff] = compare(replay(current, facts, [W47]), replay(proposed, facts, [W47]))

    # ── nothing written: only GETs on the forum, not one Redis key changed ──
    assert client.call_counts and all(k.startswith("GET ") for k in client.call_counts)
    assert snapshot(redis_client) == keys_before
    assert forum_size(sandbox) == forum_before

    # ── who would miss, and why ──
    changed = {c.username: c for c in diff.changes}
    assert set(changed) >= {"m01", "m02", "m03"}
    for name in ("m01", "m02", "m03"):
        c = changed[name]
        assert (c.before.outcome, c.after.outcome) == ("met", "missed")
        assert next((s.kind, s.units, s.minimum) for s in c.after.why) == (
            "missing_article",
            MEDIUM,
            1200,
        )
    assert changed["m03"].after.active == 4 and "step 2" in changed["m03"].after.ladder[0]
    text = "\n".join(render_audit([diff]))
    assert "article 900/1200 字" in text and "@m01" in text
    assert (diff.before.penalised, diff.after.penalised) == (1, 4)
    assert diff.after.halted  # 4 of 10 is more than 30%
    assert [str(c) for c in rule_changes(current, proposed)] == [
        "obligations.article.min_length: 800 → 1200"
    ]

    # ── the real audit under the new rules does what was predicted ──
    now = audit_moment(proposed, W47) + dt.timedelta(minutes=1)
    halted = audit.run(step_ctx(client, redis_client, proposed, now=now), W47, roster=roster)
    assert halted.plan.halted == diff.after.halted
    assert sorted(halted.plan.penalised) == list(diff.penalised_after)
    confirmed = audit.run(
        step_ctx(client, redis_client, proposed, now=now), W47, roster=roster, confirm=True
    )
    predicted = {
        u: r.strikes for u, r in replay(proposed, facts, [W47])[0].plan.results.by_member.items()
    }
    assert {u: r.strikes for u, r in confirmed.plan.results.by_member.items()} == predicted
    recorded = Ledger(redis_client).histories(MEMBERS)
    assert {u: h[W47] for u, h in recorded.items()} == predicted
    assert sum(predicted.values()) == diff.after.strikes
    assert len(confirmed.plan.decisions) == diff.after.ladder
    standings = confirmed.plan.standings
    assert {c.username: c.after.active for c in diff.changes} == {
        u: standings[u].active for u in changed
    }


def test_a_rule_change_that_changes_nobodys_week_says_so(sandbox, redis_client) -> None:
    roster, _ = build_world(sandbox, redis_client)
    client = ForumClient(sandbox.url, sandbox.api_key, "system")
    current = shipped_rules()
    proposed = rules_with(article={"min_length": 850})
    facts = read_audit_facts(client, redis_client, current, [W47], roster=roster)
    [diff] = compare(replay(current, facts, [W47]), replay(proposed, facts, [W47]))
    assert diff.changes == ()
    assert "no member's week would change" in "\n".join(render_audit([diff]))


def test_the_read_only_client_refuses_every_write(redis_client: redis.Redis) -> None:
    reader = ReadOnlyRedis.over(redis_client)
    redis_client.set("whatif:probe", "1")
    assert reader.get("whatif:probe") == b"1"
    with pytest.raises(WriteRefused):
        reader.set("whatif:probe", "2")
    pipe = reader.pipeline()
    pipe.hgetall("whatif:probe-hash")
    with pytest.raises(WriteRefused):  # refused as it is queued, before anything is sent
        pipe.hset("whatif:probe-hash", "a", "1")
    assert pipe.execute() == [{}]
    assert redis_client.get("whatif:probe") == b"1"
    assert not redis_client.exists("whatif:probe-hash")


def test_a_changed_rule_does_not_reach_back_into_an_audited_week(
    sandbox, redis_client: redis.Redis
) -> None:
    roster, _ids = build_world(sandbox, redis_client)
    current, proposed = shipped_rules(), rules_with(article={"min_length": 1200})
    client = ForumClient(sandbox.url, sandbox.api_key, "system")
    now = audit_moment(current, W47) + dt.timedelta(minutes=1)
    first = audit.run(step_ctx(client, redis_client, current, now=now), W47, roster=roster)
    assert first.recorded
    audited = {u: h[W47] for u, h in Ledger(redis_client).histories(MEMBERS).items()}
    assert audited["m01"] == 0  # 900 字 met the 800 in force then

    # The moderator raises min_length; the week is audited again (by hand, or a catch-up).
    again = audit.run(
        step_ctx(client, redis_client, proposed, now=now), W47, roster=roster, confirm=True
    )
    assert again.plan.results.by_member["m01"].outcome == "met"
    assert {u: h[W47] for u, h in Ledger(redis_client).histories(MEMBERS).items()} == audited
    assert list(Ledger(redis_client).audited_weeks()) == [W47]
    facts = read_audit_facts(client, redis_client, proposed, [W47], roster=roster)
    [said] = render_audited([Week(2026, 46), W47], facts.audited)
    assert (
        said.startswith("already audited: 2026-W47: a re-audit keeps") and "from 2026-W48" in said
    )

    # The next week is judged under the new rules.
    from worker.reads.obligations import rules_of_week

    w48 = Week(2026, 48)
    assert rules_of_week(Ledger(redis_client), proposed, w48).obligations.article.min_length == 1200
    assert rules_of_week(Ledger(redis_client), proposed, W47).obligations.article.min_length == 800
