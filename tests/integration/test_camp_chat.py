"""On the sandbox: the camp's chat channel, check-ins by chat, and chat the webhook lost read
back by the catch-up.

Chat deliveries are taken from the sandbox's webhook emitter (the chat webhook that
``plugin_config/`` makes: chat events only, Diamond's categories) and recorded as the chat
actor does (``ChatStore.record`` of the body's facts)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis

from tests.support.steps import step_ctx
from tests.support.world import API_KEY, ROOT, SECRET, World, membership_world
from worker.config_sync.actual import read_actual
from worker.config_sync.desired import load_desired
from worker.config_sync.diff import diff
from worker.engine import camp as camp_engine
from worker.engine.camp import Camper, CampPost
from worker.engine.squads import Graduate
from worker.forum.client import ForumClient
from worker.pipeline.chat_body import parse_chat_message
from worker.pipeline.chat_catchup import catch_up_chat
from worker.rules import Rules
from worker.state.chat import ChatStore
from worker.state.membership import MembershipStore
from worker.steps import camp_check, form_squads
from worker.whatif.membership import chat_categories, judge_camp, read_camp_facts

pytestmark = pytest.mark.integration
SH = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 2, 10, 0, tzinfo=SH)  # camp days Nov 2 .. Nov 8
END = datetime(2026, 11, 9, 0, 0, tzinfo=SH)
CHECKIN = "今天读完了第三章，做了十几条笔记，明天继续读第四章"  # well over 10 units


def chat_rules(rules: Rules, *, chat: bool) -> Rules:
    checkins = rules.camp.tasks.checkins.model_copy(update={"chat": chat})
    tasks = rules.camp.tasks.model_copy(update={"checkins": checkins})
    camp = rules.camp.model_copy(update={"tasks": tasks, "chat_channel": True, "on_fail": "remove"})
    return rules.model_copy(update={"camp": camp})


def enter_camp(world: World, rules: Rules, username: str) -> Camper:
    """A camper approved on the forum: the camp entry's writes (group, channel, welcome)."""
    user = world.sandbox.forum.create_user(
        username=username, email=f"{username}@example.org", approved=True
    )
    camper = Camper(user.id, username, world.now)
    step_ctx(world.client, world.redis, rules, now=world.now).apply(
        camp_engine.entry_after_review(rules, camper)
    )
    MembershipStore(world.redis).start_camp(camper, city=None, volunteer=False)
    return camper


def other_tasks_done(world: World, rules: Rules, username: str) -> None:
    """The introduction and three replies, as the ledger keeps them: only check-ins decide."""
    store = MembershipStore(world.redis)
    tasks = rules.camp.tasks
    store.record_camp_post(
        username,
        CampPost(9001, START + timedelta(hours=1), 200, tasks.introduction.category, True),
    )
    for i, fellow in enumerate(("ann", "bob", "cat")):
        store.record_camp_post(
            username,
            CampPost(9100 + i, START + timedelta(days=1), 80, "general", reply_to=fellow),
        )


def camp_channel(world: World, rules: Rules) -> dict:
    """The camp's channel, made by the camp check (campers in camp, none decided yet)."""
    camp_check.run(step_ctx(world.client, world.redis, rules, now=world.now))
    slug = rules.camp.tasks.checkins.category
    return next(
        c
        for c in world.client.iter_chat_channels()
        if (c.get("chatable") or {}).get("slug") == slug
    )


def record_deliveries(world: World, *, drop_ids: frozenset[int] | set[int] = frozenset()) -> int:
    """Record the chat deliveries as the chat actor would; ``drop_ids``: lost ones."""
    world.sandbox.wait_idle()
    store = ChatStore(world.redis)
    recorded = 0
    for delivery in world.sandbox.deliveries():
        if not delivery.event.startswith("chat_message"):
            continue
        facts = parse_chat_message(delivery.json()["chat_message"])
        if facts["message_id"] in drop_ids:
            continue
        store.record(delivery.event, facts)
        recorded += 1
    return recorded


def check_in_by_chat(world: World, username: str, channel_id: int, days: int) -> list[int]:
    camper = ForumClient(world.sandbox.url, API_KEY, username, on_limit="raise")
    ids = []
    for day in range(days):
        world.set_now(START + timedelta(days=day, hours=9))
        ids.append(int(camper.send_chat_message(channel_id, CHECKIN)["message_id"]))
    return ids


@pytest.mark.parametrize(("chat", "verdict"), [(True, "pass"), (False, "fail")])
def test_a_camper_who_checks_in_only_by_chat_passes_when_the_rules_allow_it(
    redis_client: redis.Redis, chat: bool, verdict: str
) -> None:
    with membership_world(redis_client, START) as world:
        rules = chat_rules(world.rules, chat=chat)
        fellows = [enter_camp(world, rules, name) for name in ("ann", "bob", "cat")]
        enter_camp(world, rules, "chatty")
        other_tasks_done(world, rules, "chatty")
        channel = camp_channel(world, rules)
        members = {
            m["user"]["username"] for m in world.client.iter_channel_memberships(channel["id"])
        }
        # One channel for the camp (every intake shares the camp group); campers auto-joined.
        assert {"ann", "bob", "cat", "chatty"} <= members
        assert len([c for c in world.client.iter_chat_channels() if c is not None]) >= 1

        check_in_by_chat(world, "chatty", int(channel["id"]), rules.camp.tasks.checkins.min_days)
        assert record_deliveries(world) == rules.camp.tasks.checkins.min_days

        world.set_now(END + timedelta(hours=9))
        # The what-if of these rules foresees the check (it reads the same chat facts).
        facts = read_camp_facts(redis_client, chat_categories(world.client, [rules]))
        assert judge_camp(rules, facts, world.now)["chatty"].first == verdict
        checks = camp_check.run(step_ctx(world.client, redis_client, rules, now=world.now))

        by_name = {c.username: c.verdict for c in checks}
        assert by_name["chatty"].verdict == verdict
        days = len(by_name["chatty"].progress.checkin_days)
        assert days == (rules.camp.tasks.checkins.min_days if chat else 0)
        assert {f.username for f in fellows} <= set(by_name)


def test_the_camp_channel_is_made_once_even_when_its_record_is_lost(
    redis_client: redis.Redis,
) -> None:
    with membership_world(redis_client, START) as world:
        rules = chat_rules(world.rules, chat=True)
        for name in ("ann", "bob"):
            enter_camp(world, rules, name)
        camp_channel(world, rules)
        # The record is lost: the Applier looks before it creates.
        lost = list(world.redis.scan_iter("diamond:*camp-chat:*"))
        assert lost
        world.redis.delete(*lost)
        enter_camp(world, rules, "cat")
        channel = camp_channel(world, rules)
        assert "cat" in {
            m["user"]["username"] for m in world.client.iter_channel_memberships(channel["id"])
        }
        with world.sandbox.forum.lock:
            channels = list(world.sandbox.forum.chat_channels.values())
        assert len(channels) == 1


def test_lost_chat_deliveries_are_read_back_by_the_catch_up_with_one_call_per_gapped_channel(
    redis_client: redis.Redis,
) -> None:
    with membership_world(redis_client, START) as world:
        rules = chat_rules(world.rules, chat=True)
        enter_camp(world, rules, "chatty")
        channel = camp_channel(world, rules)
        quiet = world.client.create_category_channel(_category_id(world, "introductions"))
        store = ChatStore(world.redis)
        category = int(channel["chatable_id"])
        window = (START - timedelta(days=1), END)

        def recorded() -> list[int]:
            return [m.message_id for m in store.messages(category, *window)]

        def history_calls() -> int:
            log = world.sandbox.app.request_log
            return len([p for m, p, _s in log if m == "GET" and p.endswith("/messages")])

        # Three check-ins: the middle one's and the last one's deliveries are lost.
        ids = check_in_by_chat(world, "chatty", int(channel["id"]), 3)
        record_deliveries(world, drop_ids={ids[1], ids[2]})
        assert recorded() == [ids[0]]
        world.sandbox.app.request_log.clear()

        report = catch_up_chat(world.client, store)

        assert recorded() == ids  # a channel never read is read from its start
        assert (report.gapped, report.reads, history_calls()) == (1, 1, 1)
        assert quiet["id"] != channel["id"]  # the other channel has no gap: not read

        world.sandbox.app.request_log.clear()
        again = catch_up_chat(world.client, store)
        assert (again.gapped, again.reads, history_calls()) == (0, 0, 0)

        # The receiver was down, then back: a message lost in the middle, the next one
        # delivered. The last id is recorded, so only a suspicious scan (posts were missed
        # too) reads the channel on from where it last read.
        more = check_in_by_chat(world, "chatty", int(channel["id"]), 2)
        record_deliveries(world, drop_ids={more[0]})
        assert catch_up_chat(world.client, store).reads == 0
        world.sandbox.app.request_log.clear()
        suspicious = catch_up_chat(world.client, store, suspicious=True)
        assert (suspicious.reads, history_calls()) == (1, 1)
        assert sorted(recorded()) == sorted(ids + more)


def _category_id(world: World, slug: str) -> int:
    return next(int(c["id"]) for c in world.client.list_categories() if c.get("slug") == slug)


def _form_a_squad(world: World) -> tuple[Any, dict]:
    store = MembershipStore(world.redis)
    names = [f"grad{i:02d}" for i in range(10)]
    for i, name in enumerate(names):
        world.sandbox.forum.create_user(username=name, email=f"{name}@example.org", approved=True)
        store.queue_graduate("2026-11", Graduate(name, "北京", i == 0, i))
    members = world.client.get_group(world.rules.community.groups.members)
    world.client.add_group_members(int(members.get("group", members)["id"]), names)
    formed = form_squads.run(step_ctx(world.client, world.redis, world.rules), "2026-11")
    squad = formed.plan.squads[0].squad
    channel = next(
        c
        for c in world.client.iter_chat_channels()
        if (c.get("chatable") or {}).get("slug") == squad.slug
    )
    return squad, channel


def _chat_hook(world: World) -> Any:
    with world.sandbox.forum.lock:
        return next(
            h for h in world.sandbox.forum.webhooks.values() if h.payload_url.endswith("hook=chat")
        )


def test_a_new_squads_chat_is_delivered_at_once_and_the_plan_stays_clean(
    redis_client: redis.Redis,
) -> None:
    with membership_world(redis_client, START) as world:
        squad, channel = _form_a_squad(world)
        assert int(channel["chatable_id"]) in _chat_hook(world).category_ids
        ids = check_in_by_chat(world, squad.members[0], int(channel["id"]), 2)
        world.sandbox.wait_idle()
        delivered = [
            d.json()["chat_message"]["message"]["id"]
            for d in world.sandbox.deliveries("chat_message_created")
        ]
        assert delivered == ids
        # `diamond plan` wants the same filter (base and squad categories): nothing to do.
        desired = load_desired(
            ROOT / "plugin_config",
            receiver_url=_chat_hook(world).payload_url.split("?")[0],
            webhook_secret=SECRET,
            badges=world.rules.badges.badges,
        )
        plan = diff(desired, read_actual(world.client, desired))
        assert [c for c in plan.changes if c.resource == "webhook"] == []


def test_a_squads_chat_the_webhook_missed_is_read_back_by_the_catch_up(
    redis_client: redis.Redis,
) -> None:
    with membership_world(redis_client, START) as world:
        squad, channel = _form_a_squad(world)
        # The filter lost the squad's category (edited by hand, or the update failed).
        hook = _chat_hook(world)
        with world.sandbox.forum.lock:
            hook.category_ids = [i for i in hook.category_ids if i != channel["chatable_id"]]
        ids = check_in_by_chat(world, squad.members[0], int(channel["id"]), 2)
        world.sandbox.wait_idle()
        assert not [d for d in world.sandbox.deliveries() if d.event.startswith("chat_message")]

        report = catch_up_chat(world.client, ChatStore(redis_client))

        assert report.reads == 1  # its category carries the squad's marker: Diamond's
        recorded = ChatStore(redis_client).messages(
            int(channel["chatable_id"]), START - timedelta(days=1), END
        )
        assert [m.message_id for m in recorded] == ids
