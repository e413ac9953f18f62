"""On the sandbox: two squads formed by Diamond, one talks in its chat channel and the
other does not; the chat webhooks reach the receiver, their facts the chat store, and the
health report's bonds change for the talking squad only.

The chat webhook is Diamond's own (``plugin_config/webhook.yml`` ``chat:``, applied with the
world; each squad's category joins its filter as the squad forms). Deliveries go nowhere
over HTTP in this world (its receiver URL is a closed port); each one the sandbox sent is
posted, with the headers and signed body it carried, to the real receiver, and what the
receiver enqueued is recorded as the chat actor does."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import redis
from werkzeug.test import Client

from tests.integration.test_receiver_captures import enqueued
from tests.support.steps import step_ctx
from tests.support.world import API_KEY, SECRET, World, membership_world
from worker.engine.squads import Graduate
from worker.engine.weeks import week_of
from worker.forum.client import ForumClient
from worker.jobs.chat import on_chat_message
from worker.pipeline.receiver import ReceiverConfig, build_receiver
from worker.reads.forum_view import load_roster
from worker.state.chat import ChatStore
from worker.state.membership import MembershipStore
from worker.steps import form_squads
from worker.steps.health_report import build_health

pytestmark = pytest.mark.integration
START = datetime(2026, 11, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Monday
COHORT = "2026-11"


def _form_two_squads(world: World, redis_client: redis.Redis) -> None:
    store = MembershipStore(redis_client)
    names = [f"grad{i:02d}" for i in range(20)]
    for i, name in enumerate(names):
        world.sandbox.forum.create_user(username=name, email=f"{name}@example.org", approved=True)
        store.queue_graduate(COHORT, Graduate(name, "北京" if i % 2 else "上海", i == 0, i))
    members = world.client.get_group(world.rules.community.groups.members)
    world.client.add_group_members(int(members.get("group", members)["id"]), names)
    form_squads.run(step_ctx(world.client, redis_client, world.rules), COHORT)


def _carry_chat_deliveries(world: World, redis_client: redis.Redis, redis_url: str) -> int:
    """Each chat delivery through the real receiver; what it enqueued, recorded."""
    assert world.sandbox.wait_idle(timeout=10)
    receiver = Client(
        build_receiver(ReceiverConfig(secret=SECRET, api_username="system"), redis_url)
    )
    sent = [d for d in world.sandbox.deliveries() if d.event_type == "chat_message"]
    statuses = [receiver.post("/webhook", data=d.body, headers=d.headers).status_code for d in sent]
    # 204: Diamond's own messages (its API user, "system") do not come back as jobs
    assert set(statuses) <= {202, 204}, statuses
    store = ChatStore(redis_client)
    jobs = [kw for actor, kw in enqueued(redis_client) if actor == on_chat_message.actor_name]
    for kwargs in sorted(jobs, key=lambda kw: kw["message_id"]):
        store.record(kwargs["event"], kwargs["facts"])  # the chat actor's body
    return len(sent)


def _bonds(world: World, redis_client: redis.Redis):
    roster = load_roster(world.client, world.rules)
    week = week_of(world.now, world.rules.tz)
    report, _ = build_health(
        world.client,
        redis_client,
        world.rules,
        roster,
        week,
        base_url=world.sandbox.url,
        api_username="system",
        save_snapshot=False,
    )
    return roster, report


def test_the_talking_squads_bonds_rise_and_the_quiet_squads_do_not(
    redis_client: redis.Redis, redis_url: str, preserve_routes: None
) -> None:
    with membership_world(redis_client, START) as world:
        _form_two_squads(world, redis_client)
        roster, before = _bonds(world, redis_client)
        talking, quiet = roster.squads[0], roster.squads[1]
        forum = world.sandbox.forum
        with forum.lock:
            channel = forum.category_channel(talking.category_id).id  # type: ignore[arg-type, union-attr]

        def as_member(name: str) -> ForumClient:
            return ForumClient(world.sandbox.url, API_KEY, name, on_limit="raise")

        people = [m for m in talking.members if m != talking.leader]
        a, b, c = (as_member(name) for name in people[:3])
        na, nb, nc, nd = people[:4]

        def say(who: ForumClient, text: str, reply_to: int | None = None) -> int:
            return int(who.send_chat_message(channel, text, in_reply_to_id=reply_to)["message_id"])

        # With chat at weight 0.5 (shipped health.yml) a pair bonds on its second exchange.
        opened = say(a, "今晚大家的文章写到哪里了?")
        answer = say(b, "我写了一半,明天发出来", opened)  # b → a (opens a thread)
        say(a, "那我明天先读你的,写完叫我", answer)  # a → b: bonded
        say(c, f"@{na} 我也还在写,周末一起加油吧")  # c → a (mention)
        say(c, "我觉得这周的题目比上周难一些", opened)  # c → a (in a's thread): bonded
        say(b, f"@{nc} 你上周那篇写得很好,我学到不少")  # b → c: half a bond
        short = say(c, f"@{nb} 好的")  # too short (min_units 5): nothing, until…
        say(b, f"@{nd} 下周我们一起讨论一下题目吧")  # b → d: half a bond
        trashed = say(b, f"@{nd} 这条消息稍后会被作者删除掉")  # would complete it, but…
        with forum.lock:
            edited, gone = forum.chat_messages[short], forum.chat_messages[trashed]
            user_b, user_c = forum.find_user(nb), forum.find_user(nc)
        # … c edits it into a real answer: c → b, and b–c is bonded
        forum.edit_chat_message(edited, by=user_c, message=f"@{nb} 谢谢你,我这周也会认真读你的")
        forum.trash_chat_message(gone, by=user_b)  # … is trashed: b–d stays half a bond
        say(world.client, f"@{na} 管理员提醒:周日晚上十点截止")  # Diamond's own: not a member

        # 10 sent, 1 edited, 1 trashed
        assert _carry_chat_deliveries(world, redis_client, redis_url) == 12
        _, after = _bonds(world, redis_client)

    was, now = before.bonds[talking.slug], after.bonds[talking.slug]
    assert (was.forum, was.chat, was.combined, was.cohesion) == (0, 0, 0, 0.0)
    assert (now.forum, now.chat, now.combined) == (0, 3, 3)  # a–b, a–c, b–c
    assert now.cohesion == pytest.approx(3 / now.pairs)
    assert now.cohesion > was.cohesion
    assert after.bonds[quiet.slug] == before.bonds[quiet.slug]
