"""The sandbox's webhooks look like Discourse's: body keys and types, headers, signature."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.conftest import DISCOURSE_REF
from tests.support.sandbox_api import Api
from worker.sandbox import RunningSandbox, signature

CAPTURES = DISCOURSE_REF / "webhooks"
SECRET = "a-secret-of-enough-length"

# Keys that plugins on the capture forum added (SOURCES.md): solved, voting,
# gamification, zendesk, chat, assign, rewind. The worker must not rely on them.
PLUGIN_KEYS = {
    "can_accept_answer",
    "can_unaccept_answer",
    "accepted_answer",
    "topic_accepted_answer",
    "accepted_answers",
    "can_vote",
    "vote_count",
    "user_voted",
    "gamification_score",
    "can_chat_user",
    "reminders_frequency",
    "notification_level_when_assigned",
    "notify_on_solved",
    "only_chat_push_notifications",
    "ignore_channel_wide_mention",
    "show_thread_title_prompts",
    # discourse-calendar / post-voting on the category body
    "sort_topics_by_event_start_date",
    "disable_topic_resorting",
    "create_as_post_voting_default",
    "only_post_voting_in_this_category",
}
PLUGIN_PREFIXES = ("chat_", "discourse_rewind_", "discourse_zendesk_")
# Maps keyed by the capture forum's own ids (its user field ids): compared as maps only.
ID_KEYED_MAPS = {"user_fields"}


def _json_type(value: Any) -> str:
    return {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
        type(None): "null",
    }[type(value)]


def shape_differences(captured: Any, ours: Any, path: str = "") -> list[str]:
    """Keys the capture has that ours lacks, and values of another JSON type.

    A null on either side says nothing about the type (the field was merely empty
    on one forum), so it is not compared.
    """
    problems: list[str] = []
    if isinstance(captured, dict):
        if not isinstance(ours, dict):
            return [f"{path or '.'}: object expected, got {_json_type(ours)}"]
        for key, value in captured.items():
            if key in PLUGIN_KEYS or key.startswith(PLUGIN_PREFIXES):
                continue
            where = f"{path}.{key}" if path else key
            if key not in ours:
                problems.append(f"{where}: missing")
                continue
            if key in ID_KEYED_MAPS:
                if not isinstance(ours[key], dict):
                    problems.append(f"{where}: object expected, got {_json_type(ours[key])}")
                continue
            problems += shape_differences(value, ours[key], where)
        return problems
    if captured is None or ours is None:
        return problems
    if isinstance(captured, list):
        if not isinstance(ours, list):
            return [f"{path}: array expected, got {_json_type(ours)}"]
        if captured and ours:
            problems += shape_differences(captured[0], ours[0], f"{path}[0]")
        return problems
    kinds = {_json_type(captured), _json_type(ours)}
    if len(kinds) > 1 and kinds != {"integer", "number"}:
        problems.append(f"{path}: {_json_type(captured)} expected, got {_json_type(ours)}")
    return problems


class Receiver:
    """A tiny HTTP endpoint that records every webhook delivery."""

    def __init__(self, status: int = 200) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.status = status
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/hooks"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.requests.append((dict(request.headers), request.get_data()))
        return Response("ok", status=self.status)(environ, start_response)

    def by_event(self, event: str) -> list[tuple[dict[str, str], bytes]]:
        return [(h, b) for h, b in self.requests if h.get("X-Discourse-Event") == event]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def hooked(sandbox: RunningSandbox, receiver: Receiver) -> tuple[RunningSandbox, Receiver, Api]:
    sandbox.add_webhook(receiver.url, secret=SECRET)  # wildcard: every event
    return sandbox, receiver, Api(sandbox)


def _capture(event_group: str, event: str) -> tuple[dict[str, Any], dict[str, str]]:
    body = next(CAPTURES.glob(f"{event_group}__{event}__*-body.json"))
    header = next(CAPTURES.glob(f"{event_group}__{event}__*-header.json"))
    return json.loads(body.read_text()), json.loads(header.read_text())


def _make_activity(api: Api) -> None:
    """A user field, a member who posted, a category: enough for every body to be full."""
    api.put("/admin/site_settings/must_approve_users.json", form={"must_approve_users": "true"})
    field = api.post(
        "/admin/config/user_fields.json",
        {"user_field": {"name": "Why", "description": "Why join?", "field_type": "text"}},
    ).body["user_field"]
    created = api.post(
        "/users.json",
        {
            "name": "Li Wei",
            "username": "liwei",
            "email": "liwei@example.com",
            "password": "p" * 16,
            "active": True,
            "user_fields": {str(field["id"]): "to learn"},
        },
    ).body
    assert created["success"] is True
    api.put(f"/admin/users/{created['user_id']}/approve.json")
    category = api.post("/categories.json", {"name": "Weekly", "parent_category_id": 1}).body
    api.as_user("liwei").post(
        "/posts.json",
        {
            "title": "第一周的文章：学习笔记与心得体会分享",
            "raw": "这是我第一周的文章，内容足够长，可以发布。",
            "category": category["category"]["id"],
        },
    )


CASES = [
    ("post", "post_created"),
    ("topic", "topic_created"),
    ("user", "user_created"),
    ("user", "user_approved"),
    ("category", "category_created"),
]


@pytest.mark.parametrize(("group", "event"), CASES)
def test_webhook_body_carries_every_core_key_of_the_real_capture(
    hooked: tuple[RunningSandbox, Receiver, Api], group: str, event: str
) -> None:
    sandbox, receiver, api = hooked
    _make_activity(api)
    assert sandbox.wait_idle()
    deliveries = receiver.by_event(event)
    assert deliveries, f"no {event} delivery"
    headers, raw = deliveries[-1]
    captured, captured_headers = _capture(group, event)
    ours = json.loads(raw)
    assert list(ours) == list(captured)  # one root key: {"post": {...}} etc.
    assert shape_differences(captured, ours) == []
    assert headers["X-Discourse-Event-Type"] == captured_headers["EventType"]
    assert headers["X-Discourse-Event"] == captured_headers["Event"]


def test_ping_button_delivers_the_captured_ping_body_signed(
    hooked: tuple[RunningSandbox, Receiver, Api],
) -> None:
    sandbox, receiver, api = hooked
    hook_id = next(iter(sandbox.forum.webhooks))
    assert api.post(f"/admin/api/web_hooks/{hook_id}/ping.json").body == {"success": "OK"}
    assert sandbox.wait_idle()
    (headers, raw), *_ = receiver.by_event("ping")
    captured, captured_headers = _capture("ping", "ping")
    assert json.loads(raw) == captured
    assert headers["X-Discourse-Event-Type"] == captured_headers["EventType"]
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Discourse-Instance"] == sandbox.url
    expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert headers["X-Discourse-Event-Signature"] == expected


def test_hmac_test_vector_from_design_reproduces() -> None:
    vector = json.loads((CAPTURES / "event_types.json").read_text())["ping_test_vector"]
    assert vector["secret"] == "my_lovely_secret_for_web_hook"
    assert signature(vector["secret"], vector["body"].encode()) == (
        "sha256=162f107f6b5022353274eb1a7197885cfd35744d8d08e5bcea025d309386b7d6"
    )
    assert (
        signature(vector["secret"], vector["body"].encode())
        == vector["X-Discourse-Event-Signature"]
    )


def test_every_delivery_is_signed_over_its_exact_body_with_increasing_event_ids(
    hooked: tuple[RunningSandbox, Receiver, Api],
) -> None:
    sandbox, receiver, api = hooked
    _make_activity(api)
    assert sandbox.wait_idle()
    ids = [int(h["X-Discourse-Event-Id"]) for h, _ in receiver.requests]
    assert len(ids) >= 5
    assert sorted(ids) == list(range(ids[0], ids[0] + len(ids)))
    for headers, raw in receiver.requests:
        assert headers["X-Discourse-Event-Signature"] == signature(SECRET, raw)
        assert headers["User-Agent"].startswith("Discourse/")


def test_user_created_body_omits_user_fields_so_receivers_read_the_admin_api(
    hooked: tuple[RunningSandbox, Receiver, Api],
) -> None:
    sandbox, receiver, api = hooked
    _make_activity(api)
    assert sandbox.wait_idle()
    (_, raw), *_ = receiver.by_event("user_created")
    user = json.loads(raw)["user"]
    assert "user_fields" not in user
    admin_view = api.get(f"/admin/users/{user['id']}.json").body
    assert list(admin_view["user_fields"].values()) == ["to learn"]
    (_, approved_raw), *_ = receiver.by_event("user_approved")
    assert list(json.loads(approved_raw)["user"]["user_fields"].values()) == ["to learn"]


def test_hook_gets_only_subscribed_events_and_inactive_hooks_get_none(
    sandbox: RunningSandbox, receiver: Receiver
) -> None:
    api = Api(sandbox)
    # as an operator would: the receiver listens on loopback, which the forum refuses otherwise
    api.put(
        "/admin/site_settings/allowed_internal_hosts.json", {"allowed_internal_hosts": "127.0.0.1"}
    )
    posts_only = api.post(
        "/admin/api/web_hooks.json",
        {"web_hook": {"payload_url": receiver.url, "web_hook_event_type_ids": [201]}},
    ).body["web_hook"]
    api.post(
        "/admin/api/web_hooks.json",
        {
            "web_hook": {
                "payload_url": receiver.url + "?inactive",
                "wildcard_web_hook": True,
                "active": False,
            }
        },
    )
    api.post(
        "/posts.json",
        {
            "title": "A topic to trigger events",
            "raw": "Body long enough for Discourse.",
            "category": 1,
        },
    )
    assert sandbox.wait_idle()
    events = [h["X-Discourse-Event"] for h, _ in receiver.requests]
    assert events == ["post_created"]
    assert "X-Discourse-Event-Signature" not in receiver.requests[0][0]  # no secret, no signature
    assert posts_only["web_hook_event_types"] == [
        {"id": 201, "name": "post_created", "group": "post"}
    ]


def test_category_filter_limits_post_events_to_those_categories(
    sandbox: RunningSandbox, receiver: Receiver
) -> None:
    api = Api(sandbox)
    articles = api.post("/categories.json", {"name": "Articles"}).body["category"]
    sandbox.add_webhook(receiver.url, events=["post_created"], category_ids=[articles["id"]])
    for category in (1, articles["id"]):
        api.post(
            "/posts.json",
            {
                "title": f"Topic in category {category}",
                "raw": "Body long enough.....",
                "category": category,
            },
        )
    assert sandbox.wait_idle()
    bodies = [json.loads(b)["post"]["category_id"] for _, b in receiver.requests]
    assert bodies == [articles["id"]]


def test_failed_delivery_is_logged_and_not_retried(sandbox: RunningSandbox) -> None:
    failing = Receiver(status=500)
    try:
        hook = sandbox.add_webhook(failing.url, events=["post_created"])
        Api(sandbox).post(
            "/posts.json",
            {"title": "Trigger a failing hook", "raw": "Body long enough for it.", "category": 1},
        )
        assert sandbox.wait_idle()
        assert len(failing.requests) == 1
        (delivery,) = sandbox.deliveries("post_created")
        assert delivery.status == 500
        assert hook.last_delivery_status == 2  # failed
    finally:
        failing.stop()


def test_webhooks_admin_lists_grouped_event_types_with_ids(sandbox: RunningSandbox) -> None:
    body = Api(sandbox).get("/admin/api/web_hooks.json").body
    grouped = body["extras"]["grouped_event_types"]
    names = {e["name"]: e["id"] for group in grouped.values() for e in group}
    assert names["post_created"] == 201
    assert names["user_approved"] == 305
    assert {e["group"] for e in grouped["topic"]} == {"topic"}


def test_webhook_admin_rejects_bad_url_and_short_secret_like_discourse(
    sandbox: RunningSandbox,
) -> None:
    reply = Api(sandbox).post(
        "/admin/api/web_hooks.json",
        {"web_hook": {"payload_url": "not a url", "secret": "short", "wildcard_web_hook": True}},
    )
    assert reply.status == 422
    assert reply.body == {
        "errors": ["Payload URL is invalid", "Secret is too short (minimum is 12 characters)"]
    }


def test_a_first_post_edited_with_its_title_sends_topic_edited_and_no_post_edited(
    hooked: tuple[RunningSandbox, Receiver, Api],
) -> None:
    """config/initializers/012-web_hook_events.rb: ``post_edited`` with topic_changed on a
    first post is sent as ``topic_edited`` only; any other edit as ``post_edited``."""
    sandbox, receiver, api = hooked
    topic = api.post(
        "/posts.json",
        {
            "title": "第一周的文章:学习笔记与心得体会",
            "raw": "初稿,内容足够长,可以发布出来。" * 2,
            "category": 1,
        },
    ).body
    reply = api.post(
        "/posts.json", {"topic_id": topic["topic_id"], "raw": "一条回复,也足够长,可以发布。" * 2}
    ).body
    assert sandbox.wait_idle()
    receiver.requests.clear()

    first = api.put(
        f"/posts/{topic['id']}.json",
        {
            "title": "第一周的文章:学习笔记与心得体会(修订)",
            "post": {"raw": "修改后的全文,更长一些。" * 3},
        },
    )
    assert first.status == 200
    assert sandbox.wait_idle()
    assert [h["X-Discourse-Event"] for h, _ in receiver.requests] == ["topic_edited"]
    body = json.loads(receiver.requests[0][1])
    assert body["topic"]["id"] == topic["topic_id"]
    assert body["topic"]["title"] == "第一周的文章:学习笔记与心得体会(修订)"
    receiver.requests.clear()

    api.put(f"/posts/{topic['id']}.json", {"post": {"raw": "只改正文,不改标题,内容足够长。" * 2}})
    api.put(f"/posts/{reply['id']}.json", {"post": {"raw": "回复也改了,内容依然足够长。" * 2}})
    assert sandbox.wait_idle()
    assert [h["X-Discourse-Event"] for h, _ in receiver.requests] == ["post_edited"] * 2


def test_a_title_edit_to_another_topics_title_is_refused(
    hooked: tuple[RunningSandbox, Receiver, Api],
) -> None:
    _sandbox, _receiver, api = hooked
    api.post(
        "/posts.json", {"title": "已经有人用的标题:第一周的文章", "raw": "x" * 30, "category": 1}
    )
    mine = api.post(
        "/posts.json", {"title": "我自己的标题:第一周的文章内容", "raw": "y" * 30, "category": 1}
    ).body
    refused = api.put(
        f"/posts/{mine['id']}.json",
        {"title": "已经有人用的标题:第一周的文章", "post": {"raw": "z" * 30}},
    )
    assert refused.status == 422
    assert "This title has already been used by" in refused.body["errors"][0]


def test_group_user_events_carry_the_group_user_row_as_discourse_sends_it(
    sandbox: RunningSandbox,
) -> None:
    """WebHookGroupUserSerializer (BasicGroupUserSerializer + id, created_at; ``owner`` only
    for the system user): config/initializers/012-web_hook_events.rb sends it for
    user_added_to_group, app/models/group.rb#enqueue_user_removed_from_group_webhook_events
    for user_removed_from_group (the row as it was), both as group_user."""
    sandbox.add_webhook("http://127.0.0.1:9/", events=["user_added_to_group"])
    sandbox.add_webhook("http://127.0.0.1:9/", events=["user_removed_from_group"])
    api = Api(sandbox)
    sandbox.forum.create_user(username="kit", email="kit@example.org", approved=True)
    group = api.post("/admin/groups.json", {"group": {"name": "mentors"}}).body["basic_group"]
    api.put(f"/groups/{group['id']}/members.json", {"usernames": "kit"})
    api.delete(f"/groups/{group['id']}/members.json", {"usernames": "kit"})
    assert sandbox.wait_idle()
    (added,) = sandbox.deliveries("user_added_to_group")
    (removed,) = sandbox.deliveries("user_removed_from_group")
    for delivery in (added, removed):
        assert delivery.event_type == "group_user"
        row = delivery.json()["group_user"]
        assert set(row) == {"id", "group_id", "user_id", "notification_level", "created_at"}
        assert row["group_id"] == group["id"]
        assert row["user_id"] == sandbox.forum.find_user("kit").id
    assert added.json()["group_user"]["id"] == removed.json()["group_user"]["id"]  # one row


def test_topic_created_body_carries_tags_as_the_topic_view_does(
    hooked: tuple[RunningSandbox, Receiver, Api],
) -> None:
    """WebHookTopicViewSerializer is a TopicViewSerializer: the same TopicTagsMixin serializes
    the tags of both (the capture's topic had none to show the shape)."""
    sandbox, receiver, api = hooked
    category = api.post("/categories.json", {"name": "Articles"}).body["category"]
    api.post(
        "/posts.json",
        {
            "title": "一篇带标签的文章:本周的学习笔记与心得",
            "raw": "这是一篇带标签的文章，内容足够长，可以发布。",
            "category": category["id"],
            "tags": ["digest"],
        },
    )
    assert sandbox.wait_idle()
    (_, raw), *_ = receiver.by_event("topic_created")
    body = json.loads(raw)["topic"]
    view = api.get(f"/t/{body['id']}.json").body
    assert view["tags"] and [t["name"] for t in view["tags"]] == ["digest"]
    assert body["tags"] == view["tags"]
