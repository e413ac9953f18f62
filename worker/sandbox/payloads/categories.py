"""Category JSON: CategorySerializer, the list flavour and the webhook body."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from worker.sandbox import cooking
from worker.sandbox.models import (
    AUTO_GROUPS,
    Category,
    User,
)

if TYPE_CHECKING:
    from worker.sandbox.state import Forum


def group_permissions(forum: Forum, category: Category) -> list[dict[str, Any]]:
    perms = category.permissions or {AUTO_GROUPS["everyone"]: 1}
    return [
        {"permission_type": perm, "group_name": forum.groups[gid].name, "group_id": gid}
        for gid, perm in sorted(perms.items())
        if gid in forum.groups
    ]


def _topic_url(forum: Forum, category: Category) -> str | None:
    topic = forum.topics.get(category.topic_id) if category.topic_id else None
    return f"/t/{topic.slug}/{topic.id}" if topic else None


def _category_counts(forum: Forum, category: Category) -> tuple[int, int]:
    topics = [
        t
        for t in forum.topics.values()
        if t.category_id == category.id and t.deleted_at is None and t.id != category.topic_id
    ]
    posts = sum(1 for t in topics for pid in t.post_ids if forum.posts[pid].deleted_at is None)
    return len(topics), posts


def _category_core(forum: Forum, category: Category, viewer: User | None) -> dict[str, Any]:
    topic_count, post_count = _category_counts(forum, category)
    children = [c for c in forum.categories.values() if c.parent_category_id == category.id]
    description_cooked = cooking.cook(category.description) if category.description else None
    return {
        "id": category.id,
        "name": category.name,
        "color": category.color,
        "text_color": category.text_color,
        "style_type": category.style_type,
        "emoji": category.emoji,
        "icon": category.icon,
        "slug": category.slug,
        "topic_count": topic_count,
        "post_count": post_count,
        "position": category.position,
        "description": description_cooked,
        "description_text": cooking.excerpt(description_cooked, 10_000)
        if description_cooked
        else None,
        "description_excerpt": cooking.excerpt(description_cooked) if description_cooked else None,
        "topic_url": _topic_url(forum, category),
        "read_restricted": forum.read_restricted(category),
        "permission": forum.category_permission(viewer, category) if viewer else None,
        "notification_level": 1,
        "can_edit": viewer is not None and viewer.admin,
        "topic_template": category.topic_template,
        "topic_title_placeholder": None,
        "has_children": bool(children) if children else None,
        "subcategory_count": len(children) if children else None,
        "sort_order": None,
        "sort_ascending": None,
        "show_subcategory_list": False,
        "num_featured_topics": 3,
        "default_view": None,
        "subcategory_list_style": "rows_with_featured_topics",
        "default_top_period": "all",
        "default_list_filter": "all",
        "minimum_required_tags": 0,
        "navigate_to_first_post_after_read": False,
        "uploaded_logo": None,
        "uploaded_logo_dark": None,
        "uploaded_background": None,
        "uploaded_background_dark": None,
    }


def site_category(forum: Forum, category: Category, viewer: User | None) -> dict[str, Any]:
    """SiteCategorySerializer (``/categories/find`` without ``include_permissions``):
    simplified to the core fields; never ``group_permissions``."""
    return _category_core(forum, category, viewer)


def category(forum: Forum, category: Category, viewer: User | None) -> dict[str, Any]:
    """CategorySerializer (create, update, show; also the ``category_*`` webhook body)."""
    data = _category_core(forum, category, viewer)
    data.update(
        {
            "form_template_ids": [],
            "custom_fields": {},
            "allowed_tags": [],
            "allowed_tag_groups": [],
            "allow_global_tags": False,
            "required_tag_groups": [],
            "category_setting": {
                "auto_bump_cooldown_days": 1,
                "num_auto_bump_daily": 0,
                "require_reply_approval": False,
                "require_topic_approval": False,
            },
            "category_localizations": [],
            "read_only_banner": None,
            "available_groups": sorted(
                g.name for g in forum.groups.values() if g.id not in category.permissions
            ),
            "auto_close_hours": None,
            "auto_close_based_on_last_post": False,
            "allow_unlimited_owner_edits_on_first_post": False,
            "default_slow_mode_seconds": None,
            "group_permissions": group_permissions(forum, category),
            "email_in": None,
            "email_in_allow_strangers": False,
            "mailinglist_mirror": False,
            "all_topics_wiki": False,
            "can_delete": viewer is not None
            and viewer.admin
            and _category_counts(forum, category)[0] == 0,
            "allow_badges": category.allow_badges,
            "topic_featured_link_allowed": True,
            "search_priority": category.search_priority,
            "topic_posting_review_group_ids": [],
            "reply_posting_review_group_ids": [],
        }
    )
    if category.parent_category_id is not None:
        data["parent_category_id"] = category.parent_category_id
    if forum.settings["enable_category_group_moderation"] or category.moderating_group_ids:
        data["moderating_group_ids"] = list(category.moderating_group_ids)
    return data


def webhook_category(forum: Forum, cat: Category) -> dict[str, Any]:
    """The ``category_*`` webhook body: CategorySerializer as the system user sees it."""
    data = category(forum, cat, None)
    data["parent_category_id"] = cat.parent_category_id
    data["can_delete"] = True
    return data


def category_list_item(forum: Forum, cat: Category, viewer: User | None) -> dict[str, Any]:
    """CategoryDetailedSerializer (``GET /categories.json``)."""
    data = _category_core(forum, cat, viewer)
    data["permission"] = forum.category_permission(viewer, cat) or 1 if viewer else 1
    children = [
        c
        for c in forum.categories.values()
        if c.parent_category_id == cat.id and forum.can_see_category(viewer, c)
    ]
    data["has_children"] = bool(children)
    data["subcategory_count"] = len(children) if children else None
    now = forum.now()
    topics = [
        t
        for t in forum.topics.values()
        if t.category_id == cat.id and t.deleted_at is None and t.id != cat.topic_id
    ]

    def since(days: int) -> int:
        return sum(1 for t in topics if (now - t.created_at).days < days)

    data.update(
        {
            "topics_day": since(1),
            "topics_week": since(7),
            "topics_month": since(30),
            "topics_year": since(365),
            "topics_all_time": len(topics),
            "is_uncategorized": cat.id == 1,
            "subcategory_ids": [c.id for c in children],
        }
    )
    if cat.parent_category_id is not None:
        data["parent_category_id"] = cat.parent_category_id
    return data
