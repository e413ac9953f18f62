"""Admin: site settings, user fields, the review queue, webhooks and API keys."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlparse

from worker.sandbox import payloads
from worker.sandbox.addresses import payload_host_allowed
from worker.sandbox.app import Ctx, Reply
from worker.sandbox.errors import (
    ApiError,
    invalid_access,
    not_found,
    param_missing,
    unprocessable,
)
from worker.sandbox.event_types import EVENT_ID, grouped
from worker.sandbox.models import UserField, WebHook
from worker.sandbox.params import as_bool, as_int, as_list
from worker.sandbox.site_settings import BY_NAME, SPECS, coerce
from worker.sandbox.state import SYSTEM_USER_ID

FIELD_TYPES = ("text", "confirm", "dropdown", "multiselect")
REQUIREMENTS = ("optional", "for_all_users", "on_signup")
BLOCKED_OR_INTERNAL = "The payload URL resolves to a blocked or internal IP address."


# ── site settings ────────────────────────────────────────────────────────────
def _setting_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def site_settings(ctx: Ctx) -> Any:
    """Imitates: app/controllers/admin/site_settings_controller.rb#index (SiteSetting.all_settings)
    Simplifies: only the settings in site_settings.SPECS exist; filter_names only.
    """
    ctx.require_admin()
    settings: list[dict[str, Any]] = []
    for spec in SPECS:
        settings.append(
            {
                "setting": spec.name,
                "description": spec.description,
                "keywords": [],
                "default": _setting_text(spec.default),
                "value": _setting_text(ctx.forum.settings[spec.name]),
                "category": spec.category,
                "preview": None,
                "secret": False,
                "placeholder": None,
                "mandatory_values": "|".join(spec.mandatory) or None,
                "requires_confirmation": None,
                "type": spec.type,
            }
        )
    filter_ = ctx.params.get("filter_names")
    if filter_:
        wanted = {str(name) for name in as_list(filter_)}
        settings = [s for s in settings if s["setting"] in wanted]
    return {"site_settings": settings, "diags": {"last_message_processed": None}}


def update_site_setting(ctx: Ctx, name: str) -> Any:
    """Imitates: app/controllers/admin/site_settings_controller.rb#update (no body)
    Simplifies: no validators beyond the setting's type; no staff log.
    """
    ctx.require_admin()
    spec = BY_NAME.get(name)
    if spec is None:
        raise unprocessable(f"No setting named '{name}' exists")
    if name not in ctx.params:
        raise param_missing(name)
    try:
        value = coerce(spec, ctx.params[name])
    except ValueError as exc:
        raise unprocessable(f"Value is invalid for {name}") from exc
    if spec.type == "group_list":  # allow_any: false: only groups that exist
        unknown = [g for g in str(value).split("|") if int(g) not in ctx.forum.groups]
        if unknown:
            raise unprocessable(f"Value is invalid for {name}")
    ctx.forum.settings[name] = value
    if name == "chat_allowed_groups":  # chat plugin.rb: Jobs::Chat::AutoJoinUsers
        ctx.forum.chat_auto_join()
        ctx.forum.chat_auto_leave()
    if name == "max_admin_api_reqs_per_minute" and ctx.forum.on_setting_change:
        ctx.forum.on_setting_change(name, value)
    return None


# ── user fields ──────────────────────────────────────────────────────────────
# Served only under /admin/config (config/routes.rb, scope "/config"); the old
# /admin/customize/user_fields route is gone, so it answers 404 like any unknown route.
def user_fields(ctx: Ctx) -> Any:
    """Imitates: app/controllers/admin/user_fields_controller.rb#index, UserFieldSerializer."""
    ctx.require_admin()
    fields = sorted(ctx.forum.user_fields.values(), key=lambda f: (f.position, f.id))
    return {"user_fields": [payloads.user_field(f) for f in fields]}


def _apply_field(ctx: Ctx, field: UserField, *, is_new: bool) -> None:
    attrs = ctx.params.get("user_field")
    if not isinstance(attrs, dict):
        raise param_missing("user_field")
    # Only the permitted columns count (``required`` is gone since 3.3: ignored). A
    # JSON null is skipped like an absent key (``unless field_params[col].nil?``).
    attrs = {k: v for k, v in attrs.items() if v is not None}
    errors = []
    if "name" in attrs or is_new:
        if not str(attrs.get("name") or "").strip():
            errors.append("Name can't be blank")
        else:
            field.name = str(attrs["name"]).strip()
    if "description" in attrs or is_new:
        if not str(attrs.get("description") or "").strip():
            errors.append("Description can't be blank")
        else:
            field.description = str(attrs["description"])
    if "field_type" in attrs or is_new:
        field_type = str(attrs.get("field_type") or "")
        if field_type not in FIELD_TYPES:
            errors.append("Field type is not included in the list")
        else:
            field.field_type = field_type
    if "requirement" in attrs:
        if attrs["requirement"] not in REQUIREMENTS:
            errors.append("Requirement is not included in the list")
        else:
            field.requirement = str(attrs["requirement"])
    if errors:
        raise unprocessable(*errors)
    for key in ("editable", "show_on_profile", "show_on_user_card", "searchable"):
        if key in attrs:
            setattr(field, key, as_bool(attrs[key]))
    if "position" in attrs:
        field.position = as_int(attrs["position"], "position")
    if attrs.get("options"):  # ``options.present?``: absent or empty keeps the old ones
        values = [
            str(o.get("value") if isinstance(o, dict) else o) for o in as_list(attrs["options"])
        ]
        field.options = list(dict.fromkeys(values))  # ``.uniq``
    if field.field_type in ("dropdown", "multiselect") and not field.options:
        raise unprocessable("Options can't be blank")


def create_user_field(ctx: Ctx) -> Any:
    """Imitates: app/controllers/admin/user_fields_controller.rb#create (json_result),
    UserFieldSerializer. Simplified: field types text/confirm/dropdown/multiselect only."""
    ctx.require_admin()
    forum = ctx.forum
    position = max((f.position for f in forum.user_fields.values()), default=0) + 1
    field = UserField(id=0, name="", description="", position=position)
    _apply_field(ctx, field, is_new=True)
    field.position = position  # create overrides any position sent
    field.id = forum.next_id("user_field")
    forum.user_fields[field.id] = field
    return {"success": "OK", "user_field": payloads.user_field(field)}


def update_user_field(ctx: Ctx, field_id: int) -> Any:
    """Imitates: app/controllers/admin/user_fields_controller.rb#update, UserFieldSerializer.
    An unknown id fails there on nil (a 500), so it does here."""
    ctx.require_admin()
    field = ctx.forum.user_fields.get(field_id)
    if field is None:
        raise ApiError(500, body={"status": 500, "error": "Internal Server Error"})
    _apply_field(ctx, field, is_new=False)
    return {"user_field": payloads.user_field(field)}


def destroy_user_field(ctx: Ctx, field_id: int) -> Any:
    """Imitates: app/controllers/admin/user_fields_controller.rb#destroy (success_json
    whether or not the field exists)."""
    ctx.require_admin()
    forum = ctx.forum
    if forum.user_fields.pop(field_id, None) is not None:
        for user in forum.users.values():
            user.user_fields.pop(str(field_id), None)
    return {"success": "OK"}


# ── review queue ─────────────────────────────────────────────────────────────
STATUS_IDS = {"pending": 0, "approved": 1, "rejected": 2, "ignored": 3, "deleted": 4}
ACTION_ALIASES = {"reject_user_delete": "delete_user", "reject_user_block": "delete_user_block"}


def review_list(ctx: Ctx) -> Any:
    """Imitates: app/controllers/reviewables_controller.rb#index (ReviewableSerializer list,
    ``meta.load_more_reviewables``). Simplifies: filters by type and status only."""
    ctx.require_staff()
    forum = ctx.forum
    items = sorted(forum.reviewables.values(), key=lambda r: r.id, reverse=True)
    wanted_type = ctx.params.get("type")
    if wanted_type:
        items = [r for r in items if r.type == wanted_type]
    status = str(ctx.params.get("status") or "pending")
    if status != "all":
        if status == "reviewed":
            items = [r for r in items if r.status != 0]
        elif status in STATUS_IDS:
            items = [r for r in items if r.status == STATUS_IDS[status]]
    offset = as_int(ctx.params.get("offset") or 0, "offset")
    limit = as_int(ctx.params.get("limit") or 50, "limit")
    chunk = items[offset : offset + limit]
    users = {r.target_id for r in chunk if r.target_id in forum.users}
    body: dict[str, Any] = {
        "reviewables": [payloads.reviewable(forum, r) for r in chunk],
        "users": [payloads.basic_user(forum.users[uid]) for uid in sorted(users)],
        "meta": {
            "total_rows_reviewables": len(items),
            "types": {"reviewable_user": "ReviewableUser"},
            "reviewable_count": sum(1 for r in forum.reviewables.values() if r.status == 0),
            "unseen_reviewable_count": 0,
        },
        "__rest_serializer": "1",
    }
    if offset + limit < len(items):
        body["meta"]["load_more_reviewables"] = (
            f"/review.json?offset={offset + limit}&status={status}"
        )
    return body


def review_show(ctx: Ctx, reviewable_id: int) -> Any:
    """Imitates: app/controllers/reviewables_controller.rb#show (ReviewableUserSerializer)."""
    ctx.require_staff()
    reviewable = ctx.forum.reviewables.get(reviewable_id)
    if reviewable is None:
        raise not_found()
    return {"reviewable": payloads.reviewable(ctx.forum, reviewable)}


REJECT_REASON_MAX = 2000  # sandbox's bound on Reviewable#reject_reason (validate! refuses more)


def review_perform(ctx: Ctx, reviewable_id: int, action: str) -> Any:
    """Imitates: app/controllers/reviewables_controller.rb#perform with
    ReviewableUser.additional_args (``reject_reason``; ``send_email`` unless the string
    "false") and ReviewableUser#perform_delete_user: with must_approve_users the applicant
    gets the ``signup_after_reject`` email carrying the reason (sandbox: recorded in
    ``Forum.sent_emails``, not sent); a user with posts is kept, the reviewable is
    rejected either way."""
    actor = ctx.require_staff()
    forum = ctx.forum
    reviewable = forum.reviewables.get(reviewable_id)
    if reviewable is None:
        raise not_found()
    if "version" not in ctx.params:
        raise param_missing("version")
    version = as_int(ctx.params["version"], "version")
    if version != reviewable.version:
        raise ApiError(
            409,
            [
                "There was an update conflict preventing you from doing that. "
                "Someone else must have edited it first."
            ],
        )
    action = ACTION_ALIASES.get(action, action)
    if reviewable.status != 0 or action not in ("approve_user", "delete_user", "delete_user_block"):
        raise invalid_access()
    user = forum.users.get(reviewable.target_id)
    if action == "approve_user":
        if user is not None:
            forum.approve_user(user, actor)
        reviewable.status = 1
        transition = "approved"
    else:
        reason = ctx.params.get("reject_reason")
        reason = str(reason) if reason not in (None, "") else None
        if reason is not None and len(reason) > REJECT_REASON_MAX:
            raise unprocessable(
                f"Reject reason is too long (maximum is {REJECT_REASON_MAX} characters)"
            )
        reviewable.reject_reason = reason
        send_email = str(ctx.params.get("send_email", "")) != "false"
        if user is not None:
            if send_email and forum.settings["must_approve_users"]:
                forum.sent_emails.append(
                    {
                        "type": "signup_after_reject",
                        "to": user.email,
                        "username": user.username,
                        "reject_reason": reason,
                    }
                )
            if action == "delete_user_block":
                forum.screened_emails.add(user.email.lower())
            has_posts = any(p.user_id == user.id and not p.deleted_at for p in forum.posts.values())
            if not has_posts and not user.admin:  # UserDestroyer::PostsExistError is rescued
                forum.destroy_user(user)
        reviewable.status = 2
        transition = "rejected"
    reviewable.version = version + 1
    return {
        "reviewable_perform_result": {
            "success": True,
            "transition_to": transition,
            "transition_to_id": reviewable.status,
            "created_post_id": None,
            "created_post_topic_id": None,
            "remove_reviewable_ids": [reviewable.id],
            "version": reviewable.version,
            "reviewable_count": sum(1 for r in forum.reviewables.values() if r.status == 0),
            "unseen_reviewable_count": 0,
        }
    }


# ── webhooks ─────────────────────────────────────────────────────────────────
def _admin_route(ctx: Ctx) -> None:
    """config/routes.rb: ``resources :api, constraints: AdminConstraint.new`` holds the
    web hook and API key routes, so to a moderator they do not exist (404, like the
    StaffConstraint the app applies to every /admin/ path for non-staff)."""
    if not ctx.admin:
        raise not_found()


def _hook(ctx: Ctx, hook_id: int) -> WebHook:
    hook = ctx.forum.webhooks.get(hook_id)
    if hook is None:
        raise not_found()
    return hook


def _webhook_extras() -> dict[str, Any]:
    return {
        "grouped_event_types": grouped(),
        "default_event_types": [
            {"id": EVENT_ID["post_created"], "name": "post_created", "group": "post"}
        ],
        "content_types": [
            {"id": 1, "name": "application/json"},
            {"id": 2, "name": "application/x-www-form-urlencoded"},
        ],
        "delivery_statuses": [
            {"id": 1, "name": "inactive"},
            {"id": 2, "name": "failed"},
            {"id": 3, "name": "successful"},
            {"id": 4, "name": "disabled"},
        ],
    }


def webhooks_index(ctx: Ctx) -> Any:
    """Imitates: app/controllers/admin/web_hooks_controller.rb#index (AdminWebHookSerializer)"""
    _admin_route(ctx)
    forum = ctx.forum
    limit = as_int(ctx.params.get("limit") or 50, "limit")
    offset = as_int(ctx.params.get("offset") or 0, "offset")
    hooks = sorted(forum.webhooks.values(), key=lambda h: h.id)
    return {
        "web_hooks": [payloads.web_hook(forum, h) for h in hooks[offset : offset + limit]],
        "extras": _webhook_extras(),
        "total_rows_web_hooks": len(hooks),
        "load_more_web_hooks": f"/admin/api/web_hooks.json?limit={limit}&offset={offset + limit}",
    }


def _apply_hook(ctx: Ctx, hook: WebHook, *, is_new: bool) -> None:
    attrs = ctx.params.get("web_hook")
    if not isinstance(attrs, dict):
        raise param_missing("web_hook")
    errors = []
    if "payload_url" in attrs or is_new:
        url = str(attrs.get("payload_url") or "")
        parsed = urlparse(url)
        if not url:
            errors.append("Payload URL can't be blank")
        elif parsed.scheme not in ("http", "https") or not parsed.hostname:
            errors.append("Payload URL is invalid")
        elif url != hook.payload_url and not payload_host_allowed(
            parsed.hostname, ctx.forum.settings
        ):
            # validate :ensure_payload_url_allowed, if: :payload_url_changed?; added to :base.
            # The sandbox's own wording: Discourse's English text of
            # webhooks.payload_url.blocked_or_internal is not in the reference copies.
            errors.append(BLOCKED_OR_INTERNAL)
        else:
            hook.payload_url = url
    if "secret" in attrs:
        secret = str(attrs.get("secret") or "")
        if secret and len(secret) < 12:
            errors.append("Secret is too short (minimum is 12 characters)")
        else:
            hook.secret = secret
    if "content_type" in attrs:
        hook.content_type = as_int(attrs["content_type"], "content_type")
    for key in ("wildcard_web_hook", "verify_certificate", "active"):
        if key in attrs:
            setattr(hook, key, as_bool(attrs[key]))
    if "web_hook_event_type_ids" in attrs:
        ids = [
            as_int(v, "web_hook_event_type_ids") for v in as_list(attrs["web_hook_event_type_ids"])
        ]
        known = set(EVENT_ID.values())
        if any(i not in known for i in ids):
            errors.append("Web hook event types is invalid")
        hook.event_type_ids = ids
    if "category_ids" in attrs:
        hook.category_ids = [as_int(v, "category_ids") for v in as_list(attrs["category_ids"])]
    if "group_ids" in attrs:
        hook.group_ids = [as_int(v, "group_ids") for v in as_list(attrs["group_ids"])]
    if "tag_names" in attrs:
        hook.tag_names = [str(v) for v in as_list(attrs["tag_names"])]
    if not hook.wildcard_web_hook and not hook.event_type_ids:
        errors.append("Web hook event types can't be blank")
    if errors:
        raise unprocessable(*errors)


def webhook_create(ctx: Ctx) -> Any:
    """Imitates: app/controllers/admin/web_hooks_controller.rb#create (AdminWebHookSerializer)
    Validations of app/models/web_hook.rb; ensure_payload_url_allowed as sandbox/addresses.py
    (no DNS).
    """
    _admin_route(ctx)
    forum = ctx.forum
    hook = WebHook(id=0, payload_url="")
    _apply_hook(ctx, hook, is_new=True)
    hook.id = forum.next_id("web_hook")
    forum.webhooks[hook.id] = hook
    return {"web_hook": payloads.web_hook(forum, hook), "extras": _webhook_extras()}


def webhook_show(ctx: Ctx, hook_id: int) -> Any:
    """Imitates: app/controllers/admin/web_hooks_controller.rb#show (AdminWebHookSerializer)"""
    _admin_route(ctx)
    return {
        "web_hook": payloads.web_hook(ctx.forum, _hook(ctx, hook_id)),
        "extras": _webhook_extras(),
    }


def webhook_update(ctx: Ctx, hook_id: int) -> Any:
    """Imitates: app/controllers/admin/web_hooks_controller.rb#update (AdminWebHookSerializer)
    The address check runs only when payload_url changes, as in the model.
    """
    _admin_route(ctx)
    hook = _hook(ctx, hook_id)
    _apply_hook(ctx, hook, is_new=False)
    return {"web_hook": payloads.web_hook(ctx.forum, hook), "extras": _webhook_extras()}


def webhook_destroy(ctx: Ctx, hook_id: int) -> Any:
    """Imitates: app/controllers/admin/web_hooks_controller.rb#destroy (success_json)"""
    _admin_route(ctx)
    hook = _hook(ctx, hook_id)
    del ctx.forum.webhooks[hook.id]
    return {"success": "OK"}


def webhook_ping(ctx: Ctx, hook_id: int) -> Any:
    """Imitates: app/controllers/admin/web_hooks_controller.rb#ping (success_json)
    Simplifies: delivers the ping at once instead of through Jobs::EmitWebHookEvent.
    """
    _admin_route(ctx)
    hook = _hook(ctx, hook_id)
    ctx.forum.emit("ping", {"ping": "OK"}, only_hook=hook.id)
    return {"success": "OK"}


# ── API keys ─────────────────────────────────────────────────────────────────
def create_api_key(ctx: Ctx) -> Any:
    """Imitates: app/controllers/admin/api_controller.rb#create (ApiKeySerializer)
    Simplifies: no scopes; the key is shown once, as Discourse does.
    """
    _admin_route(ctx)
    forum = ctx.forum
    attrs = ctx.wrapped("key")
    username = attrs.get("username")
    user = forum.user_or_404(str(username)) if username else None
    key = secrets.token_hex(32)
    forum.user_api_keys[key] = user.id if user else None
    now = forum.now()
    from worker.sandbox.timeutil import iso

    return {
        "key": {
            "id": len(forum.user_api_keys),
            "key": key,
            "truncated_key": key[:4],
            "description": attrs.get("description"),
            "last_used_at": None,
            "created_at": iso(now),
            "updated_at": iso(now),
            "revoked_at": None,
            "user": payloads.basic_user(user) if user else None,
            "created_by": payloads.basic_user(ctx.actor or forum.users[SYSTEM_USER_ID]),
            "api_key_scopes": [],
        }
    }


ROUTES = [
    ("/admin/site_settings.json", ["GET"], site_settings),
    ("/admin/site_settings/<name>.json", ["PUT"], update_site_setting),
    ("/admin/config/user_fields.json", ["GET"], user_fields),
    ("/admin/config/user_fields.json", ["POST"], create_user_field),
    ("/admin/config/user_fields/<int:field_id>.json", ["PUT"], update_user_field),
    ("/admin/config/user_fields/<int:field_id>.json", ["DELETE"], destroy_user_field),
    ("/review.json", ["GET"], review_list),
    ("/review/<int:reviewable_id>.json", ["GET"], review_show),
    ("/review/<int:reviewable_id>/perform/<action>.json", ["PUT"], review_perform),
    ("/admin/api/web_hooks.json", ["GET"], webhooks_index),
    ("/admin/api/web_hooks.json", ["POST"], webhook_create),
    ("/admin/api/web_hooks/<int:hook_id>.json", ["GET"], webhook_show),
    ("/admin/api/web_hooks/<int:hook_id>.json", ["PUT"], webhook_update),
    ("/admin/api/web_hooks/<int:hook_id>.json", ["DELETE"], webhook_destroy),
    ("/admin/api/web_hooks/<int:hook_id>/ping.json", ["POST"], webhook_ping),
    ("/admin/api/web_hooks/<int:hook_id>/ping", ["POST"], webhook_ping),
    ("/admin/api/keys.json", ["POST"], create_api_key),
]

__all__ = ["ROUTES", "Reply"]
