"""ForumClient endpoints: paths and bodies, pagination, and "already done" answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from worker.forum.client import ForumClient
from worker.forum.errors import ForumRejected, NotFound

BASE = "https://forum.example"
KEY = "endpoint-test-key-0001"


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def client() -> ForumClient:
    return ForumClient(BASE, KEY)


def at(url: str) -> dict:
    """A URL whose query string must match exactly."""
    path, _, query = url.partition("?")
    return {"url": path, "match": [responses.matchers.query_string_matcher(query)]}


def body_of(call) -> dict:
    return json.loads(call.request.body) if call.request.body else {}


def query_of(call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


# ---------------------------------------------------------------- paths and bodies


def test_approve_is_a_put_not_pydiscourse_get(rsps, client) -> None:
    rsps.add("PUT", f"{BASE}/admin/users/5/approve.json", body=b"")
    client.approve_user(5)
    assert rsps.calls[0].request.method == "PUT"


def test_silence_and_suspend_send_exact_times_in_utc(rsps, client) -> None:
    shanghai = timezone(timedelta(hours=8))
    until = datetime(2030, 3, 1, 8, 0, tzinfo=shanghai)
    rsps.add("PUT", f"{BASE}/admin/users/5/silence.json", json={"silence": {"silenced": True}})
    rsps.add("PUT", f"{BASE}/admin/users/5/suspend.json", json={"suspension": {}})
    client.silence_user(5, until, "missed two articles", message="see you in a week")
    client.suspend_user(5, until, "third strike")
    assert body_of(rsps.calls[0]) == {
        "silenced_till": "2030-03-01T00:00:00Z",
        "reason": "missed two articles",
        "message": "see you in a week",
    }
    assert body_of(rsps.calls[1]) == {
        "suspend_until": "2030-03-01T00:00:00Z",
        "reason": "third strike",
    }


def test_create_user_sends_user_fields_by_id(rsps, client) -> None:
    rsps.add("POST", f"{BASE}/users.json", json={"success": True, "active": True, "user_id": 9})
    result = client.create_user(
        "Ann", "ann", "ann@example.org", "pw-long-enough", user_fields={3: "Rust", 4: "bob"}
    )
    assert result["user_id"] == 9
    assert body_of(rsps.calls[0])["user_fields"] == {"3": "Rust", "4": "bob"}


def test_refused_signup_with_200_success_false_is_rejected(rsps, client) -> None:
    rsps.add("POST", f"{BASE}/users.json", json={"success": False, "message": "Email is taken"})
    with pytest.raises(ForumRejected, match="Email is taken"):
        client.create_user("Ann", "ann", "ann@example.org", "pw-long-enough")


def test_set_user_field_puts_on_the_profile(rsps, client) -> None:
    rsps.add("PUT", f"{BASE}/u/ann.json", json={"success": "OK", "user": {}})
    client.set_user_field("ann", 3, "Go")
    assert body_of(rsps.calls[0]) == {"user_fields": {"3": "Go"}}


def test_category_with_group_permissions_and_moderators(rsps, client) -> None:
    rsps.add("POST", f"{BASE}/categories.json", json={"category": {"id": 12}})
    category = client.create_category(
        "第 1 营",
        slug="camp-1",
        permissions={"camp_1": 1, "staff": 1},
        moderating_group_ids=[41],
        parent_category_id=3,
    )
    assert category == {"id": 12}
    assert body_of(rsps.calls[0]) == {
        "name": "第 1 营",
        "slug": "camp-1",
        "color": "0088CC",
        "text_color": "FFFFFF",
        "parent_category_id": 3,
        "permissions": {"camp_1": 1, "staff": 1},
        "moderating_group_ids": [41],
    }


def test_topic_post_reply_and_private_message_bodies(rsps, client) -> None:
    for _ in range(3):
        rsps.add("POST", f"{BASE}/posts.json", json={"id": 1, "topic_id": 2})
    at = datetime(2030, 1, 6, 12, 0, tzinfo=UTC)
    client.create_topic("Week 1: ownership", "body " * 20, 7, created_at=at, tags=["w1"])
    client.create_post(2, "a review", reply_to_post_number=1)
    client.send_private_message(["ann", "bob"], "Reminder", "Your article is due")
    assert body_of(rsps.calls[0]) == {
        "title": "Week 1: ownership",
        "raw": "body " * 20,
        "category": 7,
        "created_at": "2030-01-06T12:00:00Z",
        "tags": ["w1"],
    }
    assert body_of(rsps.calls[1]) == {"topic_id": 2, "raw": "a review", "reply_to_post_number": 1}
    assert body_of(rsps.calls[2]) == {
        "title": "Reminder",
        "raw": "Your article is due",
        "archetype": "private_message",
        "target_recipients": "ann,bob",
    }


def test_group_owners_add_and_remove(rsps, client) -> None:
    rsps.add("PUT", f"{BASE}/groups/4/owners.json", json={"success": "OK", "usernames": ["ann"]})
    rsps.add("DELETE", **at(f"{BASE}/admin/groups/4/owners.json?user_id=9"), json={"success": "OK"})
    client.add_group_owners(4, ["ann"])
    client.remove_group_owner(4, 9)
    assert body_of(rsps.calls[0]) == {"usernames": "ann"}
    assert query_of(rsps.calls[1]) == {"user_id": ["9"]}


def test_badges_grant_and_revoke(rsps, client) -> None:
    rsps.add("POST", f"{BASE}/admin/badges.json", json={"badge": {"id": 101}})
    rsps.add("POST", f"{BASE}/user_badges.json", json={"user_badge": {"id": 7}})
    rsps.add("DELETE", f"{BASE}/user_badges/7.json", json={"success": "OK"})
    assert client.create_badge("Mentor", 3, "gives more than takes")["id"] == 101
    url = f"{BASE}/t/week-1/12/4"
    client.grant_badge("ann", 101, url)
    client.revoke_user_badge(7)
    assert body_of(rsps.calls[1]) == {"username": "ann", "badge_id": 101, "reason": url}


def test_user_badges_keep_grant_ids_for_revoking(rsps, client) -> None:
    answer = {"badges": [{"id": 101}], "user_badges": [{"id": 7, "badge_id": 101}]}
    rsps.add("GET", f"{BASE}/user-badges/ann.json", json=answer)
    assert client.user_badges("ann") == answer


def test_site_settings_read_as_a_dict_and_written_by_name(rsps, client) -> None:
    rsps.add(
        "GET",
        f"{BASE}/admin/site_settings.json",
        json={
            "site_settings": [
                {"setting": "title", "value": "Diamond"},
                {"setting": "must_approve_users", "value": True},
            ]
        },
    )
    rsps.add("PUT", f"{BASE}/admin/site_settings/must_approve_users.json", body=b"")
    assert client.get_site_settings() == {"title": "Diamond", "must_approve_users": True}
    client.set_site_setting("must_approve_users", True)
    assert body_of(rsps.calls[1]) == {"must_approve_users": "true"}


def test_webhook_create_and_event_types(rsps, client) -> None:
    grouped = {"post": [{"id": 2, "name": "post_created"}]}
    rsps.add(
        "GET",
        f"{BASE}/admin/api/web_hooks.json",
        json={"web_hooks": [], "extras": {"grouped_event_types": grouped}},
    )
    rsps.add("POST", f"{BASE}/admin/api/web_hooks.json", json={"web_hook": {"id": 3}})
    assert client.webhook_event_types() == grouped
    assert client.create_webhook("https://diamond.example/hook", "s3cret-hook", [2]) == {"id": 3}
    hook = body_of(rsps.calls[1])["web_hook"]
    assert hook["payload_url"] == "https://diamond.example/hook"
    assert hook["web_hook_event_type_ids"] == [2]
    assert hook["content_type"] == 1


def test_badge_flags_go_as_strings_because_discourse_skips_a_json_false(rsps, client) -> None:
    # Admin::BadgesController#update_badge_from_params sets a key only ``if params[key]``.
    rsps.add("POST", f"{BASE}/admin/badges.json", json={"badge": {"id": 5}})
    rsps.add("PUT", f"{BASE}/admin/badges/5.json", json={"badge": {"id": 5}})
    client.create_badge("Helper", 3, "helps", allow_title=False, listable=True)
    client.update_badge(5, name="Helper", badge_type_id=3, enabled=False, multiple_grant=True)
    assert body_of(rsps.calls[0]) == {
        "name": "Helper",
        "badge_type_id": 3,
        "description": "helps",
        "allow_title": "false",
        "listable": "true",
    }
    assert body_of(rsps.calls[1]) == {
        "name": "Helper",
        "badge_type_id": 3,
        "enabled": "false",
        "multiple_grant": "true",
    }


def test_user_fields_create_and_update_are_wrapped_on_the_config_path(rsps, client) -> None:
    created = {"success": "OK", "user_field": {"id": 5}}
    rsps.add("POST", f"{BASE}/admin/config/user_fields.json", json=created)
    rsps.add("PUT", f"{BASE}/admin/config/user_fields/5.json", json={"user_field": {"id": 5}})
    rsps.add("DELETE", f"{BASE}/admin/config/user_fields/5.json", json={"success": "OK"})
    assert client.create_user_field(name="Track", field_type="text", editable=True) == {"id": 5}
    client.update_user_field(5, requirement="for_all_users")
    client.delete_user_field(5)
    assert body_of(rsps.calls[0]) == {
        "user_field": {"name": "Track", "field_type": "text", "editable": True}
    }
    assert body_of(rsps.calls[1]) == {"user_field": {"requirement": "for_all_users"}}
    assert len(rsps.calls) == 3


def test_an_older_forum_gets_user_fields_on_the_customize_path_probed_once(rsps, client) -> None:
    # Discourse before the /admin/config move: the new path is not routed (404).
    missing = {"errors": ["The requested URL or resource could not be found."]}
    rsps.add("GET", f"{BASE}/admin/config/user_fields.json", status=404, json=missing)
    old = f"{BASE}/admin/customize/user_fields.json"
    rsps.add("GET", old, json={"user_fields": [{"id": 1, "name": "Why"}]})
    rsps.add("POST", old, json={"success": "OK", "user_field": {"id": 2}})
    rsps.add("PUT", f"{BASE}/admin/customize/user_fields/2.json", json={"user_field": {"id": 2}})
    assert client.list_user_fields() == [{"id": 1, "name": "Why"}]
    assert client.create_user_field(name="Track", field_type="text") == {"id": 2}
    client.update_user_field(2, editable=False)
    assert [(c.request.method, urlsplit(c.request.url).path) for c in rsps.calls] == [
        ("GET", "/admin/config/user_fields.json"),
        ("GET", "/admin/customize/user_fields.json"),
        ("POST", "/admin/customize/user_fields.json"),
        ("PUT", "/admin/customize/user_fields/2.json"),
    ]


def test_user_fields_missing_on_both_paths_is_not_found(rsps, client) -> None:
    missing = {"errors": ["The requested URL or resource could not be found."]}
    rsps.add("GET", f"{BASE}/admin/config/user_fields.json", status=404, json=missing)
    rsps.add("GET", f"{BASE}/admin/customize/user_fields.json", status=404, json=missing)
    with pytest.raises(NotFound):
        client.list_user_fields()


# ---------------------------------------------------------------- pagination


def test_iter_admin_users_pages_until_an_empty_page(rsps, client) -> None:
    for page, users in enumerate([[{"id": 1}, {"id": 2}], [{"id": 3}], []], start=1):
        rsps.add(
            "GET",
            **at(f"{BASE}/admin/users/list/pending.json?page={page}"),
            json=users,
        )
    assert [u["id"] for u in client.iter_admin_users("pending")] == [1, 2, 3]


def test_listing_users_asks_for_emails_only_when_told(rsps, client) -> None:
    # Each show_emails=true listing writes a staff-action-log entry on the forum.
    rsps.add("GET", **at(f"{BASE}/admin/users/list/pending.json?page=1"), json=[])
    list(client.iter_admin_users("pending"))
    rsps.add(
        "GET",
        **at(f"{BASE}/admin/users/list/active.json?page=1&show_emails=true&filter=newbie"),
        json=[],
    )
    list(client.iter_admin_users("active", show_emails=True, filter="newbie"))
    assert len(rsps.calls) == 2


def test_iterator_stops_when_the_forum_ignores_the_page_parameter(rsps, client) -> None:
    rsps.add("GET", f"{BASE}/admin/users/list/active.json", json=[{"id": 1}, {"id": 2}])
    assert [u["id"] for u in client.iter_admin_users("active")] == [1, 2]
    assert len(rsps.calls) == 2


def test_iter_group_members_follows_offsets_and_marks_owners(rsps, client) -> None:
    def page(ids, offset):
        return {
            "members": [{"id": i, "username": f"u{i}"} for i in ids],
            "owners": [{"id": 1, "username": "u1"}],
            "meta": {"total": 3, "limit": 2, "offset": offset},
        }

    rsps.add("GET", **at(f"{BASE}/groups/camp/members.json?limit=2&offset=0"), json=page([1, 2], 0))
    rsps.add("GET", **at(f"{BASE}/groups/camp/members.json?limit=2&offset=2"), json=page([3], 2))
    members = list(client.iter_group_members("camp", limit=2))
    assert [(m["id"], m["owner"]) for m in members] == [(1, True), (2, False), (3, False)]


def test_iter_reviewables_follows_load_more(rsps, client) -> None:
    first = {
        "reviewables": [{"id": 1}, {"id": 2}],
        "meta": {"load_more_reviewables": "/review.json?offset=2"},
    }
    second = {"reviewables": [{"id": 3}], "meta": {"total_rows_reviewables": 3}}
    base = f"{BASE}/review.json?type=ReviewableUser&status=pending"
    rsps.add("GET", f"{base}&offset=0", json=first)
    rsps.add("GET", f"{base}&offset=2", json=second)
    assert [r["id"] for r in client.iter_reviewables()] == [1, 2, 3]


def test_iter_topic_posts_fetches_the_stream_in_chunks_of_20(rsps, client) -> None:
    ids = list(range(100, 145))  # 45 posts; the topic view carries the first 20
    rsps.add(
        "GET",
        f"{BASE}/t/9.json",
        json={"id": 9, "post_stream": {"posts": [{"id": i} for i in ids[:20]], "stream": ids}},
    )

    def posts_callback(request):
        wanted = [int(v) for v in parse_qs(urlsplit(request.url).query)["post_ids[]"]]
        return 200, {}, json.dumps({"post_stream": {"posts": [{"id": i} for i in wanted]}})

    rsps.add_callback("GET", f"{BASE}/t/9/posts.json", callback=posts_callback)
    assert [p["id"] for p in client.iter_topic_posts(9)] == ids
    chunk_sizes = [len(query_of(c)["post_ids[]"]) for c in rsps.calls[1:]]
    assert chunk_sizes == [20, 5]


def test_iter_posts_since_pages_back_and_yields_oldest_first(rsps, client) -> None:
    pages = {
        None: [{"id": i} for i in range(210, 160, -1)],  # 210..161
        161: [{"id": i} for i in range(160, 110, -1)],  # 160..111
    }
    rsps.add(
        "GET",
        f"{BASE}/posts.json",
        json={"latest_posts": pages[None]},
        match=[responses.matchers.query_param_matcher({})],
    )
    rsps.add(
        "GET",
        f"{BASE}/posts.json",
        json={"latest_posts": pages[161]},
        match=[responses.matchers.query_param_matcher({"before": "161"})],
    )
    ids = [p["id"] for p in client.iter_posts_since(150)]
    assert ids == list(range(151, 211))


def test_iter_posts_since_stops_on_an_empty_page(rsps, client) -> None:
    rsps.add(
        "GET",
        f"{BASE}/posts.json",
        json={"latest_posts": [{"id": 3}, {"id": 2}]},
        match=[responses.matchers.query_param_matcher({})],
    )
    rsps.add(
        "GET",
        f"{BASE}/posts.json",
        json={"latest_posts": []},
        match=[responses.matchers.query_param_matcher({"before": "2"})],
    )
    assert [p["id"] for p in client.iter_posts_since(0)] == [2, 3]


def test_list_groups_pages_until_total(rsps, client) -> None:
    rsps.add(
        "GET",
        **at(f"{BASE}/groups.json?page=0"),
        json={"groups": [{"id": 1}, {"id": 2}], "total_rows_groups": 3},
    )
    rsps.add(
        "GET",
        **at(f"{BASE}/groups.json?page=1"),
        json={"groups": [{"id": 3}], "total_rows_groups": 3},
    )
    assert [g["id"] for g in client.list_groups()] == [1, 2, 3]


CATEGORIES = {
    "category_list": {
        "categories": [
            {
                "id": 3,
                "slug": "camp",
                "subcategory_list": [{"id": 7, "slug": "squad-1", "parent_category_id": 3}],
            },
            {"id": 9, "slug": "", "name": "请假"},
        ]
    }
}


def test_iter_category_topics_asks_for_the_full_slug_path_and_pages(rsps, client) -> None:
    # ListController#set_category answers /c/{id}.json (or a partial slug path) with a 301.
    rsps.add("GET", **at(f"{BASE}/categories.json?include_subcategories=true"), json=CATEGORIES)
    rsps.add(
        "GET",
        **at(f"{BASE}/c/camp/squad-1/7.json?page=0"),
        json={
            "topic_list": {
                "topics": [{"id": 1}],
                "more_topics_url": "/c/camp/squad-1/7/l/latest?page=1",
            }
        },
    )
    rsps.add(
        "GET",
        **at(f"{BASE}/c/camp/squad-1/7.json?page=1"),
        json={"topic_list": {"topics": [{"id": 2}]}},
    )
    rsps.add("GET", **at(f"{BASE}/c/camp/3.json?page=0"), json={"topic_list": {"topics": []}})
    rsps.add("GET", **at(f"{BASE}/c/9-category/9.json?page=0"), json={"topic_list": {}})
    assert [t["id"] for t in client.iter_category_topics(7)] == [1, 2]
    assert list(client.iter_category_topics(3)) == []  # the slugs are read once per client
    assert list(client.iter_category_topics(9)) == []  # no slug: Category#slug_for_url


def test_iter_category_topics_rereads_the_slugs_once_after_a_301(rsps, client) -> None:
    renamed = {"category_list": {"categories": [{"id": 3, "slug": "camp-2026"}]}}
    rsps.add("GET", **at(f"{BASE}/categories.json?include_subcategories=true"), json=CATEGORIES)
    moved = {"Location": f"{BASE}/c/camp-2026/3.json?page=0"}
    rsps.add("GET", **at(f"{BASE}/c/camp/3.json?page=0"), status=301, headers=moved, body=b"")
    rsps.add("GET", **at(f"{BASE}/categories.json?include_subcategories=true"), json=renamed)
    rsps.add("GET", **at(f"{BASE}/c/camp-2026/3.json?page=0"), json={"topic_list": {}})
    assert list(client.iter_category_topics(3)) == []


def test_iter_category_topics_of_an_unknown_category_is_not_found(rsps, client) -> None:
    rsps.add("GET", **at(f"{BASE}/categories.json?include_subcategories=true"), json=CATEGORIES)
    with pytest.raises(NotFound):
        list(client.iter_category_topics(42))


def test_iter_category_topics_with_a_known_slug_path_lists_at_once(rsps, client) -> None:
    rsps.add("GET", **at(f"{BASE}/c/camp/squad-1/7.json?page=0"), json={"topic_list": {}})
    assert list(client.iter_category_topics(7, slug_path="camp/squad-1")) == []


def test_list_webhooks_pages_by_offset(rsps, client) -> None:
    rsps.add(
        "GET",
        **at(f"{BASE}/admin/api/web_hooks.json?"),
        json={"web_hooks": [{"id": 1}], "total_rows_web_hooks": 2},
    )
    rsps.add(
        "GET",
        **at(f"{BASE}/admin/api/web_hooks.json?offset=1"),
        json={"web_hooks": [{"id": 2}], "total_rows_web_hooks": 2},
    )
    assert [h["id"] for h in client.list_webhooks()] == [1, 2]


def test_list_categories_flattens_subcategories(rsps, client) -> None:
    rsps.add(
        "GET",
        **at(f"{BASE}/categories.json?include_subcategories=true"),
        json={
            "category_list": {
                "categories": [
                    {"id": 1, "subcategory_list": [{"id": 2, "parent_category_id": 1}]},
                    {"id": 3},
                ]
            }
        },
    )
    assert [c["id"] for c in client.list_categories()] == [1, 2, 3]


# ---------------------------------------------------------------- group member chunks


def test_add_group_members_sends_at_most_1000_names_a_call(rsps, client) -> None:
    def ok(request):
        names = json.loads(request.body)["usernames"].split(",")
        return 200, {}, json.dumps({"success": "OK", "usernames": names})

    rsps.add_callback("PUT", f"{BASE}/groups/4/members.json", callback=ok)
    names = [f"user{i:04d}" for i in range(2500)]
    result = client.add_group_members(4, names)
    sizes = [len(body_of(c)["usernames"].split(",")) for c in rsps.calls]
    assert sizes == [1000, 1000, 500]
    assert sorted(result["added"]) == sorted(names)


# ---------------------------------------------------------------- already done is success


MEMBERS = f"{BASE}/groups/squad-1/members.json"


def _members(*names: str) -> dict:
    people = [{"id": i, "username": n} for i, n in enumerate(names, 1)]
    return {"members": people, "owners": [], "meta": {"total": len(people)}}


@pytest.mark.parametrize(
    "refusal",
    [
        "The following users are already members of this group: ann, bob",
        "以下用户已经是该群组的成员：ann, bob",  # member_already_exist is a localised text
        "Folgende Benutzer sind bereits Mitglieder dieser Gruppe: ann, bob",
    ],
)
def test_add_members_all_already_in_group_is_decided_from_the_members(
    rsps, client, refusal
) -> None:
    # GroupsController#add_members: 422 with no error_type when every one is a member.
    rsps.add("PUT", f"{BASE}/groups/4/members.json", status=422, json={"errors": [refusal]})
    rsps.add("GET", MEMBERS, json=_members("ann", "bob", "cy"))
    result = client.add_group_members(4, ["bob", "ann"], group_name="squad-1")
    assert result["added"] == [] and sorted(result["already"]) == ["ann", "bob"]
    assert client.call_counts["GET /groups/{name}/members.json"] == 1  # the extra read


def test_add_members_partial_refusal_from_old_discourse_resends_the_rest(rsps, client) -> None:
    rsps.add(
        "PUT",
        f"{BASE}/groups/4/members.json",
        status=422,
        json={"errors": ["'ann' ist bereits Mitglied dieser Gruppe."]},
    )
    rsps.add("GET", MEMBERS, json=_members("ann"))
    rsps.add("PUT", f"{BASE}/groups/4/members.json", json={"success": "OK", "usernames": ["bob"]})
    result = client.add_group_members(4, ["ann", "bob"], group_name="squad-1")
    assert body_of(rsps.calls[2]) == {"usernames": "bob"}
    assert result == {"success": "OK", "added": ["bob"], "already": ["ann"], "unknown": []}


def test_add_members_looks_the_group_name_up_when_not_given(rsps, client) -> None:
    rsps.add("PUT", f"{BASE}/groups/4/members.json", status=422, json={"errors": ["x"]})
    rsps.add("GET", f"{BASE}/groups/by-id/4.json", json={"group": {"id": 4, "name": "squad-1"}})
    rsps.add("GET", MEMBERS, json=_members("ann"))
    assert client.add_group_members(4, ["ann"])["already"] == ["ann"]


def test_add_members_422_when_none_is_a_member_is_still_rejected(rsps, client) -> None:
    rsps.add(
        "PUT",
        f"{BASE}/groups/4/members.json",
        status=422,
        json={"errors": ["You can't add more than 1000 users at once"]},
    )
    rsps.add("GET", MEMBERS, json=_members("cy"))
    with pytest.raises(ForumRejected):
        client.add_group_members(4, ["ann"], group_name="squad-1")


def test_add_members_skips_names_without_an_account(rsps, client, caplog) -> None:
    # users_from_params: unknown names are dropped; none known is a 400 invalid_parameters.
    rsps.add(
        "PUT",
        f"{BASE}/groups/4/members.json",
        json={"success": "OK", "usernames": ["Ann"], "emails": []},
    )
    with caplog.at_level("WARNING"):
        result = client.add_group_members(4, ["ann", "gone"], group_name="squad-1")
    assert result == {"success": "OK", "added": ["ann"], "already": [], "unknown": ["gone"]}
    assert "gone" in caplog.text


def test_add_members_of_only_deleted_accounts_is_not_an_error(rsps, client) -> None:
    invalid = {
        "errors": ["You supplied invalid parameters to the request: usernames"],
        "error_type": "invalid_parameters",
    }
    rsps.add("PUT", f"{BASE}/groups/4/members.json", status=400, json=invalid)
    result = client.add_group_members(4, ["gone"], group_name="squad-1")
    assert result["unknown"] == ["gone"] and result["added"] == []


def test_add_members_a_member_and_a_deleted_account(rsps, client) -> None:
    # Discourse finds only ann, a member: 422; then gone alone: 400. Neither is an error.
    invalid = {"errors": ["invalid: usernames"], "error_type": "invalid_parameters"}
    rsps.add("PUT", f"{BASE}/groups/4/members.json", status=422, json={"errors": ["ann …"]})
    rsps.add("GET", MEMBERS, json=_members("ann"))
    rsps.add("PUT", f"{BASE}/groups/4/members.json", status=400, json=invalid)
    result = client.add_group_members(4, ["ann", "gone"], group_name="squad-1")
    assert result == {"success": "OK", "added": [], "already": ["ann"], "unknown": ["gone"]}


def test_remove_members_of_only_deleted_accounts_is_not_an_error(rsps, client) -> None:
    invalid = {"errors": ["invalid: usernames"], "error_type": "invalid_parameters"}
    rsps.add("DELETE", f"{BASE}/groups/4/members.json", status=400, json=invalid)
    result = client.remove_group_members(4, ["gone"])
    assert result == {"success": "OK", "usernames": [], "skipped_usernames": ["gone"]}


def test_approving_an_approved_user_is_done(rsps, client) -> None:
    rsps.add(
        "PUT",
        f"{BASE}/admin/users/5/approve.json",
        status=403,
        json={
            "errors": ["You are not permitted to view the requested resource."],
            "error_type": "invalid_access",
        },
    )
    rsps.add("GET", f"{BASE}/admin/users/5.json", json={"id": 5, "approved": True})
    assert client.approve_user(5)["already_done"] is True


def test_approve_when_the_forum_does_not_require_approval_is_done(rsps, client) -> None:
    # Discourse leaves `approved` out of the admin view when must_approve_users is off
    rsps.add(
        "PUT",
        f"{BASE}/admin/users/5/approve.json",
        status=403,
        json={"errors": ["You are not permitted"]},
    )
    rsps.add("GET", f"{BASE}/admin/users/5.json", json={"id": 5, "active": True})
    assert client.approve_user(5)["already_done"] is True


def test_approve_refused_for_an_inactive_user_is_still_rejected(rsps, client) -> None:
    rsps.add(
        "PUT",
        f"{BASE}/admin/users/5/approve.json",
        status=403,
        json={"errors": ["You are not permitted"]},
    )
    rsps.add("GET", f"{BASE}/admin/users/5.json", json={"id": 5, "active": False})
    with pytest.raises(ForumRejected):
        client.approve_user(5)


def test_approve_refused_for_an_unapproved_user_is_still_rejected(rsps, client) -> None:
    rsps.add(
        "PUT",
        f"{BASE}/admin/users/5/approve.json",
        status=403,
        json={"errors": ["You are not permitted"]},
    )
    rsps.add("GET", f"{BASE}/admin/users/5.json", json={"id": 5, "approved": False})
    with pytest.raises(ForumRejected):
        client.approve_user(5)


def test_deleting_a_user_who_is_gone_is_done(rsps, client) -> None:
    rsps.add(
        "DELETE",
        f"{BASE}/admin/users/5.json",
        status=403,
        json={"errors": ["You are not permitted"], "error_type": "invalid_access"},
    )
    rsps.add("GET", f"{BASE}/admin/users/5.json", status=404, json={"errors": ["not found"]})
    assert client.delete_user(5)["already_done"] is True


def test_delete_user_that_discourse_would_not_delete_is_rejected(rsps, client) -> None:
    rsps.add("DELETE", f"{BASE}/admin/users/5.json", json={"deleted": False, "user": {"id": 5}})
    with pytest.raises(ForumRejected, match="did not delete"):
        client.delete_user(5)


@pytest.mark.parametrize("action", ["silence", "suspend"])
def test_silencing_or_suspending_twice_is_done(rsps, client, action) -> None:
    rsps.add(
        "PUT",
        f"{BASE}/admin/users/5/{action}.json",
        status=409,
        json={"failed": "FAILED", "message": f"ann is already {action}ed"},
    )
    until = datetime(2030, 1, 1, tzinfo=UTC)
    method = client.silence_user if action == "silence" else client.suspend_user
    assert method(5, until, "strike")["already_done"] is True


def test_liking_a_liked_post_is_done(rsps, client) -> None:
    rsps.add(
        "POST",
        f"{BASE}/post_actions.json",
        status=403,
        json={"errors": ["You've already performed this action."]},
    )
    assert client.like_post(10)["already_done"] is True


def test_like_forbidden_for_another_reason_is_rejected(rsps, client) -> None:
    rsps.add(
        "POST",
        f"{BASE}/post_actions.json",
        status=403,
        json={"errors": ["You are not permitted to view the requested resource."]},
    )
    with pytest.raises(ForumRejected):
        client.like_post(10)


@pytest.mark.parametrize(
    "method,args",
    [
        ("delete_group", (4,)),
        ("delete_category", (4,)),
        ("delete_badge", (4,)),
        ("delete_post", (4,)),
        ("delete_webhook", (4,)),
        ("delete_user_field", (4,)),
        ("revoke_user_badge", (4,)),
    ],
)
def test_deleting_what_is_already_gone_is_done(rsps, client, method, args) -> None:
    rsps.add("DELETE", _delete_url(method), status=404, json={"errors": ["not found"]})
    if method == "delete_user_field":  # 404 on the current path: the older one is asked
        old = _delete_url(method).replace("/config/", "/customize/")
        rsps.add("DELETE", old, status=404, json={"errors": ["not found"]})
    assert getattr(client, method)(*args)["already_done"] is True


def _delete_url(method: str) -> str:
    return (
        BASE
        + {
            "delete_group": "/admin/groups/4.json",
            "delete_category": "/categories/4.json",
            "delete_badge": "/admin/badges/4.json",
            "delete_post": "/posts/4.json",
            "delete_webhook": "/admin/api/web_hooks/4.json",
            "delete_user_field": "/admin/config/user_fields/4.json",
            "revoke_user_badge": "/user_badges/4.json",
        }[method]
    )


def test_perform_with_stale_version_retries_once_with_the_current_one(rsps, client) -> None:
    url = f"{BASE}/review/8/perform/approve_user.json"
    rsps.add(
        "PUT",
        **at(f"{url}?version=1"),
        status=409,
        json={"errors": ["The reviewable was changed by someone else"]},
    )
    rsps.add("GET", f"{BASE}/review/8.json", json={"reviewable": {"status": 0, "version": 2}})
    rsps.add("PUT", **at(f"{url}?version=2"), json={"reviewable_perform_result": {"success": True}})
    assert client.perform_reviewable(8, "approve_user", 1) == {
        "reviewable_perform_result": {"success": True}
    }


def test_perform_on_a_reviewable_already_settled_our_way_is_done(rsps, client) -> None:
    rsps.add(
        "PUT",
        f"{BASE}/review/8/perform/approve_user.json",
        status=403,
        json={"errors": ["invalid action"]},
    )
    rsps.add("GET", f"{BASE}/review/8.json", json={"reviewable": {"status": "approved"}})
    assert client.perform_reviewable(8, "approve_user", 1)["already_done"] is True


def test_perform_on_a_reviewable_settled_the_other_way_is_rejected(rsps, client) -> None:
    rsps.add(
        "PUT",
        f"{BASE}/review/8/perform/approve_user.json",
        status=403,
        json={"errors": ["invalid action"]},
    )
    rsps.add("GET", f"{BASE}/review/8.json", json={"reviewable": {"status": "rejected"}})
    with pytest.raises(ForumRejected):
        client.perform_reviewable(8, "approve_user", 1)


def test_rejecting_a_reviewable_whose_user_is_gone_is_done(rsps, client) -> None:
    rsps.add(
        "PUT",
        f"{BASE}/review/8/perform/delete_user.json",
        status=404,
        json={"errors": ["not found"]},
    )
    rsps.add("GET", f"{BASE}/review/8.json", status=404, json={"errors": ["not found"]})
    assert client.perform_reviewable(8, "delete_user", 3)["already_done"] is True


def test_unknown_reviewable_action_is_refused(client) -> None:
    with pytest.raises(ValueError, match="action"):
        client.perform_reviewable(8, "ignore", 1)


def test_get_missing_reviewable_is_not_found(rsps, client) -> None:
    rsps.add("GET", f"{BASE}/review/8.json", status=404, json={"errors": ["not found"]})
    with pytest.raises(NotFound):
        client.get_reviewable(8)
