"""One post event costs one post read; the roster is cached and dropped on Diamond's changes."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.support.obligations import shipped_rules
from tests.support.steps import remember_roster, step_ctx
from tests.support.topics import topic_created_arrived
from worker import actions as a
from worker.apply import Applier
from worker.engine.camp import Camper
from worker.engine.facts import Roster, Squad
from worker.engine.squads import squad_bio
from worker.engine.weeks import week_of
from worker.forum.client import ForumClient
from worker.jobs import posts
from worker.pipeline.jobs import load_actors
from worker.pipeline.routes import KEEPERS, routes_for
from worker.reads import forum_view as roster_cache
from worker.state.membership import MembershipStore
from worker.state.recognition import RecognitionStore
from worker.steps import record_post

pytestmark = pytest.mark.integration

POST_READ = "GET /posts/{id}.json"
TOPIC_READ = "GET /t/{id}.json"
MEMBERS_READ = "GET /groups/{name}/members.json"


def test_each_post_event_goes_to_the_one_post_actor_only() -> None:
    load_actors()
    for event in posts.POST_EVENTS:
        actors = [r.actor for r in routes_for(event) if not r.actor.startswith("probe.")]
        assert actors == [posts.on_post.actor_name]


def test_one_post_event_reads_the_post_once_and_feeds_every_domain(sandbox, redis_client) -> None:
    rules = shipped_rules()
    setup = ForumClient(sandbox.url, sandbox.api_key, "system", timeout=(2, 10))
    sandbox.forum.create_user(username="ann", email="ann@example.org", approved=True)
    made = setup.create_category("Camp", slug="camp-x", permissions={"everyone": 1})
    category_id = int(made.get("category", made)["id"])
    topic = setup.as_user("ann").create_topic(
        "营地第一篇:自我介绍与本周计划", "你好。" * 60, category_id
    )
    MembershipStore(redis_client).start_camp(
        Camper(1, "ann", dt.datetime.now(dt.UTC)), city=None, volunteer=False
    )

    client = ForumClient(sandbox.url, sandbox.api_key, "system", timeout=(2, 10))
    outcomes = record_post.run(step_ctx(client, redis_client, rules), topic["id"], "post_created")

    assert client.call_counts[POST_READ] == 1
    assert client.call_counts[TOPIC_READ] == 1  # shared by the three domains
    assert outcomes["membership"] is True
    assert [p.id for p in MembershipStore(redis_client).camp_posts("ann")] == [topic["id"]]
    assert outcomes["recognition"] == "stored"
    assert RecognitionStore(redis_client).post(topic["id"]) is not None

    # A retried job re-runs every handler: same state, still one post read per run.
    again = record_post.run(step_ctx(client, redis_client, rules), topic["id"], "post_created")
    assert again == outcomes
    assert client.call_counts[POST_READ] == 2
    assert len(MembershipStore(redis_client).camp_posts("ann")) == 1


def test_a_post_the_forum_no_longer_has_is_removed_everywhere(sandbox, redis_client) -> None:
    rules = shipped_rules()
    setup = ForumClient(sandbox.url, sandbox.api_key, "system", timeout=(2, 10))
    sandbox.forum.create_user(username="bob", email="bob@example.org", approved=True)
    made = setup.create_category("General", slug="general-x", permissions={"everyone": 1})
    topic = setup.as_user("bob").create_topic(
        "一篇会被删除的帖子:测试删除流程", "内容。" * 60, int(made.get("category", made)["id"])
    )
    client = ForumClient(sandbox.url, sandbox.api_key, "system", timeout=(2, 10))
    record_post.run(step_ctx(client, redis_client, rules), topic["id"], "post_created")
    assert RecognitionStore(redis_client).post(topic["id"]) is not None

    missing = topic["id"] + 10_000
    outcomes = record_post.run(step_ctx(client, redis_client, rules), missing, "post_edited")
    assert outcomes == {"membership": False, "obligations": "ignored", "recognition": "gone"}
    assert client.call_counts[POST_READ] == 2


def test_the_roster_is_read_once_and_follows_diamonds_own_squad_changes_without_a_read(
    sandbox, redis_client
) -> None:
    rules = shipped_rules()
    for name in ("cat", "dan"):
        sandbox.forum.create_user(username=name, email=f"{name}@example.org", approved=True)
    client = ForumClient(sandbox.url, sandbox.api_key, "system", timeout=(2, 10))
    Applier(client, redis_client, live=True).apply(
        [
            a.CreateGroup(
                key="t:group",
                reason="test",
                name="sq-1",
                full_name="第1组",
                bio_raw=squad_bio(rules, Squad("sq-1", "第1组", "2026-11", ()), None),
            ),
            a.AddToGroup(key="t:add-cat", reason="test", group="sq-1", usernames=("cat",)),
        ]
    )

    first = roster_cache.cached_roster(client, redis_client, rules)
    assert first.by_slug("sq-1") is not None and first.by_slug("sq-1").members == ("cat",)
    reads = client.call_counts[MEMBERS_READ]
    assert reads >= 1

    second = roster_cache.cached_roster(client, redis_client, rules)
    assert second == first
    assert client.call_counts[MEMBERS_READ] == reads  # the same run: no group reads

    # Diamond's own change is applied to the roster state: no re-read of any squad.
    Applier(client, redis_client, live=True).apply(
        [a.AddToGroup(key="t:add-dan", reason="test", group="sq-1", usernames=("dan",))]
    )
    third = roster_cache.cached_roster(client, redis_client, rules)
    assert third.by_slug("sq-1").members == ("cat", "dan")
    assert "dan" in third.by_slug("sq-1").joined
    assert client.call_counts[MEMBERS_READ] == reads


def test_a_roster_read_overtaken_by_a_diamond_change_is_not_kept(redis_client) -> None:
    class SlowForum:
        listings = 0

        def list_groups(self):
            SlowForum.listings += 1
            roster_cache.forget_roster(redis_client)  # Diamond adds someone while we read
            return []

        def list_categories(self):
            return []

    assert roster_cache.cached_roster(SlowForum(), redis_client, None) == Roster(())
    roster_cache.cached_roster(SlowForum(), redis_client, None)
    assert SlowForum.listings == 2  # the read overtaken by the change was not kept


def test_an_article_edited_with_its_title_arrives_as_topic_edited_and_is_re_measured(
    sandbox, redis_client
) -> None:
    """Discourse sends ``topic_edited`` (no ``post_edited``) for an edit of a first post
    that also changes the topic (config/initializers/012-web_hook_events.rb); its body is
    the topic (WebHookTopicViewSerializer): the first post is found, then re-read."""
    load_actors()
    [route] = [r for r in routes_for("topic_edited") if not r.actor.startswith("probe.")]
    assert route.actor == posts.on_topic_edited.actor_name
    rules = shipped_rules()
    setup = ForumClient(sandbox.url, sandbox.api_key, "system", timeout=(2, 10))
    sandbox.forum.create_user(username="cat", email="cat@example.org", approved=True)
    made = setup.create_category("Essays", slug="essays-x", permissions={"everyone": 1})
    topic = setup.as_user("cat").create_topic(
        "第一版标题:我这一周的读书笔记", "初稿。" * 40, int(made.get("category", made)["id"])
    )
    client = ForumClient(sandbox.url, sandbox.api_key, "system", timeout=(2, 10))
    record_post.run(step_ctx(client, redis_client, rules), topic["id"], "post_created")
    short = RecognitionStore(redis_client).post(topic["id"])
    assert short is not None
    sandbox.forum.edit_post(
        sandbox.forum.posts[topic["id"]], "修改后的全文。" * 200, by=sandbox.forum.users[-1]
    )

    client = ForumClient(sandbox.url, sandbox.api_key, "system", timeout=(2, 10))
    kwargs = route.extract({"id": topic["topic_id"], "title": "第二版标题:我的一周读书笔记"})
    outcomes = record_post.run_topic_edit(step_ctx(client, redis_client, rules), **kwargs)

    assert outcomes["recognition"] == "stored"
    edited = RecognitionStore(redis_client).post(topic["id"])
    assert edited is not None and edited.units > short.units
    assert client.call_counts[TOPIC_READ] == 1  # to learn the first post's id
    assert client.call_counts[POST_READ] == 1


def _queued_actors(redis_client, queue: str) -> list[str]:
    bodies = redis_client.hvals(f"diamond:{queue}.msgs")
    return sorted(json.loads(body)["actor_name"] for body in bodies)


def test_a_post_for_a_squad_whose_weeks_thread_is_missing_queues_the_thread_run(
    sandbox, redis_url, redis_client, tmp_path, monkeypatch
) -> None:
    """A member writes before their squad's weekly thread exists (formed mid-week, or the
    thread run lost to an outage): the post is recorded, and its job asks for the thread."""
    from tests.support.pipeline import live_worker
    from tests.support.sandbox_squad import admin_client, squad_on_forum
    from tests.support.steps import step_ctx
    from worker.jobs import obligations
    from worker.pipeline.broker import setup_broker
    from worker.state.ledger import Ledger
    from worker.steps import weekly_threads

    live_worker(monkeypatch, sandbox, redis_url, tmp_path)
    setup_broker(redis_url)
    client = admin_client(sandbox)
    squad = squad_on_forum(sandbox, client, "sq-1", ("ann", "bob"), "第一小组讨论区与文章互评")
    remember_roster(redis_client, Roster((squad,)))  # no squad marker: the state knows it
    own = client.as_user("ann").create_topic(
        "安的本周文章:一件这周想明白的事", "我的文章写在这里。" * 100, squad.category_id
    )

    topic_created_arrived(sandbox, redis_client, own["topic_id"])
    posts.on_post.fn(own["id"], "post_created", {"author": "ann"})

    assert _queued_actors(redis_client, "obligations") == [obligations.open_threads.actor_name]
    [(week, _squad)] = [Ledger(redis_client).place_of(own["id"])]
    assert _squad == "sq-1"

    # Once the week has its thread, a post in it asks for nothing more.
    redis_client.delete("diamond:obligations", "diamond:obligations.msgs")
    ctx = step_ctx(client, redis_client, shipped_rules())
    thread = weekly_threads.run(ctx, week, roster=Roster((squad,)))
    reply = client.as_user("bob").create_post(thread["sq-1"], "我的文章写在这里。" * 100)
    posts.on_post.fn(reply["id"], "post_created", {"author": "bob"})
    assert _queued_actors(redis_client, "obligations") == []


def test_a_post_created_whose_signed_body_has_every_fact_costs_no_post_read(
    sandbox, redis_url, redis_client, monkeypatch, tmp_path
) -> None:
    """The ``post_created`` body carries the post (WebHookPostSerializer): the route passes
    it on and the actor records the post in every domain without ``GET /posts/{id}``."""
    from tests.support.pipeline import live_worker
    from worker.pipeline import runtime

    live_worker(monkeypatch, sandbox, redis_url, tmp_path)
    # kept, not sent
    sandbox.add_webhook("http://127.0.0.1:9/", events=["topic_created", "post_created"])
    setup = ForumClient(sandbox.url, sandbox.api_key, "system", timeout=(2, 10))
    sandbox.forum.create_user(username="eve", email="eve@example.org", approved=True)
    made = setup.create_category("Camp", slug="camp-y", permissions={"everyone": 1})
    topic = setup.as_user("eve").create_topic(
        "营地第一篇:自我介绍与本周计划", "你好。" * 60, int(made.get("category", made)["id"])
    )
    sandbox.wait_idle()
    (topic_created,) = sandbox.deliveries("topic_created")
    (delivery,) = sandbox.deliveries("post_created")
    load_actors()
    keeper = KEEPERS["topic_created"]  # what the receiver does with the topic's body
    keeper.store(redis_client, keeper.parse(topic_created.json()["topic"]))
    (route,) = [r for r in routes_for("post_created") if r.actor == posts.on_post.actor_name]

    posts.on_post(**route.extract(delivery.json()["post"]))

    assert runtime.forum().call_counts.get(POST_READ, 0) == 0
    assert runtime.forum().call_counts.get(TOPIC_READ, 0) == 0
    assert RecognitionStore(redis_client).post(topic["id"]) is not None


def test_a_post_edited_still_reads_the_post(sandbox, redis_client) -> None:
    """An edit's body would not say how many likes the post has: the post is read."""
    rules = shipped_rules()
    setup = ForumClient(sandbox.url, sandbox.api_key, "system", timeout=(2, 10))
    sandbox.forum.create_user(username="fay", email="fay@example.org", approved=True)
    made = setup.create_category("General", slug="general-y", permissions={"everyone": 1})
    topic = setup.as_user("fay").create_topic(
        "一篇会被修改的帖子:测试修改流程", "内容。" * 60, int(made.get("category", made)["id"])
    )
    body = setup.get_post(topic["id"])
    client = ForumClient(sandbox.url, sandbox.api_key, "system", timeout=(2, 10))
    record_post.run(step_ctx(client, redis_client, rules), topic["id"], "post_edited", body=body)
    assert client.call_counts[POST_READ] == 1


def _weekly_thread_on_forum(sandbox, redis_client, rules):
    """A squad of ann and bob on the sandbox with Diamond's weekly thread opened; the
    ``post_created`` deliveries are kept (not sent), to be fed to the step by hand."""
    from tests.support.sandbox_squad import admin_client, squad_on_forum
    from worker.steps import weekly_threads

    setup = admin_client(sandbox)
    squad = squad_on_forum(sandbox, setup, "sq-1", ("ann", "bob"), "第一小组讨论区与文章互评")
    roster = Roster((squad,))
    sandbox.add_webhook("http://127.0.0.1:9/", events=["post_created"])  # kept, not sent
    client = ForumClient(sandbox.url, sandbox.api_key, "system", timeout=(2, 10))
    now = dt.datetime.now(rules.tz)
    ctx = step_ctx(client, redis_client, rules, now=now)
    thread = weekly_threads.run(ctx, week_of(now, rules.tz), roster=roster)["sq-1"]
    return setup, roster, client, ctx, thread


def _delivered_body(sandbox, post_id: int) -> dict:
    sandbox.wait_idle()
    (body,) = [
        d.json()["post"]
        for d in sandbox.deliveries("post_created")
        if d.json()["post"]["id"] == post_id
    ]
    return body


def test_posts_in_diamonds_weekly_thread_and_its_roll_call_never_read_the_topic(
    sandbox, redis_client
) -> None:
    """Diamond opened the thread, so its answer already said all a topic read would (the
    first post's id, category, title, author): the members' posts, from their signed
    bodies, and the roll call edit (``roll_call: posts``) cost no ``GET /t/{id}.json``."""
    from tests.support.obligations import rules_with
    from worker.steps import roll_calls

    rules = rules_with(article={"roll_call": "posts"})
    setup, roster, client, ctx, thread = _weekly_thread_on_forum(sandbox, redis_client, rules)
    for name in ("ann", "bob"):
        reply = setup.as_user(name).create_post(thread, "我的文章写在这里。" * 100)
        body = _delivered_body(sandbox, reply["id"])
        outcomes = record_post.run(ctx, reply["id"], "post_created", body=body)
        assert outcomes["obligations"] == "recorded"
        assert outcomes["recognition"] == "stored"
    assert roll_calls.run(ctx, roster=roster) == 1

    assert client.call_counts.get(TOPIC_READ, 0) == 0
    assert client.call_counts.get(POST_READ, 0) == 0


def test_posts_in_the_weekly_thread_leave_no_roll_call_edit_when_the_reminders_carry_it(
    sandbox, redis_client
) -> None:
    """``roll_call: reminders`` (shipped): a post recorded in the thread marks nothing to
    redo, and the roll-call run edits nothing: the first post is never rewritten."""
    from worker.state import keys
    from worker.steps import roll_calls

    rules = shipped_rules()
    setup, roster, client, ctx, thread = _weekly_thread_on_forum(sandbox, redis_client, rules)
    reply = setup.as_user("ann").create_post(thread, "我的文章写在这里。" * 100)
    body = _delivered_body(sandbox, reply["id"])
    assert record_post.run(ctx, reply["id"], "post_created", body=body)["obligations"] == (
        "recorded"
    )
    assert redis_client.hlen(keys.ROLL_CALL_DIRTY) == 0
    assert roll_calls.run(ctx, roster=roster) == 0
    assert client.call_counts.get("PUT /posts/{id}.json", 0) == 0
