"""The sign-up lifecycle in the sandbox, as Discourse lives it: an email sign-up is
inactive until its email is confirmed, invitees are approved by the invite, the admin
user view carries no email and no inviter, and a rejection emails the reason."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.sandbox_api import Api
from worker.sandbox import build_sandbox


@pytest.fixture
def api() -> Iterator[Api]:
    sandbox = build_sandbox(api_key="signup-key")
    api = Api(sandbox)
    api.put("/admin/site_settings/must_approve_users.json", form={"must_approve_users": "true"})
    yield api
    sandbox.webhooks.close()


@pytest.fixture
def events(api: Api) -> list[tuple[str, dict[str, Any]]]:
    """Every webhook event the forum emits, in order (delivery still happens)."""
    forum = api.sandbox.forum
    seen: list[tuple[str, dict[str, Any]]] = []
    sink = forum.event_sink

    def record(event: str, body: dict[str, Any], f: Any, context: dict[str, Any]) -> None:
        seen.append((event, body))
        if sink is not None:
            sink(event, body, f, context)

    forum.event_sink = record
    return seen


def _anonymous_signup(api: Api, username: str, **extra: Any) -> dict[str, Any]:
    body = {
        "name": username.title(),
        "username": username,
        "email": f"{username}@example.com",
        "password": "p" * 16,
    } | extra
    return api.anonymous().post("/users.json", body).body


def _member(api: Api, username: str) -> None:
    api.post(
        "/users.json",
        {
            "username": username,
            "email": f"{username}@example.org",
            "password": "p" * 16,
            "active": True,
            "approved": True,
        },
    )


def test_an_email_signup_is_inactive_and_not_pending_until_the_email_is_confirmed(
    api: Api, events: list[tuple[str, dict[str, Any]]]
) -> None:
    created = _anonymous_signup(api, "newbie")
    uid = created["user_id"]
    assert created["active"] is False
    assert [e for e, _ in events] == ["user_created"]
    assert events[0][1]["user"]["email"] == "newbie@example.com"  # admin-scoped webhook body
    assert api.get("/admin/users/list/pending.json").body == []
    assert api.get("/review.json", type="ReviewableUser").body["reviewables"] == []
    refused = api.put(f"/admin/users/{uid}/approve.json")
    assert refused.status == 403  # Guardian#can_approve? needs an active user

    token = api.sandbox.forum.email_token_of("newbie")
    assert token
    confirmed = api.anonymous().put(f"/u/activate-account/{token}")
    assert confirmed.body == {"success": "OK", "redirect_to": None, "needs_approval": True}
    assert [e for e, _ in events] == ["user_created", "user_confirmed_email"]
    assert events[1][1]["user"]["email"] == "newbie@example.com"
    assert [u["username"] for u in api.get("/admin/users/list/pending.json").body] == ["newbie"]
    (item,) = api.get("/review.json", type="ReviewableUser").body["reviewables"]
    assert item["target_id"] == uid
    used = api.anonymous().put(f"/u/activate-account/{token}")
    assert used.status == 422  # activation.already_done
    assert api.put(f"/admin/users/{uid}/approve.json").status == 200


def test_staff_activation_confirms_the_email_like_the_link_does(
    api: Api, events: list[tuple[str, dict[str, Any]]]
) -> None:
    uid = _anonymous_signup(api, "newbie")["user_id"]
    assert api.put(f"/admin/users/{uid}/activate.json").body == {"success": "OK"}
    assert [e for e, _ in events] == ["user_created", "user_confirmed_email"]
    assert api.put(f"/admin/users/{uid}/activate.json").status == 403  # already active


def test_the_admin_user_view_has_no_email_and_no_inviter(api: Api) -> None:
    _member(api, "mentor")
    invite = api.as_user("mentor").post("/invites.json", {}).body
    uid = _anonymous_signup(api, "guest", invite_code=invite["invite_key"])["user_id"]
    detail = api.get(f"/admin/users/{uid}.json").body
    assert "email" not in detail and "invited_by" not in detail
    profile = api.get("/u/guest.json").body["user"]
    assert "email" not in profile  # UserSerializer: only for the user themselves
    assert profile["invited_by"]["username"] == "mentor"
    own = api.as_user("mentor").get("/u/mentor.json").body["user"]
    assert own["email"] == "mentor@example.org"
    listed = api.get("/admin/users/list/active.json", show_emails="true").body
    assert {u["username"]: u["email"] for u in listed}["mentor"] == "mentor@example.org"
    assert len(api.sandbox.forum.show_emails_log) == 1  # each show_emails listing is logged


def test_an_email_invite_activates_and_approves_the_invitee_at_once(
    api: Api, events: list[tuple[str, dict[str, Any]]]
) -> None:
    _member(api, "mentor")
    invite = api.as_user("mentor").post("/invites.json", {"email": "guest@example.com"}).body
    created = _anonymous_signup(api, "guest", invite_code=invite["invite_key"])
    assert created["active"] is True
    detail = api.get(f"/admin/users/{created['user_id']}.json").body
    assert (detail["active"], detail["approved"], detail["approved_by"]["username"]) == (
        True,
        True,
        "mentor",
    )
    names = [e for e, _ in events if e.startswith("user_")]
    assert names == ["user_created", "user_created", "user_confirmed_email", "user_approved"]
    assert events[-1][1]["user"]["invited_by"]["username"] == "mentor"
    assert api.get("/admin/users/list/pending.json").body == []


def test_a_link_invite_approves_but_the_invitee_still_confirms_their_email(api: Api) -> None:
    _member(api, "mentor")
    invite = api.as_user("mentor").post("/invites.json", {}).body
    created = _anonymous_signup(api, "guest", invite_code=invite["invite_key"])
    detail = api.get(f"/admin/users/{created['user_id']}.json").body
    assert (detail["active"], detail["approved"]) == (False, True)


def _confirmed_applicant(api: Api, username: str) -> tuple[int, dict[str, Any]]:
    uid = _anonymous_signup(api, username)["user_id"]
    api.put(f"/admin/users/{uid}/activate.json")
    (item,) = [
        r
        for r in api.get("/review.json", type="ReviewableUser").body["reviewables"]
        if r["target_id"] == uid
    ]
    return uid, item


def test_rejecting_from_the_review_queue_emails_the_reason(api: Api) -> None:
    uid, item = _confirmed_applicant(api, "spammer")
    done = api.put(
        f"/review/{item['id']}/perform/delete_user.json?version={item['version']}",
        {"reject_reason": "申请中含有推销内容", "send_email": "true"},
    ).body["reviewable_perform_result"]
    assert done["transition_to"] == "rejected"
    assert api.get(f"/admin/users/{uid}.json").status == 404
    assert api.sandbox.forum.sent_emails == [
        {
            "type": "signup_after_reject",
            "to": "spammer@example.com",
            "username": "spammer",
            "reject_reason": "申请中含有推销内容",
        }
    ]


def test_send_email_false_rejects_without_an_email(api: Api) -> None:
    _uid, item = _confirmed_applicant(api, "quiet")
    api.put(
        f"/review/{item['id']}/perform/delete_user.json?version={item['version']}",
        {"reject_reason": "no", "send_email": "false"},
    )
    assert api.sandbox.forum.sent_emails == []
