"""Sign-up, approval, the review queue, moderation and user fields in the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.sandbox_api import Api
from worker.sandbox import build_sandbox


@pytest.fixture
def api() -> Iterator[Api]:
    sandbox = build_sandbox(api_key="users-key")
    yield Api(sandbox)
    sandbox.webhooks.close()


def _signup(api: Api, username: str, **extra: Any) -> dict[str, Any]:
    body = {
        "name": username.title(),
        "username": username,
        "email": f"{username}@example.com",
        "password": "p" * 16,
        "active": True,
    } | extra
    return api.post("/users.json", body).body


def _pending(api: Api) -> Api:
    api.put("/admin/site_settings/must_approve_users.json", form={"must_approve_users": "true"})
    return api


def test_with_must_approve_users_new_accounts_wait_for_approval(api: Api) -> None:
    created = _signup(_pending(api), "newbie")
    assert created == {
        "success": True,
        "active": True,
        "message": "Thanks for signing up. We will notify you when your account has been approved.",
        "user_id": created["user_id"],
    }
    detail = api.get(f"/admin/users/{created['user_id']}.json").body
    assert detail["approved"] is False
    assert [u["username"] for u in api.get("/admin/users/list/pending.json").body] == ["newbie"]
    blocked = api.as_user("newbie").get("/categories.json")
    assert blocked.status == 403  # an unapproved account cannot act


def test_approve_endpoint_approves_once_then_refuses(api: Api) -> None:
    created = _signup(_pending(api), "newbie")
    first = api.put(f"/admin/users/{created['user_id']}/approve.json")
    assert (first.status, first.body) == (200, "")
    assert api.get(f"/admin/users/{created['user_id']}.json").body["approved"] is True
    again = api.put(f"/admin/users/{created['user_id']}/approve.json")
    assert again.status == 403  # Guardian#can_approve? is false once approved
    assert (
        api.get("/review.json", type="ReviewableUser", status="pending").body["reviewables"] == []
    )


def test_review_queue_approve_needs_the_current_version(api: Api) -> None:
    created = _signup(_pending(api), "newbie", user_fields={})
    (item,) = api.get("/review.json", type="ReviewableUser", status="pending").body["reviewables"]
    assert (item["type"], item["target_id"], item["payload"]["username"]) == (
        "ReviewableUser",
        created["user_id"],
        "newbie",
    )
    actions = [a["id"] for b in item["bundled_actions"] for a in b["actions"]]
    assert actions == ["approve_user", "delete_user", "delete_user_block"]
    stale = api.put(f"/review/{item['id']}/perform/approve_user.json?version={item['version'] + 1}")
    assert stale.status == 409
    done = api.put(f"/review/{item['id']}/perform/approve_user.json?version={item['version']}")
    result = done.body["reviewable_perform_result"]
    assert (result["success"], result["transition_to"], result["version"]) == (
        True,
        "approved",
        item["version"] + 1,
    )
    assert api.get(f"/admin/users/{created['user_id']}.json").body["approved"] is True
    replay = api.put(f"/review/{item['id']}/perform/approve_user.json?version={result['version']}")
    assert replay.status == 403  # no longer pending


def test_review_delete_and_block_removes_the_user_and_their_email(api: Api) -> None:
    created = _signup(_pending(api), "spammer")
    (item,) = api.get("/review.json", type="ReviewableUser").body["reviewables"]
    api.put(f"/review/{item['id']}/perform/delete_user_block.json?version={item['version']}")
    assert api.get(f"/admin/users/{created['user_id']}.json").status == 404
    again = _signup(api, "spammer2", email="spammer@example.com")
    assert again["success"] is False
    assert again["errors"] == {"primary_email": ["was blocked"]}


def test_duplicate_username_is_a_200_with_success_false_like_discourse(api: Api) -> None:
    _signup(api, "alice")
    reply = api.post(
        "/users.json",
        {"name": "A", "username": "Alice", "email": "other@example.com", "password": "p" * 16},
    )
    assert reply.status == 200
    assert (reply.body["success"], reply.body["errors"]) == (
        False,
        {"username": ["must be unique"]},
    )


def test_missing_email_is_a_400_param_missing(api: Api) -> None:
    reply = api.post("/users.json", {"username": "x_y_z", "password": "p" * 16})
    assert (reply.status, reply.body) == (
        400,
        {"errors": ["param is missing or the value is empty: email"]},
    )


def test_form_encoded_signup_with_user_fields_and_invited_by(api: Api) -> None:
    field = api.post(
        "/admin/config/user_fields.json",
        {"user_field": {"name": "Goal", "description": "Your goal", "field_type": "text"}},
    ).body["user_field"]
    _signup(api, "mentor", approved=True)
    created = api.post(
        "/users.json",
        form={
            "name": "Newbie",
            "username": "newbie",
            "email": "newbie@example.com",
            "password": "p" * 16,
            "active": "true",
            "approved": "true",
            f"user_fields[{field['id']}]": "write weekly",
            "invited_by": "mentor",
        },
    ).body
    detail = api.get(f"/admin/users/{created['user_id']}.json").body
    assert detail["user_fields"] == {str(field["id"]): "write weekly"}
    assert "invited_by" not in detail  # AdminDetailedUserSerializer has no invited_by
    profile = api.get("/u/newbie.json").body["user"]
    assert profile["invited_by"]["username"] == "mentor"


def test_invite_code_records_the_inviter(api: Api) -> None:
    _signup(api, "mentor", approved=True)
    invite = api.as_user("mentor").post("/invites.json", {}).body
    api.anonymous().post(
        "/users.json",
        {
            "username": "guest",
            "email": "guest@example.com",
            "password": "p" * 16,
            "invite_code": invite["invite_key"],
        },
    )
    assert api.get("/u/guest.json").body["user"]["invited_by"]["username"] == "mentor"
    reused = (
        api.anonymous()
        .post(
            "/users.json",
            {
                "username": "guest2",
                "email": "guest2@example.com",
                "invite_code": invite["invite_key"],
            },
        )
        .body
    )
    assert reused == {"success": False, "message": "Invite code is invalid"}


def test_staff_set_user_fields_with_put_and_members_cannot_change_locked_ones(api: Api) -> None:
    locked = api.post(
        "/admin/config/user_fields.json",
        {
            "user_field": {
                "name": "Cohort",
                "description": "Cohort",
                "field_type": "text",
                "editable": False,
            }
        },
    ).body["user_field"]
    created = _signup(api, "member", approved=True)
    api.put("/u/member.json", form={f"user_fields[{locked['id']}]": "2026-spring"})
    api.as_user("member").put("/u/member.json", {"user_fields": {str(locked["id"]): "forged"}})
    detail = api.get(f"/admin/users/{created['user_id']}.json").body
    assert detail["user_fields"] == {str(locked["id"]): "2026-spring"}


def test_silence_then_posting_fails_and_second_silence_conflicts(api: Api) -> None:
    created = _signup(api, "noisy", approved=True)
    silence = api.put(
        f"/admin/users/{created['user_id']}/silence.json",
        {"silenced_till": "2099-02-03T04:05:06.000Z", "reason": "too loud"},
    ).body["silence"]
    assert (silence["silenced"], silence["silenced_till"], silence["silence_reason"]) == (
        True,
        "2099-02-03T04:05:06.000Z",
        "too loud",
    )
    assert api.get(f"/admin/users/{created['user_id']}.json").body["silenced_till"] == (
        "2099-02-03T04:05:06.000Z"
    )
    post = api.as_user("noisy").post(
        "/posts.json",
        {"title": "I want to speak up", "raw": "Silenced people cannot post.", "category": 1},
    )
    assert post.status == 422
    # User::Silence checks its contract (silenced_till and reason present) before the policy
    again = api.put(
        f"/admin/users/{created['user_id']}/silence.json",
        {"silenced_till": "2099-02-03T04:05:06.000Z", "reason": "again"},
    )
    assert again.status == 409
    api.put(f"/admin/users/{created['user_id']}/unsilence.json")
    assert "silenced_till" not in api.get(f"/admin/users/{created['user_id']}.json").body


def test_suspend_until_an_exact_time_and_suspended_users_cannot_act(api: Api) -> None:
    created = _signup(api, "rulebreaker", approved=True)
    missing = api.put(f"/admin/users/{created['user_id']}/suspend.json", {"reason": "x"})
    assert missing.status == 400
    body = api.put(
        f"/admin/users/{created['user_id']}/suspend.json",
        {"suspend_until": "2099-12-31T00:00:00Z", "reason": "missed three weeks"},
    ).body["suspension"]
    assert (body["suspended_till"], body["suspend_reason"]) == (
        "2099-12-31T00:00:00.000Z",
        "missed three weeks",
    )
    assert api.as_user("rulebreaker").get("/categories.json").status == 403
    suspended = [u["username"] for u in api.get("/admin/users/list/suspended.json").body]
    assert suspended == ["rulebreaker"]
    api.put(f"/admin/users/{created['user_id']}/unsuspend.json")
    assert api.as_user("rulebreaker").get("/categories.json").status == 200


def test_trust_level_changes_automatic_group_membership(api: Api) -> None:
    created = _signup(api, "climber", approved=True)
    api.put(f"/admin/users/{created['user_id']}/trust_level.json", form={"level": "3"})
    groups = {g["name"] for g in api.get(f"/admin/users/{created['user_id']}.json").body["groups"]}
    assert {"trust_level_0", "trust_level_1", "trust_level_2", "trust_level_3"} <= groups
    assert "trust_level_4" not in groups


def test_admin_user_list_pages_hold_100_users(api: Api) -> None:
    forum = api.sandbox.forum
    for i in range(130):
        forum.create_user(
            username=f"user_{i:03d}", email=f"u{i}@example.com", approved=True, emit=False
        )
    page1 = api.get("/admin/users/list/active.json", page="1").body
    page2 = api.get("/admin/users/list/active.json", page="2").body
    # 130 + the seeded admin + system: AdminUserIndexQuery keeps no human_users filter
    assert (len(page1), len(page2)) == (100, 32)
    assert not {u["id"] for u in page1} & {u["id"] for u in page2}
    member = next(u for u in page1 if u["username"].startswith("user_"))
    assert "email" not in member  # staff see only their own email without show_emails
    listed = api.get("/admin/users/list/active.json", show_emails="true").body
    assert all("email" in u for u in listed)


def test_deleting_a_user_with_posts_needs_delete_posts(api: Api) -> None:
    created = _signup(api, "writer", approved=True)
    api.as_user("writer").post(
        "/posts.json",
        {"title": "A writer's first topic", "raw": "Something worth keeping here.", "category": 1},
    )
    refused = api.delete(f"/admin/users/{created['user_id']}.json")
    assert (refused.status, refused.body["deleted"]) == (403, False)
    done = api.delete(f"/admin/users/{created['user_id']}.json", delete_posts="true")
    assert done.body == {"deleted": True}


def test_auto_approve_email_domains_skip_the_review(api: Api) -> None:
    _pending(api).put(
        "/admin/site_settings/auto_approve_email_domains.json",
        form={"auto_approve_email_domains": "school.edu|lab.org"},
    )
    trusted = _signup(api, "student", email="student@school.edu")
    stranger = _signup(api, "stranger")
    assert api.get(f"/admin/users/{trusted['user_id']}.json").body["approved"] is True
    assert api.get(f"/admin/users/{stranger['user_id']}.json").body["approved"] is False
