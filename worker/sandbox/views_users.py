"""Users: sign-up, profiles, admin user views, approval, silence, suspend, trust level.

Sandbox extensions (documented, not in Discourse): ``GET /sandbox/email-token/{username}.json``
(staff) gives the activation token an email would carry; ``POST /users.json`` accepts
``invited_by=<username>`` from staff to record who invited the new member;
``invite_code=<key>`` (a key from ``POST /invites.json``) redeems that invite in the
same request, standing in for Discourse's ``PUT /invites/show/{key}.json``.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from worker.sandbox import payloads
from worker.sandbox.app import Ctx, Reply
from worker.sandbox.errors import (
    ApiError,
    invalid_access,
    invalid_parameters,
    not_found,
    param_missing,
)
from worker.sandbox.models import User
from worker.sandbox.params import as_bool, as_int
from worker.sandbox.state import UserInvalid
from worker.sandbox.timeutil import iso, parse_time

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


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# AdminUserIndexQuery::SORTABLE_MAPPING, for the columns the sandbox keeps
_SORTABLE: dict[str, Any] = {
    "created": lambda u: u.created_at,
    "seen": lambda u: u.last_seen_at or EPOCH,
    "username": lambda u: u.username.lower(),
    "email": lambda u: u.email.lower(),
    "trust_level": lambda u: u.trust_level,
}
_TRUST_LEVELS = {"newuser": 0, "basic": 1, "member": 2, "regular": 3, "leader": 4}


def admin_list(ctx: Ctx, flag: str | None = None) -> Any:
    """Imitates: app/controllers/admin/users_controller.rb#index, AdminUserIndexQuery,
    AdminUserListSerializer (``pending``: active, unapproved, not suspended; ``active`` is an
    order, not a filter; ``show_emails=true`` adds emails and writes one staff-action-log
    entry, recorded in ``show_emails_log``). Simplifies: no IP filters, fewer sort columns."""
    forum = ctx.forum
    now = forum.now()
    users = list(forum.users.values())
    filters = {
        "staff": lambda u: u.staff,
        "admins": lambda u: u.admin,
        "moderators": lambda u: u.moderator,
        "suspended": lambda u: u.suspended(now),
        "silenced": lambda u: u.silenced(now),
        "pending": lambda u: u.active and not u.approved and not u.suspended(now),
        "staged": lambda u: u.staged,
    }
    if flag in _TRUST_LEVELS:
        users = [u for u in users if u.trust_level == _TRUST_LEVELS[flag]]
    if flag in filters:
        users = [u for u in users if filters[flag](u)]
    if ctx.params.get("email"):
        wanted = str(ctx.params["email"]).lower()
        users = [u for u in users if u.email.lower() == wanted]
    if ctx.params.get("filter"):  # AdminUserIndexQuery#filter_by_search: username or email
        needle = str(ctx.params["filter"]).strip().lower()
        users = [u for u in users if needle in u.username.lower() or needle in u.email.lower()]
    users.sort(key=lambda u: u.username.lower())
    order = str(ctx.params.get("order") or "").lower().removesuffix(" asc").removesuffix(" desc")
    if order:
        if order in _SORTABLE:  # "<column> DESC" unless ``asc`` is present
            users.sort(key=_SORTABLE[order], reverse=not ctx.params.get("asc"))
    elif flag == "active":  # users.last_seen_at DESC NULLS LAST, users.username
        seen = [u for u in users if u.last_seen_at is not None]
        seen.sort(key=lambda u: u.last_seen_at or EPOCH, reverse=True)  # all set here
        users = seen + [u for u in users if u.last_seen_at is None]
    else:  # users.created_at DESC, users.username
        users.sort(key=lambda u: u.created_at, reverse=True)
    page = max(1, as_int(ctx.params.get("page") or 1, "page"))
    chunk = users[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    show_emails = str(ctx.params.get("show_emails") or "") == "true"
    if show_emails:  # StaffActionLogger#log_show_emails
        forum.show_emails_log.append((ctx.actor.username if ctx.actor else "?", len(chunk)))
    # Guardian#can_check_emails?: admins, or moderators with moderators_view_emails
    can_check = ctx.admin or bool(forum.settings.get("moderators_view_emails"))
    return [
        payloads.admin_user_list_item(
            forum,
            u,
            show_email=show_emails and can_check,
            viewer=ctx.actor,
            include_can_be_deleted=True,
        )
        for u in chunk
    ]


def admin_users_index(ctx: Ctx) -> Any:
    """Imitates: app/controllers/admin/users_controller.rb#index without a query
    (``/admin/users.json`` and ``/admin/users/list.json``; AdminUserListSerializer)."""
    return admin_list(ctx, None)


def approve(ctx: Ctx, user_id: int) -> Any:
    """Imitates: app/controllers/admin/users_controller.rb#approve; Guardian#can_approve?
    needs an active (email confirmed), unapproved user, else 403; a missing ReviewableUser
    is created (Jobs::CreateUserReviewable) and then performs approve_user."""
    actor = ctx.require_staff()
    user = _user_by_id(ctx, user_id)
    if user.approved or not user.active:
        raise invalid_access()  # Guardian#can_approve? is false
    ctx.forum.ensure_user_reviewable(user)
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
    """Imitates: app/controllers/admin/users_controller.rb#deactivate (success_json);
    Guardian#can_deactivate? is can_suspend?: a staff target is refused (403)."""
    ctx.require_staff()
    user = _user_by_id(ctx, user_id)
    if user.staff:
        raise invalid_access()
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


def _ruby_to_i(text: str) -> int:
    """Ruby's ``String#to_i``: the leading integer, 0 when there is none."""
    match = re.match(r"\s*([-+]?\d+)", text)
    return int(match.group(1)) if match else 0


def destroy(ctx: Ctx, user_id: str) -> Any:
    """Imitates: app/controllers/admin/users_controller.rb#destroy (UserDestroyer; ``deleted``
    true). ``User.find_by(id: params[:id].to_i)``, then Guardian#can_delete_user?: an
    unknown user or an admin is a 403, not a 404. ``block_email`` screens the address.
    Simplifies: no ``block_ip``/``block_urls``, no staff action log."""
    ctx.require_staff()
    user = ctx.forum.users.get(_ruby_to_i(user_id))
    if not payloads.can_delete_user(ctx.forum, user):
        raise invalid_access()
    assert user is not None
    email = user.email
    ctx.forum.destroy_user(user, delete_posts=as_bool(ctx.params.get("delete_posts")))
    if as_bool(ctx.params.get("block_email")):
        ctx.forum.screened_emails.add(email.lower())
    return {"deleted": True}


def _penalty_contract(ctx: Ctx, time_name: str) -> tuple[Any, str]:
    """The ``params`` contract of User::Suspend / User::Silence: ``reason`` present and at
    most 300 characters, the end time present; a failure is 400 ``failed_json`` with the
    full messages, before the user is even looked up."""
    errors = []
    reason = str(ctx.params.get("reason") or "")
    if not reason.strip():
        errors.append("Reason can't be blank")
    elif len(reason) > 300:
        errors.append("Reason is too long (maximum is 300 characters)")
    till = None
    raw = ctx.params.get(time_name)
    if raw:
        try:
            till = parse_time(str(raw))
        except ValueError:
            till = None  # ActiveModel's datetime cast gives nil: "can't be blank"
    if till is None:
        errors.append(f"{time_name.replace('_', ' ').capitalize()} can't be blank")
    if errors:
        raise ApiError(400, body={"failed": "FAILED", "errors": errors})
    return till, reason


def _ago(ctx: Ctx, moment: Any) -> str:
    minutes = int((ctx.forum.now() - moment).total_seconds() // 60) if moment else 0
    return "less than a minute ago" if minutes < 1 else f"{minutes} minutes ago"


def silence(ctx: Ctx, user_id: int) -> Any:
    """Imitates: app/controllers/admin/users_controller.rb#silence (User::Silence service:
    contract 400, unknown user 404, 409 ``failed`` when already silenced, then
    Guardian#can_silence_user? refuses any staff target, 403). Simplifies: no
    ``other_user_ids``, ``post_action`` or message email."""
    actor = ctx.require_staff()
    till, reason = _penalty_contract(ctx, "silenced_till")
    user = _user_by_id(ctx, user_id)
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
    if user.staff:
        raise invalid_access()
    user.silenced_till = till
    user.silenced_at = now
    user.silence_reason = reason
    user.silenced_by_id = actor.id
    return {
        "silence": {
            "silenced": True,
            "silence_reason": reason,
            "full_silence_reason": reason,
            "silenced_till": iso(till),
            "silenced_at": iso(now),
            "silenced_by": payloads.basic_user(actor) | {"name": actor.name or ""},
        }
    }


def unsilence(ctx: Ctx, user_id: int) -> Any:
    """Imitates: app/controllers/admin/users_controller.rb#unsilence (UserSilencer.unsilence;
    Guardian#can_unsilence_user? is any staff)."""
    ctx.require_staff()
    user = _user_by_id(ctx, user_id)
    user.silenced_till = user.silenced_at = user.silence_reason = user.silenced_by_id = None
    return {
        "unsilence": {
            "silenced": False,
            "silence_reason": None,
            "silenced_till": None,
            "silenced_at": None,
        }
    }


def suspend(ctx: Ctx, user_id: int) -> Any:
    """Imitates: app/controllers/admin/users_controller.rb#suspend (User::Suspend service:
    contract 400 for a missing or too long ``reason`` or a missing ``suspend_until``,
    unknown user 404, 409 when already suspended, then Guardian#can_suspend? refuses any
    staff target, 403). Simplifies: no ``other_user_ids``, ``post_action`` or email."""
    actor = ctx.require_staff()
    till, reason = _penalty_contract(ctx, "suspend_until")
    user = _user_by_id(ctx, user_id)
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
    if user.staff:
        raise invalid_access()  # Guardian#can_suspend?: user.regular?
    user.suspended_till = till
    user.suspended_at = now
    user.suspend_reason = reason
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
    (AdminUserSerializer as ``admin_user``). Simplifies: no manual trust-level lock, and a
    missing ``level`` is refused where Discourse reads it as 0."""
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
    return {"admin_user": payloads.admin_user(ctx.forum, user, ctx.actor)}


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
    ("/admin/users/list.json", ["GET"], admin_users_index),
    ("/admin/users/list/<flag>.json", ["GET"], admin_list),
    ("/admin/users/<int(signed=True):user_id>.json", ["GET"], admin_show_user),
    ("/admin/users/<user_id>.json", ["DELETE"], destroy),
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
