"""ForumClient against a running sandbox forum: the real HTTP path, end to end."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from worker.forum.client import DEFAULT_RATE_LIMIT_WAIT, ForumClient
from worker.forum.errors import ForumUnavailable, NotFound, RateLimited

pytestmark = pytest.mark.integration

UNTIL = datetime.now(UTC) + timedelta(days=7)


@pytest.fixture
def client(sandbox) -> ForumClient:
    return ForumClient(sandbox.url, sandbox.api_key, "system", timeout=(2, 10))


def _signup(client: ForumClient, username: str, **kwargs) -> int:
    answer = client.create_user(
        username.title(), username, f"{username}@example.org", "a-long-password-1", **kwargs
    )
    return int(answer["user_id"])


def test_signup_with_user_fields_waits_for_approval_then_is_approved_once(client) -> None:
    client.set_site_setting("must_approve_users", True, reason="gate newcomers")
    field = client.create_user_field(
        name="Why join",
        description="motivation",
        field_type="text",
        editable=True,
        requirement="optional",
        show_on_profile=False,
        show_on_user_card=False,
    )
    assert any(f["id"] == field["id"] for f in client.list_user_fields())
    user_id = _signup(client, "ann", user_fields={field["id"]: "to write weekly"})

    assert user_id in [u["id"] for u in client.iter_admin_users("pending")]
    pending = [r for r in client.iter_reviewables() if r.get("target_id") == user_id]
    assert pending, "a ReviewableUser waits in the review queue"
    admin_view = client.admin_get_user(user_id)
    assert admin_view["approved"] is False
    assert admin_view["user_fields"][str(field["id"])] == "to write weekly"

    client.approve_user(user_id, reason="motivation accepted")
    assert client.approve_user(user_id).get("already_done") is True
    assert client.admin_get_user(user_id)["approved"] is True
    assert user_id not in [u["id"] for u in client.iter_admin_users("pending")]

    client.set_user_field("ann", field["id"], "to review two articles")
    assert client.admin_get_user(user_id)["user_fields"][str(field["id"])] == (
        "to review two articles"
    )


def test_rejecting_through_the_review_queue_twice_is_one_rejection(client) -> None:
    client.set_site_setting("must_approve_users", True)
    user_id = _signup(client, "spammer")
    reviewable = next(r for r in client.iter_reviewables() if r.get("target_id") == user_id)
    client.perform_reviewable(reviewable["id"], "delete_user", reviewable["version"])
    again = client.perform_reviewable(reviewable["id"], "delete_user", reviewable["version"])
    assert again.get("already_done") is True
    with pytest.raises(NotFound):
        client.admin_get_user(user_id)


def test_silence_suspend_and_trust_level_with_exact_times(client) -> None:
    user_id = _signup(client, "bob")
    client.silence_user(user_id, UNTIL, "missed an article")
    assert client.silence_user(user_id, UNTIL, "missed an article").get("already_done") is True
    seen = client.admin_get_user(user_id)
    assert seen["silenced_till"].startswith(UNTIL.strftime("%Y-%m-%dT%H:%M"))
    client.unsilence_user(user_id)
    client.suspend_user(user_id, UNTIL, "third strike")
    assert client.suspend_user(user_id, UNTIL, "third strike").get("already_done") is True
    assert user_id in [u["id"] for u in client.iter_admin_users("suspended")]
    client.unsuspend_user(user_id)
    client.set_trust_level(user_id, 2)
    assert client.admin_get_user(user_id)["trust_level"] == 2


def test_delete_user_twice_is_one_deletion(client) -> None:
    user_id = _signup(client, "carol")
    client.delete_user(user_id, reason="left the camp")
    assert client.delete_user(user_id).get("already_done") is True


def test_groups_members_owners_and_paged_member_listing(client) -> None:
    names = [f"m{i:02d}" for i in range(7)]
    for name in names:
        _signup(client, name)
    group = client.create_group("squad_1", "第一小队", visibility_level=2)
    assert client.get_group("squad_1")["full_name"] == "第一小队"
    added = client.add_group_members(group["id"], names[:5])
    assert sorted(added["added"]) == names[:5]
    again = client.add_group_members(group["id"], names[:5])
    assert sorted(again["already"]) == names[:5]
    mixed = client.add_group_members(group["id"], names[4:])
    assert set(mixed["added"]) >= set(names[5:])
    client.add_group_owners(group["id"], ["m00"])

    members = list(client.iter_group_members("squad_1", limit=3))
    assert sorted(m["username"] for m in members) == names
    assert [m["username"] for m in members if m["owner"]] == ["m00"]

    client.remove_group_owner(group["id"], next(m["id"] for m in members if m["owner"]))
    removed = client.remove_group_members(group["id"], ["m06", "nobody_here"])
    assert "m06" in removed["usernames"]
    left = {m["username"]: m["owner"] for m in client.iter_group_members("squad_1")}
    assert "m06" not in left and left["m00"] is False
    client.update_group(group["id"], name="squad_1", full_name="一队")
    assert any(g["name"] == "squad_1" for g in client.list_groups())
    client.delete_group(group["id"])
    assert client.delete_group(group["id"]).get("already_done") is True


def test_private_category_topics_replies_likes_and_paging(client) -> None:
    for name in ("dan", "eve"):
        _signup(client, name)
    group = client.create_group("camp_a")
    client.add_group_members(group["id"], ["dan", "eve"])
    category = client.create_category(
        "营地 A", slug="camp-a", permissions={"camp_a": 1}, moderating_group_ids=[group["id"]]
    )
    assert any(c["id"] == category["id"] for c in client.list_categories())
    assert client.get_category(category["id"])["slug"] == "camp-a"

    dan, eve = client.as_user("dan"), client.as_user("eve")
    written = datetime(2030, 1, 6, 12, 0, tzinfo=UTC)
    topic = dan.create_topic("Week 1: on ownership", "我的第一篇文章。" * 10, category["id"])
    first_reply = eve.create_post(
        topic["topic_id"], "A careful review " * 5, reply_to_post_number=1
    )
    client.create_post(topic["topic_id"], "Backdated by an admin " * 3, created_at=written)
    for i in range(22):
        dan.create_post(topic["topic_id"], f"Reply number {i} with enough words to pass.")
    eve.like_post(topic["id"])
    assert eve.like_post(topic["id"]).get("already_done") is True

    posts = list(client.iter_topic_posts(topic["topic_id"]))
    assert len(posts) == 25
    assert [p["post_number"] for p in posts] == list(range(1, 26))
    assert posts[1]["reply_to_post_number"] == 1
    assert client.get_post(first_reply["id"])["raw"].startswith("A careful review")
    topics = list(client.iter_category_topics(category["id"]))
    assert topic["topic_id"] in [t["id"] for t in topics]

    since = list(client.iter_posts_since(first_reply["id"]))
    assert [p["id"] for p in since] == sorted(p["id"] for p in since)
    assert all(p["id"] > first_reply["id"] for p in since) and len(since) == 23

    client.update_post(first_reply["id"], "An edited review " * 5, "typo")
    client.update_category(category["id"], name="营地 A", color="FF0000")
    client.delete_post(first_reply["id"])


def test_private_message_to_members(client) -> None:
    _signup(client, "fay")
    answer = client.send_private_message(["fay"], "Reminder", "Your article is due on Sunday.")
    assert answer["topic_id"]


def test_badges_granted_once_and_revoked_once(client) -> None:
    _signup(client, "gus")
    badge = client.create_badge("Mentor", 3, "gives more than takes")
    assert any(b["id"] == badge["id"] for b in client.list_badges())
    client.update_badge(badge["id"], name="Mentor", badge_type_id=2)
    post = client.as_user("gus").create_topic(
        "Week 1: what I learned", "An article that earned a badge. " * 5, 1
    )
    # Discourse wants the reason to link to a post or topic on this forum
    reason = f"{client.host}/t/{post['topic_slug']}/{post['topic_id']}/{post['post_number']}"
    client.grant_badge("gus", badge["id"], reason)
    client.grant_badge("gus", badge["id"], reason)  # a retry: Discourse keeps one grant
    grants = [g for g in client.user_badges("gus")["user_badges"] if g["badge_id"] == badge["id"]]
    assert len(grants) == 1
    client.revoke_user_badge(grants[0]["id"])
    assert client.revoke_user_badge(grants[0]["id"]).get("already_done") is True
    client.delete_badge(badge["id"])


def test_site_settings_and_webhooks(client) -> None:
    client.set_site_setting("title", "钻石社区")
    assert client.get_site_settings()["title"] == "钻石社区"
    grouped = client.webhook_event_types()
    assert grouped
    ids = {t["name"]: t["id"] for group in grouped.values() for t in group}
    client.set_site_setting("allowed_internal_hosts", "127.0.0.1")  # the hook is on loopback
    hook = client.create_webhook(
        "http://127.0.0.1:9/hook", "a-webhook-secret", [ids["post_created"], ids["user_created"]]
    )
    assert any(h["id"] == hook["id"] for h in client.list_webhooks())
    updated = client.update_webhook(hook["id"], active=False)
    assert updated["active"] is False
    client.delete_webhook(hook["id"])
    assert client.delete_webhook(hook["id"]).get("already_done") is True


def test_calls_are_counted_against_the_sandbox(client) -> None:
    client.set_site_setting("must_approve_users", True)
    user_id = _signup(client, "hal")
    client.approve_user(user_id)
    client.admin_get_user(user_id)
    assert client.call_counts == {
        "PUT /admin/site_settings/{name}.json": 1,
        "POST /users.json": 1,
        "PUT /admin/users/{id}/approve.json": 1,
        "GET /admin/users/{id}.json": 1,
    }


# ---------------------------------------------------------------- limits and faults


def test_sandbox_admin_limit_becomes_rate_limited_for_a_worker(sandbox, client) -> None:
    sandbox.set_rate_limit(3, window_seconds=60)
    for _ in range(3):
        client.list_badges()
    with pytest.raises(RateLimited) as caught:
        client.list_badges()
    assert 1 <= caught.value.wait_seconds <= 60


def test_cli_client_waits_out_a_compressed_window(sandbox) -> None:
    sandbox.set_rate_limit(2, window_seconds=1.0)
    cli = ForumClient(sandbox.url, sandbox.api_key, on_limit="wait", max_wait=10)
    started = time.monotonic()
    for _ in range(3):
        cli.list_badges()
    assert time.monotonic() - started >= 0.5
    assert cli.call_counts["GET /admin/badges.json"] >= 4  # the refused call counts too


@pytest.mark.parametrize(
    "shape,wait",
    [("json", 7), ("text", 7), ("html", DEFAULT_RATE_LIMIT_WAIT)],
    ids=["app json", "per-IP text", "proxy html without Retry-After"],
)
def test_injected_429_in_every_shape_is_rate_limited(sandbox, client, shape, wait) -> None:
    sandbox.add_fault(f"GET /admin/badges.json:429=1,shape={shape},wait=7")
    with pytest.raises(RateLimited) as caught:
        client.list_badges()
    assert caught.value.wait_seconds == wait


def test_injected_500_is_unavailable(sandbox, client) -> None:
    sandbox.add_fault("GET /admin/badges.json:500=1")
    with pytest.raises(ForumUnavailable):
        client.list_badges()


def test_slow_forum_hits_the_read_timeout(sandbox) -> None:
    sandbox.add_fault("GET /admin/badges.json:latency=1.5,latency_share=1")
    impatient = ForumClient(sandbox.url, sandbox.api_key, timeout=(1, 0.3))
    with pytest.raises(ForumUnavailable, match="timed out"):
        impatient.list_badges()


def test_closed_port_is_unavailable_not_a_crash() -> None:
    nowhere = ForumClient("http://127.0.0.1:9", "closed-port-key", timeout=(0.5, 0.5))
    with pytest.raises(ForumUnavailable, match="cannot connect"):
        nowhere.list_badges()
