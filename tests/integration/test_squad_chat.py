"""A squad formed on the forum gets its chat channel, holding exactly its members."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import redis

from tests.support.steps import step_ctx
from tests.support.world import membership_world
from worker.engine.squads import Graduate
from worker.state.membership import MembershipStore
from worker.steps import form_squads

pytestmark = pytest.mark.integration
START = datetime(2026, 11, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
COHORT = "2026-11"


def test_a_formed_squad_has_its_chat_channel_with_exactly_its_members(
    redis_client: redis.Redis,
) -> None:
    with membership_world(redis_client, START) as world:
        store = MembershipStore(redis_client)
        names = [f"grad{i:02d}" for i in range(20)]
        for i, name in enumerate(names):
            world.sandbox.forum.create_user(
                username=name, email=f"{name}@example.org", approved=True
            )
            store.queue_graduate(COHORT, Graduate(name, "北京" if i % 2 else "上海", i == 0, i))
        members = world.client.get_group(world.rules.community.groups.members)
        world.client.add_group_members(int(members.get("group", members)["id"]), names)

        formed = form_squads.run(step_ctx(world.client, redis_client, world.rules), COHORT)
        again = form_squads.run(step_ctx(world.client, redis_client, world.rules), COHORT)

        forum = world.sandbox.forum
        with forum.lock:
            by_category = {c.chatable_id: c for c in forum.chat_channels.values()}
            held = {}
            for planned in formed.plan.squads:
                category = next(
                    c for c in forum.categories.values() if c.slug == planned.squad.slug
                )
                channel = by_category[category.id]
                users = [forum.users[uid] for uid in channel.memberships]
                # Staff may post in every squad's category (its permissions), so Discourse's
                # auto-join adds the staff seen lately too, and the channel's creator joins
                # it: what the squad's members share is the channel less the staff.
                held[planned.squad.slug] = sorted(u.username for u in users if not u.staff)
        assert held == {p.squad.slug: sorted(p.squad.members) for p in formed.plan.squads}
        assert len(held) >= 2
        assert not [x for x in again.report.done if x.kind == "CreateChatChannel"]
