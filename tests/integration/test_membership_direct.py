"""Done-when of the membership journey: 77 applicants of mixed quality go from sign-up to
squads on the sandbox forum, every decision explained in the staff audit log.

Diamond's steps run in process here (``DirectDiamond``); ``test_membership_e2e`` runs a
smaller cohort through webhooks, the receiver, Redis and a dramatiq worker.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import redis

from tests.support.scenario import DirectDiamond, run_cohort
from tests.support.steps import field_ids, step_ctx
from tests.support.world import membership_world
from worker.reads.forum_view import load_roster
from worker.state.membership import MembershipStore
from worker.steps import form_squads, gate

pytestmark = pytest.mark.integration
START = datetime(2026, 11, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_77_applicants_go_from_signup_to_squads(redis_client: redis.Redis) -> None:
    with membership_world(redis_client, START) as world:
        diamond = DirectDiamond(world.client, redis_client, world.rules, world.set_now)
        report = run_cohort(world.people, diamond, start=START, n=77)
        forum = world.sandbox.forum
        rules = world.rules

        # Mixed quality, decided as the rules say.
        assert len(report.people) == 77
        kinds = Counter(p.kind for p in report.people)
        assert set(kinds) == {
            "good",
            "invited",
            "spam",
            "no_referrer",
            "short",
            "disposable",
            "unpaid",
            "duplicate",
        }
        for p in report.people:
            assert report.decisions[p.username] == p.expected, p

        # Every gating decision has its staff audit-log topic; every camp decision an entry
        # in its camp check's one topic (a topic per run, not per camper).
        with forum.lock:
            audit_id = next(c.id for c in forum.categories.values() if c.slug == "audit-log")
            topics = [t for t in forum.topics.values() if t.category_id == audit_id]
            titles = [t.title for t in topics]
            firsts = {p.topic_id: p.raw for p in forum.posts.values() if p.post_number == 1}
        camp_logs = "\n".join(firsts[t.id] for t in topics if t.title.startswith("试用营检查记录"))
        for p in report.people:
            mine = [t for t in titles if re.search(rf"@{p.username}(?!\w)", t)]
            assert len(mine) == 1, (p.username, mine)
            camp_entries = 0 if p.expected != "approve" else (1 if p.camp == "diligent" else 2)
            logged = re.findall(rf"### 试用营结果记录 · @{p.username}(?!\w)", camp_logs)
            assert len(logged) == camp_entries, (p.username, logged)
        assert any("分组记录" in t for t in titles)

        # Camp: diligent and late campers pass, lazy ones become alumni after one extension.
        approved = [p for p in report.people if p.expected == "approve"]
        for p in approved:
            assert report.camp[p.username] == ("removed" if p.camp == "lazy" else "passed")

        # Squads: everyone who passed, exactly once; sizes within max; leaders lead.
        passed = sorted(u for u, s in report.camp.items() if s == "passed")
        placed = [u for members in report.squads.values() for u in members]
        assert sorted(placed) == passed
        size = rules.squads.size
        assert all(len(m) <= size.max for m in report.squads.values())
        roster = load_roster(world.client, rules)
        with forum.lock:
            for squad in roster.squads:
                assert squad.leader in squad.members
                group = forum.find_group(squad.slug)
                assert group is not None and forum.find_user(squad.leader).id in group.owners
                category = forum.categories[squad.category_id]
                staff = forum.find_group("staff")
                assert set(category.permissions) == {group.id, staff.id}
                leaders = forum.find_group("leaders")
                assert forum.find_user(squad.leader).id in forum.group_member_ids(leaders)
        assert len({s.class_key for s in roster.squads}) >= 2  # classes by city

        # Forming the cohort again writes nothing.
        (cohort,) = MembershipStore(redis_client).cohorts()
        again = form_squads.run(step_ctx(world.client, redis_client, rules), cohort)
        assert again.report.done == [] and not again.plan.changed


def test_a_held_application_approved_by_a_reviewer_enters_the_camp(
    redis_client: redis.Redis,
) -> None:
    from tests.support.scenario import Persona, seed_referrers, sign_up

    with membership_world(redis_client, START) as world:
        (mentor,) = seed_referrers(world.people, 1)
        p = Persona(
            "held01",
            "held01@example.com",
            "unpaid",
            referrer=mentor,
            payment="no",
            application="字" * 250,
            city="北京",
        )
        uid = sign_up(world.people, p, field_ids(world.people))
        first = gate.run(
            step_ctx(world.client, redis_client, world.rules, now=START, live=True),
            uid,
            strikes_of=lambda _u: 0,
        )
        assert first.decision is not None and first.decision.outcome == "hold"
        world.people.approve_user(uid)  # a reviewer decides on the forum
        gate.run(step_ctx(world.client, redis_client, world.rules, now=START, live=True), uid)
        store = MembershipStore(redis_client)
        assert store.camper("held01") is not None and store.is_camper("held01")
        camp = {m["username"] for m in world.client.iter_group_members("camp")}
        assert "held01" in camp
        again = gate.run(
            step_ctx(world.client, redis_client, world.rules, now=START, live=True), uid
        )
        assert again.report is None  # nothing more to do
