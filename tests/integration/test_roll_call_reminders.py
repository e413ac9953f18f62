"""``article.roll_call: reminders`` on the sandbox: each reminder wave is one post per squad
that owes, carrying the roll call; the weekly thread's first post is never edited."""

from __future__ import annotations

import pytest

from tests.support.obligations import W47, Thread, at, shipped_rules
from tests.support.sandbox_api import writes
from tests.support.sandbox_squad import admin_client, squad_on_forum
from tests.support.steps import step_ctx
from worker.engine.facts import Roster
from worker.sandbox.cooking import mentions
from worker.state.ledger import Ledger
from worker.steps import reminders, roll_calls, weekly_threads

pytestmark = pytest.mark.integration


def _replies(sandbox, topic_id: int) -> list[str]:
    with sandbox.forum.lock:
        return [
            p.raw
            for p in sorted(sandbox.forum.posts.values(), key=lambda p: p.post_number)
            if p.topic_id == topic_id and p.post_number > 1
        ]


def _first_post(sandbox, topic_id: int) -> str:
    with sandbox.forum.lock:
        return next(
            p.raw
            for p in sandbox.forum.posts.values()
            if p.topic_id == topic_id and p.post_number == 1
        )


def _squads(sandbox, client) -> Roster:
    return Roster(
        (
            squad_on_forum(
                sandbox, client, "sq-1", ("ann", "bob", "cat", "dan"), "2026年11月期 第1写作小组"
            ),
            squad_on_forum(sandbox, client, "sq-2", ("eve", "fay"), "2026年11月期 第2写作小组"),
        )
    )


def test_each_wave_posts_one_roll_call_per_squad_that_owes_and_never_edits_the_first_post(
    sandbox, redis_client
) -> None:
    rules = shipped_rules()
    client = admin_client(sandbox)
    roster = _squads(sandbox, client)
    threads = weekly_threads.run(step_ctx(client, redis_client, rules), W47, roster=roster)
    opened = {slug: _first_post(sandbox, topic) for slug, topic in threads.items()}
    assert all("点名 (谁交了文章、谁点评了谁) 随每次提醒" in text for text in opened.values())
    ledger = Ledger(redis_client)
    one, two = Thread(threads["sq-1"]), Thread(threads["sq-2"])
    for thread, slug, name in ((one, "sq-1", "ann"), (two, "sq-2", "eve"), (two, "sq-2", "fay")):
        ledger.upsert_post(W47, slug, thread.post(name, at(17, 9), 900))
    friday, sunday = (r for r in rules.obligations.reminders if r.about == "article")
    sandbox.app.request_log.clear()

    reminders.run(step_ctx(client, redis_client, rules, now=at(20, 20)), friday, roster=roster)

    # sq-2 has both articles: nothing to say. sq-1: one post, the whole roll call in it.
    assert writes(sandbox) == [("POST", "/posts.json")]
    [friday_post] = _replies(sandbox, threads["sq-1"])
    assert mentions(friday_post) == {"bob", "cat", "dan", "ann"}  # ann leads: cc'd
    roll = friday_post.split("**本周点名**")[1]
    assert "- ann ✅" in roll and "- bob ⬜" in roll
    assert _replies(sandbox, threads["sq-2"]) == []

    # Saturday: bob writes. Nothing is edited in between (not even by a roll-call run).
    ledger.upsert_post(W47, "sq-1", one.post("bob", at(21, 10), 900))
    roll_calls.run(step_ctx(client, redis_client, rules, now=at(21, 10, 5)), roster=roster)
    reminders.run(step_ctx(client, redis_client, rules, now=at(20, 20, 5)), friday, roster=roster)
    assert writes(sandbox) == [("POST", "/posts.json")], "the same wave again writes nothing"

    reminders.run(step_ctx(client, redis_client, rules, now=at(22, 16)), sunday, roster=roster)
    assert writes(sandbox) == [("POST", "/posts.json")] * 2
    sunday_post = _replies(sandbox, threads["sq-1"])[-1]
    assert mentions(sunday_post) == {"cat", "dan", "ann"}
    assert "- bob ✅" in sunday_post.split("**本周点名**")[1]
    assert {slug: _first_post(sandbox, topic) for slug, topic in threads.items()} == opened


def test_in_shadow_mode_the_roll_call_reminder_is_reported_not_posted(
    sandbox, redis_client
) -> None:
    """As every reminder: it mentions (notifies) members, so shadow mode only reports it."""
    rules = shipped_rules()
    client = admin_client(sandbox)
    roster = _squads(sandbox, client)
    weekly_threads.run(step_ctx(client, redis_client, rules, live=False), W47, roster=roster)
    friday = rules.obligations.reminders[0]
    sandbox.app.request_log.clear()
    report = reminders.run(
        step_ctx(client, redis_client, rules, now=at(20, 20), live=False), friday, roster=roster
    )
    assert writes(sandbox) == []
    assert len(report.shadowed) == 2 and all("**本周点名**" in x.raw for x in report.shadowed)
