"""``rebuild`` from the forum alone gives the ledger the events gave, in a few calls."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.support.obligations import shipped_rules
from tests.support.steps import remember_roster, step_ctx
from worker.engine.facts import Roster, Squad
from worker.engine.weeks import week_of
from worker.forum.client import ForumClient
from worker.reads.obligations import evaluate, gather
from worker.state.ledger import Ledger
from worker.steps import StepContext, rebuild_ledger, record_post, weekly_threads

pytestmark = pytest.mark.integration


def handle_post_event(client, redis_client, rules, post_id, event, post) -> str:
    """The post step's ledger part, as the post actor runs it."""
    ctx = StepContext(client, redis_client, rules, dt.datetime.now(dt.UTC), True)
    return record_post.record_ledger_post(ctx, post_id, event, post)


ARTICLE = "我的文章写在这里。" * 100
REVIEW = "很好的文章,结构清楚,例子生动。" * 8


def test_rebuild_from_the_forum_matches_the_ledger_built_from_events(sandbox, redis_client) -> None:
    rules = shipped_rules()
    client = ForumClient(sandbox.url, sandbox.api_key, "system", timeout=(2, 10))
    members = ("alice", "bob", "carol")
    for name in members:
        sandbox.forum.create_user(
            username=name, name=name.title(), email=f"{name}@example.org", approved=True
        )
    group = client.create_group("sq-9", full_name="2026-11 第9组")
    group_id = int(group.get("basic_group", group)["id"])
    client.add_group_members(group_id, list(members))
    category = client.create_category("第9组", slug="sq-9", permissions={"sq-9": 1})
    category_id = int(category.get("category", category)["id"])
    roster = Roster(
        (Squad("sq-9", "2026-11 第9组", "2026-11", members, "alice", None, group_id, category_id),)
    )
    now = dt.datetime.now(dt.UTC)
    week = week_of(now, rules.tz)
    thread = weekly_threads.run(step_ctx(client, redis_client, rules), week, roster=roster)["sq-9"]

    a = client.as_user("alice").create_post(thread, ARTICLE)
    b = client.as_user("bob").create_post(thread, ARTICLE)
    quote = f'[quote="alice, post:{a["post_number"]}, topic:{thread}"]\n{ARTICLE[:40]}\n[/quote]\n'
    ids = [a["id"], b["id"]]
    ids.append(client.as_user("bob").create_post(thread, quote + REVIEW)["id"])
    ids.append(
        client.as_user("alice").create_post(thread, REVIEW, reply_to_post_number=b["post_number"])[
            "id"
        ]
    )
    ids.append(client.as_user("carol").create_post(thread, "路过,下周再写文章。" * 3)["id"])
    for post_id in ids:
        assert (
            handle_post_event(
                client, redis_client, rules, post_id, "post_created", client.get_post(post_id)
            )
            == "recorded"
        )
    ledger = Ledger(redis_client)
    from_events = ledger.posts(week, "sq-9")
    results_events = evaluate(rules, gather(client, ledger, rules, roster, week))

    redis_client.flushall()  # Redis lost: everything goes
    before = sum(client.call_counts.values())
    report = rebuild_ledger.run(
        step_ctx(client, redis_client, rules, now=now), week, roster=roster, restrike=False
    )
    calls = sum(client.call_counts.values()) - before
    from_forum = ledger.posts(week, "sq-9")

    assert report.threads == 1 and report.posts == len(ids)
    assert [(p.id, p.username, p.reply_to_post_number) for p in from_forum] == [
        (p.id, p.username, p.reply_to_post_number) for p in from_events
    ]
    # counted from the cooked HTML of the topic stream, the same as from the raw
    assert [(p.versions[-1].units, p.versions[-1].quotes) for p in from_forum] == [
        (p.versions[-1].units, p.versions[-1].quotes) for p in from_events
    ]
    assert calls <= 6, client.call_counts  # categories, the squad's topic list, the thread
    results_forum = evaluate(rules, gather(client, ledger, rules, roster, week))
    assert {u: r.reasons for u, r in results_forum.by_member.items()} == {
        u: r.reasons for u, r in results_events.by_member.items()
    }
    assert results_forum.by_member["carol"].article == "missing"  # too short to count


def test_rebuild_files_articles_posted_in_own_topics_before_the_weeks_thread_as_events_did(
    sandbox, redis_client, monkeypatch
) -> None:
    """A squad whose week had no thread yet: members posted their articles as topics of
    their own and reviewed each other there; then the thread was opened. Rebuilt from the
    forum, the ledger files those posts where live ingestion did (WeekPost.in_own_topic)."""
    from tests.support.sandbox_squad import admin_client, squad_on_forum

    rules = shipped_rules()
    client = admin_client(sandbox)
    squad = squad_on_forum(
        sandbox, client, "sq-1", ("ann", "bob", "cat"), "第一小组讨论区与文章互评"
    )
    roster = Roster((squad,))
    remember_roster(redis_client, roster)  # no squad marker: the roster state knows it
    now = dt.datetime.now(dt.UTC)
    week = week_of(now, rules.tz)
    ann = client.as_user("ann").create_topic(
        "安的本周文章:一件这周想明白的事", ARTICLE, squad.category_id
    )
    bob = client.as_user("bob").create_topic(
        "鲍勃的本周文章:读书笔记与心得体会", ARTICLE, squad.category_id
    )
    posts = [
        ann,
        bob,
        client.as_user("bob").create_post(ann["topic_id"], REVIEW),
        client.as_user("ann").create_post(bob["topic_id"], REVIEW),
    ]
    for post in posts:
        outcome = handle_post_event(
            client, redis_client, rules, post["id"], "post_created", client.get_post(post["id"])
        )
        assert outcome == "recorded-early"
    # the posts' jobs ask for it
    weekly_threads.run(step_ctx(client, redis_client, rules), week, roster=roster)
    late = client.as_user("cat").create_post(Ledger(redis_client).threads(week)["sq-1"], ARTICLE)
    handle_post_event(
        client, redis_client, rules, late["id"], "post_created", client.get_post(late["id"])
    )
    ledger = Ledger(redis_client)

    def filed() -> list[tuple[int, str, int | None, bool]]:
        return [
            (p.id, p.username, p.reply_to_post_number, p.in_own_topic)
            for p in ledger.posts(week, "sq-1")
        ]

    from_events = filed()
    assert sum(own for *_, own in from_events) == 4
    results_events = evaluate(rules, gather(client, ledger, rules, roster, week))

    redis_client.flushall()
    rebuild_ledger.run(
        step_ctx(client, redis_client, rules, now=now), week, roster=roster, restrike=False
    )

    assert filed() == from_events
    results_forum = evaluate(rules, gather(client, ledger, rules, roster, week))
    assert {u: r.reasons for u, r in results_forum.by_member.items()} == {
        u: r.reasons for u, r in results_events.by_member.items()
    }
