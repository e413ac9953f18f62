"""Reminders sent to the squad's chat channel (``delivery: squad_channel``, issue #18)."""

from __future__ import annotations

from tests.support.obligations import (
    SH,
    THREAD,
    W47,
    Thread,
    at,
    shipped_rules,
    squad,
    with_delivery,
)
from worker import actions as a
from worker.engine.limits import MAX_MENTIONS_PER_CHAT_MESSAGE
from worker.engine.obligations import SquadWeek, evaluate_week, plan_reminders
from worker.sandbox.cooking import mentions

CHANNEL = 77


def _rules():
    return with_delivery(shipped_rules(), "squad_channel")


def _nudge(rules, about: str = "article"):
    return next(r for r in rules.obligations.reminders if r.about == about)


def _progress(rules, sq, thread: Thread, as_of):
    sw = SquadWeek(sq, W47, tuple(thread.posts), THREAD)
    return evaluate_week(rules.obligations, SH, W47, [sw], as_of=as_of)


def test_a_squad_with_a_channel_gets_one_chat_message_mentioning_who_owes_with_the_roll_call():
    rules = _rules()
    t = Thread()
    t.post("ann", at(17), 900)
    sq = squad("ann", "bob", "cat", leader="ann")
    actions = plan_reminders(
        rules, _nudge(rules), _progress(rules, sq, t, at(20, 20)), channels={"sq-3": CHANNEL}
    )
    [message] = actions
    assert isinstance(message, a.SendChatMessage) and message.channel_id == CHANNEL
    assert mentions(message.message) == {"bob", "cat", "ann"}  # ann leads: cc'd
    assert "**本周点名**" in message.message and "- ann ✅" in message.message
    assert f"/t/{THREAD}" in message.message  # where to reply
    assert message.key.startswith("remind-chat:")


def test_a_chat_reminder_keeps_to_discourses_five_mentions_a_message():
    """Above max_mentions_per_chat_message Discourse notifies nobody of the message."""
    rules = _rules()
    names = [f"m{i:02d}" for i in range(1, 13)]
    sq = squad(*names, leader=names[0])
    actions = plan_reminders(
        rules, _nudge(rules), _progress(rules, sq, Thread(), at(20, 20)), channels={"sq-3": 5}
    )
    assert all(isinstance(x, a.SendChatMessage) for x in actions)
    assert [len(mentions(x.message)) for x in actions] == [5, 5, 2]
    assert all(len(mentions(x.message)) <= MAX_MENTIONS_PER_CHAT_MESSAGE for x in actions)
    assert set().union(*(mentions(x.message) for x in actions)) == set(names)
    assert ["**本周点名**" in x.message for x in actions] == [True, False, False]


def test_a_squad_without_a_channel_gets_the_threads_post():
    rules = _rules()
    sq = squad("ann", "bob", leader="ann")
    [post] = plan_reminders(rules, _nudge(rules), _progress(rules, sq, Thread(), at(20, 20)))
    assert isinstance(post, a.CreatePost) and post.topic_id == THREAD


def test_a_review_reminder_in_the_channel_lists_the_reviews_owed():
    rules = _rules()
    t = Thread()
    first = t.post("alice", at(17), 900)
    t.post("bob", at(17, 13), 900)
    sq = squad("alice", "bob", leader="alice")
    [message] = plan_reminders(
        rules,
        _nudge(rules, "review"),
        _progress(rules, sq, t, at(23, 20)),
        channels={"sq-3": CHANNEL},
    )
    assert isinstance(message, a.SendChatMessage)
    assert mentions(message.message) == {"alice", "bob"}
    assert f"/t/{THREAD}/{first.post_number}" in message.message


def test_a_chat_reminder_too_long_for_discourse_goes_without_the_roll_call():
    """chat_maximum_message_length (6000): a longer message is refused (422)."""
    rules = _rules()
    names = [f"member_with_a_long_name_{i:02d}" for i in range(60)]
    t = Thread()
    for name in names[1:]:
        t.post(name, at(17), 900)
    sq = squad(*names, leader=names[0])
    [message] = plan_reminders(
        rules, _nudge(rules), _progress(rules, sq, t, at(20, 20)), channels={"sq-3": CHANNEL}
    )
    assert isinstance(message, a.SendChatMessage)
    assert "**本周点名**" not in message.message
    assert mentions(message.message) == {names[0]}


def test_the_weekly_thread_says_the_roll_call_comes_in_the_chat_channel():
    from worker.engine.obligations import plan_weekly_threads

    sq = squad("ann", "bob", leader="ann")
    [opened] = plan_weekly_threads(_rules(), [sq], W47, {})
    assert isinstance(opened, a.CreateTopic)
    assert "随每次提醒发在小组聊天频道里" in opened.raw
    [in_thread] = plan_weekly_threads(shipped_rules(), [sq], W47, {})
    assert "随每次提醒以回帖形式发在本帖里" in in_thread.raw
