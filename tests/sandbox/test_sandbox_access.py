"""Who may see and do what in the sandbox: private categories, impersonation, keys, PMs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.sandbox_api import Api
from worker.sandbox import build_sandbox
from worker.sandbox.errors import INVALID_ACCESS, INVALID_API, NOT_FOUND

FORBIDDEN = {"errors": [INVALID_ACCESS], "error_type": "invalid_access"}
MISSING = {"errors": [NOT_FOUND], "error_type": "not_found"}


def _user(api: Api, username: str, **extra: Any) -> int:
    body = {
        "name": username.title(),
        "username": username,
        "email": f"{username}@example.com",
        "password": "p" * 16,
        "active": True,
        "approved": True,
    } | extra
    reply = api.post("/users.json", body)
    assert reply.body["success"] is True, reply.body
    return reply.body["user_id"]


@pytest.fixture
def api() -> Iterator[Api]:
    sandbox = build_sandbox(api_key="access-key")
    yield Api(sandbox)
    sandbox.webhooks.close()


@pytest.fixture
def private_world(api: Api) -> dict[str, Any]:
    """A squad group owning a private category with one topic; outsider is not in it."""
    for name in ("member", "outsider"):
        _user(api, name)
    api.post("/admin/groups.json", {"group": {"name": "squad_7", "usernames": "member"}})
    category = api.post(
        "/categories.json", {"name": "Squad 7 room", "permissions": {"squad_7": 1}}
    ).body["category"]
    post = (
        api.as_user("member")
        .post(
            "/posts.json",
            {
                "title": "Our private plans here",
                "raw": "Only squad members can read this.",
                "category": category["id"],
            },
        )
        .body
    )
    return {"category": category, "post": post}


def test_private_category_is_absent_from_lists_for_outsiders(
    api: Api, private_world: dict[str, Any]
) -> None:
    cat_id = private_world["category"]["id"]

    def listed(as_api: Api) -> set[int]:
        return {c["id"] for c in as_api.get("/categories.json").body["category_list"]["categories"]}

    assert cat_id in listed(api.as_user("member"))
    assert cat_id in listed(api)  # admins see every category
    assert cat_id not in listed(api.as_user("outsider"))
    assert cat_id not in listed(api.anonymous())


@pytest.mark.parametrize(
    ("who", "expected"),
    [("outsider", "hidden"), ("anonymous", "hidden"), ("member", "visible"), ("admin", "visible")],
)
def test_private_topics_and_posts_answer_like_discourse(
    api: Api, private_world: dict[str, Any], who: str, expected: str
) -> None:
    as_api = {"anonymous": api.anonymous(), "admin": api}.get(who) or api.as_user(who)
    cat = private_world["category"]
    post = private_world["post"]
    answers = {
        "topic": as_api.get(f"/t/{post['topic_id']}.json"),
        "post": as_api.get(f"/posts/{post['id']}.json"),
        "show": as_api.get(f"/c/{cat['id']}/show.json"),
        "list": as_api.get(f"/c/{cat['slug']}/{cat['id']}.json"),
    }
    latest_ids = [p["id"] for p in as_api.get("/posts.json").body["latest_posts"]]
    if expected == "visible":
        assert {k: r.status for k, r in answers.items()} == dict.fromkeys(answers, 200)
        assert post["id"] in latest_ids
    else:
        assert {k: (r.status, r.body) for k, r in answers.items()} == {
            "topic": (403, FORBIDDEN),
            "post": (403, FORBIDDEN),
            "show": (403, FORBIDDEN),
            "list": (404, MISSING),  # ListController hides the category entirely
        }
        assert post["id"] not in latest_ids


def test_outsider_cannot_reply_in_a_private_category(
    api: Api, private_world: dict[str, Any]
) -> None:
    reply = api.as_user("outsider").post(
        "/posts.json", {"topic_id": private_world["post"]["topic_id"], "raw": "Let me in, please!!"}
    )
    assert (reply.status, reply.body) == (403, FORBIDDEN)


def test_readonly_permission_lets_members_read_but_not_post(api: Api) -> None:
    _user(api, "reader")
    api.post(
        "/categories.json", {"name": "Announcements", "permissions": {"everyone": 3, "staff": 1}}
    )
    cat = next(
        c
        for c in api.get("/categories.json").body["category_list"]["categories"]
        if c["name"] == "Announcements"
    )
    assert cat["read_restricted"] is False
    topic = api.post(
        "/posts.json",
        {
            "title": "Read this announcement",
            "raw": "Everyone can read; only staff post.",
            "category": cat["id"],
        },
    ).body
    reader = api.as_user("reader")
    assert reader.get(f"/t/{topic['topic_id']}.json").status == 200
    attempt = reader.post(
        "/posts.json",
        {"title": "Trying to post here", "raw": "Readers cannot post here.", "category": cat["id"]},
    )
    assert (attempt.status, attempt.body) == (403, FORBIDDEN)


def test_admin_key_impersonates_any_user_with_api_username(api: Api) -> None:
    _user(api, "alice")
    post = (
        api.as_user("alice")
        .post(
            "/posts.json",
            {"title": "Alice writes a topic", "raw": "Written as Alice herself.", "category": 1},
        )
        .body
    )
    assert (post["username"], post["yours"]) == ("alice", True)


def test_per_user_key_acts_as_its_owner_only(api: Api) -> None:
    _user(api, "alice")
    _user(api, "bob")
    key = api.sandbox.user_api_key("alice")
    as_alice = api.with_key(key, "alice")
    post = as_alice.post(
        "/posts.json",
        {
            "title": "Posted with a user key",
            "raw": "Per-user keys act as their owner.",
            "category": 1,
        },
    ).body
    assert post["username"] == "alice"
    assert api.with_key(key).get("/u/alice.json").status == 200  # Api-Username may be omitted
    hijack = api.with_key(key, "bob").get("/u/bob.json")
    assert (hijack.status, hijack.body) == (
        403,
        {"errors": [INVALID_API], "error_type": "invalid_access"},
    )


def test_admin_api_key_created_over_http_acts_as_its_user(api: Api) -> None:
    _user(api, "carol")
    key = api.post("/admin/api/keys.json", {"key": {"username": "carol", "description": "t"}}).body
    me = api.with_key(key["key"]["key"], "carol").post(
        "/posts.json",
        {"title": "Carol's own topic here", "raw": "Carol posts with her new key.", "category": 1},
    )
    assert me.body["username"] == "carol"


@pytest.mark.parametrize(
    ("key", "username"),
    [("wrong-key", "system"), ("access-key", "nobody_here")],
    ids=["unknown key", "unknown username"],
)
def test_bad_credentials_get_discourses_403(api: Api, key: str, username: str) -> None:
    reply = api.with_key(key, username).get("/categories.json")
    assert (reply.status, reply.body) == (
        403,
        {"errors": [INVALID_API], "error_type": "invalid_access"},
    )


def test_admin_routes_do_not_exist_for_members_or_anonymous(api: Api) -> None:
    _user(api, "member")
    for as_api in (api.as_user("member"), api.anonymous()):
        reply = as_api.get("/admin/users/list/active.json")
        assert (reply.status, reply.body) == (404, MISSING)


def test_anonymous_cannot_post(api: Api) -> None:
    reply = api.anonymous().post("/posts.json", {"title": "Anonymous topic title", "raw": "x" * 30})
    assert (reply.status, reply.body) == (
        403,
        {"errors": ["You need to be logged in to do that."], "error_type": "not_logged_in"},
    )


def test_members_cannot_edit_or_delete_other_peoples_posts(api: Api) -> None:
    _user(api, "alice")
    _user(api, "bob")
    post = (
        api.as_user("alice")
        .post(
            "/posts.json",
            {"title": "Alice's article title", "raw": "Alice's article, not Bob's.", "category": 1},
        )
        .body
    )
    bob = api.as_user("bob")
    assert (
        bob.put(f"/posts/{post['id']}.json", {"post": {"raw": "Bob rewrites this post."}}).status
        == 403
    )
    assert bob.delete(f"/posts/{post['id']}.json").status == 403
    assert api.get(f"/posts/{post['id']}.json").body["raw"] == "Alice's article, not Bob's."


def test_private_messages_reach_recipients_only(api: Api) -> None:
    for name in ("alice", "bob", "eve"):
        _user(api, name)
    pm = api.post(
        "/posts.json",
        {
            "title": "Your probation result",
            "raw": "You passed probation, welcome!",
            "archetype": "private_message",
            "target_recipients": "alice,bob",
        },
    ).body
    for name in ("alice", "bob"):
        inbox = api.as_user(name).get(f"/topics/private-messages/{name}.json").body
        assert [t["id"] for t in inbox["topic_list"]["topics"]] == [pm["topic_id"]]
        assert api.as_user(name).get(f"/t/{pm['topic_id']}.json").status == 200
    assert (
        api.as_user("eve").get("/topics/private-messages/eve.json").body["topic_list"]["topics"]
        == []
    )
    assert api.as_user("eve").get(f"/t/{pm['topic_id']}.json").status == 403
    assert api.as_user("eve").get("/topics/private-messages/alice.json").status == 403
    assert api.get("/topics/private-messages/alice.json").status == 200  # admins may look
    latest = [p["topic_id"] for p in api.get("/posts.json").body["latest_posts"]]
    assert pm["topic_id"] not in latest  # PMs are not public posts


def test_pm_to_unknown_user_is_rejected_with_discourses_message(api: Api) -> None:
    reply = api.post(
        "/posts.json",
        {
            "title": "Hello there",
            "raw": "Who are you, friend?",
            "archetype": "private_message",
            "target_recipients": "ghost",
        },
    )
    assert (reply.status, reply.body) == (
        422,
        {"action": "create_post", "errors": ["Sorry, we couldn't find 'ghost'."]},
    )


def test_login_required_closes_the_forum_to_anonymous_readers_but_not_signup(api: Api) -> None:
    api.put("/admin/site_settings/login_required.json", form={"login_required": "true"})
    reply = api.anonymous().get("/categories.json")
    assert (reply.status, reply.body["error_type"]) == (403, "not_logged_in")
    signup = api.anonymous().post(
        "/users.json", {"username": "newcomer", "email": "new@example.com", "password": "p" * 16}
    )
    assert signup.body["success"] is True
    assert api.get("/categories.json").status == 200
