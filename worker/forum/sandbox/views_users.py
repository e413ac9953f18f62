"""Users: sign-up, profiles, admin user views, approval, silence, suspend, trust level.

Sandbox extensions (documented, not in Discourse): ``GET /sandbox/email-token/{username}.json``
(staff) gives the activation token an email would carry; ``POST /users.json`` accepts
``invited_by=<username>`` from staff to record who invited the new member;
``invite_code=<key>`` (a key from ``POST /invites.json``) redeems that invite in the
same request, standing in for Discourse's ``PUT /invites/show/{key}.json``.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from worker.forum.sandbox import payloads
from worker.forum.sandbox.app import Ctx, Reply
from worker.forum.sandbox.errors import (
    ApiError,
    invalid_access,
    invalid_parameters,
    not_found,
    param_missing,
)
from worker.forum.sandbox.models import User
from worker.forum.sandbox.params import as_bool, as_int
from worker.forum.sandbox.state import UserInvalid
from worker.forum.sandbox.timeutil import iso, parse_time

PAGE_SIZE = 100  # AdminUserIndexQuery


def _user_by_id(ctx: Ctx, user_id: int) -> User:
    user = ctx.forum.users.get(user_id)
    if user is None or (user.id < 0 and user_id != -1):
        raise not_found()
    return user


def _field_values(ctx: Ctx, raw: Any) -> dict[str, Any]:
    """``user_fields`` from params → {"<id>": value} for defined fields only."""
    values: dict[str, Any] = {}
    if not isinstance(raw, dict):
        return values
    for key, value in raw.items():
        if not str(key).isdigit() or int(key) not in ctx.forum.user_fields:
            continue
        field = ctx.forum.user_fields[int(key)]
        if isinstance(value, list):
            value = [str(v) for v in value]
        elif isinstance(value, bool):
            value = "true" if value else "false"
        elif value is not None:
            value = str(value)
        if field.field_type == "dropdown" and value and value not in field.options:
            continue
        values[str(int(key))] = value
    return values


def create_user(ctx: Ctx) -> Any:
    """Imitates: app/controllers/users_controller.rb#create (+ InviteRedeemer for invite_code).

    An anonymous sign-up is created inactive (the email is not confirmed yet) and emits
    ``user_created`` at once; only staff may pass ``active``/``approved``. Redeeming an
    invite approves the invitee at once (``InviteRedeemer#approve_account_if_needed``)
    and activates them when the invite was sent to that email (an email invite); a
    link invite leaves them to confirm their email. Simplified: the sandbox approves
    every invitee, where Discourse needs a pending ReviewableUser or a staff inviter.
    """
    p = ctx.params
    for name in ("email", "username"):
        if not p.get(name):
            raise param_missing(name)
    forum = ctx.forum
    fields = _field_values(ctx, p.get("user_fields"))
    for field in forum.user_fields.values():
        if field.requirement != "optional" and not fields.get(str(field.id)):
            return {"success": False, "message": "You have not completed all the user fields"}
    staff = ctx.staff
    inviter = None
    invite = None
    if p.get("invite_code"):
        invite = forum.invites.get(str(p["invite_code"]))
        if invite is None or invite.redemption_count >= invite.max_redemptions_allowed:
            return {"success": False, "message": "Invite code is invalid"}
        invite.redemption_count += 1
        inviter = forum.users.get(invite.invited_by_id)
    elif p.get("invited_by") and staff:
        inviter = forum.find_user(str(p["invited_by"]))
        if inviter is None:
            raise invalid_parameters("invited_by")
    invite_email = invite.email if p.get("invite_code") and invite is not None else None
    try:
        user = forum.create_user(
            username=str(p["username"]),
            email=str(p["email"]),
            name=p.get("name") or None,
            password=p.get("password"),
            active=as_bool(p.get("active"), True) if staff else False,
            approved=as_bool(p.get("approved")) if staff and "approved" in p else None,
            approved_by=ctx.actor if staff else None,
            user_fields=fields,
            invited_by=inviter,
        )
    except UserInvalid as invalid:
        return {
            "success": False,
            "message": "\n".join(invalid.full_messages()),
            "errors": invalid.errors,
            "values": {"name": p.get("name"), "username": p["username"], "email": p["email"]},
            "is_developer": False,
        }
    if p.get("invite_code") and inviter is not None:
        if invite_email and invite_email.lower() == user.email.lower():
            forum.activate_user(user)  # the emailed invite link proves the address
        forum.approve_user(user, inviter)
    if not user.active:
        message = (
            f"<p>You’re almost done! We sent an activation mail to <b>{user.email}</b>. "
            "Please follow the instructions in the email to activate your account.</p>"
        )
    elif not user.approved:
        message = "Thanks for signing up. We will notify you when your account has been approved."
    else:
        message = "Your account is activated and ready to use."
    return {"success": True, "active": user.active, "message": message, "user_id": user.id}


def show_user(ctx: Ctx, username: str) -> Any:
    """Imitates: app/controllers/users_controller.rb#show, UserSerializer (``invited_by``;
    ``email`` only for the user themselves or staff viewing a staged user)."""
    user = ctx.forum.user_or_404(username)
    badges = [
        payloads.user_badge(ctx.forum, ub)
        for ub in ctx.forum.user_badges.values()
        if ub.user_id == user.id
    ]
    return {"user_badges": badges, "user": payloads.user_detail(ctx.forum, user, ctx.actor)}


def update_user(ctx: Ctx, username: str) -> Any:
    """Imitates: app/controllers/users_controller.rb#update (UserUpdater; UserSerializer);
    emits ``user_updated``. Simplifies: name, title, timezone, locale and user fields only."""
    actor = ctx.require_login()
    user = ctx.forum.user_or_404(username)
    if not (actor.staff or actor.id == user.id):
        raise invalid_access()
    p = ctx.params
    if "name" in p:
        user.name = p["name"] or None
    if "title" in p and actor.staff:
        user.title = p["title"] or None
    if "timezone" in p:
        user.timezone = p["timezone"] or None
    if "locale" in p:
        user.locale = p["locale"] or None
    for key, value in _field_values(ctx, p.get("user_fields")).items():
        field = ctx.forum.user_fields[int(key)]
        if not actor.staff and not field.editable and user.user_fields.get(key):
            continue  # non-editable fields are set once by the member, then staff only
        user.user_fields[key] = value
    ctx.forum.emit("user_updated", {"user": payloads.webhook_user(ctx.forum, user)})
    return {"success": "OK", "user": payloads.user_detail(ctx.forum, user, actor)}


def admin_show_user(ctx: Ctx, user_id: int) -> Any:
    """Imitates: app/controllers/admin/users_controller.rb#show, AdminDetailedUserSerializer
    (no ``email`` without ``emails_desired``, no ``invited_by``)."""
    return payloads.admin_user_detail(ctx.forum, _user_by_id(ctx, user_id))


def admin_list(ctx: Ctx, flag: str = "active") -> Any:
    """Imitates: app/controllers/admin/users_controller.rb#index, AdminUserIndexQuery,
    AdminUserListSerializer (``pending``: active and not approved; ``show_emails=true``
    adds emails and writes one staff-action-log entry, recorded in ``show_emails_log``)."""
    forum = ctx.forum
    now = forum.now()
    users = [u for u in forum.users.values() if u.id > 0]
    filters = {
        "active": lambda u: u.active,
        "new": lambda u: u.trust_level == 0,
        "staff": lambda u: u.staff,
        "admins": lambda u: u.admin,
        "moderators": lambda u: u.moderator,
        "suspended": lambda u: u.suspended(now),
        "silenced": lambda u: u.silenced(now),
        "pending": lambda u: u.active and not u.approved,
        "staged": lambda u: u.staged,
    }
    if flag in filters:
        users = [u for u in users if filters[flag](u)]
    if flag != "staged":
        users = [u for u in users if not u.staged]
    if ctx.params.get("email"):
        wanted = str(ctx.params["email"]).lower()
        users = [u for u in users if u.email.lower() == wanted]
    if ctx.params.get("filter"):  # AdminUserIndexQuery#filter_by_search: username or email
        needle = str(ctx.params["filter"]).strip().lower()
        users = [u for u in users if needle in u.username.lower() or needle in u.email.lower()]
    ascending = as_bool(ctx.params.get("asc"))
    users.sort(key=lambda u: (u.created_at, u.id), reverse=not ascending)
    page = max(1, as_int(ctx.params.get("page") or 1, "page"))
    chunk = users[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    show_emails = str(ctx.params.get("show_emails") or "") == "true"
    if show_emails:  # StaffActionLogger#log_show_emails
        forum.show_emails_log.append((ctx.actor.username if ctx.actor else "?", len(chunk)))
    return [payloads.admin_user_list_item(forum, u, show_email=show_emails) for u in chunk]


def admin_users_index(ctx: Ctx) -> Any:
    """Imitates: app/controllers/admin/users_controller.rb#index with the default ``active``
    list (AdminUserListSerializer)."""
    return admin_list(ctx, "active")


def approve(ctx: Ctx, user_id: int) -> Any:
    """Imitates: app/controllers/admin/users_controller.rb#approve; Guardian#can_approve?
    needs an active (email confirmed), unapproved user, else 403."""
    actor = ctx.require_staff()
    user = _user_by_id(ctx, user_id)
    if user.approved or not user.active:
        raise invalid_access()  # Guardian#can_approve? is false
    ctx.forum.approve_user(user, actor)
    return None


def activate(ctx: Ctx, user_id: int) -> Any:
    """Imitates: app/controllers/admin/users_controller.rb#activate (User#activate confirms
    the signup email token, so ``user_confirmed_email`` is emitted); Guardian#can_activate?
    refuses an active user (403)."""
    ctx.require_staff()
    user = _user_by_id(ctx, user_id)
    if user.active:
        raise invalid_access()
    ctx.forum.activate_user(user)
    return {"success": "OK"}


def deactivate(ctx: Ctx, user_id: int) -> Any:
    """Imitates: app/controllers/admin/users_controller.rb#deactivate (simplified: no
    Guardian#can_deactivate? checks beyond staff)."""
    ctx.require_staff()
    user = _user_by_id(ctx, user_id)
    user.active = False
    return {"success": "OK"}


def sandbox_email_token(ctx: Ctx, username: str) -> Any:
    """Imitates: app/models/email_token.rb#confirm's token, which Discourse only mails.

    Sandbox-only, not in Discourse: the activation token the account's email would
    carry (staff only), so tests and the demo can confirm an email like a person does."""
    ctx.require_staff()
    user = ctx.forum.user_or_404(username)
    return {"username": user.username, "active": user.active, "token": user.email_token}


def perform_account_activation(ctx: Ctx, token: str) -> Any:
    """Imitates: app/controllers/users_controller.rb#perform_account_activation
    (``PUT /u/activate-account/{token}``, EmailToken.confirm → ``user_confirmed_email``).
    Simplified: the honeypot/challenge params are not checked; the token comes from the
    sandbox-only ``Forum.email_token_of`` instead of an email."""
    if ctx.actor is not None:
        raise not_found()
    user = ctx.forum.user_by_email_token(token.removesuffix(".json"))
    if user is None or not ctx.forum.activate_user(user):
        raise ApiError(422, ["The link to activate your account has expired or was used."])
    needs_approval = not user.approved and bool(ctx.forum.settings["must_approve_users"])
    return {"success": "OK", "redirect_to": None, "needs_approval": needs_approval}


def destroy(ctx: Ctx, user_id: int) -> Any:
    """Imitates: app/controllers/admin/users_controller.rb#destroy (UserDestroyer; ``deleted``
    true). Simplifies: refuses admins and system users only."""
    ctx.require_staff()
    user = _user_by_id(ctx, user_id)
    if user.admin or user.id < 0:
        raise invalid_access()
    ctx.forum.destroy_user(user, delete_posts=as_bool(ctx.params.get("delete_posts")))
    return {"deleted": True}


def _time_param(ctx: Ctx, name: str, *, required: bool) -> Any:
    value = ctx.params.get(name)
    if not value:
        if required:
            raise param_missing(name)
        return None
    try:
        return parse_time(str(value))
    except ValueError as exc:
        raise invalid_parameters(name) from exc


def _ago(ctx: Ctx, moment: Any) -> str:
    minutes = int((ctx.forum.now() - moment).total_seconds() // 60) if moment else 0
    return "less than a minute ago" if minutes < 1 else f"{minutes} minutes ago"


def silence(ctx: Ctx, user_id: int) -> Any:
    """Imitates: app/controllers/admin/users_controller.rb#silence (User::Silence service;
    409 ``failed`` when already silenced)."""
    actor = ctx.require_staff()
    user = _user_by_id(ctx, user_id)
    if (user.staff and not actor.admin) or user.admin:
        raise invalid_access()
    now = ctx.forum.now()
    if user.silenced(now):
        by = ctx.forum.users.get(user.silenced_by_id or -1)
        return Reply(
            {
                "failed": "FAILED",
                "message": f"User was already silenced by {by.username if by else 'system'} "
                f"{_ago(ctx, user.silenced_at)}.",
            },
            409,
        )
    till = _time_param(ctx, "silenced_till", required=False) or now + timedelta(days=365 * 1000)
    user.silenced_till = till
    user.silenced_at = now
    user.silence_reason = ctx.params.get("reason") or None
    user.silenced_by_id = actor.id
    return {
        "silence": {
            "silenced": True,
            "silence_reason": user.silence_reason or "",
            "full_silence_reason": user.silence_reason or "",
            "silenced_till": iso(till),
            "silenced_at": iso(now),
            "silenced_by": payloads.basic_user(actor) | {"name": actor.name or ""},
        }
    }


def unsilence(ctx: Ctx, user_id: int) -> Any:
    """Imitates: app/controllers/admin/users_controller.rb#unsilence (UserSilencer#unsilence)."""
    ctx.require_staff()
    user = _user_by_id(ctx, user_id)
    user.silenced_till = user.silenced_at = user.silence_reason = user.silenced_by_id = None
    return {"unsilence": {"silenced": False}}


def suspend(ctx: Ctx, user_id: int) -> Any:
    """Imitates: app/controllers/admin/users_controller.rb#suspend (User::Suspend service;
    ``suspend_until`` and ``reason`` required; 409 when already suspended)."""
    actor = ctx.require_staff()
    user = _user_by_id(ctx, user_id)
    if user.admin:
        raise invalid_access()
    till = _time_param(ctx, "suspend_until", required=True)
    if not ctx.params.get("reason"):
        raise param_missing("reason")
    now = ctx.forum.now()
    if user.suspended(now):
        by = ctx.forum.users.get(user.suspended_by_id or -1)
        return Reply(
            {
                "failed": "FAILED",
                "message": f"User was already suspended by {by.username if by else 'system'} "
                f"{_ago(ctx, user.suspended_at)}.",
            },
            409,
        )
    user.suspended_till = till
    user.suspended_at = now
    user.suspend_reason = str(ctx.params["reason"])
    user.suspended_by_id = actor.id
    ctx.forum.emit("user_suspended", {"user": payloads.webhook_user(ctx.forum, user)})
    return {
        "suspension": {
            "suspend_reason": user.suspend_reason,
            "full_suspend_reason": user.suspend_reason,
            "suspended_till": iso(till),
            "suspended_at": iso(now),
            "suspended_by": payloads.basic_user(actor) | {"name": actor.name or ""},
        }
    }


def unsuspend(ctx: Ctx, user_id: int) -> Any:
    """Imitates: app/controllers/admin/users_controller.rb#unsuspend."""
    ctx.require_staff()
    user = _user_by_id(ctx, user_id)
    user.suspended_till = user.suspended_at = user.suspend_reason = user.suspended_by_id = None
    ctx.forum.emit("user_unsuspended", {"user": payloads.webhook_user(ctx.forum, user)})
    return {"suspension": {"suspended_till": None, "suspended_at": None}}


def trust_level(ctx: Ctx, user_id: int) -> Any:
    """Imitates: app/controllers/admin/users_controller.rb#trust_level
    (AdminDetailedUserSerializer as ``admin_user``)."""
    ctx.require_staff()
    user = _user_by_id(ctx, user_id)
    if "level" not in ctx.params:
        raise param_missing("level")
    level = as_int(ctx.params["level"], "level")
    if not 0 <= level <= 4:
        raise ApiError(422, ["Invalid trust level"])
    old = user.trust_level
    user.trust_level = level
    if level > old:
        ctx.forum.emit(
            "user_promoted",
            {
                "user_promoted": {
                    "user_id": user.id,
                    "old_trust_level": old,
                    "new_trust_level": level,
                }
            },
        )
    return {"admin_user": payloads.admin_user_detail(ctx.forum, user)}


def create_invite(ctx: Ctx) -> Any:
    """Imitates: app/controllers/invites_controller.rb#create (InviteSerializer). Simplifies:
    no email is sent, no topic or group attached, no per-day limit."""
    actor = ctx.require_login()
    p = ctx.params
    invite = ctx.forum.create_invite(
        actor,
        email=p.get("email") or None,
        max_redemptions_allowed=as_int(
            p.get("max_redemptions_allowed") or 1, "max_redemptions_allowed"
        ),
    )
    return {
        "id": invite.id,
        "invite_key": invite.invite_key,
        "link": f"{ctx.forum.base_url}/invites/{invite.invite_key}",
        "description": None,
        "email": invite.email,
        "domain": None,
        "emailed": False,
        "can_delete_invite": True,
        "custom_message": None,
        "created_at": iso(invite.created_at),
        "updated_at": iso(invite.created_at),
        "expires_at": iso(invite.created_at + timedelta(days=90)),
        "expired": False,
        "grants_admin": False,
        "grants_moderator": False,
        "topics": [],
        "groups": [],
    }


def honeypot(ctx: Ctx) -> Any:
    """Imitates: app/controllers/session_controller.rb#get_honeypot_value. Simplifies: the
    sign-up view does not check the values.

    ``GET /session/hp.json``: the sign-up challenge pydiscourse fetches (unchecked here)."""
    value = secrets.token_hex(16)
    return {"value": value, "challenge": value[::-1]}


ROUTES = [
    ("/session/hp.json", ["GET"], honeypot),
    ("/users.json", ["POST"], create_user),
    ("/u/<username>.json", ["GET"], show_user),
    ("/u/<username>.json", ["PUT"], update_user),
    ("/users/<username>.json", ["GET"], show_user),
    ("/admin/users.json", ["GET"], admin_users_index),
    ("/admin/users/list/<flag>.json", ["GET"], admin_list),
    ("/admin/users/<int(signed=True):user_id>.json", ["GET"], admin_show_user),
    ("/admin/users/<int(signed=True):user_id>.json", ["DELETE"], destroy),
    ("/u/activate-account/<token>", ["PUT"], perform_account_activation),
    ("/sandbox/email-token/<username>.json", ["GET"], sandbox_email_token),
    ("/admin/users/<int:user_id>/approve.json", ["PUT"], approve),
    ("/admin/users/<int:user_id>/activate.json", ["PUT"], activate),
    ("/admin/users/<int:user_id>/deactivate.json", ["PUT"], deactivate),
    ("/admin/users/<int:user_id>/silence.json", ["PUT"], silence),
    ("/admin/users/<int:user_id>/unsilence.json", ["PUT"], unsilence),
    ("/admin/users/<int:user_id>/suspend.json", ["PUT"], suspend),
    ("/admin/users/<int:user_id>/unsuspend.json", ["PUT"], unsuspend),
    ("/admin/users/<int:user_id>/trust_level.json", ["PUT"], trust_level),
    ("/invites.json", ["POST"], create_invite),
]
