"""The weekly thread's first post is a roll call, kept current at most once per few minutes."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.support.obligations import SH, W47, Thread, at, shipped_rules, squad
from worker.engine.obligations import SquadWeek, evaluate_week, roll_call_text, streak_of
from worker.engine.weeks import Week


def test_the_roll_call_shows_writers_reviews_leave_and_streaks() -> None:
    rules = shipped_rules()
    t = Thread()
    ann = t.post("ann", at(17), 900)
    t.post("bob", at(17, 13), 900)
    t.post("bob", at(18, 9), 150, reply_to=ann.post_number)
    sq = squad("ann", "bob", "cat", "dan", leader="ann")
    progress = evaluate_week(
        rules.obligations,
        SH,
        W47,
        [SquadWeek(sq, W47, tuple(t.posts), t.topic_id)],
        excused=frozenset({"dan"}),
        as_of=at(18, 10),
    )
    (sr,) = progress.squads
    text = roll_call_text(rules, sr, {"ann": 3, "bob": 0}, opening="本周作业帖。")

    assert text.startswith("本周作业帖。")
    roll, reviews = text.split("**点评**")
    lines = {line.split()[1]: line for line in roll.splitlines() if line.startswith("- @")}
    assert "已交" in lines["@ann"] and "连续 3 周" in lines["@ann"]
    assert "还没交" in lines["@cat"]
    assert "请假" in lines["@dan"]
    assert "✅" in reviews.split("@bob → @ann")[1].splitlines()[0]
    assert "⏳" in reviews.split("@ann → @bob")[1].splitlines()[0]


def test_a_streak_counts_clean_weeks_back_and_leave_does_not_break_it() -> None:
    history = {W47.shift(-1): 0, W47.shift(-2): None, W47.shift(-3): 0, W47.shift(-4): 2}
    assert streak_of(history, W47) == 2
    assert streak_of({}, W47) == 0
    assert streak_of({W47.shift(-1): 1}, Week(2026, 47)) == 0


@pytest.mark.integration
def test_posts_in_the_thread_edit_its_first_post_at_most_once_per_interval(
    sandbox, redis_client
) -> None:
    """``roll_call: posts``: within minutes of each post."""
    from tests.support.obligations import rules_with
    from tests.support.steps import step_ctx
    from worker.engine.facts import Roster
    from worker.engine.facts import Squad as SquadFact
    from worker.forum.client import ForumClient
    from worker.state.ledger import Ledger
    from worker.steps import roll_calls

    rules = rules_with(article={"roll_call": "posts"})
    client = ForumClient(sandbox.url, sandbox.api_key, "system", timeout=(2, 10))
    made = client.create_category("Squad 3", slug="sq-3", permissions={"everyone": 1})
    category_id = int(made.get("category", made)["id"])
    sq = SquadFact("sq-3", "3组", "2026-11", ("ann", "bob"), leader="ann", category_id=category_id)
    roster = Roster((sq,))
    opened = client.create_topic("2026年第47周作业 · 3组", "本周作业帖。" * 5, category_id)
    ledger = Ledger(redis_client)
    ledger.record_thread(W47, "sq-3", int(opened["topic_id"]))
    t = Thread(int(opened["topic_id"]))
    ledger.upsert_post(W47, "sq-3", t.post("ann", at(17), 900))
    ledger.mark_roll_call(W47, "sq-3", at(17))

    def run(now: dt.datetime) -> str:
        roll_calls.run(step_ctx(client, redis_client, rules, now=now), roster=roster)
        return client.get_post(int(opened["id"]))["raw"]

    first = run(at(17, 12, 1))
    assert "@ann" in first and "已交" in first and "@bob" in first and "还没交" in first
    edits = client.call_counts["PUT /posts/{id}.json"]
    assert edits == 1

    ledger.upsert_post(W47, "sq-3", t.post("bob", at(17, 12, 2), 900))
    ledger.mark_roll_call(W47, "sq-3", at(17, 12, 2))
    assert run(at(17, 12, 3)) == first  # within the interval: waits, still marked
    assert client.call_counts["PUT /posts/{id}.json"] == 1
    later = run(at(17, 12, 10))
    assert "还没交" not in later  # bob has written
    assert client.call_counts["PUT /posts/{id}.json"] == 2

    ledger.mark_roll_call(W47, "sq-3", at(17, 12, 20))  # nothing changed
    run(at(17, 12, 30))
    assert client.call_counts["PUT /posts/{id}.json"] == 2  # same content: no edit


@pytest.mark.integration
def test_a_roll_call_back_to_an_earlier_text_is_written_again_and_an_unchanged_one_is_not(
    sandbox, redis_client
) -> None:
    """What counts is the text last written, not every text ever written: a post removed
    brings an earlier roll call back, and the thread must show it again."""
    from tests.support.obligations import rules_with
    from tests.support.steps import step_ctx
    from worker.engine.facts import Roster
    from worker.engine.facts import Squad as SquadFact
    from worker.forum.client import ForumClient
    from worker.state.ledger import Ledger
    from worker.steps import roll_calls

    rules = rules_with(article={"roll_call": "posts"})
    client = ForumClient(sandbox.url, sandbox.api_key, "system", timeout=(2, 10))
    made = client.create_category("Squad 4", slug="sq-4", permissions={"everyone": 1})
    category_id = int(made.get("category", made)["id"])
    sq = SquadFact("sq-4", "4组", "2026-11", ("ann", "bob"), leader="ann", category_id=category_id)
    roster = Roster((sq,))
    opened = client.create_topic("2026年第47周作业 · 4组", "本周作业帖。" * 5, category_id)
    ledger = Ledger(redis_client)
    ledger.record_thread(W47, "sq-4", int(opened["topic_id"]))
    t = Thread(int(opened["topic_id"]))
    ledger.upsert_post(W47, "sq-4", t.post("ann", at(17), 900))
    ledger.mark_roll_call(W47, "sq-4", at(17))

    def run(now: dt.datetime) -> str:
        roll_calls.run(step_ctx(client, redis_client, rules, now=now), roster=roster, interval=0)
        return client.get_post(int(opened["id"]))["raw"]

    first = run(at(17, 12))
    bob = t.post("bob", at(17, 13), 900)
    ledger.upsert_post(W47, "sq-4", bob)
    ledger.mark_roll_call(W47, "sq-4", at(17, 13))
    assert run(at(17, 14)) != first
    ledger.remove_post(bob.id)
    ledger.mark_roll_call(W47, "sq-4", at(17, 15))
    assert run(at(17, 16)) == first  # shown again
    edits = client.call_counts["PUT /posts/{id}.json"]
    assert edits == 3
    ledger.mark_roll_call(W47, "sq-4", at(17, 17))  # marked, nothing changed
    run(at(17, 18))
    assert client.call_counts["PUT /posts/{id}.json"] == edits


def _thread_with_ann(sandbox, redis_client, slug: str):
    from worker.engine.facts import Roster
    from worker.engine.facts import Squad as SquadFact
    from worker.forum.client import ForumClient
    from worker.state.ledger import Ledger

    client = ForumClient(sandbox.url, sandbox.api_key, "system", timeout=(2, 10))
    made = client.create_category(f"Squad {slug}", slug=slug, permissions={"everyone": 1})
    category_id = int(made.get("category", made)["id"])
    sq = SquadFact(slug, slug, "2026-11", ("ann", "bob"), leader="ann", category_id=category_id)
    opened = client.create_topic(f"2026年第47周作业 · {slug}组", "本周作业帖。" * 5, category_id)
    ledger = Ledger(redis_client)
    ledger.record_thread(W47, slug, int(opened["topic_id"]))
    return client, Roster((sq,)), ledger, Thread(int(opened["topic_id"]))


@pytest.mark.integration
def test_a_daily_roll_call_is_edited_at_most_once_a_day_and_catches_up_the_next(
    sandbox, redis_client
) -> None:
    """``roll_call: daily``: the first change of a day is shown within minutes; the day's
    later ones wait for the next day (the thread stays marked), one edit per squad a day."""
    from tests.support.obligations import rules_with
    from tests.support.steps import step_ctx
    from worker.steps import roll_calls

    rules = rules_with(article={"roll_call": "daily"})
    client, roster, ledger, t = _thread_with_ann(sandbox, redis_client, "sq-5")

    def post_and_run(user: str, posted: dt.datetime, run_at: dt.datetime) -> None:
        ledger.upsert_post(W47, "sq-5", t.post(user, posted, 900))
        ledger.mark_roll_call(W47, "sq-5", posted)
        roll_calls.run(step_ctx(client, redis_client, rules, now=run_at), roster=roster)

    post_and_run("ann", at(17, 9), at(17, 9, 5))
    assert client.call_counts["PUT /posts/{id}.json"] == 1
    post_and_run("bob", at(17, 15), at(17, 15, 5))  # same day: waits
    roll_calls.run(step_ctx(client, redis_client, rules, now=at(17, 23, 55)), roster=roster)
    assert client.call_counts["PUT /posts/{id}.json"] == 1
    roll_calls.run(step_ctx(client, redis_client, rules, now=at(18, 0, 5)), roster=roster)
    assert client.call_counts["PUT /posts/{id}.json"] == 2  # the next day's first run


def test_a_roll_call_that_comes_with_the_reminders_has_no_run_of_its_own() -> None:
    """``roll_call: reminders``: the reminders posted in the thread carry it, so nothing is
    scheduled to edit the first post (``diamond check`` wants such a reminder:
    tests/pure/test_rules_loader.py)."""
    from tests.support.obligations import rules_with
    from worker.jobs.obligations import schedules

    rules = rules_with(article={"roll_call": "reminders"})
    assert not [j for j in schedules(rules) if j.name.startswith("obligations_roll_calls")]
    assert [j for j in schedules(rules) if j.name.startswith("obligations_remind_")]
    posts = rules_with(article={"roll_call": "posts"})
    assert [j.name for j in schedules(posts) if j.name.startswith("obligations_roll_calls")] == [
        "obligations_roll_calls"
    ]


@pytest.mark.integration
def test_a_roll_call_run_with_no_thread_due_reads_nothing(sandbox, redis_client) -> None:
    """The run comes every five minutes: with no thread marked, or only threads edited
    too recently (``daily``: today), it costs no call, not even the roster's."""
    from tests.support.obligations import rules_with
    from tests.support.steps import step_ctx
    from worker.steps import roll_calls

    rules = rules_with(article={"roll_call": "daily"})
    client, _roster, ledger, t = _thread_with_ann(sandbox, redis_client, "sq-6")
    before = sum(client.call_counts.values())
    assert roll_calls.run(step_ctx(client, redis_client, rules, now=at(17, 9))) == 0
    assert sum(client.call_counts.values()) == before  # nothing marked

    redis_client.hset("diamond:ledger:roll-call:edited", "sq-6", str(at(17, 8).timestamp()))
    ledger.upsert_post(W47, "sq-6", t.post("ann", at(17, 9), 900))
    ledger.mark_roll_call(W47, "sq-6", at(17, 9))
    assert roll_calls.run(step_ctx(client, redis_client, rules, now=at(17, 9, 5))) == 0
    assert sum(client.call_counts.values()) == before  # edited today already: waits
