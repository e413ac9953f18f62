"""``article.roll_call: reminders``: the reminder posted in the squad's thread IS the roll
call (as a chat group's 接龙): who has written ✅ and reviewed ✅, who still owes
(mentioned); the first post only says so and is never edited."""

from __future__ import annotations

from pathlib import Path

from tests.support.obligations import (
    SH,
    THREAD,
    W47,
    Thread,
    at,
    rules_with,
    shipped_rules,
    squad,
)
from worker import actions as a
from worker.engine.limits import MAX_MENTIONS_PER_POST
from worker.engine.obligations import (
    SquadWeek,
    evaluate_week,
    plan_reminders,
    plan_weekly_threads,
)
from worker.sandbox.cooking import mentions

FULL, REVIEW = 900, 150


def _nudge(rules, about: str = "article"):
    return next(r for r in rules.obligations.reminders if r.about == about)


def _progress(rules, sq, thread: Thread, as_of):
    sw = SquadWeek(sq, W47, tuple(thread.posts), THREAD)
    return evaluate_week(rules.obligations, SH, W47, [sw], as_of=as_of)


def _names(n: int) -> list[str]:
    return [f"m{i:02d}" for i in range(1, n + 1)]


def test_the_shipped_roll_call_comes_with_the_reminders() -> None:
    assert shipped_rules().obligations.article.roll_call == "reminders"


def test_a_reminder_shows_the_whole_roll_call_and_mentions_only_who_owes() -> None:
    rules = shipped_rules()
    t = Thread()
    ann = t.post("ann", at(17), FULL)
    t.post("bob", at(17, 13), FULL)
    t.post("bob", at(18, 9), REVIEW, reply_to=ann.post_number)  # bob reviewed ann
    sq = squad("ann", "bob", "cat", "dan", leader="ann")
    [post] = plan_reminders(
        rules, _nudge(rules), _progress(rules, sq, t, at(20, 20)), streaks={"ann": 3}
    )
    assert isinstance(post, a.CreatePost) and post.topic_id == THREAD
    # Those who owe are mentioned (notified); the leader, who wrote, is cc'd as before.
    assert mentions(post.raw) == {"cat", "dan", "ann"}
    assert set(post.notifies) == {"cat", "dan", "ann"}
    roll, reviews = post.raw.split("**本周点名**")[1].split("**点评**")
    lines = {line.split()[1]: line for line in roll.splitlines() if line.startswith("- ")}
    assert "✅" in lines["ann"] and "连续 3 周" in lines["ann"]
    assert "✅" in lines["bob"] and "⬜" in lines["cat"] and "⬜" in lines["dan"]
    assert "bob → ann ✅" in reviews  # reviewed: named, nobody notified
    assert "ann → bob ⏳" in reviews


def test_a_review_reminder_carries_the_roll_call_too() -> None:
    rules = shipped_rules()
    t = Thread()
    first = t.post("alice", at(17), FULL)
    t.post("bob", at(17, 13), FULL)
    t.post("bob", at(18), REVIEW, reply_to=first.post_number)
    sq = squad("alice", "bob", leader="alice")
    [post] = plan_reminders(rules, _nudge(rules, "review"), _progress(rules, sq, t, at(23, 20)))
    assert mentions(post.raw) == {"alice"}  # alice owes bob's review; bob is done
    assert "**本周点名**" in post.raw and "bob → alice ✅" in post.raw


def test_a_squad_where_nobody_owes_gets_no_post() -> None:
    rules = shipped_rules()
    t = Thread()
    for name in ("ann", "bob"):
        t.post(name, at(17), FULL)
    sq = squad("ann", "bob", leader="ann")
    assert plan_reminders(rules, _nudge(rules), _progress(rules, sq, t, at(20, 20))) == []


def test_a_roll_call_of_a_squad_split_over_posts_is_in_the_first_only_and_keeps_the_limit() -> None:
    rules = shipped_rules()
    names = _names(12)
    sq = squad(*names, leader=names[0])
    actions = plan_reminders(rules, _nudge(rules), _progress(rules, sq, Thread(), at(20, 20)))
    assert [len(mentions(x.raw)) for x in actions] == [MAX_MENTIONS_PER_POST, 2]
    assert set().union(*(mentions(x.raw) for x in actions)) == set(names)
    assert ["**本周点名**" in x.raw for x in actions] == [True, False]
    roll = actions[0].raw.split("**本周点名**")[1]
    assert all(f"- {n} ⬜" in roll for n in names)  # everyone listed, mentions unchanged


def test_with_posts_the_reminder_carries_no_roll_call() -> None:
    rules = rules_with(article={"roll_call": "posts"})
    sq = squad("ann", "bob", leader="ann")
    [post] = plan_reminders(rules, _nudge(rules), _progress(rules, sq, Thread(), at(20, 20)))
    assert "**本周点名**" not in post.raw


def test_the_weekly_thread_says_the_roll_call_comes_with_the_reminders() -> None:
    sq = squad("ann", "bob", leader="ann")
    [opened] = plan_weekly_threads(shipped_rules(), [sq], W47, {})
    assert isinstance(opened, a.CreateTopic)
    assert "点名 (谁交了文章、谁点评了谁) 随每次提醒以回帖形式发在本帖里" in opened.raw
    posts = rules_with(article={"roll_call": "posts"})
    [plain] = plan_weekly_threads(posts, [sq], W47, {})
    assert "随每次提醒" not in plain.raw
    en = Path(__file__).resolve().parents[2] / "rules" / "messages" / "en.yml"
    assert "comes with each reminder, as a reply in this thread" in en.read_text()
