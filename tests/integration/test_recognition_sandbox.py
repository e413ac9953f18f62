"""Badges and the health report on the sandbox forum, through the real client and actors.

Two squads write and review for two weeks (the obligations actors keep their
ledger, the recognition actors their store); a newcomer is welcomed; someone
reaches across squads. Then the weekly badge run and the weekly report run,
each twice: the right people hold the right badges once, the report is posted
once, each leader gets their part once, and ``diamond report --html`` renders it.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.pure.test_report import SECTION_IDS, parse
from tests.support.pipeline import live_worker
from tests.support.steps import remember_roster
from tests.support.topics import topic_created_arrived
from worker import actions as a
from worker.apply import Applier
from worker.engine.facts import Roster, Squad
from worker.forum.client import ForumClient
from worker.pipeline import runtime
from worker.sandbox import RunningSandbox, start_sandbox
from worker.state.recognition import RecognitionStore

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SH = dt.timezone(dt.timedelta(hours=8))
ARTICLE = "这是我本周的文章。" * 100  # 900 units
REVIEW = "写得很好,我学到了很多。" * 12  # 120 units
SQUADS = {"sq-1": ("alice", "bob", "carol"), "sq-2": ("dave", "erin", "frank")}
BADGES_YML = """
badges:
  - slug: full-squad
    name: 满勤小组
    tier: gold
    description: 两周全员完成义务
    criterion: {kind: full_attendance, weeks: 2}
    template: badge_granted
  - slug: streak-2
    name: 两周全勤
    tier: silver
    description: 连续两周按时完成
    criterion: {kind: streak, weeks: 2}
    template: badge_granted
  - slug: welcomer
    name: 迎新大使
    tier: bronze
    description: 欢迎新人
    criterion: {kind: welcomer, min_campers_welcomed: 1, weeks: 1}
    template: badge_granted
  - slug: connector
    name: 连接者
    tier: bronze
    description: 跨组交流
    criterion: {kind: connector, min_other_squads: 1, min_people: 1, weeks: 1}
    template: badge_granted
"""


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 9, 0, 1, tzinfo=SH)

    def __call__(self) -> dt.datetime:
        return self.now.astimezone(dt.UTC)

    def set(self, day: int, hh: int, mm: int = 0) -> str:
        self.now = dt.datetime(2026, 11, day, hh, mm, tzinfo=SH)
        return self.now.isoformat()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def forum(clock: Clock) -> Iterator[RunningSandbox]:
    running = start_sandbox(port=0, api_key="recognition-e2e-key", clock=clock)
    # Diamond reaches the forum by an internal address; the forum's own host is another
    # (Discourse refuses badge reasons that are absolute URLs on any host but its own).
    running.forum.base_url = "https://forum.example"
    try:
        yield running
    finally:
        running.stop()


def test_grant_badge_through_the_applier_twice_grants_once(
    sandbox: RunningSandbox, redis_client: redis.Redis
) -> None:
    sandbox.forum.create_user(username="alice", email="alice@example.org", approved=True)
    client = ForumClient(sandbox.url, sandbox.api_key, "system", on_limit="raise")
    badge = client.create_badge("热心点评者", 2, "extra reviews")
    category = client.create_category("General", slug="general", permissions={"everyone": 1})
    topic = client.as_user("alice").create_topic(
        "一篇认真的点评文章,欢迎大家来讨论",
        "内容" * 50,
        int(category.get("category", category)["id"]),
    )
    url = f"/t/{topic['topic_id']}/1"
    grant = a.GrantBadge(
        key="badge:extra-reviewer:alice",
        reason="test",
        username="alice",
        badge_name="热心点评者",
        reason_path=url,
    )
    applier = Applier(client, redis_client, live=True)
    first = applier.apply([grant])
    second = applier.apply([grant])
    assert first.done == [grant] and second.already_done == [grant]
    # the done record lost (Redis wiped): the forum still holds one grant
    redis_client.flushall()
    Applier(client, redis_client, live=True).apply([grant])
    with sandbox.forum.lock:
        grants = [ub for ub in sandbox.forum.user_badges.values() if ub.badge_id == badge["id"]]
    assert len(grants) == 1 and grants[0].reason == url


def _setup(forum: RunningSandbox, client: ForumClient, tmp_path: Path, redis_url: str, mp):
    rules_dir = live_worker(mp, forum, redis_url, tmp_path)
    (rules_dir / "badges.yml").write_text(BADGES_YML, encoding="utf-8")
    import worker.jobs.obligations as obligations
    import worker.jobs.recognition as recognition

    everyone = [m for members in SQUADS.values() for m in members]
    for name in [*everyone, "newbie"]:
        forum.forum.create_user(username=name, email=f"{name}@example.org", approved=True)
    squads = []
    for slug, members in SQUADS.items():
        group = client.create_group(slug, full_name=slug.upper())
        group_id = int(group.get("basic_group", group)["id"])
        client.add_group_members(group_id, list(members))
        category = client.create_category(slug.upper(), slug=slug, permissions={slug: 1})
        squads.append(
            Squad(
                slug,
                slug.upper(),
                "2026-11",
                members,
                members[0],
                None,
                group_id,
                int(category.get("category", category)["id"]),
            )
        )
    members_group = client.create_group("members")
    client.add_group_members(int(members_group.get("basic_group", members_group)["id"]), everyone)
    ids = {}
    for slug in ("audit-log", "introductions", "general"):
        made = client.create_category(slug.title(), slug=slug, permissions={"everyone": 1})
        ids[slug] = int(made.get("category", made)["id"])
    roster = Roster(tuple(squads))
    # The squads were made without the squad marker: the forum view remembers them.
    remember_roster(runtime.redis_client(), roster)
    for badge in runtime.rules().badges.badges:
        client.create_badge(badge.name, badge.badge_type_id, badge.description)
    return obligations, recognition, ids


def test_weeks_on_the_sandbox_earn_the_right_badges_once_and_the_report_is_posted_once(
    forum: RunningSandbox, clock: Clock, redis_url: str, tmp_path: Path, monkeypatch
) -> None:
    client = ForumClient(forum.url, forum.api_key, "system", timeout=(2, 10))
    obligations, recognition, ids = _setup(forum, client, tmp_path, redis_url, monkeypatch)

    from worker.jobs import posts

    def seen(post: dict) -> dict:
        """Both ledgers learn of the post, as the post_created webhook would tell them
        (and, for a new topic, its topic_created first)."""
        if post["post_number"] == 1:
            topic_created_arrived(forum, redis.Redis.from_url(redis_url), post["topic_id"])
        posts.on_post(post_id=post["id"], event="post_created")
        return post

    from worker.engine.weeks import Week
    from worker.state.ledger import Ledger

    ledger = Ledger(redis.Redis.from_url(redis_url))
    for monday, week in ((9, Week(2026, 46)), (16, Week(2026, 47))):
        obligations.open_threads(scheduled_for=clock.set(monday, 0, 5))
        threads = ledger.threads(week)
        for slug, members in SQUADS.items():
            articles = []
            for i, name in enumerate(members):
                clock.set(monday, 10 + i)
                articles.append(seen(client.as_user(name).create_post(threads[slug], ARTICLE)))
            for i, name in enumerate(members):  # a ring of three: review both others
                for other in (articles[i - 1], articles[(i + 1) % 3]):
                    clock.set(monday + 1, 10 + i)
                    seen(
                        client.as_user(name).create_post(
                            threads[slug], REVIEW, reply_to_post_number=other["post_number"]
                        )
                    )
    # week 47 also: a newcomer introduces themself and alice answers first; alice also
    # answers erin (another squad) in the open category
    clock.set(17, 9)
    intro = seen(
        client.as_user("newbie").create_topic(
            "大家好,我是新来的成员,请多多关照", "自我介绍。" * 30, ids["introductions"]
        )
    )
    clock.set(17, 12)
    seen(client.as_user("alice").create_post(intro["topic_id"], "欢迎欢迎!" * 5))
    clock.set(17, 13)
    seen(client.as_user("bob").create_post(intro["topic_id"], "欢迎你来!" * 5))
    clock.set(18, 9)
    question = seen(
        client.as_user("erin").create_topic(
            "有人读过这本书吗?想找人一起读书讨论", "想找人一起读。" * 20, ids["general"]
        )
    )
    clock.set(18, 10)
    seen(client.as_user("alice").create_post(question["topic_id"], "我读过,推荐第三章。" * 5))

    # ── after week 47's review window: the weekly runs, twice each ──
    after = clock.set(24, 23, 30)
    recognition.weekly_badges(scheduled_for=after)
    recognition.weekly_badges(scheduled_for=after)

    state = forum.forum
    with state.lock:
        names = {b.id: b.name for b in state.badges.values()}
        users = {u.id: u.username for u in state.users.values()}
        held = Counter((users[ub.user_id], names[ub.badge_id]) for ub in state.user_badges.values())
        reasons = {
            (users[ub.user_id], names[ub.badge_id]): ub.reason for ub in state.user_badges.values()
        }
        topics = [t for t in state.topics.values()]
    everyone = [m for members in SQUADS.values() for m in members]
    expected = {(m, "满勤小组") for m in everyone} | {(m, "两周全勤") for m in everyone}
    expected |= {("alice", "迎新大使"), ("alice", "连接者")}
    assert set(held) == expected
    assert set(held.values()) == {1}  # each held once
    assert reasons[("alice", "迎新大使")].startswith(f"/t/{intro['topic_id']}/")
    audits = [t for t in topics if t.title == "徽章发放记录 · 2026年第47周"]
    assert len(audits) == 1 and audits[0].category_id == ids["audit-log"]
    badge_pms = [t for t in topics if t.archetype == "private_message" and "徽章" in t.title]
    assert len(badge_pms) == len(expected)
    assert RecognitionStore(redis.Redis.from_url(redis_url)).held(["welcomer"]) == {
        "welcomer": frozenset({"alice"})
    }

    recognition.weekly_report(scheduled_for=after)
    recognition.weekly_report(scheduled_for=after)
    with state.lock:
        topics = [t for t in state.topics.values()]
        raws = {t.id: state.posts[t.post_ids[0]].raw for t in topics}
        allowed = {t.id: {users[i] for i in t.allowed_user_ids} for t in topics}
    reports = [t for t in topics if t.title == "社区健康报告 · 2026年第47周"]
    assert len(reports) == 1 and reports[0].category_id == ids["audit-log"]
    body = raws[reports[0].id]
    # the two weeks before the squads owed anything are left out of the trend
    assert "### 互动网络" in body and "| SQ-1 | @alice | 100% | 100% |" in body
    # Each leader's part opens (or joins) their squad's PM thread of the week.
    leader_pms = [t for t in topics if t.archetype == "private_message" and "组长通知" in t.title]
    assert sorted(t.title for t in leader_pms) == [
        "SQ-1 · 2026年11月16日–22日组长通知",
        "SQ-2 · 2026年11月16日–22日组长通知",
    ]
    assert all("**SQ-" in raws[t.id] and "周健康情况**" in raws[t.id] for t in leader_pms)
    assert {frozenset(allowed[t.id] - {"system"}) for t in leader_pms} == {
        frozenset({"alice"}),
        frozenset({"dave"}),
    }

    # ── the terminal and the page ──
    from worker.cli import main

    page = tmp_path / "report.html"
    assert main(["report", "--week", "2026-W47", "--html", str(page)]) == 0
    parsed = parse(page.read_text(encoding="utf-8"))
    assert parsed.sections == SECTION_IDS
    assert sorted(c["data-member"] for c in parsed.circles) == sorted(everyone)
    assert main(["report", "--week", "47"]) == 1


def test_ingest_reads_category_archetype_likes_and_ad_signals(
    sandbox: RunningSandbox, redis_client: redis.Redis
) -> None:
    from tests.support.steps import step_ctx
    from worker.rules import load_rules
    from worker.steps import record_like
    from worker.steps.record_post import record_recognition_post

    rules = load_rules(ROOT / "rules")
    for name in ("ann", "bob"):
        sandbox.forum.create_user(username=name, email=f"{name}@example.org", approved=True)
    client = ForumClient(sandbox.url, sandbox.api_key, "system", on_limit="raise")
    made = client.create_category("Digests", slug="digests", permissions={"everyone": 1})
    digests = int(made.get("category", made)["id"])
    topic = client.as_user("ann").create_topic(
        "本周精选:三篇值得一读的好文章推荐", "精选内容。" * 80, digests
    )
    ad = client.as_user("bob").create_post(topic["topic_id"], "https://shop.example/deal")
    pm = client.as_user("ann").send_private_message(
        ["bob"], "一条私信,只有我们两个人才看得到的内容", "你好" * 20
    )
    client.as_user("bob").like_post(topic["id"])

    def ingest_post(client, redis_client, rules, post_id, event, post) -> str:
        ctx = step_ctx(client, redis_client, rules, now=T_LIKE)
        return record_recognition_post(ctx, post_id, event, post)

    assert (
        ingest_post(
            client, redis_client, rules, topic["id"], "post_created", client.get_post(topic["id"])
        )
        == "stored"
    )
    assert (
        ingest_post(
            client, redis_client, rules, ad["id"], "post_created", client.get_post(ad["id"])
        )
        == "stored"
    )
    assert (
        ingest_post(
            client, redis_client, rules, pm["id"], "post_created", client.get_post(pm["id"])
        )
        == "stored"
    )
    bob = sandbox.forum.find_user("bob")
    ctx = step_ctx(client, redis_client, rules, now=T_LIKE)
    assert record_like.run(ctx, topic["id"], bob.id) is True
    assert record_like.run(ctx, topic["id"], bob.id) is False

    store = RecognitionStore(redis_client)
    opener = store.post(topic["id"])
    assert opener.category_id == digests and opener.like_count == 1
    assert store.post(pm["id"]).private_message is True
    _, ads = store.posts_between(T_LIKE - dt.timedelta(days=3650), T_LIKE + dt.timedelta(days=3650))
    assert ads == {ad["id"]: "link-only"}
    assert [
        (lk.post_id, lk.user) for lk in store.likes_between(T_LIKE, T_LIKE + dt.timedelta(1))
    ] == [(topic["id"], "bob")]
    assert ingest_post(client, redis_client, rules, ad["id"], "post_destroyed", None) == "removed"
    assert store.post(ad["id"]) is None


T_LIKE = dt.datetime(2026, 11, 18, 3, tzinfo=dt.UTC)
