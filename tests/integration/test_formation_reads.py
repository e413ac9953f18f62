"""Squad formation reads what it plans from and nothing per squad: the Applier makes a new
squad's group, lead group, category and chat channel without looking each up first, knows
the ids of the groups it adds people to, and still finds what an earlier attempt made
(a crash between a write and its record) instead of making it twice."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis

from tests.support.steps import step_ctx
from tests.support.world import World, membership_world
from worker import actions as a
from worker.apply import DONE_PREFIX, GROUP_IDS_KEY, Applier
from worker.engine.squads import Graduate
from worker.state.membership import MembershipStore
from worker.steps import form_squads

pytestmark = pytest.mark.integration
START = datetime(2026, 11, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
COHORT = "2026-11"

GROUP_READ = "GET /groups/{name}.json"
CATEGORY_LIST = "GET /categories.json"
CHANNEL_LIST = "GET /chat/api/channels"


def _graduates(world: World, count: int) -> list[str]:
    store = MembershipStore(world.redis)
    names = [f"grad{i:02d}" for i in range(count)]
    for i, name in enumerate(names):
        world.sandbox.forum.create_user(username=name, email=f"{name}@example.org", approved=True)
        store.queue_graduate(COHORT, Graduate(name, "北京" if i % 2 else "上海", i == 0, i))
    members = world.client.get_group(world.rules.community.groups.members)
    world.client.add_group_members(int(members.get("group", members)["id"]), names)
    return names


def _formed(world: World) -> tuple[form_squads.Formation, dict[str, int]]:
    world.client.call_counts.clear()
    formed = form_squads.run(step_ctx(world.client, world.redis, world.rules), COHORT)
    return formed, dict(world.client.call_counts)


def test_forming_squads_looks_up_no_group_category_or_channel_one_by_one(
    redis_client: redis.Redis,
) -> None:
    with membership_world(redis_client, START) as world:
        _graduates(world, 20)
        formed, calls = _formed(world)

        squads = len(formed.plan.squads)
        assert squads >= 2
        kinds = {x.kind for x in formed.report.done}
        assert {"CreateGroup", "CreateCategory", "CreateChatChannel", "AddToGroup"} <= kinds
        # No squad's group, lead group or the community's groups read by name: new groups
        # are created outright, the others' ids are known from the listing formation read.
        assert calls.get(GROUP_READ, 0) == 0
        # The categories are listed once, to plan (the roster), never per new category or
        # channel; a new category has no channel yet, so none is looked for.
        assert calls.get(CATEGORY_LIST, 0) == 1
        assert calls.get(CHANNEL_LIST, 0) == 0
        forum = world.sandbox.forum
        with forum.lock:
            slugs = {p.squad.slug for p in formed.plan.squads}
            assert len([g for g in forum.groups.values() if g.name in slugs]) == squads
            assert len([c for c in forum.categories.values() if c.slug in slugs]) == squads
            assert len(forum.chat_channels) >= squads


def _client_counting(world: World) -> Any:
    world.client.call_counts.clear()
    return world.client


def test_a_group_made_before_its_record_was_kept_is_found_not_made_twice(
    redis_client: redis.Redis,
) -> None:
    with membership_world(redis_client, START) as world:
        client = _client_counting(world)
        create = a.CreateGroup(key="group:sq-9", reason="squad", name="sq-9")
        first = Applier(client, redis_client, live=True).apply([create])
        redis_client.delete(DONE_PREFIX + create.key)  # crashed between create and record
        redis_client.delete(GROUP_IDS_KEY)
        again = Applier(client, redis_client, live=True).apply([create])
        assert again.results[create.key] == {
            "id": first.results[create.key]["id"],
            "existed": True,
        }
        with world.sandbox.forum.lock:
            assert [g.name for g in world.sandbox.forum.groups.values()].count("sq-9") == 1


def test_a_category_made_before_its_record_was_kept_is_found_and_keeps_its_channel(
    redis_client: redis.Redis,
) -> None:
    with membership_world(redis_client, START) as world:
        client = _client_counting(world)
        plan = [
            a.CreateCategory(key="cat:sq-9", reason="squad", name="Squad nine", slug="sq-9"),
            a.CreateChatChannel(key="chat:sq-9", reason="squad", category_slug="sq-9"),
        ]
        first = Applier(client, redis_client, live=True).apply(plan)
        for action in plan:  # crashed before either record was kept
            redis_client.delete(DONE_PREFIX + action.key)
        again = Applier(client, redis_client, live=True).apply(plan)
        assert again.results["cat:sq-9"] == {"id": first.results["cat:sq-9"]["id"], "existed": True}
        assert again.results["chat:sq-9"]["existed"] is True
        forum = world.sandbox.forum
        with forum.lock:
            assert [c.slug for c in forum.categories.values()].count("sq-9") == 1
            assert len(forum.chat_channels) == 1


def test_squads_diamond_forms_join_the_roster_state_as_the_forum_has_them(
    redis_client: redis.Redis,
) -> None:
    """The roster state follows the formation's own writes (new group, its category, its
    members, its leader): the next run's reconcile reads no squad's members again, and
    what it holds is what a full read of the forum finds."""
    from worker.clock import set_simulated_now
    from worker.reads import forum_view

    with membership_world(redis_client, START) as world:
        _graduates(world, 20)
        assert forum_view.cached_roster(world.client, redis_client, world.rules).squads == ()
        form_squads.run(step_ctx(world.client, redis_client, world.rules, now=START), COHORT)
        world.client.call_counts.clear()

        set_simulated_now(redis_client, START.replace(hour=13))  # the next run, hours later
        roster = forum_view.cached_roster(world.client, redis_client, world.rules)

        assert world.client.call_counts.get("GET /groups/{name}/members.json", 0) == 0
        fresh = forum_view.load_roster(world.client, world.rules)
        assert len(roster.squads) >= 2
        assert [dataclasses.replace(s, joined={}) for s in roster.squads] == [
            dataclasses.replace(s, joined={}) for s in fresh.squads
        ]
        assert [sorted(s.joined) for s in roster.squads] == [sorted(s.joined) for s in fresh.squads]


def test_a_squad_group_found_made_before_is_read_from_the_forum_not_guessed(
    redis_client: redis.Redis,
) -> None:
    """A squad group that already existed (a crash before its record, another formation)
    may hold members the state never saw: the squads are read in full again."""
    from worker.clock import set_simulated_now
    from worker.engine.facts import Squad
    from worker.engine.squads import squad_bio
    from worker.reads import forum_view

    with membership_world(redis_client, START) as world:
        names = _graduates(world, 2)
        assert forum_view.cached_roster(world.client, redis_client, world.rules).squads == ()
        squad = Squad("sq-9", "第九组", COHORT, ())
        bio = squad_bio(world.rules, squad, None)
        made = world.client.create_group("sq-9", full_name="第九组", bio_raw=bio)
        world.client.add_group_members(int(made.get("basic_group", made)["id"]), names)

        create = a.CreateGroup(key="g:sq-9", reason="squad", name="sq-9", bio_raw=bio)
        Applier(world.client, redis_client, live=True).apply([create])
        set_simulated_now(redis_client, START.replace(minute=5))  # the same run: no reconcile
        roster = forum_view.cached_roster(world.client, redis_client, world.rules)
        found = roster.by_slug("sq-9")
        assert found is not None and found.members == tuple(sorted(names))
