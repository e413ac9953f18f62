"""Badges (admin CRUD) and user badges (grant, list, revoke)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from worker.sandbox import payloads
from worker.sandbox.app import Ctx, Reply
from worker.sandbox.errors import invalid_access, not_found, param_missing, unprocessable
from worker.sandbox.models import Badge
from worker.sandbox.params import as_bool, as_int

BADGE_GROUPINGS = [
    {"id": 1, "name": "Getting Started", "description": None, "position": 10, "system": True},
    {"id": 2, "name": "Community", "description": None, "position": 11, "system": True},
    {"id": 3, "name": "Posting", "description": None, "position": 12, "system": True},
    {"id": 4, "name": "Trust Level", "description": None, "position": 13, "system": True},
    {"id": 5, "name": "Other", "description": None, "position": 14, "system": True},
]
_BOOL_ATTRS = (
    "allow_title",
    "multiple_grant",
    "listable",
    "enabled",
    "show_posts",
    "target_posts",
    "auto_revoke",
    "show_in_post_header",
)
_STR_ATTRS = ("description", "long_description", "icon")


def _apply(ctx: Ctx, badge: Badge, *, is_new: bool) -> None:
    """Admin::BadgesController#update_badge_from_params: top-level params, each column set
    only ``if params[key]``, so a JSON false or null is skipped (the string "false" is not)."""
    p = {k: v for k, v in ctx.params.items() if v is not None and v is not False}
    errors = []
    if "name" in p or is_new:
        name = str(p.get("name") or "").strip()
        if not name:
            errors.append("Name can't be blank")
        elif any(
            b.name.lower() == name.lower() and b.id != badge.id for b in ctx.forum.badges.values()
        ):
            errors.append("Name has already been taken")
        else:
            badge.name = name
    if "badge_type_id" in p or is_new:
        try:
            badge_type = int(p.get("badge_type_id"))  # type: ignore[arg-type]  # None: TypeError below
        except (TypeError, ValueError):
            badge_type = 0
        if badge_type not in (1, 2, 3):
            errors.append("Badge type can't be blank")
        else:
            badge.badge_type_id = badge_type
    if errors:
        raise unprocessable(*errors)
    for key in _BOOL_ATTRS:
        if key in p:
            setattr(badge, key, as_bool(p[key]))
    for key in _STR_ATTRS:
        if key in p:
            setattr(badge, key, "" if p[key] is None else str(p[key]))
    if p.get("badge_grouping_id"):
        badge.badge_grouping_id = as_int(p["badge_grouping_id"], "badge_grouping_id")


def _badge(ctx: Ctx, badge_id: int) -> Badge:
    badge = ctx.forum.badges.get(badge_id)
    if badge is None:
        raise not_found()
    return badge


def index(ctx: Ctx) -> Any:
    """Imitates: app/controllers/admin/badges_controller.rb#index (BadgeSerializer)
    Simplifies: badge_types and badge_groupings are the seeded ones.
    """
    ctx.require_admin()
    forum = ctx.forum
    badges = sorted(forum.badges.values(), key=lambda b: b.id)
    return {
        "badges": [payloads.badge(forum, b) for b in badges],
        "badge_types": payloads.BADGE_TYPES,
        "badge_groupings": BADGE_GROUPINGS,
        "admin_badges": {
            "protected_system_fields": [],
            "triggers": {
                "user_change": 8,
                "none": 0,
                "post_revision": 2,
                "trust_level_change": 4,
                "post_action": 1,
            },
            "badge_ids": [b.id for b in badges],
            "badge_grouping_ids": [g["id"] for g in BADGE_GROUPINGS],
            "badge_type_ids": [t["id"] for t in payloads.BADGE_TYPES],
        },
    }


def create(ctx: Ctx) -> Any:
    """Imitates: app/controllers/admin/badges_controller.rb#create, AdminBadgeSerializer."""
    ctx.require_admin()
    forum = ctx.forum
    badge = Badge(id=0, name="", badge_type_id=3, created_at=forum.now())
    _apply(ctx, badge, is_new=True)
    badge.id = forum.next_id("badge", start=100)  # Discourse's own badges hold ids below 100
    forum.badges[badge.id] = badge
    return {"badge_types": payloads.BADGE_TYPES, "badge": _admin_badge(ctx, badge)}


def _admin_badge(ctx: Ctx, badge: Badge) -> dict[str, Any]:
    data = payloads.badge(ctx.forum, badge)
    data["trigger"] = None if badge.trigger is None else str(badge.trigger)
    return data


def update(ctx: Ctx, badge_id: int) -> Any:
    """Imitates: app/controllers/admin/badges_controller.rb#update, AdminBadgeSerializer."""
    ctx.require_admin()
    badge = _badge(ctx, badge_id)
    _apply(ctx, badge, is_new=False)
    return {"badge_types": payloads.BADGE_TYPES, "badge": _admin_badge(ctx, badge)}


def destroy(ctx: Ctx, badge_id: int) -> Any:
    """Imitates: app/controllers/admin/badges_controller.rb#destroy (success_json)"""
    ctx.require_admin()
    badge = _badge(ctx, badge_id)
    if badge.system:
        raise invalid_access()
    forum = ctx.forum
    for key in [k for k, ub in forum.user_badges.items() if ub.badge_id == badge.id]:
        del forum.user_badges[key]
    del forum.badges[badge.id]
    return None


# Discourse's GET routes to topics#show: t/:id, t/:topic_id/:post_number, t/:slug/:topic_id,
# t/:slug/:topic_id/:post_number (ids digits).
_TOPIC_ROUTE = re.compile(r"/t/(?:\d+(?:/\d+)?|[^/]+/\d+(?:/\d+)?)/?")


def _is_topic_route_here(base_url: str, reason: str) -> bool:
    """``is_badge_reason_valid?``: ``Discourse.route_for`` routes a relative path, or an
    absolute URL only when its host is the forum's own (``Discourse.current_hostname``:
    the port is not compared); the route must be a topic's. Simplified: post routes
    (``/p/:id``) are not recognised."""
    try:
        parsed = urlsplit(reason)
    except ValueError:
        return False
    if parsed.hostname and parsed.hostname != urlsplit(base_url).hostname:
        return False
    return bool(_TOPIC_ROUTE.fullmatch(parsed.path))


def grant(ctx: Ctx) -> Any:
    """Imitates: app/controllers/user_badges_controller.rb#create, DetailedUserBadgeSerializer."""
    actor = ctx.require_login()
    if not actor.staff:  # can_assign_badge_to_user? → render failed_json, status: :forbidden
        return Reply({"failed": "FAILED"}, 403)
    forum = ctx.forum
    p = ctx.params
    if not p.get("username"):
        raise param_missing("username")
    user = forum.user_or_404(str(p["username"]))
    badge = None
    if p.get("badge_id"):
        badge = forum.badges.get(as_int(p["badge_id"], "badge_id"))
    elif p.get("badge_name"):
        wanted = str(p["badge_name"]).lower()
        badge = next((b for b in forum.badges.values() if b.name.lower() == wanted), None)
    else:
        raise param_missing("badge_id")
    if badge is None or not badge.enabled:
        raise not_found()  # Badge.find_by(id:, enabled: true) or Discourse::NotFound
    reason = p.get("reason") or None
    if reason and not _is_topic_route_here(forum.base_url, str(reason)):
        return Reply(
            {
                "failed": "FAILED",
                "message": "Reason must be a link to a post or topic on this forum.",
            },
            400,
        )
    user_badge = forum.grant_badge(badge, user, by=actor, reason=reason)
    body = payloads.user_badge(forum, user_badge) | {
        "user_id": user.id,
        "post_id": user_badge.post_id,
    }
    return {
        "badges": [payloads.basic_badge(forum, badge)],
        "badge_types": payloads.BADGE_TYPES,
        "users": [payloads.basic_user(user)],
        "user_badge": body,
    }


def list_for_user(ctx: Ctx, username: str) -> Any:
    """Imitates: app/controllers/user_badges_controller.rb#username (DetailedUserBadgeSerializer)
    Simplifies: no grouped/paging parameters.
    """
    forum = ctx.forum
    user = forum.user_or_404(username)
    granted = sorted(
        (ub for ub in forum.user_badges.values() if ub.user_id == user.id), key=lambda ub: ub.id
    )
    badge_ids = sorted({ub.badge_id for ub in granted})
    granters = sorted({ub.granted_by_id for ub in granted})
    return {
        "badges": [payloads.basic_badge(forum, forum.badges[b]) for b in badge_ids],
        "badge_types": payloads.BADGE_TYPES,
        "granted_bies": [payloads.granted_by(forum.users[u]) for u in granters if u in forum.users],
        "user_badges": [payloads.user_badge(forum, ub) for ub in granted],
    }


def revoke(ctx: Ctx, user_badge_id: int) -> Any:
    """Imitates: app/controllers/user_badges_controller.rb#destroy (success_json)."""
    actor = ctx.require_login()
    forum = ctx.forum
    if user_badge_id not in forum.user_badges:
        raise not_found()  # UserBadge.find raises RecordNotFound first
    if not actor.staff:
        return Reply({"failed": "FAILED"}, 403)
    user_badge = forum.user_badges.pop(user_badge_id)
    forum.emit("user_badge_revoked", {"user_badge": payloads.webhook_user_badge(forum, user_badge)})
    return {"success": "OK"}


ROUTES = [
    ("/admin/badges.json", ["GET"], index),
    ("/admin/badges.json", ["POST"], create),
    ("/admin/badges/<int:badge_id>.json", ["PUT"], update),
    ("/admin/badges/<int:badge_id>.json", ["DELETE"], destroy),
    ("/user_badges.json", ["POST"], grant),
    ("/user-badges/<username>.json", ["GET"], list_for_user),
    ("/user_badges/<int:user_badge_id>.json", ["DELETE"], revoke),
]
