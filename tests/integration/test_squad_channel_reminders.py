"""``delivery: squad_channel`` on the sandbox: one chat message per squad and wave in the
squad's channel, mentioning who owes, through the Applier; no channel, the thread."""

from __future__ import annotations

import pytest

from tests.support.obligations import W47, Thread, at, shipped_rules, with_delivery
from tests.support.sandbox_api import writes
from tests.support.sandbox_squad import admin_client, squad_on_forum
from tests.support.steps import step_ctx
from worker.engine.facts import Roster
from worker.forum.errors import ForumUnavailable
from worker.sandbox.cooking import mentions
from worker.state.ledger import Ledger
from worker.steps import reminders, weekly_threads

pytestmark = pytest.mark.integration


def _channel_messages(sandbox, channel_id: int) -> list[str]:
    with sandbox.forum.lock:
        return [
            m.message
            for m in sorted(sandbox.forum.chat_messages.values(), key=lambda m: m.id)
            if m.channel_id == channel_id and m.deleted_at is None
        ]


def _world(sandbox, redis_client, rules):
    client = admin_client(sandbox)
    roster = Roster(
        (
            squad_on_forum(
                sandbox, client, "sq-1", ("ann", "bob", "cat", "dan"), "2026年11月期 第1写作小组"
            ),
            squad_on_forum(sandbox, client, "sq-2", ("eve", "fay"), "2026年11月期 第2写作小组"),
        )
    )
    one = roster.squads[0]
    assert one.category_id is not None
    channel = int(client.create_category_channel(one.category_id)["id"])  # sq-2: none
    threads = weekly_threads.run(step_ctx(client, redis_client, rules), W47, roster=roster)
    ledger = Ledger(redis_client)
    ledger.upsert_post(W47, "sq-1", Thread(threads["sq-1"]).post("ann", at(17, 9), 900))
    ledger.upsert_post(W47, "sq-2", Thread(threads["sq-2"]).post("eve", at(17, 9), 900))
    return client, roster, channel, threads


def test_the_squad_channel_gets_one_message_per_wave_mentioning_who_owes(
    sandbox, redis_client
) -> None:
    rules = with_delivery(shipped_rules(), "squad_channel")
    client, roster, channel, threads = _world(sandbox, redis_client, rules)
    friday, sunday = (r for r in rules.obligations.reminders if r.about == "article")
    sandbox.app.request_log.clear()

    reminders.run(step_ctx(client, redis_client, rules, now=at(20, 20)), friday, roster=roster)

    # sq-1: one chat message; sq-2 has no channel: its thread gets the post instead.
    assert sorted(writes(sandbox)) == [("POST", f"/chat/{channel}"), ("POST", "/posts.json")]
    [message] = _channel_messages(sandbox, channel)
    assert mentions(message) == {"bob", "cat", "dan", "ann"}  # ann leads: cc'd
    assert "**本周点名**" in message and "- ann ✅" in message
    assert f"/t/{threads['sq-1']}" in message
    with sandbox.forum.lock:
        thread_posts = [
            p.raw
            for p in sandbox.forum.posts.values()
            if p.topic_id == threads["sq-2"] and p.post_number > 1
        ]
    assert [mentions(p) for p in thread_posts] == [{"fay", "eve"}]
    assert client.call_counts["GET /chat/api/channels"] == 1

    reminders.run(step_ctx(client, redis_client, rules, now=at(20, 20, 5)), friday, roster=roster)
    assert len(writes(sandbox)) == 2, "the same wave again sends nothing"

    reminders.run(step_ctx(client, redis_client, rules, now=at(22, 16)), sunday, roster=roster)
    assert len(_channel_messages(sandbox, channel)) == 2  # Sunday's wave: one more


def test_in_shadow_mode_nothing_is_sent_to_the_channel(sandbox, redis_client) -> None:
    """As the thread's reminder: it notifies members, so shadow mode only reports it."""
    rules = with_delivery(shipped_rules(), "squad_channel")
    client, roster, channel, _threads = _world(sandbox, redis_client, rules)
    sandbox.app.request_log.clear()
    report = reminders.run(
        step_ctx(client, redis_client, rules, now=at(20, 20), live=False),
        rules.obligations.reminders[0],
        roster=roster,
    )
    assert writes(sandbox) == [] and _channel_messages(sandbox, channel) == []
    assert sorted(x.kind for x in report.shadowed) == ["CreatePost", "SendChatMessage"]


def test_a_channel_deleted_since_its_id_was_kept_sends_the_reminder_to_the_thread(
    sandbox, redis_client
) -> None:
    """The kept id answers 404: the ids are listed again, the squad gets the thread's post,
    and the run does not fail."""
    rules = with_delivery(shipped_rules(), "squad_channel")
    client, roster, channel, threads = _world(sandbox, redis_client, rules)
    friday, sunday = (r for r in rules.obligations.reminders if r.about == "article")
    reminders.run(step_ctx(client, redis_client, rules, now=at(20, 20)), friday, roster=roster)
    with sandbox.forum.lock:
        sandbox.forum.chat_channels[channel].deleted_at = sandbox.forum.now()
    sandbox.app.request_log.clear()

    reminders.run(step_ctx(client, redis_client, rules, now=at(22, 16)), sunday, roster=roster)

    assert ("POST", f"/chat/{channel}") in writes(sandbox)  # refused: 404
    with sandbox.forum.lock:
        sunday_posts = [
            p.raw
            for p in sandbox.forum.posts.values()
            if p.topic_id == threads["sq-1"] and p.post_number > 1
        ]
    assert [mentions(p) for p in sunday_posts] == [{"bob", "cat", "dan", "ann"}]


def test_a_big_squads_channel_reminder_notifies_everyone_who_owes(sandbox, redis_client) -> None:
    """The sandbox notifies nobody of a chat message above max_mentions_per_chat_message
    (as Discourse's NotifyMentioned): split at five, every member who owes is notified."""
    rules = with_delivery(shipped_rules(), "squad_channel")
    client = admin_client(sandbox)
    names = ("ann", *(f"m{i:02d}" for i in range(1, 12)))
    squad = squad_on_forum(sandbox, client, "sq-9", names, "2026年11月期 第9写作小组")
    assert squad.category_id is not None
    channel = int(client.create_category_channel(squad.category_id)["id"])
    roster = Roster((squad,))
    threads = weekly_threads.run(step_ctx(client, redis_client, rules), W47, roster=roster)
    Ledger(redis_client).upsert_post(
        W47, "sq-9", Thread(threads["sq-9"]).post("ann", at(17, 9), 900)
    )
    friday = next(r for r in rules.obligations.reminders if r.about == "article")

    reminders.run(step_ctx(client, redis_client, rules, now=at(20, 20)), friday, roster=roster)

    forum = sandbox.forum
    with forum.lock:
        sent = [m for m in forum.chat_messages.values() if m.channel_id == channel]
        notified = {forum.users[uid].username for m in sent for uid in m.notified_user_ids}
    assert notified >= set(names[1:])  # the eleven who owe (ann, who posted, is cc'd)
    assert len(sent) > 1 and all(len(mentions(m.message)) <= 5 for m in sent)


def test_a_channel_reminder_whose_answer_was_lost_is_in_the_channel_once_after_the_retry(
    sandbox, redis_client
) -> None:
    """The forum posted the message but a proxy lost its answer: the job fails, and its
    retry finds the message among the channel's newest instead of sending it again."""
    rules = with_delivery(shipped_rules(), "squad_channel")
    client, roster, channel, _threads = _world(sandbox, redis_client, rules)
    friday = next(r for r in rules.obligations.reminders if r.about == "article")
    sandbox.add_fault(f"POST /chat/{channel}:lost=1")
    with pytest.raises(ForumUnavailable):
        reminders.run(step_ctx(client, redis_client, rules, now=at(20, 20)), friday, roster=roster)
    assert len(_channel_messages(sandbox, channel)) == 1  # written, answer lost
    sandbox.clear_faults()

    reminders.run(step_ctx(client, redis_client, rules, now=at(20, 20, 5)), friday, roster=roster)

    [message] = _channel_messages(sandbox, channel)
    assert mentions(message) == {"bob", "cat", "dan", "ann"}
