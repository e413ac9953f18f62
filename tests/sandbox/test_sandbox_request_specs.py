"""The sandbox answers what Discourse's own request specs assert, for the endpoints Diamond uses.

Each test names the spec example it mirrors (``spec/requests/...`` under
``/work/shared/discourse/source``, or the newest version in the index where the
local copy predates a route change). Assertions are the spec's: statuses, the
records that change, and the JSON keys the spec reads.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.request_specs import sign_up
from tests.support.sandbox_api import Api
from worker.sandbox.server import Sandbox

USER_FIELDS = "/admin/config/user_fields"


def _user(api: Api, username: str) -> dict[str, Any]:
    sign_up(api, username)
    return api.get(f"/u/{username}.json").body["user"]


def _field(api: Api, **attrs: Any) -> dict[str, Any]:
    body = {"name": "Why", "description": "Why join?", "field_type": "text", **attrs}
    answer = api.post(f"{USER_FIELDS}.json", {"user_field": body})
    assert answer.status == 200, answer.body
    return answer.body["user_field"]


# ── admin/user_fields_controller_spec.rb (routes: scope "/config") ─────────────


def test_user_fields_create_creates_a_user_field(sb, admin) -> None:
    answer = admin.post(
        f"{USER_FIELDS}.json",
        form={
            "user_field[name]": "hello",
            "user_field[description]": "hello desc",
            "user_field[field_type]": "text",
        },
    )
    assert answer.status == 200
    assert len(sb.forum.user_fields) == 1
    # json_result(field, serializer: UserFieldSerializer): success_json plus the field
    assert answer.body["success"] == "OK"
    assert answer.body["user_field"]["name"] == "hello"


def test_user_fields_create_with_options_creates_the_options(sb, admin) -> None:
    field = _field(admin, name="hello", field_type="dropdown", options=["a", "b", "c"])
    assert [o["value"] for o in field["options"]] == ["a", "b", "c"]
    assert sb.forum.user_fields[field["id"]].options == ["a", "b", "c"]


def test_user_fields_index_returns_a_list_of_user_fields(admin) -> None:
    _field(admin)
    answer = admin.get(f"{USER_FIELDS}.json")
    assert answer.status == 200
    assert answer.body["user_fields"]


def test_user_fields_destroy_deletes_the_user_field(sb, admin) -> None:
    field = _field(admin)
    assert admin.delete(f"{USER_FIELDS}/{field['id']}.json").status == 200
    assert sb.forum.user_fields == {}
    # ``field.destroy if field.present?`` then success_json: a second delete is a 200 too
    again = admin.delete(f"{USER_FIELDS}/{field['id']}.json")
    assert (again.status, again.body) == (200, {"success": "OK"})


def test_user_fields_update_updates_the_user_field(sb, admin) -> None:
    field = _field(admin)
    answer = admin.put(
        f"{USER_FIELDS}/{field['id']}.json",
        {"user_field": {"name": "fraggle", "field_type": "confirm", "description": "muppet"}},
    )
    assert answer.status == 200
    stored = sb.forum.user_fields[field["id"]]
    assert (stored.name, stored.field_type) == ("fraggle", "confirm")


def test_user_fields_update_dedupes_the_options(sb, admin) -> None:
    field = _field(admin)
    answer = admin.put(
        f"{USER_FIELDS}/{field['id']}.json",
        {
            "user_field": {
                "name": "fraggle",
                "field_type": "dropdown",
                "description": "muppet",
                "options": ["hello", "hello", "world"],
            }
        },
    )
    assert answer.status == 200
    assert sb.forum.user_fields[field["id"]].options == ["hello", "world"]


def test_user_fields_update_without_options_keeps_them(sb, admin) -> None:
    field = _field(admin, field_type="dropdown", options=["hello", "world"])
    path = f"{USER_FIELDS}/{field['id']}.json"
    admin.put(path, {"user_field": {"name": "fraggle", "field_type": "dropdown", "position": 2}})
    assert len(sb.forum.user_fields[field["id"]].options) == 2


def test_user_fields_editable_false_is_applied(sb, admin) -> None:
    # editable_once spec: PUT user_field[editable_once]=false changes the flag (nil only is
    # skipped by ``unless field_params[col].nil?``).
    field = _field(admin, editable=True)
    admin.put(f"{USER_FIELDS}/{field['id']}.json", {"user_field": {"editable": False}})
    assert sb.forum.user_fields[field["id"]].editable is False


def test_user_fields_are_no_longer_served_under_customize(admin) -> None:
    # config/routes.rb declares resources :user_fields only in scope "/config".
    assert admin.get("/admin/customize/user_fields.json").status == 404
    body = {"user_field": {"name": "x", "description": "y", "field_type": "text"}}
    assert admin.post("/admin/customize/user_fields.json", body).status == 404


def test_user_fields_routes_are_admin_only(sb, admin) -> None:
    _user(admin, "alice")
    # AdminConstraint: the route does not exist for others
    assert admin.as_user("alice").get(f"{USER_FIELDS}.json").status == 404


# ── ListController#set_category: the canonical path is /c/{full slug path}/{id} ───


def _category(api: Api, name: str, **attrs: Any) -> dict[str, Any]:
    answer = api.post("/categories.json", {"name": name, **attrs})
    assert answer.status == 200, answer.body
    return answer.body["category"]


def test_category_list_by_id_alone_is_a_301_to_the_slug_path(sb, admin) -> None:
    cat = _category(admin, "Articles")
    answer = admin.get(f"/c/{cat['id']}.json", page="1")
    assert answer.status == 301
    assert answer.headers["Location"] == f"{sb.forum.base_url}/c/articles/{cat['id']}.json?page=1"


def test_subcategory_list_needs_the_parent_slug_too(sb, admin) -> None:
    cat = _category(admin, "Articles")
    sub = _category(admin, "Squad room", parent_category_id=cat["id"])
    short = admin.get(f"/c/{sub['slug']}/{sub['id']}.json")
    assert short.status == 301
    assert short.headers["Location"].endswith(f"/c/articles/squad-room/{sub['id']}.json")
    assert admin.get(f"/c/articles/squad-room/{sub['id']}.json").status == 200
    latest = admin.get(f"/c/{sub['id']}/l/latest.json")
    assert latest.headers["Location"].endswith(f"/c/articles/squad-room/{sub['id']}/l/latest.json")


def test_category_list_on_the_right_slug_path_answers_the_topics(admin) -> None:
    cat = _category(admin, "Articles")
    answer = admin.get(f"/c/articles/{cat['id']}.json")
    assert answer.status == 200
    assert "topics" in answer.body["topic_list"]


def test_category_list_of_a_category_without_a_slug_uses_id_category(sb, admin) -> None:
    cat = _category(admin, "请假")
    sb.forum.categories[cat["id"]].slug = ""  # Discourse's auto slug of a CJK name (ascii)
    answer = admin.get(f"/c/{cat['id']}.json")
    assert answer.headers["Location"].endswith(f"/c/{cat['id']}-category/{cat['id']}.json")
    assert admin.get(f"/c/{cat['id']}-category/{cat['id']}.json").status == 200


# ── user_badges_controller_spec.rb (create, destroy) ──────────────────────────


@pytest.fixture
def granting(sb: Sandbox, admin: Api) -> dict[str, Any]:
    sb.forum.base_url = "https://forum.example"  # Discourse.base_url: the forum's own host
    _user(admin, "alice")
    badge = admin.post("/admin/badges.json", {"name": "Helper", "badge_type_id": 3}).body["badge"]
    cat = _category(admin, "General")
    topic = admin.as_user("alice").post(
        "/posts.json",
        {"title": "A topic long enough to pass", "raw": "Body " * 10, "category": cat["id"]},
    )
    assert topic.status == 200, topic.body
    return {"badge": badge, "topic_id": topic.body["topic_id"], "post_id": topic.body["id"]}


def _grant(api: Api, badge: dict[str, Any], **params: Any) -> Any:
    return api.post("/user_badges.json", {"badge_id": badge["id"], **params})


def test_user_badges_create_requires_username(admin, granting) -> None:
    assert _grant(admin, granting["badge"]).status == 400


def test_user_badges_create_is_refused_to_regular_users(admin, granting) -> None:
    answer = _grant(admin.as_user("alice"), granting["badge"], username="alice")
    assert answer.status == 403


def test_user_badges_create_from_staff_with_a_post_url_on_the_forum_host(
    sb, admin, granting
) -> None:
    reason = f"https://forum.example/t/a-topic-long-enough-to-pass/{granting['topic_id']}/1"
    answer = _grant(admin, granting["badge"], username="alice", reason=reason)
    assert answer.status == 200
    (granted,) = sb.forum.user_badges.values()
    assert granted.post_id == granting["post_id"]


def test_user_badges_create_with_a_relative_post_path(sb, admin, granting) -> None:
    # Discourse.route_for(URI("/t/12/1")): no host, so the path alone is routed.
    answer = _grant(
        admin, granting["badge"], username="alice", reason=f"/t/{granting['topic_id']}/1"
    )
    assert answer.status == 200
    (granted,) = sb.forum.user_badges.values()
    assert granted.post_id == granting["post_id"]


@pytest.mark.parametrize(
    "reason",
    [
        "http://example.com/t/x/{topic}/1",  # the spec's external link
        "http://127.0.0.1:8080/t/x/{topic}/1",  # the forum, by an internal address
        "http://forum:3000/t/{topic}/1",  # the forum, by its compose service name
        "https://forum.example/random_url/t/x/{topic}/1",  # not a topic or post route
    ],
)
def test_user_badges_create_refuses_a_reason_that_is_not_a_post_of_this_forum(
    sb, admin, granting, reason
) -> None:
    answer = _grant(
        admin, granting["badge"], username="alice", reason=reason.format(topic=granting["topic_id"])
    )
    assert answer.status == 400
    assert answer.body["failed"] == "FAILED" and answer.body["message"]
    assert sb.forum.user_badges == {}


def test_user_badges_create_of_a_disabled_badge_is_not_found(sb, admin, granting) -> None:
    # fetch_badge_from_params: Badge.find_by(id:, enabled: true) or Discourse::NotFound
    sb.forum.badges[granting["badge"]["id"]].enabled = False
    assert _grant(admin, granting["badge"], username="alice").status == 404


def test_user_badges_destroy_checks_the_user_may_revoke_then_revokes(sb, admin, granting) -> None:
    granted = _grant(admin, granting["badge"], username="alice").body["user_badge"]
    assert admin.as_user("alice").delete(f"/user_badges/{granted['id']}.json").status == 403
    assert admin.delete(f"/user_badges/{granted['id']}.json").status == 200
    assert sb.forum.user_badges == {}


# ── Admin::BadgesController#update_badge_from_params: ``if params[key]`` ──────────


def test_badge_update_ignores_a_json_false_but_takes_the_string(sb, admin) -> None:
    badge = admin.post(
        "/admin/badges.json", {"name": "Helper", "badge_type_id": 3, "allow_title": "true"}
    ).body["badge"]
    path = f"/admin/badges/{badge['id']}.json"
    stored = sb.forum.badges[badge["id"]]
    assert stored.allow_title is True
    answer = admin.put(path, {"name": "Helper", "badge_type_id": 3, "allow_title": False})
    assert answer.status == 200
    assert stored.allow_title is True  # a JSON false is falsy in Ruby: skipped
    admin.put(path, {"name": "Helper", "badge_type_id": 3, "allow_title": "false"})
    assert stored.allow_title is False
    admin.put(path, {"name": "Helper", "badge_type_id": 3, "enabled": False})
    assert stored.enabled is True


def test_badge_attributes_are_read_at_the_top_level_only(sb, admin) -> None:
    # params.permit(*allowed): a {"badge": {...}} wrapper is not read.
    answer = admin.post("/admin/badges.json", {"badge": {"name": "Helper", "badge_type_id": 3}})
    assert answer.status == 422


# ── groups_controller_spec.rb (#add_members, #remove_member) ─────────────────


@pytest.fixture
def squad(sb: Sandbox, admin: Api) -> dict[str, Any]:
    for name in ("alice", "bob"):
        _user(admin, name)
    group = admin.post("/admin/groups.json", {"group": {"name": "squad_1"}}).body["basic_group"]
    admin.put(f"/groups/{group['id']}/members.json", form={"usernames": "alice"})
    return group


def test_add_members_of_unknown_usernames_is_400(admin, squad) -> None:
    answer = admin.put(f"/groups/{squad['id']}/members.json", form={"usernames": "nope,gone"})
    assert answer.status == 400
    assert answer.body["error_type"] == "invalid_parameters"


def test_add_members_drops_unknown_usernames_and_adds_the_rest(sb, admin, squad) -> None:
    answer = admin.put(f"/groups/{squad['id']}/members.json", form={"usernames": "bob,gone"})
    assert (answer.status, answer.body["usernames"]) == (200, ["bob"])


def test_add_members_already_in_is_422_without_an_error_type(sb, admin, squad) -> None:
    answer = admin.put(f"/groups/{squad['id']}/members.json", form={"usernames": "alice"})
    assert answer.status == 422
    assert "error_type" not in answer.body
    assert answer.body["errors"] == ["'alice' is already a member of this group."]
    sb.forum.settings["default_locale"] = "zh_CN"
    answer = admin.put(f"/groups/{squad['id']}/members.json", form={"usernames": "alice,gone"})
    assert answer.status == 422 and "already" not in answer.body["errors"][0]


def test_add_members_some_already_in_adds_the_others(sb, admin, squad) -> None:
    answer = admin.put(f"/groups/{squad['id']}/members.json", form={"usernames": "alice,bob"})
    assert answer.status == 200
    assert sorted(answer.body["usernames"]) == ["alice", "bob"]


def test_remove_member_of_unknown_usernames_is_400(admin, squad) -> None:
    answer = admin.delete(f"/groups/{squad['id']}/members.json", usernames="gone")
    assert answer.status == 400


def test_remove_member_reports_non_members_as_skipped(admin, squad) -> None:
    answer = admin.delete(f"/groups/{squad['id']}/members.json", usernames="alice,bob")
    assert answer.status == 200
    assert (answer.body["usernames"], answer.body["skipped_usernames"]) == (["alice"], ["bob"])
