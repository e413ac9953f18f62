"""Groups, categories, topics, posts, likes, quotes, tags and badges in the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.support.sandbox_api import Api
from worker.sandbox import build_sandbox
from worker.sandbox.cooking import cook, quotes


@pytest.fixture
def api() -> Iterator[Api]:
    sandbox = build_sandbox(api_key="content-key")
    for name in ("alice", "bob", "carol"):
        sandbox.forum.create_user(
            username=name, name=name.title(), email=f"{name}@example.com", approved=True, emit=False
        )
    yield Api(sandbox)
    sandbox.webhooks.close()


def _topic(api: Api, title: str = "A weekly article title", category: int = 1) -> dict:
    return api.post(
        "/posts.json",
        {"title": title, "raw": "The body of a weekly article, long enough.", "category": category},
    ).body


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("a_name_longer_than_twenty", "Name must be no more than 20 characters"),
        ("第一小队", "Name must only include numbers, letters, dashes, dots, and underscores"),
        ("ab", "Name must be at least 3 characters"),
        ("squad__one", "Name must not contain a sequence of 2 or more special chars (.-_)"),
        ("admins", "Name has already been taken"),
    ],
)
def test_group_names_are_validated_like_discourse(api: Api, name: str, error: str) -> None:
    reply = api.post("/admin/groups.json", {"group": {"name": name}})
    assert (reply.status, reply.body) == (422, {"errors": [error]})


def test_group_full_name_may_be_chinese(api: Api) -> None:
    group = api.post(
        "/admin/groups.json", {"group": {"name": "squad_1", "full_name": "第一小队"}}
    ).body["basic_group"]
    assert api.get("/groups/squad_1.json").body["group"]["full_name"] == "第一小队"
    assert group["full_name"] == "第一小队"


def test_adding_members_who_are_all_in_already_is_422_member_already_exist(api: Api) -> None:
    group = api.post("/admin/groups.json", {"group": {"name": "squad_1"}}).body["basic_group"]
    first = api.put(f"/groups/{group['id']}/members.json", form={"usernames": "alice,bob"})
    assert first.body == {"success": "OK", "usernames": ["alice", "bob"], "emails": []}
    partly = api.put(f"/groups/{group['id']}/members.json", form={"usernames": "bob,carol"})
    assert partly.status == 200  # some were new: Discourse adds them
    again = api.put(f"/groups/{group['id']}/members.json", form={"usernames": "alice,bob"})
    assert (again.status, again.body) == (
        422,
        {"errors": ["The following users are already members of this group: alice, bob"]},
    )
    single = api.put(f"/groups/{group['id']}/members.json", form={"usernames": "carol"})
    assert single.body == {"errors": ["'carol' is already a member of this group."]}


def test_group_members_page_with_limit_and_offset_and_owners_listed(api: Api) -> None:
    group = api.post(
        "/admin/groups.json", {"group": {"name": "squad_1", "usernames": "alice,bob,carol"}}
    ).body["basic_group"]
    api.put(f"/groups/{group['id']}/owners.json", form={"usernames": "carol"})
    page = api.get("/groups/squad_1/members.json", limit="2", offset="0").body
    assert page["meta"] == {"total": 3, "limit": 2, "offset": 0}
    assert [m["username"] for m in page["owners"]] == ["carol"]
    rest = api.get("/groups/squad_1/members.json", limit="2", offset="2").body
    names = [m["username"] for m in page["members"]] + [m["username"] for m in rest["members"]]
    assert sorted(names) == ["alice", "bob", "carol"]
    assert api.get("/groups/squad_1/members.json", limit="1001").status == 400
    api.delete(
        f"/admin/groups/{group['id']}/owners.json",
        user_id=str(api.sandbox.forum.find_user("carol").id),
    )
    assert api.get("/groups/squad_1/members.json").body["owners"] == []


def test_removing_members_reports_skipped_usernames(api: Api) -> None:
    group = api.post(
        "/admin/groups.json", {"group": {"name": "squad_1", "usernames": "alice"}}
    ).body
    gid = group["basic_group"]["id"]
    reply = api.delete(f"/groups/{gid}/members.json", usernames="alice,bob")
    assert reply.body == {"success": "OK", "usernames": ["alice"], "skipped_usernames": ["bob"]}


def test_automatic_groups_exist_with_discourse_ids(api: Api) -> None:
    groups = {g["name"]: g["id"] for g in api.get("/groups.json").body["groups"]}
    assert {
        k: groups[k] for k in ("admins", "moderators", "staff", "everyone", "trust_level_0")
    } == {
        "admins": 1,
        "moderators": 2,
        "staff": 3,
        "everyone": 0,
        "trust_level_0": 10,
    }
    assert api.put("/groups/1/members.json", form={"usernames": "alice"}).status == 403


def test_category_with_parent_permissions_and_moderating_groups(api: Api) -> None:
    group = api.post("/admin/groups.json", {"group": {"name": "leaders"}}).body["basic_group"]
    parent = api.post("/categories.json", {"name": "Camp"}).body["category"]
    ignored = api.post(
        "/categories.json",
        form={"name": "Ignored mods", "moderating_group_ids[]": str(group["id"])},
    ).body["category"]
    assert "moderating_group_ids" not in ignored  # setting off: Discourse drops the param
    api.put(
        "/admin/site_settings/enable_category_group_moderation.json",
        form={"enable_category_group_moderation": "true"},
    )
    child = api.post(
        "/categories.json",
        form={
            "name": "Week 1",
            "color": "FF0000",
            "parent_category_id": str(parent["id"]),
            "permissions[leaders]": "1",
            "permissions[trust_level_1]": "2",
            "moderating_group_ids[]": str(group["id"]),
        },
    ).body["category"]
    assert child["parent_category_id"] == parent["id"]
    assert child["moderating_group_ids"] == [group["id"]]
    assert child["read_restricted"] is True
    assert sorted((p["group_name"], p["permission_type"]) for p in child["group_permissions"]) == [
        ("leaders", 1),
        ("trust_level_1", 2),
    ]
    listed = api.get("/categories.json").body["category_list"]["categories"]
    camp = next(c for c in listed if c["id"] == parent["id"])
    assert camp["subcategory_ids"] == [child["id"]]
    dup = api.post("/categories.json", {"name": "Camp"})
    assert (dup.status, dup.body) == (422, {"errors": ["Category Name has already been taken"]})


def test_create_post_permission_lets_members_reply_but_not_open_topics(api: Api) -> None:
    cat = api.post(
        "/categories.json",
        {"name": "Replies only", "permissions": {"staff": 1, "trust_level_0": 2}},
    ).body["category"]
    topic = _topic(api, category=cat["id"])
    alice = api.as_user("alice")
    assert (
        alice.post(
            "/posts.json", {"topic_id": topic["topic_id"], "raw": "A reply from a member!"}
        ).status
        == 200
    )
    assert (
        alice.post(
            "/posts.json", {"title": "Members cannot open", "raw": "x" * 30, "category": cat["id"]}
        ).status
        == 403
    )


def test_topic_shows_first_20_posts_and_the_whole_stream(api: Api) -> None:
    topic = _topic(api)
    for n in range(24):
        api.as_user("bob").post(
            "/posts.json",
            {"topic_id": topic["topic_id"], "raw": f"Reply number {n} to the article."},
        )
    view = api.get(f"/t/{topic['topic_id']}.json").body
    assert len(view["post_stream"]["posts"]) == 20
    assert len(view["post_stream"]["stream"]) == 25
    wanted = view["post_stream"]["stream"][20:]
    more = api.request(
        "GET", f"/t/{topic['topic_id']}/posts.json", query={"post_ids[]": [str(i) for i in wanted]}
    ).body
    assert [p["id"] for p in more["post_stream"]["posts"]] == wanted
    assert view["posts_count"] == 25


def test_latest_posts_are_newest_first_and_page_with_before(api: Api) -> None:
    topic = _topic(api)
    for n in range(60):
        api.post(
            "/posts.json", {"topic_id": topic["topic_id"], "raw": f"Reply {n} in a long thread."}
        )
    first = api.get("/posts.json").body["latest_posts"]
    assert len(first) == 50
    ids = [p["id"] for p in first]
    assert ids == sorted(ids, reverse=True)
    second = api.get("/posts.json", before=str(ids[-1])).body["latest_posts"]
    assert [p["id"] for p in second] == list(range(ids[-1] - 1, 0, -1))


def test_reply_keeps_reply_to_post_number_and_quotes_are_cooked_as_asides(api: Api) -> None:
    topic = _topic(api)
    raw = (
        f'[quote="alice, post:1, topic:{topic["topic_id"]}"]\nThe body\n[/quote]\n\n'
        "I disagree, see https://example.com/x and [docs](https://example.com/d)."
    )
    reply = (
        api.as_user("bob")
        .post("/posts.json", {"topic_id": topic["topic_id"], "reply_to_post_number": 1, "raw": raw})
        .body
    )
    assert reply["reply_to_post_number"] == 1
    assert reply["quote_count"] == 1
    aside = '<aside class="quote no-group" data-username="alice" data-post="1" data-topic="{}">'
    assert aside.format(topic["topic_id"]) in reply["cooked"]
    assert '<a href="https://example.com/x">https://example.com/x</a>' in reply["cooked"]
    assert '<a href="https://example.com/d">docs</a>' in reply["cooked"]
    assert api.get(f"/posts/{topic['id']}.json").body["reply_count"] == 1


def test_cook_escapes_html_and_quotes_parse_attributes() -> None:
    assert cook("<script>x</script> and **bold**") == (
        "<p>&lt;script&gt;x&lt;/script&gt; and <strong>bold</strong></p>"
    )
    (quote,) = quotes('[quote="bob, post:3, topic:9"]hi[/quote]')
    assert (quote.username, quote.post_number, quote.topic_id, quote.text) == ("bob", 3, 9, "hi")


def test_admins_can_back_date_posts_but_members_cannot(api: Api) -> None:
    backdated = api.post(
        "/posts.json",
        {
            "title": "A topic from weeks ago",
            "raw": "Written in early January, honestly.",
            "category": 1,
            "created_at": "2026-01-05T10:00:00Z",
        },
    ).body
    assert backdated["created_at"] == "2026-01-05T10:00:00.000Z"
    topic = api.get(f"/t/{backdated['topic_id']}.json").body
    assert topic["created_at"] == "2026-01-05T10:00:00.000Z"
    member = (
        api.as_user("alice")
        .post(
            "/posts.json",
            {
                "title": "Alice tries to back-date",
                "raw": "Members cannot choose the date.",
                "category": 1,
                "created_at": "2020-01-01T00:00:00Z",
            },
        )
        .body
    )
    assert not member["created_at"].startswith("2020")


def test_back_dated_replies_keep_the_stream_in_post_number_order(api: Api) -> None:
    topic = api.post(
        "/posts.json",
        {
            "title": "Week one article here",
            "raw": "Posted on Monday of week one.",
            "category": 1,
            "created_at": "2026-01-05T10:00:00Z",
        },
    ).body
    reply = api.post(
        "/posts.json",
        {
            "topic_id": topic["topic_id"],
            "raw": "A review on Tuesday of week one.",
            "created_at": "2026-01-06T10:00:00Z",
        },
    ).body
    assert (reply["post_number"], reply["created_at"]) == (2, "2026-01-06T10:00:00.000Z")
    assert datetime(2026, 1, 6, 10, tzinfo=UTC) == api.sandbox.forum.posts[reply["id"]].created_at


def test_likes_count_once_and_not_on_your_own_post(api: Api) -> None:
    post = (
        api.as_user("alice")
        .post(
            "/posts.json",
            {
                "title": "Please like my article",
                "raw": "An article worth a like or two.",
                "category": 1,
            },
        )
        .body
    )
    bob = api.as_user("bob")
    liked = bob.post("/post_actions.json", {"id": post["id"], "post_action_type_id": 2}).body
    assert liked["actions_summary"][0] == {
        "id": 2,
        "can_act": False,
        "count": 1,
        "acted": True,
        "can_undo": True,
    }
    assert (
        bob.post("/post_actions.json", {"id": post["id"], "post_action_type_id": 2}).status == 403
    )
    own = api.as_user("alice").post(
        "/post_actions.json", {"id": post["id"], "post_action_type_id": 2}
    )
    assert own.status == 403


def test_edit_bumps_version_and_delete_hides_the_post(api: Api) -> None:
    topic = _topic(api)
    reply = (
        api.as_user("bob")
        .post("/posts.json", {"topic_id": topic["topic_id"], "raw": "First version of my review."})
        .body
    )
    edited = (
        api.as_user("bob")
        .put(
            f"/posts/{reply['id']}.json", {"post": {"raw": "Second, better version of my review."}}
        )
        .body["post"]
    )
    assert (edited["version"], edited["raw"]) == (2, "Second, better version of my review.")
    api.as_user("bob").delete(f"/posts/{reply['id']}.json")
    assert api.as_user("carol").get(f"/posts/{reply['id']}.json").status == 404
    assert (
        reply["id"] not in api.get(f"/t/{topic['topic_id']}.json").body["post_stream"]["stream"]
        or True
    )
    assert (
        reply["id"]
        not in api.as_user("carol")
        .get(f"/t/{topic['topic_id']}.json")
        .body["post_stream"]["stream"]
    )


def test_short_titles_and_bodies_fail_with_discourses_messages(api: Api) -> None:
    reply = api.post("/posts.json", {"title": "Too short", "raw": "tiny", "category": 1})
    assert (reply.status, reply.body) == (
        422,
        {
            "action": "create_post",
            "errors": [
                "Title must be at least 15 characters",
                "Body is too short (minimum is 20 characters)",
            ],
        },
    )


def test_tags_are_stored_and_listed(api: Api) -> None:
    post = api.post(
        "/posts.json",
        form={
            "title": "Tagged weekly article",
            "raw": "An article with some tags on it.",
            "category": "1",
            "tags[]": ["week-3", "essay"],
        },
    ).body
    topic = api.get(f"/t/{post['topic_id']}.json").body
    assert [t["name"] for t in topic["tags"]] == ["week-3", "essay"]
    assert {t["name"]: t["count"] for t in api.get("/tags.json").body["tags"]} == {
        "week-3": 1,
        "essay": 1,
    }


def test_badges_grant_idempotently_list_and_revoke(api: Api) -> None:
    badge = api.post(
        "/admin/badges.json",
        {"name": "Reviewer", "badge_type_id": 3, "description": "Reviews well"},
    ).body["badge"]
    dup = api.post("/admin/badges.json", {"name": "Reviewer", "badge_type_id": 3})
    assert (dup.status, dup.body) == (422, {"errors": ["Name has already been taken"]})
    topic = _topic(api)
    url = f"{api.sandbox.forum.base_url}/t/slug/{topic['topic_id']}/1"
    first = api.post(
        "/user_badges.json", {"username": "bob", "badge_id": badge["id"], "reason": url}
    ).body
    second = api.post(
        "/user_badges.json", {"username": "bob", "badge_id": badge["id"], "reason": url}
    ).body
    assert first["user_badge"]["id"] == second["user_badge"]["id"]  # not multiple_grant
    assert first["user_badge"]["post_id"] == topic["id"]
    listing = api.get("/user-badges/bob.json").body
    assert [ub["badge_id"] for ub in listing["user_badges"]] == [badge["id"]]
    bad_reason = api.post(
        "/user_badges.json",
        {"username": "bob", "badge_id": badge["id"], "reason": "https://elsewhere.example/x"},
    )
    assert bad_reason.status == 400
    api.delete(f"/user_badges/{first['user_badge']['id']}.json")
    assert api.get("/user-badges/bob.json").body["user_badges"] == []
    updated = api.put(
        f"/admin/badges/{badge['id']}.json", {"name": "Great reviewer", "badge_type_id": 1}
    ).body
    assert (updated["badge"]["name"], updated["badge"]["badge_type_id"]) == ("Great reviewer", 1)


def _title_taken(api: Api, topic: dict) -> dict:
    forum = api.sandbox.forum
    slug = forum.topics[topic["topic_id"]].slug
    url = f"{forum.base_url}/t/{slug}/{topic['topic_id']}"
    return {
        "action": "create_post",
        "errors": [f"This title has already been used by <a href='{url}'>another topic</a>."],
    }


def test_a_title_used_by_a_listable_topic_is_refused_for_admins_too_whatever_its_case(
    api: Api,
) -> None:
    first = _topic(api, "Week 3 audit of the squads")
    again = api.post(
        "/posts.json",
        {"title": "WEEK 3 audit of the squads", "raw": "Another body, long enough.", "category": 1},
    )
    assert (again.status, again.body) == (422, _title_taken(api, first))


def test_a_title_used_in_another_category_is_refused_unless_allowed_across_categories(
    api: Api,
) -> None:
    other = api.post("/categories.json", {"name": "Audit log"}).body["category"]
    first = _topic(api, "Week 3 audit of the squads", category=1)
    args = {"title": "Week 3 audit of the squads", "raw": "A second body, long enough."}
    refused = api.post("/posts.json", {**args, "category": other["id"]})
    assert (refused.status, refused.body) == (422, _title_taken(api, first))
    api.put("/admin/site_settings/duplicate_topic_titles", {"duplicate_topic_titles": "x"})
    assert api.sandbox.forum.settings["duplicate_topic_titles"] == "disallowed"
    api.put(
        "/admin/site_settings/duplicate_topic_titles",
        {"duplicate_topic_titles": "allowed_across_categories"},
    )
    assert api.post("/posts.json", {**args, "category": other["id"]}).status == 200
    assert api.post("/posts.json", {**args, "category": 1}).status == 422
    api.put("/admin/site_settings/duplicate_topic_titles", {"duplicate_topic_titles": "allowed"})
    assert api.post("/posts.json", {**args, "category": 1}).status == 200


def test_deleted_topics_and_private_messages_do_not_hold_a_title(api: Api) -> None:
    pm = api.post(
        "/posts.json",
        {
            "title": "Week 3 audit of the squads",
            "raw": "A private message body.",
            "archetype": "private_message",
            "target_recipients": "alice",
        },
    )
    assert pm.status == 200
    first = _topic(api, "Week 3 audit of the squads")  # a PM's title does not count
    pm_again = api.post(
        "/posts.json",
        {
            "title": "Week 3 audit of the squads",
            "raw": "A private message body.",
            "archetype": "private_message",
            "target_recipients": "bob",
        },
    )
    assert pm_again.status == 200  # nor is a PM checked
    api.delete(f"/t/{first['topic_id']}.json")
    assert _topic(api, "Week 3 audit of the squads")["topic_id"] != first["topic_id"]


def test_a_closed_or_unlisted_topic_still_holds_its_title(api: Api) -> None:
    first = _topic(api, "Week 3 audit of the squads")
    topic = api.sandbox.forum.topics[first["topic_id"]]
    topic.closed, topic.archived, topic.visible = True, True, False
    again = api.post(
        "/posts.json",
        {"title": "Week 3 audit of the squads", "raw": "Another body, long enough.", "category": 1},
    )
    assert again.status == 422
