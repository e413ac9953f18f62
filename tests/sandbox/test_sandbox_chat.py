"""The sandbox's chat behaves as Discourse's chat plugin says (plugins/chat/ in the shared
reference): category channels whose membership follows the category's groups, members-only
messages with threads and mentions, history for catch-up, the flood limit, the
``chat_message`` webhooks, and the settings that govern who may chat."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.support.sandbox_api import Api
from worker.sandbox import Sandbox, build_sandbox
from worker.sandbox.models import User


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    sandbox = build_sandbox(api_key="chat-key")
    sandbox.forum.seed_admin()
    yield sandbox
    sandbox.webhooks.close()


@pytest.fixture
def admin(sb: Sandbox) -> Api:
    return Api(sb)


def _person(sb: Sandbox, username: str, *, seen_days_ago: float | None = 0, **kw: Any) -> User:
    forum = sb.forum
    user = forum.create_user(
        username=username, email=f"{username}@example.com", approved=True, emit=False, **kw
    )
    # None: never visited (the sandbox marks accounts it creates as seen at creation)
    user.last_seen_at = (
        None if seen_days_ago is None else forum.now() - timedelta(days=seen_days_ago)
    )
    return user


@pytest.fixture
def squad(sb: Sandbox, admin: Api) -> dict[str, Any]:
    """Group squad_1 (ann, bob) posts in its category; group watchers (wes) only reads it."""
    for name in ("ann", "bob", "wes", "out"):
        _person(sb, name)
    admin.post("/admin/groups.json", {"group": {"name": "squad_1", "usernames": "ann,bob"}})
    admin.post("/admin/groups.json", {"group": {"name": "watchers", "usernames": "wes"}})
    category = admin.post(
        "/categories.json",
        {"name": "Squad 1", "permissions": {"squad_1": 1, "watchers": 3}},
    ).body["category"]
    return {"category": category}


def _channel(admin: Api, category_id: int, **extra: Any) -> dict[str, Any]:
    reply = admin.post(
        "/chat/api/channels",
        {"channel": {"chatable_id": category_id, "auto_join_users": True, **extra}},
    )
    assert reply.status == 200, reply.body
    return reply.body["channel"]


def _members(admin: Api, channel_id: int) -> set[str]:
    reply = admin.get(f"/chat/api/channels/{channel_id}/memberships")
    assert reply.status == 200, reply.body
    return {m["user"]["username"] for m in reply.body["memberships"]}


def _say(api: Api, channel_id: int, text: str, **extra: Any) -> Any:
    return api.post(f"/chat/{channel_id}", {"message": text, **extra})


# ── channels and who is in them ──────────────────────────────────────────────
def test_a_category_channel_with_auto_join_holds_the_posting_groups_not_readonly_ones(
    admin: Api, squad: dict[str, Any]
) -> None:
    channel = _channel(admin, squad["category"]["id"])
    assert channel["chatable_type"] == "Category"
    assert channel["chatable_id"] == squad["category"]["id"]
    assert channel["title"] == "Squad 1"
    assert channel["auto_join_users"] is True  # staff see it
    assert channel["current_user_membership"]["following"] is True
    assert _members(admin, channel["id"]) == {"admin", "ann", "bob"}


def test_auto_join_skips_users_not_seen_lately_until_their_next_visit(
    sb: Sandbox, admin: Api, squad: dict[str, Any]
) -> None:
    _person(sb, "cat", seen_days_ago=45)
    _person(sb, "dan", seen_days_ago=None)  # never logged in
    sb.forum.add_members(sb.forum.find_group("squad_1"), [sb.forum.find_user("cat")])
    channel = _channel(admin, squad["category"]["id"])
    sb.forum.add_members(sb.forum.find_group("squad_1"), [sb.forum.find_user("dan")])
    assert "cat" not in _members(admin, channel["id"])
    assert "dan" not in _members(admin, channel["id"])

    admin.as_user("dan").get("/chat/api/channels")  # first visit: on(:user_seen)
    assert "dan" in _members(admin, channel["id"])
    assert "cat" not in _members(admin, channel["id"])  # seen before: not a first visit


def test_membership_follows_the_group_when_members_are_added_and_removed(
    sb: Sandbox, admin: Api, squad: dict[str, Any]
) -> None:
    channel = _channel(admin, squad["category"]["id"])
    group = sb.forum.find_group("squad_1")
    _person(sb, "eve")
    admin.put(f"/groups/{group.id}/members.json", {"usernames": "eve"})
    assert "eve" in _members(admin, channel["id"])
    admin.delete(f"/groups/{group.id}/members.json", {"usernames": "bob"})
    assert "bob" not in _members(admin, channel["id"])


def test_only_staff_create_channels_and_one_per_category_and_name(
    admin: Api, squad: dict[str, Any]
) -> None:
    category_id = squad["category"]["id"]
    refused = admin.as_user("ann").post("/chat/api/channels", {"channel": {"chatable_id": 1}})
    assert refused.status == 403
    _channel(admin, category_id)
    again = admin.post("/chat/api/channels", {"channel": {"chatable_id": category_id}})
    assert again.status == 400
    assert again.body["error_type"] == "invalid_parameters"
    assert admin.post("/chat/api/channels", {"channel": {"chatable_id": 999}}).status == 404
    assert admin.post("/chat/api/channels", {}).status == 400


def test_trust_level_0_outside_the_allowed_groups_cannot_chat_and_chat_off_is_404(
    sb: Sandbox, admin: Api, squad: dict[str, Any]
) -> None:
    _person(sb, "newbie", trust_level=0)
    assert admin.as_user("newbie").get("/chat/api/channels").status == 403
    assert admin.as_user("ann").get("/chat/api/channels").status == 200
    sb.forum.settings["chat_enabled"] = False
    assert admin.get("/chat/api/channels").status == 404


def test_chat_allowed_groups_keeps_admins_and_moderators_and_takes_known_groups_only(
    sb: Sandbox, admin: Api, squad: dict[str, Any]
) -> None:
    group = sb.forum.find_group("squad_1")
    url = "/admin/site_settings/chat_allowed_groups.json"
    assert admin.put(url, {"chat_allowed_groups": f"11|{group.id}"}).status == 422
    assert admin.put(url, {"chat_allowed_groups": "1|2|9999"}).status == 422
    assert admin.put(url, {"chat_allowed_groups": f"1|2|{group.id}"}).status == 200
    assert sb.forum.settings["chat_allowed_groups"] == f"1|2|{group.id}"
    assert admin.as_user("wes").get("/chat/api/channels").status == 403


# ── messages ──────────────────────────────────────────────────────────────────
def test_members_send_messages_replies_open_threads_and_mentions_are_listed(
    admin: Api, squad: dict[str, Any]
) -> None:
    channel = _channel(admin, squad["category"]["id"])
    ann, bob = admin.as_user("ann"), admin.as_user("bob")
    first = _say(ann, channel["id"], "今天打卡：读完第三章 @bob")
    assert first.status == 200, first.body
    reply = _say(bob, channel["id"], "nice", in_reply_to_id=first.body["message_id"])
    assert reply.status == 200
    listed = admin.get(f"/chat/api/channels/{channel['id']}/messages").body["messages"]
    assert [m["message"] for m in listed] == ["今天打卡：读完第三章 @bob", "nice"]
    assert [u["username"] for u in listed[0]["mentioned_users"]] == ["bob"]
    assert listed[1]["in_reply_to"]["id"] == first.body["message_id"]
    assert listed[1]["user"]["username"] == "bob"
    assert "thread_id" not in listed[1]  # threading off: include_thread_id? is false


def test_a_message_is_kept_as_textcleaner_leaves_it(admin: Api, squad: dict[str, Any]) -> None:
    """Chat::CreateMessage cleans the text: odd spaces (U+3000, U+00A0...) become " ", zero
    width spaces go, the ends are stripped."""
    channel = _channel(admin, squad["category"]["id"])
    said = _say(admin.as_user("ann"), channel["id"], "  今天\u3000读完\u200b第三章\u00a0了 \n")
    assert said.status == 200, said.body
    listed = admin.get(f"/chat/api/channels/{channel['id']}/messages").body["messages"]
    assert [m["message"] for m in listed] == ["今天 读完第三章 了"]


def _crowd(sb: Sandbox, admin: Api, n: int) -> tuple[dict[str, Any], list[str]]:
    """A channel whose category group holds ``n`` members m01..mNN (all following)."""
    names = [f"m{i:02d}" for i in range(1, n + 1)]
    for name in names:
        _person(sb, name)
    admin.post("/admin/groups.json", {"group": {"name": "crowd", "usernames": ",".join(names)}})
    category = admin.post("/categories.json", {"name": "Crowd", "permissions": {"crowd": 1}}).body[
        "category"
    ]
    return _channel(admin, category["id"]), names


def _notified(sb: Sandbox, message_id: int) -> set[str]:
    forum = sb.forum
    with forum.lock:
        msg = forum.chat_messages[message_id]
        return {forum.users[uid].username for uid in msg.notified_user_ids}


def test_a_message_with_more_mentions_than_the_limit_notifies_nobody(
    sb: Sandbox, admin: Api
) -> None:
    """plugins/chat/app/jobs/regular/chat/notify_mentioned.rb returns before notifying
    anyone when the parsed mentions exceed max_mentions_per_chat_message (5)."""
    channel, names = _crowd(sb, admin, 7)
    ann = admin.as_user(names[0])
    six = _say(ann, channel["id"], " ".join(f"@{n}" for n in names[1:7]) + " 交稿啦")
    assert six.status == 200, six.body
    assert _notified(sb, six.body["message_id"]) == set()
    five = _say(ann, channel["id"], " ".join(f"@{n}" for n in names[1:6]) + " 交稿啦")
    assert _notified(sb, five.body["message_id"]) == set(names[1:6])
    # The serializer still lists at most five mentioned users (MessageSerializer's limit).
    listed = admin.get(f"/chat/api/channels/{channel['id']}/messages").body["messages"]
    assert [len(m["mentioned_users"]) for m in listed] == [5, 5]


def test_each_mention_counts_toward_the_limit_even_repeated_or_of_nobody(
    sb: Sandbox, admin: Api
) -> None:
    """ParsedMentions#count counts every mention the cooked text holds (not one per
    person), @here and @all once each; mentions in quotes and code do not count."""
    channel, names = _crowd(sb, admin, 4)
    ann = admin.as_user(names[0])
    repeated = _say(ann, channel["id"], "@m02 @m02 @m03 @m03 @m04 @nobody 见帖子")
    assert _notified(sb, repeated.body["message_id"]) == set()
    quoted = _say(
        ann, channel["id"], "@m02 看这句 `@m03 @m04 @m03 @m04 @m03` 和 [quote]@m04 @m03[/quote]"
    )
    assert _notified(sb, quoted.body["message_id"]) == {"m02"}


def test_the_sender_and_non_members_are_not_notified(sb: Sandbox, admin: Api) -> None:
    channel, names = _crowd(sb, admin, 2)
    _person(sb, "outsider")
    said = _say(admin.as_user(names[0]), channel["id"], "@m01 @m02 @outsider 周末见")
    assert _notified(sb, said.body["message_id"]) == {"m02"}


def test_who_is_not_a_member_cannot_send_and_who_cannot_see_cannot_read(
    admin: Api, squad: dict[str, Any]
) -> None:
    channel = _channel(admin, squad["category"]["id"])
    assert _say(admin.as_user("wes"), channel["id"], "hello").status == 404  # readonly: no seat
    assert admin.as_user("out").get(f"/chat/api/channels/{channel['id']}/messages").status == 403
    assert _say(admin.as_user("ann"), 9999, "hello").status == 404


def test_history_since_an_id_is_oldest_first_and_trashed_messages_show_to_moderators_only(
    admin: Api, squad: dict[str, Any]
) -> None:
    channel = _channel(admin, squad["category"]["id"])
    ann = admin.as_user("ann")
    ids = [_say(ann, channel["id"], f"message {n}").body["message_id"] for n in range(4)]
    assert ann.delete(f"/chat/api/channels/{channel['id']}/messages/{ids[2]}").status == 200
    path = f"/chat/api/channels/{channel['id']}/messages"
    as_admin = admin.get(path, target_message_id=ids[0], direction="future", page_size=2).body
    assert [m["id"] for m in as_admin["messages"]] == ids[1:3]
    assert as_admin["messages"][1]["deleted_at"]
    assert as_admin["meta"]["can_load_more_future"] is True
    as_ann = ann.get(path, target_message_id=ids[0], direction="future").body
    assert [m["id"] for m in as_ann["messages"]] == [ids[1], ids[3]]
    assert admin.get(path, direction="sideways").status == 400
    assert admin.get(path, target_message_id=99999, direction="future").status == 404


def test_only_the_author_edits_and_edits_are_marked(admin: Api, squad: dict[str, Any]) -> None:
    channel = _channel(admin, squad["category"]["id"])
    ann = admin.as_user("ann")
    message_id = _say(ann, channel["id"], "draft").body["message_id"]
    url = f"/chat/api/channels/{channel['id']}/messages/{message_id}"
    assert admin.as_user("bob").put(url, {"message": "hijack"}).status == 422
    assert ann.put(url, {"message": "final"}).body == {"success": "OK", "message_id": message_id}
    listed = admin.get(f"/chat/api/channels/{channel['id']}/messages").body["messages"]
    assert listed[0]["message"] == "final" and listed[0]["edited"] is True
    assert admin.as_user("bob").delete(url).status == 403  # not theirs, not a moderator


def test_the_flood_limit_silences_members_but_not_staff(
    sb: Sandbox, admin: Api, squad: dict[str, Any]
) -> None:
    sb.forum.settings["chat_allowed_messages_for_other_trust_levels"] = 2
    channel = _channel(admin, squad["category"]["id"])
    ann = admin.as_user("ann")
    assert [_say(ann, channel["id"], f"m{n}").status for n in range(3)] == [200, 200, 429]
    assert sb.forum.find_user("ann").silenced(sb.forum.now())
    assert [_say(admin, channel["id"], f"s{n}").status for n in range(3)] == [200, 200, 200]


def test_staff_chat_still_counts_against_the_admin_api_bucket(
    sb: Sandbox, admin: Api, squad: dict[str, Any]
) -> None:
    channel = _channel(admin, squad["category"]["id"])
    sb.set_rate_limit(2)
    statuses = [_say(admin, channel["id"], f"s{n}").status for n in range(3)]
    assert statuses == [200, 200, 429]


def test_retention_deletes_messages_older_than_the_setting(
    sb: Sandbox, admin: Api, squad: dict[str, Any]
) -> None:
    channel = _channel(admin, squad["category"]["id"])
    message_id = _say(admin.as_user("ann"), channel["id"], "old news").body["message_id"]
    sb.forum.chat_messages[message_id].created_at -= timedelta(days=91)
    assert sb.forum.purge_old_chat_messages() == 1
    sb.forum.settings["chat_channel_retention_days"] = 0
    _say(admin.as_user("ann"), channel["id"], "kept")
    assert sb.forum.purge_old_chat_messages() == 0


# ── webhooks ──────────────────────────────────────────────────────────────────
def test_chat_events_reach_a_hook_filtered_to_the_channels_category_with_their_body(
    sb: Sandbox, admin: Api, squad: dict[str, Any]
) -> None:
    events = ["chat_message_created", "chat_message_edited", "chat_message_trashed"]
    other = admin.post("/categories.json", {"name": "Elsewhere"}).body["category"]
    sb.forum.add_webhook(
        "http://127.0.0.1:9/hook",
        secret="s" * 12,
        events=events,
        category_ids=[squad["category"]["id"]],
    )
    channel = _channel(admin, squad["category"]["id"])
    elsewhere = _channel(admin, other["id"])
    ann = admin.as_user("ann")
    message_id = _say(ann, channel["id"], "in the squad").body["message_id"]
    _say(admin, elsewhere["id"], "not for Diamond")
    ann.put(f"/chat/api/channels/{channel['id']}/messages/{message_id}", {"message": "edited"})
    ann.delete(f"/chat/api/channels/{channel['id']}/messages/{message_id}")
    assert sb.webhooks.wait_idle()
    sent = sb.webhooks.delivered()
    assert [d.event for d in sent] == events
    assert {d.headers["X-Discourse-Event-Type"] for d in sent} == {"chat_message"}
    body = sent[0].json()
    assert list(body) == ["chat_message"]
    assert set(body["chat_message"]) == {"message", "channel"}
    assert body["chat_message"]["message"]["message"] == "in the squad"
    assert body["chat_message"]["channel"]["chatable_id"] == squad["category"]["id"]
    assert sent[2].json()["chat_message"]["message"]["deleted_at"]


def test_the_channel_list_gives_at_most_fifty_a_page_whatever_the_limit_asked(
    admin: Api, squad: dict[str, Any]
) -> None:
    # Chat::ChannelFetcher::MAX_PUBLIC_CHANNEL_RESULTS = 50 caps the index's ``limit``.
    for n in range(51):
        _channel(admin, squad["category"]["id"], name=f"room {n}", auto_join_users=False)
    reply = admin.get("/chat/api/channels?limit=60")
    assert reply.status == 200, reply.body
    assert len(reply.body["channels"]) == 50
