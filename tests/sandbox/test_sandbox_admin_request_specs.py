"""The sandbox answers what Discourse's admin request specs assert, for the endpoints Diamond uses.

Mirrors ``spec/requests/admin/users_controller_spec.rb`` and
``spec/requests/admin/web_hooks_controller_spec.rb`` (copies under
``/work/shared/discourse/source``), plus what the controller, the Guardian, the
``User::Suspend``/``User::Silence`` services and ``AdminUserIndexQuery`` decide
for the same requests. Each test names the spec example it mirrors.

Skipped, because the sandbox does not model them at all:

- staff action logs (``UserHistory``): every "logs ..." expectation; only the
  ``show_emails`` log entry is kept (``Forum.show_emails_log``);
- IP addresses: ``similar_users_count`` by IP, ``#similar_users``, ``block_ip``,
  ``#ip_info``, ``#delete_other_accounts_with_same_ip``;
- associated accounts, SSO (``external_ids`` contents, ``#sync_sso``,
  ``#sso_record``), second factors, ``#grant_admin``/``#revoke_admin``,
  ``#grant_moderation``/``#revoke_moderation``, ``#merge``, ``#anonymize``,
  ``#log_out``, ``#penalty_history``, bulk actions (``#approve_bulk``,
  ``#destroy_bulk``), ``#add_group``/``#remove_group``/``#primary_group``;
- suspension and silence side effects: ``other_user_ids`` (several users at once),
  ``post_id``/``post_action``/``post_edit`` (acting on an associated post), the
  ``message`` email (``Jobs::CriticalUserEmail``), the suspended user's API keys;
- ``block_urls`` (no ``TopicLink``), ``delete_as_spammer``, flagged-post reviewables;
- ``#trust_level``'s ``manual_locked_trust_level`` (no ``Promotion`` statistics);
- ``#activate`` with expired email tokens (the sandbox keeps one token per user);
- web hook events: ``#redeliver_event``, ``#list_events``, ``#bulk_events``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.support.request_specs import sign_up
from tests.support.sandbox_api import Api
from worker.sandbox.errors import NOT_FOUND
from worker.sandbox.server import Sandbox
from worker.sandbox.timeutil import iso


@pytest.fixture
def moderator(sb: Sandbox, admin: Api) -> Api:
    sb.forum.create_user(username="moddy", email="moddy@example.com", moderator=True)
    return admin.as_user("moddy")


@pytest.fixture
def user(sb: Sandbox, admin: Api) -> dict[str, Any]:
    return _user(admin, "alice")


@pytest.fixture
def member(admin: Api, user: dict[str, Any]) -> Api:
    return admin.as_user(user["username"])


@pytest.fixture
def events(sb: Sandbox) -> list[tuple[str, dict[str, Any]]]:
    """Every webhook event the forum emits, in order (name, body)."""
    seen: list[tuple[str, dict[str, Any]]] = []
    deliver = sb.forum.event_sink

    def record(event: str, body: dict[str, Any], forum: Any, context: dict[str, Any]) -> None:
        seen.append((event, body))
        if deliver is not None:
            deliver(event, body, forum, context)

    sb.forum.event_sink = record
    return seen


def _user(api: Api, username: str, **attrs: Any) -> dict[str, Any]:
    return api.get(f"/admin/users/{sign_up(api, username, **attrs)}.json").body


def _assert_not_found(answer: Any) -> None:
    assert answer.status == 404
    assert NOT_FOUND in answer.body["errors"]


def _later(sb: Sandbox, **delta: float) -> str:
    return iso(sb.forum.now() + timedelta(**delta)) or ""


# ── #index ─────────────────────────────────────────────────────────────────


def test_index_returns_success_with_json(admin, user) -> None:
    answer = admin.get("/admin/users/list.json")
    assert answer.status == 200
    assert user["id"] in [u["id"] for u in answer.body]


def test_index_returns_silence_reason_when_user_is_silenced(sb, admin, user) -> None:
    body = {"reason": "because I said so", "silenced_till": _later(sb, days=1)}
    assert admin.put(f"/admin/users/{user['id']}/silence.json", body).status == 200
    answer = admin.get("/admin/users/list.json")
    (silenced,) = [u for u in answer.body if u["id"] == user["id"]]
    assert silenced["silence_reason"] == "because I said so"


def test_index_showing_emails_returns_email_for_all_the_users(admin, user) -> None:
    answer = admin.get("/admin/users/list.json", show_emails="true")
    assert answer.status == 200
    assert answer.body and all(u["email"] for u in answer.body)


def test_index_showing_emails_logs_only_one_entry(sb, admin, user) -> None:
    before = len(sb.forum.show_emails_log)
    assert admin.get("/admin/users/list.json", show_emails="true").status == 200
    assert len(sb.forum.show_emails_log) == before + 1


def test_index_showing_emails_can_be_ordered_by_emails(sb, admin) -> None:
    for name in ("bob", "carol", "alice"):
        _user(admin, name)
    answer = admin.get("/admin/users/list.json", show_emails="true", order="email")
    assert answer.status == 200
    emails = [u["email"] for u in answer.body]
    assert emails == sorted(emails, reverse=True)  # custom order: DESC unless ``asc``
    answer = admin.get("/admin/users/list.json", show_emails="true", order="email", asc="true")
    assert [u["email"] for u in answer.body] == sorted(emails)


def test_index_as_a_moderator_returns_users(moderator, user) -> None:
    answer = moderator.get("/admin/users/list.json")
    assert answer.status == 200 and answer.body


def test_index_as_a_non_staff_user_denies_access_with_a_404(member) -> None:
    _assert_not_found(member.get("/admin/users/list.json"))


def test_index_without_emails_desired_shows_only_the_staff_member_their_own(admin, user) -> None:
    # AdminUserListSerializer#include_email?: staff see their own email (and staged users').
    by_name = {u["username"]: u for u in admin.get("/admin/users/list/active.json").body}
    assert "email" in by_name["admin"]
    assert "email" not in by_name["alice"]


def test_index_lists_can_be_deleted(admin, user) -> None:
    # index renders with include_can_be_deleted: true (Guardian#can_delete_user?)
    by_name = {u["username"]: u for u in admin.get("/admin/users/list/active.json").body}
    assert by_name["alice"]["can_be_deleted"] is True
    assert by_name["admin"]["can_be_deleted"] is False  # admins cannot be deleted


def test_index_pending_lists_active_unapproved_users_not_suspended(sb, admin) -> None:
    # AdminUserIndexQuery: when "pending" → not_suspended.where(approved: false, active: true)
    sb.forum.settings["must_approve_users"] = True
    waiting = _user(admin, "waiting", approved=False)
    suspended = _user(admin, "naughty", approved=False)
    _user(admin, "unconfirmed", approved=False, active=False)
    _user(admin, "welcomed")
    body = {"suspend_until": _later(sb, days=1), "reason": "spam"}
    assert admin.put(f"/admin/users/{suspended['id']}/suspend.json", body).status == 200
    pending = admin.get("/admin/users/list/pending.json").body
    assert [u["username"] for u in pending] == [waiting["username"]]


def test_index_active_is_an_order_not_a_filter(sb, admin) -> None:
    # AdminUserIndexQuery: "active" only orders by last_seen_at DESC NULLS LAST, then
    # username; no classification filters on it, so unconfirmed accounts are listed too.
    _user(admin, "seen")
    _user(admin, "unconfirmed", active=False)
    names = [u["username"] for u in admin.get("/admin/users/list/active.json").body]
    assert "unconfirmed" in names
    assert names.index("unconfirmed") > names.index("seen")  # never seen: last


def test_index_pages_by_one_hundred(sb, admin) -> None:
    # find_users(limit = 100): offset (page - 1) * 100; page 0 or none is the first page.
    for n in range(101):
        sb.forum.create_user(username=f"user{n:03d}", email=f"u{n}@example.com")
    total = len(admin.get("/admin/users/list/new.json").body)
    first = admin.get("/admin/users/list/new.json", page="1").body
    second = admin.get("/admin/users/list/new.json", page="2").body
    assert len(first) == total == 100
    assert second and not {u["id"] for u in first} & {u["id"] for u in second}
    again = admin.get("/admin/users/list/new.json", page="0").body
    assert [u["id"] for u in again] == [u["id"] for u in first]


# ── #show ──────────────────────────────────────────────────────────────────


def test_show_an_existing_user_returns_success(admin, user) -> None:
    answer = admin.get(f"/admin/users/{user['id']}.json")
    assert answer.status == 200
    assert answer.body["external_ids"] == {}  # no associated accounts in the sandbox


def test_show_a_non_existing_user_returns_404(admin) -> None:
    assert admin.get("/admin/users/0.json").status == 404


def test_show_as_a_moderator_returns_user_with_count_of_similar_users(moderator, user) -> None:
    answer = moderator.get(f"/admin/users/{user['id']}.json")
    assert answer.status == 200
    assert answer.body["id"] == user["id"]
    assert answer.body["similar_users_count"] == 0  # no IP addresses in the sandbox


def test_show_as_a_non_staff_user_denies_access_with_a_404(member, user) -> None:
    _assert_not_found(member.get(f"/admin/users/{user['id']}.json"))


# ── #approve ───────────────────────────────────────────────────────────────


@pytest.fixture
def evil_trout(sb: Sandbox) -> Any:
    sb.forum.settings["must_approve_users"] = True
    return sb.forum.create_user(username="evil_trout", email="evil@example.com", active=False)


@pytest.mark.parametrize("actor", ["admin", "moderator"])
def test_approve_creates_a_reviewable_if_one_does_not_exist(request, sb, evil_trout, actor) -> None:
    evil_trout.active = True  # evil_trout.update!(active: true): no reviewable made
    assert sb.forum.pending_reviewable(evil_trout) is None
    api = request.getfixturevalue(actor)
    assert api.put(f"/admin/users/{evil_trout.id}/approve.json").status == 200
    reviewables = [
        r
        for r in sb.forum.reviewables.values()
        if r.type == "ReviewableUser" and r.target_id == evil_trout.id
    ]
    assert len(reviewables) == 1 and reviewables[0].status == 1  # approved
    assert evil_trout.approved is True


@pytest.mark.parametrize("actor", ["admin", "moderator"])
def test_approve_calls_approve(request, sb, evil_trout, actor) -> None:
    sb.forum.activate_user(evil_trout)
    api = request.getfixturevalue(actor)
    answer = api.put(f"/admin/users/{evil_trout.id}/approve.json")
    assert answer.status == 200
    assert evil_trout.approved is True
    assert sb.forum.pending_reviewable(evil_trout) is None


def test_approve_as_a_non_staff_user_is_a_404(sb, member, evil_trout) -> None:
    sb.forum.activate_user(evil_trout)
    _assert_not_found(member.put(f"/admin/users/{evil_trout.id}/approve.json"))
    assert evil_trout.approved is False


def test_approve_an_inactive_or_approved_user_is_403(sb, admin, evil_trout) -> None:
    # Guardian#can_approve?: is_staff? && target.active? && !target.approved?
    path = f"/admin/users/{evil_trout.id}/approve.json"
    assert admin.put(path).status == 403
    sb.forum.activate_user(evil_trout)
    assert admin.put(path).status == 200
    assert admin.put(path).status == 403


def test_approve_an_unknown_user_is_404(admin) -> None:
    assert admin.put("/admin/users/123123/approve.json").status == 404  # fetch_user


# ── #suspend / #unsuspend ──────────────────────────────────────────────────


def _suspend(api: Api, sb: Sandbox, user_id: int, **params: Any) -> Any:
    body = {"suspend_until": _later(sb, hours=5), "reason": "because I said so"} | params
    return api.put(f"/admin/users/{user_id}/suspend.json", body)


@pytest.mark.parametrize("actor", ["admin", "moderator"])
def test_suspend_suspends_user(request, sb, user, actor) -> None:
    answer = _suspend(request.getfixturevalue(actor), sb, user["id"])
    assert answer.status == 200
    stored = sb.forum.users[user["id"]]
    assert stored.suspended(sb.forum.now())
    assert stored.suspended_at and stored.suspended_till
    assert answer.body["suspension"]["suspend_reason"] == "because I said so"


@pytest.mark.parametrize("actor", ["admin", "moderator"])
@pytest.mark.parametrize("target", ["another_admin", "another_moderator"])
def test_suspend_does_not_allow_suspending_a_staff_user(request, sb, actor, target) -> None:
    # Guardian#can_suspend?: user.regular?, i.e. not staff
    api = request.getfixturevalue(actor)
    staff = sb.forum.create_user(
        username=target,
        email=f"{target}@example.com",
        admin=target == "another_admin",
        moderator=target == "another_moderator",
    )
    assert _suspend(api, sb, staff.id, reason="naughty boy").status == 403
    assert not staff.suspended(sb.forum.now())


def test_suspend_checks_if_user_is_suspended(sb, admin, user) -> None:
    assert _suspend(admin, sb, user["id"]).status == 200
    again = _suspend(admin, sb, user["id"], reason="because I said so too")
    assert again.status == 409
    assert again.body["message"].startswith("User was already suspended by admin ")


def test_suspend_enqueues_a_user_suspended_webhook_event(sb, admin, user, events) -> None:
    assert _suspend(admin, sb, user["id"]).status == 200
    bodies = [body for name, body in events if name == "user_suspended"]
    assert len(bodies) == 1 and bodies[0]["user"]["id"] == user["id"]


def test_suspend_fails_the_request_if_the_reason_is_too_long(sb, admin, user) -> None:
    answer = _suspend(admin, sb, user["id"], reason="x" * 301)
    assert answer.status == 400
    assert answer.body["failed"] == "FAILED" and answer.body["errors"]
    assert not sb.forum.users[user["id"]].suspended(sb.forum.now())


def test_suspend_requires_suspend_until_and_reason(sb, admin, user) -> None:
    path = f"/admin/users/{user['id']}/suspend.json"
    nothing = admin.put(path, {})
    assert nothing.status == 400
    assert nothing.body["failed"] == "FAILED" and len(nothing.body["errors"]) == 2
    assert admin.put(path, {"suspend_until": _later(sb, hours=5)}).status == 400
    assert not sb.forum.users[user["id"]].suspended(sb.forum.now())


def test_suspend_of_an_unknown_user_is_404(sb, admin) -> None:
    assert _suspend(admin, sb, 123123).status == 404  # on_model_not_found(:user)


def test_suspend_as_a_non_staff_user_is_a_404(sb, member, user) -> None:
    _assert_not_found(_suspend(member, sb, user["id"]))
    stored = sb.forum.users[user["id"]]
    assert stored.suspended_at is None and stored.suspended_till is None


def test_unsuspend_enqueues_a_user_unsuspended_webhook_event(sb, admin, user, events) -> None:
    assert _suspend(admin, sb, user["id"]).status == 200
    answer = admin.put(f"/admin/users/{user['id']}/unsuspend.json")
    assert answer.status == 200
    assert answer.body == {"suspension": {"suspended_till": None, "suspended_at": None}}
    bodies = [body for name, body in events if name == "user_unsuspended"]
    assert len(bodies) == 1 and bodies[0]["user"]["id"] == user["id"]
    assert not sb.forum.users[user["id"]].suspended(sb.forum.now())


# ── #silence / #unsilence ──────────────────────────────────────────────────


def _silence(api: Api, sb: Sandbox, user_id: int, **params: Any) -> Any:
    body = {"reason": "because reasons", "silenced_till": _later(sb, hours=6)} | params
    return api.put(f"/admin/users/{user_id}/silence.json", body)


def test_silence_returns_a_404_if_the_user_does_not_exist(sb, admin) -> None:
    assert _silence(admin, sb, 123123).status == 404


@pytest.mark.parametrize("actor", ["admin", "moderator"])
def test_silence_does_not_allow_silencing_another_admin(request, sb, actor) -> None:
    another = sb.forum.create_user(username="another", email="an@example.com", admin=True)
    assert _silence(request.getfixturevalue(actor), sb, another.id).status == 403
    assert not another.silenced(sb.forum.now())


def test_silence_does_not_allow_silencing_a_moderator_either(sb, admin) -> None:
    # Guardian#can_silence_user?: not(user.staff?), for admins too
    mod = sb.forum.create_user(username="mod2", email="mod2@example.com", moderator=True)
    assert _silence(admin, sb, mod.id).status == 403
    assert not mod.silenced(sb.forum.now())


@pytest.mark.parametrize("actor", ["admin", "moderator"])
def test_silence_punishes_the_user(request, sb, user, actor) -> None:
    answer = _silence(request.getfixturevalue(actor), sb, user["id"], silenced_till=None)
    assert answer.status == 400  # silenced_till is required by the contract
    answer = _silence(request.getfixturevalue(actor), sb, user["id"])
    assert answer.status == 200
    assert sb.forum.users[user["id"]].silenced(sb.forum.now())
    assert answer.body["silence"]["silenced"] is True


def test_silence_will_set_a_length_of_time_if_provided(sb, admin, user) -> None:
    future_date = (sb.forum.now() + timedelta(days=30)).date()
    answer = _silence(admin, sb, user["id"], silenced_till=future_date.isoformat())
    assert answer.status == 200
    assert sb.forum.users[user["id"]].silenced_till.date() == future_date


def test_silence_checks_if_user_is_silenced(sb, admin, user) -> None:
    assert _silence(admin, sb, user["id"]).status == 200
    again = _silence(admin, sb, user["id"], reason="because I said so too")
    assert again.status == 409
    assert again.body["message"].startswith("User was already silenced by admin ")


def test_silence_fails_the_request_if_the_reason_is_too_long(sb, admin, user) -> None:
    answer = _silence(admin, sb, user["id"], reason="x" * 301)
    assert answer.status == 400
    assert answer.body["failed"] == "FAILED" and answer.body["errors"]
    assert not sb.forum.users[user["id"]].silenced(sb.forum.now())


def test_silence_requires_a_reason(sb, admin, user) -> None:
    assert _silence(admin, sb, user["id"], reason="").status == 400


def test_silence_as_a_non_staff_user_is_a_404(sb, member, user) -> None:
    _assert_not_found(_silence(member, sb, user["id"]))
    assert not sb.forum.users[user["id"]].silenced(sb.forum.now())


def test_unsilence_returns_a_404_if_the_user_does_not_exist(admin) -> None:
    assert admin.put("/admin/users/123123/unsilence.json").status == 404


@pytest.mark.parametrize("actor", ["admin", "moderator"])
def test_unsilence_unsilences_the_user(request, sb, admin, user, actor) -> None:
    assert _silence(admin, sb, user["id"]).status == 200
    answer = request.getfixturevalue(actor).put(f"/admin/users/{user['id']}/unsilence.json")
    assert answer.status == 200
    assert answer.body == {
        "unsilence": {
            "silenced": False,
            "silence_reason": None,
            "silenced_till": None,
            "silenced_at": None,
        }
    }
    assert not sb.forum.users[user["id"]].silenced(sb.forum.now())


def test_unsilence_as_a_non_staff_user_is_a_404(member, user) -> None:
    _assert_not_found(member.put(f"/admin/users/{user['id']}/unsilence.json"))


# ── #destroy ───────────────────────────────────────────────────────────────


@pytest.fixture
def delete_me(admin: Api) -> dict[str, Any]:
    return _user(admin, "delete_me")


def _post_as(api: Api, username: str, title: str) -> dict[str, Any]:
    answer = api.as_user(username).post("/posts.json", {"title": title, "raw": "Body " * 10})
    assert answer.status == 200, answer.body
    return answer.body


@pytest.mark.parametrize("actor", ["admin", "moderator"])
def test_destroy_returns_a_403_if_the_user_does_not_exist(request, actor) -> None:
    # User.find_by(id: "123123drink".to_i) is nil; Guardian#can_delete_user?(nil) is false
    api = request.getfixturevalue(actor)
    assert api.delete("/admin/users/123123drink.json").status == 403
    assert api.delete("/admin/users/123123.json").status == 403


def test_destroy_a_user_with_posts_says_they_cannot_be_deleted(sb, admin, delete_me) -> None:
    _post_as(admin, "delete_me", "A first topic that stays in place")
    gone = _post_as(admin, "delete_me", "A second topic that is deleted")
    assert admin.delete(f"/posts/{gone['id']}.json").status == 200
    answer = admin.delete(f"/admin/users/{delete_me['id']}.json")
    assert answer.status == 403
    assert answer.body["deleted"] is False
    # I18n user.cannot_delete_has_posts(username:, count: user.posts.joins(:topic).count)
    assert "delete_me" in answer.body["message"] and " 1 post " in answer.body["message"]
    assert delete_me["id"] in sb.forum.users


def test_destroy_does_not_return_an_error_if_delete_posts_is_true(sb, admin, delete_me) -> None:
    post = _post_as(admin, "delete_me", "A topic that goes with its author")
    answer = admin.delete(f"/admin/users/{delete_me['id']}.json", {"delete_posts": True})
    assert answer.status == 200 and answer.body == {"deleted": True}
    assert sb.forum.posts[post["id"]].deleted_at is not None
    assert sb.forum.topics[post["topic_id"]].deleted_at is not None
    assert delete_me["id"] not in sb.forum.users


@pytest.mark.parametrize(("block_email", "blocked"), [(True, True), (False, False), (None, False)])
def test_destroy_blocks_the_email_only_if_block_email_is_true(
    sb, admin, delete_me, block_email, blocked
) -> None:
    body = {} if block_email is None else {"block_email": block_email}
    assert admin.delete(f"/admin/users/{delete_me['id']}.json", body).status == 200
    assert ("delete_me@example.com" in sb.forum.screened_emails) is blocked


@pytest.mark.parametrize("actor", ["admin", "moderator"])
def test_destroy_deletes_the_user_record(request, sb, delete_me, actor) -> None:
    answer = request.getfixturevalue(actor).delete(f"/admin/users/{delete_me['id']}.json")
    assert answer.status == 200
    assert delete_me["id"] not in sb.forum.users


def test_destroy_as_a_non_staff_user_is_a_404(sb, member, delete_me) -> None:
    _assert_not_found(member.delete(f"/admin/users/{delete_me['id']}.json"))
    assert delete_me["id"] in sb.forum.users


def test_destroy_an_admin_is_403(sb, moderator) -> None:
    other = sb.forum.create_user(username="boss", email="boss@example.com", admin=True)
    assert moderator.delete(f"/admin/users/{other.id}.json").status == 403


# ── #activate / #deactivate ────────────────────────────────────────────────


@pytest.mark.parametrize("actor", ["admin", "moderator"])
def test_activate_returns_success(request, sb, actor) -> None:
    reg_user = sb.forum.create_user(username="reg_user", email="reg@example.com", active=False)
    answer = request.getfixturevalue(actor).put(f"/admin/users/{reg_user.id}/activate.json")
    assert (answer.status, answer.body) == (200, {"success": "OK"})
    assert reg_user.active is True


def test_activate_an_active_user_is_403(admin, user) -> None:
    # Guardian#can_activate?: not(target.active?)
    assert admin.put(f"/admin/users/{user['id']}/activate.json").status == 403


def test_activate_as_a_non_staff_user_is_a_404(sb, member) -> None:
    reg_user = sb.forum.create_user(username="reg_user", email="reg@example.com", active=False)
    _assert_not_found(member.put(f"/admin/users/{reg_user.id}/activate.json"))
    assert reg_user.active is False


@pytest.mark.parametrize("actor", ["admin", "moderator"])
def test_deactivate_returns_success(request, sb, user, actor) -> None:
    answer = request.getfixturevalue(actor).put(f"/admin/users/{user['id']}/deactivate.json")
    assert (answer.status, answer.body) == (200, {"success": "OK"})
    assert sb.forum.users[user["id"]].active is False


def test_deactivate_a_staff_user_is_403(sb, admin) -> None:
    # Guardian#can_deactivate? is can_suspend?: the target must be regular (not staff)
    mod = sb.forum.create_user(username="mod2", email="mod2@example.com", moderator=True)
    assert admin.put(f"/admin/users/{mod.id}/deactivate.json").status == 403
    assert mod.active is True


def test_deactivate_as_a_non_staff_user_is_a_404(sb, member, user) -> None:
    _assert_not_found(member.put(f"/admin/users/{user['id']}/deactivate.json"))
    assert sb.forum.users[user["id"]].active is True


# ── #trust_level ───────────────────────────────────────────────────────────


def test_trust_level_returns_a_404_if_the_user_does_not_exist(admin) -> None:
    assert admin.put("/admin/users/123123/trust_level.json").status == 404


@pytest.mark.parametrize("actor", ["admin", "moderator"])
def test_trust_level_upgrades_the_users_trust_level(request, sb, user, actor) -> None:
    api = request.getfixturevalue(actor)
    answer = api.put(f"/admin/users/{user['id']}/trust_level.json", {"level": 2})
    assert answer.status == 200
    assert sb.forum.users[user["id"]].trust_level == 2
    # render_serialized(@user, AdminUserSerializer): the list fields plus a few, not the
    # detailed view's groups or penalty counts.
    assert answer.body["admin_user"]["trust_level"] == 2
    assert "groups" not in answer.body["admin_user"]
    assert answer.body["admin_user"]["can_be_deleted"] is True


def test_trust_level_demoting_a_user_raises_no_error(sb, admin, user) -> None:
    path = f"/admin/users/{user['id']}/trust_level.json"
    assert admin.put(path, {"level": 0}).status == 200
    assert sb.forum.users[user["id"]].trust_level == 0


def test_trust_level_as_a_non_staff_user_is_a_404(member, user) -> None:
    _assert_not_found(member.put(f"/admin/users/{user['id']}/trust_level.json", {"level": 2}))


# ── admin/web_hooks_controller_spec.rb ─────────────────────────────────────
# The routes sit under AdminConstraint: to a moderator, as to a member, they do not exist.

HOOKS = "/admin/api/web_hooks"


def _hook_params(**attrs: Any) -> dict[str, Any]:
    hook = {
        "payload_url": "https://meta.discourse.org/",
        "content_type": 1,
        "secret": "a_secret_for_webhooks",
        "wildcard_web_hook": False,
        "active": True,
        "verify_certificate": True,
        "web_hook_event_type_ids": [101],
        "group_ids": [],
        "category_ids": [],
    }
    return {"web_hook": {k: v for k, v in (hook | attrs).items() if v is not None}}


@pytest.fixture
def web_hook(admin: Api) -> dict[str, Any]:
    answer = admin.post(f"{HOOKS}.json", _hook_params(payload_url="https://hooks.example.org/"))
    assert answer.status == 200, answer.body
    return answer.body["web_hook"]


def test_web_hooks_create_creates_a_webhook(sb, admin) -> None:
    answer = admin.post(f"{HOOKS}.json", _hook_params())
    assert answer.status == 200
    assert answer.body["web_hook"]["payload_url"] == "https://meta.discourse.org/"
    (stored,) = sb.forum.webhooks.values()
    assert (stored.secret, stored.event_type_ids) == ("a_secret_for_webhooks", [101])


def test_web_hooks_create_returns_error_when_field_is_not_filled_correctly(sb, admin) -> None:
    answer = admin.post(f"{HOOKS}.json", _hook_params(payload_url=None))
    assert answer.status == 422
    assert answer.body["errors"]
    assert sb.forum.webhooks == {}


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({"secret": "too_short"}, "Secret is too short (minimum is 12 characters)"),
        ({"payload_url": "ftp://meta.discourse.org/"}, "Payload URL is invalid"),
        ({"web_hook_event_type_ids": []}, "Web hook event types can't be blank"),
    ],
)
def test_web_hooks_create_applies_the_models_validations(sb, admin, attrs, message) -> None:
    # WebHook: secret length minimum 12 (allow_blank), payload_url format http(s),
    # web_hook_event_types present unless wildcard_web_hook
    answer = admin.post(f"{HOOKS}.json", _hook_params(**attrs))
    assert (answer.status, answer.body["errors"]) == (422, [message])
    assert sb.forum.webhooks == {}


def test_web_hooks_create_takes_a_blank_secret_and_a_wildcard_without_event_types(admin) -> None:
    answer = admin.post(
        f"{HOOKS}.json", _hook_params(secret="", wildcard_web_hook=True, web_hook_event_type_ids=[])
    )
    assert answer.status == 200, answer.body


def test_web_hooks_create_without_a_web_hook_is_400(admin) -> None:
    # params.require(:web_hook): ActionController::ParameterMissing
    assert admin.post(f"{HOOKS}.json", {"payload_url": "https://meta.discourse.org/"}).status == 400


@pytest.mark.parametrize("actor", ["moderator", "member"])
def test_web_hooks_create_is_prevented_with_a_404_response(request, sb, actor) -> None:
    answer = request.getfixturevalue(actor).post(f"{HOOKS}.json", _hook_params())
    _assert_not_found(answer)
    assert "web_hook" not in answer.body
    assert sb.forum.webhooks == {}


def test_web_hooks_index_lists_the_webhooks(admin, web_hook) -> None:
    answer = admin.get(f"{HOOKS}.json")
    assert answer.status == 200
    assert [h["id"] for h in answer.body["web_hooks"]] == [web_hook["id"]]
    assert answer.body["total_rows_web_hooks"] == 1
    assert answer.body["load_more_web_hooks"] == f"{HOOKS}.json?limit=50&offset=50"
    assert {"grouped_event_types", "content_types"} <= set(answer.body["extras"])


def test_web_hooks_show_answers_the_webhook_and_extras(admin, web_hook) -> None:
    answer = admin.get(f"{HOOKS}/{web_hook['id']}.json")
    assert answer.status == 200
    assert answer.body["web_hook"]["id"] == web_hook["id"]
    assert "extras" in answer.body
    assert admin.get(f"{HOOKS}/{web_hook['id'] + 100}.json").status == 404  # WebHook.find


@pytest.mark.parametrize("actor", ["moderator", "member"])
def test_web_hooks_index_and_show_are_404_to_non_admins(request, web_hook, actor) -> None:
    api = request.getfixturevalue(actor)
    _assert_not_found(api.get(f"{HOOKS}.json"))
    _assert_not_found(api.get(f"{HOOKS}/{web_hook['id']}.json"))


def test_web_hooks_update_updates_the_webhook(sb, admin, web_hook) -> None:
    answer = admin.put(
        f"{HOOKS}/{web_hook['id']}.json",
        {"web_hook": {"active": False, "payload_url": "https://test.com"}},
    )
    assert answer.status == 200
    stored = sb.forum.webhooks[web_hook["id"]]
    assert (stored.active, stored.payload_url) == (False, "https://test.com")
    assert answer.body["web_hook"]["payload_url"] == "https://test.com"


def test_web_hooks_update_keeps_the_secret_length_rule(sb, admin, web_hook) -> None:
    answer = admin.put(f"{HOOKS}/{web_hook['id']}.json", {"web_hook": {"secret": "short"}})
    assert answer.status == 422
    assert sb.forum.webhooks[web_hook["id"]].secret == "a_secret_for_webhooks"


@pytest.mark.parametrize("actor", ["moderator", "member"])
def test_web_hooks_update_is_prevented_with_a_404_response(request, sb, web_hook, actor) -> None:
    answer = request.getfixturevalue(actor).put(
        f"{HOOKS}/{web_hook['id']}.json",
        {"web_hook": {"active": False, "payload_url": "https://test.com"}},
    )
    _assert_not_found(answer)
    assert sb.forum.webhooks[web_hook["id"]].payload_url == "https://hooks.example.org/"


def test_web_hooks_destroy_deletes_the_webhook(sb, admin, web_hook) -> None:
    answer = admin.delete(f"{HOOKS}/{web_hook['id']}.json")
    assert (answer.status, answer.body) == (200, {"success": "OK"})
    assert sb.forum.webhooks == {}
    assert admin.delete(f"{HOOKS}/{web_hook['id']}.json").status == 404  # WebHook.find


@pytest.mark.parametrize("actor", ["moderator", "member"])
def test_web_hooks_destroy_is_prevented_with_a_404_response(request, sb, web_hook, actor) -> None:
    _assert_not_found(request.getfixturevalue(actor).delete(f"{HOOKS}/{web_hook['id']}.json"))
    assert web_hook["id"] in sb.forum.webhooks


def test_web_hooks_ping_enqueues_the_ping_event(admin, web_hook, events) -> None:
    answer = admin.post(f"{HOOKS}/{web_hook['id']}/ping.json")
    assert (answer.status, answer.body) == (200, {"success": "OK"})
    assert [name for name, _ in events] == ["ping"]


@pytest.mark.parametrize("actor", ["moderator", "member"])
def test_web_hooks_ping_fails_with_a_404_response(request, web_hook, events, actor) -> None:
    _assert_not_found(request.getfixturevalue(actor).post(f"{HOOKS}/{web_hook['id']}/ping.json"))
    assert "ping" not in [name for name, _ in events]
