"""Badge JSON: BadgeSerializer, UserBadgeSerializer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from worker.sandbox import cooking
from worker.sandbox.models import (
    Badge,
    User,
    UserBadge,
)
from worker.sandbox.timeutil import iso

if TYPE_CHECKING:
    from worker.sandbox.state import Forum
from worker.sandbox.payloads.users import avatar_template

BADGE_TYPES = [
    {"id": 1, "name": "Gold", "sort_order": 9},
    {"id": 2, "name": "Silver", "sort_order": 8},
    {"id": 3, "name": "Bronze", "sort_order": 7},
]


def badge(forum: Forum, b: Badge) -> dict[str, Any]:
    """BadgeSerializer (admin flavour)."""
    return {
        "id": b.id,
        "name": b.name,
        "description": b.description,
        "grant_count": sum(1 for ub in forum.user_badges.values() if ub.badge_id == b.id),
        "allow_title": b.allow_title,
        "multiple_grant": b.multiple_grant,
        "icon": b.icon,
        "image_url": None,
        "image_upload_id": b.image_upload_id,
        "listable": b.listable,
        "enabled": b.enabled,
        "badge_grouping_id": b.badge_grouping_id,
        "system": b.system,
        "long_description": b.long_description,
        "slug": cooking.slugify(b.name) or f"{b.id}-badge",
        "manually_grantable": True,
        "query": b.query,
        "trigger": b.trigger,
        "target_posts": b.target_posts,
        "auto_revoke": b.auto_revoke,
        "show_posts": b.show_posts,
        "badge_type_id": b.badge_type_id,
        "show_in_post_header": b.show_in_post_header,
    }


BASIC_BADGE_KEYS = (
    "id",
    "name",
    "description",
    "grant_count",
    "allow_title",
    "multiple_grant",
    "icon",
    "image_url",
    "listable",
    "enabled",
    "badge_grouping_id",
    "system",
    "slug",
    "manually_grantable",
    "badge_type_id",
)


def basic_badge(forum: Forum, b: Badge) -> dict[str, Any]:
    full = badge(forum, b)
    return {key: full[key] for key in BASIC_BADGE_KEYS}


def user_badge(forum: Forum, ub: UserBadge) -> dict[str, Any]:
    """UserBadgeSerializer."""
    return {
        "id": ub.id,
        "granted_at": iso(ub.granted_at),
        "grouping_position": 500,
        "is_favorite": None,
        "can_favorite": False,
        "badge_id": ub.badge_id,
        "granted_by_id": ub.granted_by_id,
    }


def webhook_user_badge(forum: Forum, ub: UserBadge) -> dict[str, Any]:
    data = user_badge(forum, ub)
    data["user_id"] = ub.user_id
    data["post_id"] = ub.post_id
    return data


def granted_by(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "name": user.name or "",
        "avatar_template": avatar_template(user),
        "flair_name": None,
        "admin": user.admin,
        "moderator": user.moderator,
        "trust_level": user.trust_level,
    }
