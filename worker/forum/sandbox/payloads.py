"""JSON shapes Discourse's serializers produce, built from sandbox records.

Each function names the Discourse serializer it mirrors. Field sets follow the
documented schemas in ``openapi.json`` and the captured webhook bodies; values
the sandbox does not model (read times, views, flair) are Discourse's defaults.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from worker.forum.sandbox import cooking
from worker.forum.sandbox.event_types import EVENT_TYPES
from worker.forum.sandbox.models import (
    AUTO_GROUPS,
    LIKE,
    Badge,
    Category,
    Group,
    Post,
    Reviewable,
    Topic,
    User,
    UserBadge,
    UserField,
    WebHook,
)
from worker.forum.sandbox.timeutil import iso

if TYPE_CHECKING:
    from worker.forum.sandbox.state import Forum

BADGE_TYPES = [
    {"id": 1, "name": "Gold", "sort_order": 9},
    {"id": 2, "name": "Silver", "sort_order": 8},
    {"id": 3, "name": "Bronze", "sort_order": 7},
]


# ── users ────────────────────────────────────────────────────────────────────
def avatar_template(user: User) -> str:
    letter = (user.username[:1] or "x").lower()
    color = hashlib.md5(user.username.encode()).hexdigest()[:6]
    return f"/letter_avatar_proxy/v4/letter/{letter}/{color}/{{size}}.png"


def basic_user(user: User) -> dict[str, Any]:
    """BasicUserSerializer."""
    return {
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "avatar_template": avatar_template(user),
    }


def user_fields_of(forum: Forum, user: User) -> dict[str, Any]:
    """All defined fields, unset ones as null (how Discourse fills ``user_fields``)."""
    return {str(fid): user.user_fields.get(str(fid)) for fid in sorted(forum.user_fields)}


def _user_stats(forum: Forum, user: User) -> dict[str, int]:
    posts = [p for p in forum.posts.values() if p.user_id == user.id and p.deleted_at is None]
    topics = {
        t.id
        for t in forum.topics.values()
        if t.user_id == user.id and t.deleted_at is None and t.archetype == "regular"
    }
    likes_received = sum(len(p.likers) for p in posts)
    likes_given = sum(1 for p in forum.posts.values() if user.id in p.likers)
    return {
        "post_count": len(posts),
        "topic_count": len(topics),
        "like_count": likes_received,
        "like_given_count": likes_given,
    }


def _now_age(forum: Forum, moment: Any) -> float | None:
    if moment is None:
        return None
    return round((forum.now() - moment).total_seconds(), 3)


def admin_user_list_item(forum: Forum, user: User, *, show_email: bool) -> dict[str, Any]:
    """AdminUserListSerializer (conditional keys included when Discourse includes them)."""
    stats = _user_stats(forum, user)
    now = forum.now()
    data: dict[str, Any] = {
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "avatar_template": avatar_template(user),
        "active": user.active,
        "admin": user.admin,
        "moderator": user.moderator,
        "last_seen_at": iso(user.last_seen_at),
        "last_emailed_at": None,
        "created_at": iso(user.created_at),
        "last_seen_age": _now_age(forum, user.last_seen_at),
        "last_emailed_age": None,
        "created_at_age": _now_age(forum, user.created_at),
        "trust_level": user.trust_level,
        "manual_locked_trust_level": None,
        "title": user.title,
        "time_read": 0,
        "staged": user.staged,
        "days_visited": 1 if user.last_seen_at else 0,
        "posts_read_count": 0,
        "topics_entered": 0,
        "post_count": stats["post_count"],
    }
    if show_email:
        data["email"] = user.email
        data["secondary_emails"] = []
    if forum.settings["must_approve_users"]:
        data["approved"] = user.approved
    if user.suspended(now):
        data["suspended_at"] = iso(user.suspended_at)
        data["suspended_till"] = iso(user.suspended_till)
    if user.silenced(now):
        data["silenced"] = True
        data["silenced_till"] = iso(user.silenced_till)
    return data


def basic_group(forum: Forum, group: Group, viewer: User | None) -> dict[str, Any]:
    """BasicGroupSerializer."""
    member_ids = forum.group_member_ids(group)
    is_admin = viewer is not None and viewer.admin
    owner = viewer is not None and viewer.id in group.owners
    return {
        "id": group.id,
        "automatic": group.automatic,
        "name": group.name,
        "display_name": group.name,
        "user_count": len(member_ids),
        "mentionable_level": group.mentionable_level,
        "messageable_level": group.messageable_level,
        "visibility_level": group.visibility_level,
        "primary_group": group.primary_group,
        "title": group.title,
        "grant_trust_level": group.grant_trust_level,
        "incoming_email": None,
        "has_messages": False,
        "flair_url": group.flair_icon,
        "flair_bg_color": group.flair_bg_color,
        "flair_color": group.flair_color,
        "bio_raw": group.bio_raw,
        "bio_cooked": cooking.cook(group.bio_raw) if group.bio_raw else None,
        "bio_excerpt": cooking.excerpt(cooking.cook(group.bio_raw)) if group.bio_raw else None,
        "public_admission": group.public_admission,
        "public_exit": group.public_exit,
        "allow_membership_requests": group.allow_membership_requests,
        "full_name": group.full_name,
        "default_notification_level": group.default_notification_level,
        "membership_request_template": group.membership_request_template,
        "members_visibility_level": group.members_visibility_level,
        "can_see_members": forum_can_see_members(forum, group, viewer),
        "can_admin_group": is_admin or owner,
        "publish_read_state": False,
    }


def forum_can_see_members(forum: Forum, group: Group, viewer: User | None) -> bool:
    level = group.members_visibility_level
    if level == 0:
        return True
    if viewer is None:
        return False
    if viewer.staff:
        return True
    if level == 1:  # logged-in users
        return True
    if level == 2:  # members
        return viewer.id in forum.group_member_ids(group)
    if level == 3:  # staff
        return False
    return viewer.id in group.owners  # 4: owners


def admin_user_detail(forum: Forum, user: User) -> dict[str, Any]:
    """AdminDetailedUserSerializer."""
    data = admin_user_list_item(forum, user, show_email=True)
    stats = _user_stats(forum, user)
    approved_by = forum.users.get(user.approved_by_id) if user.approved_by_id else None
    suspended_by = forum.users.get(user.suspended_by_id) if user.suspended_by_id else None
    silenced_by = forum.users.get(user.silenced_by_id) if user.silenced_by_id else None
    now = forum.now()
    data.update(
        {
            "associated_accounts": [],
            "can_send_activation_email": not user.active,
            "can_activate": not user.active,
            "can_deactivate": user.active,
            "can_change_trust_level": True,
            "ip_address": "127.0.0.1",
            "registration_ip_address": None,
            "can_grant_admin": not user.admin,
            "can_revoke_admin": user.admin,
            "can_grant_moderation": not user.moderator,
            "can_revoke_moderation": user.moderator,
            "can_impersonate": not user.admin,
            "like_count": stats["like_count"],
            "like_given_count": stats["like_given_count"],
            "topic_count": stats["topic_count"],
            "flags_given_count": 0,
            "flags_received_count": 0,
            "private_topics_count": sum(
                1
                for t in forum.topics.values()
                if t.archetype == "private_message" and t.user_id == user.id
            ),
            "can_delete_all_posts": True,
            "can_be_deleted": stats["post_count"] == 0,
            "can_be_anonymized": not user.admin,
            "can_be_merged": not user.admin,
            "full_suspend_reason": user.suspend_reason if user.suspended(now) else None,
            "silence_reason": user.silence_reason if user.silenced(now) else None,
            "full_silence_reason": user.silence_reason if user.silenced(now) else None,
            "post_edits_count": 0,
            "primary_group_id": None,
            "badge_count": sum(1 for ub in forum.user_badges.values() if ub.user_id == user.id),
            "warnings_received_count": 0,
            "bounce_score": 0,
            "reset_bounce_score_after": None,
            "can_view_action_logs": True,
            "can_disable_second_factor": False,
            "can_delete_sso_record": False,
            "api_key_count": sum(1 for uid in forum.user_api_keys.values() if uid == user.id),
            "similar_users_count": 0,
            "single_sign_on_record": None,
            "approved_by": basic_user(approved_by) if approved_by else None,
            "suspended_by": basic_user(suspended_by)
            if suspended_by and user.suspended(now)
            else None,
            "silenced_by": basic_user(silenced_by) if silenced_by and user.silenced(now) else None,
            "penalty_counts": {"silenced": 0, "suspended": 0},
            "groups": [basic_group(forum, g, None) for g in forum.user_groups(user)],
            "external_ids": {},
            "include_ip": False,
        }
    )
    if forum.user_fields and user.user_fields:
        data["user_fields"] = user_fields_of(forum, user)
    inviter = forum.users.get(user.invited_by_id) if user.invited_by_id else None
    data["invited_by"] = basic_user(inviter) if inviter else None
    return data


USER_NOTIFICATION_SCHEDULE: dict[str, Any] = {"enabled": False} | {
    f"day_{d}_{edge}_time": (480 if edge == "start" else 1020)
    for d in range(7)
    for edge in ("start", "end")
}


def user_option(user: User) -> dict[str, Any]:
    """UserOptionSerializer: Discourse's defaults; the sandbox stores no preferences."""
    return {
        "user_id": user.id,
        "mailing_list_mode": False,
        "mailing_list_mode_frequency": 1,
        "email_digests": True,
        "email_level": 1,
        "email_messages_level": 0,
        "external_links_in_new_tab": False,
        "bookmark_auto_delete_preference": 3,
        "color_scheme_id": None,
        "dark_scheme_id": None,
        "dynamic_favicon": False,
        "enable_quoting": True,
        "enable_smart_lists": True,
        "enable_markdown_monospace_font": True,
        "digest_after_minutes": 1440,
        "automatically_unpin_topics": True,
        "auto_track_topics_after_msecs": 300000,
        "notification_level_when_replying": 2,
        "new_topic_duration_minutes": 2880,
        "email_previous_replies": 2,
        "email_in_reply_to": False,
        "like_notification_frequency": 1,
        "notify_on_linked_posts": True,
        "push_notification_level": "all",
        "enable_upcoming_change_available_notifications": True,
        "include_tl0_in_digests": False,
        "theme_ids": [-2],
        "theme_key_seq": 0,
        "allow_private_messages": True,
        "enable_allowed_pm_users": False,
        "homepage_id": None,
        "hide_profile_and_presence": False,
        "hide_profile": False,
        "hide_presence": False,
        "text_size": "normal",
        "text_size_seq": 0,
        "title_count_mode": "notifications",
        "timezone": user.timezone,
        "skip_new_user_tips": False,
        "default_calendar": "none_selected",
        "oldest_search_log_date": None,
        "seen_popups": None,
        "sidebar_link_to_filtered_list": False,
        "sidebar_show_count_of_new_items": False,
        "watched_precedence_over_muted": False,
        "topics_unread_when_closed": True,
        "composition_mode": 1,
        "interface_color_mode": 1,
        "automatically_translate": False,
        "understood_languages": [],
        "show_original_content": False,
        "send_shortcut": "enter",
    }


_USER_PREFS_EMPTY = (
    "muted_category_ids",
    "regular_category_ids",
    "watched_tags",
    "watching_first_post_tags",
    "tracked_tags",
    "muted_tags",
    "tracked_category_ids",
    "watched_category_ids",
    "watched_first_post_category_ids",
)


def _user_common(forum: Forum, user: User) -> dict[str, Any]:
    """Fields UserSerializer and WebHookUserSerializer share."""
    stats = _user_stats(forum, user)
    data: dict[str, Any] = {
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "avatar_template": avatar_template(user),
        "last_posted_at": iso(user.last_posted_at),
        "last_seen_at": iso(user.last_seen_at),
        "created_at": iso(user.created_at),
        "muted": False,
        "trust_level": user.trust_level,
        "moderator": user.moderator,
        "admin": user.admin,
        "title": user.title,
        "badge_count": sum(1 for ub in forum.user_badges.values() if ub.user_id == user.id),
        "time_read": 0,
        "recent_time_read": 0,
        "primary_group_id": None,
        "primary_group_name": None,
        "flair_group_id": None,
        "flair_name": None,
        "flair_url": None,
        "flair_bg_color": None,
        "flair_color": None,
        "featured_topic": None,
        "staged": user.staged,
        "pending_count": 0,
        "profile_view_count": 0,
        "second_factor_enabled": False,
        "can_upload_profile_header": True,
        "can_upload_user_card_background": True,
        "post_count": stats["post_count"],
        "topic_count": stats["topic_count"],
        "locale": user.locale,
    }
    for key in _USER_PREFS_EMPTY:
        data[key] = []
    data.update(
        {
            "system_avatar_template": avatar_template(user),
            "muted_usernames": [],
            "can_mute_users": True,
            "ignored_usernames": [],
            "can_ignore_users": True,
            "allowed_pm_usernames": [],
            "mailing_list_posts_per_day": 0,
            "user_notification_schedule": dict(USER_NOTIFICATION_SCHEDULE),
            "featured_user_badge_ids": [],
        }
    )
    inviter = forum.users.get(user.invited_by_id) if user.invited_by_id else None
    data["invited_by"] = basic_user(inviter) if inviter else None
    data["groups"] = [basic_group(forum, g, user) for g in forum.user_groups(user)]
    data["user_option"] = user_option(user)
    return data


def webhook_user(forum: Forum, user: User, *, created: bool = False) -> dict[str, Any]:
    """WebHookUserSerializer (``user_*`` events).

    ``user_created`` bodies omit ``user_fields`` (Discourse serializes before the
    fields are saved), so receivers must read the user through the admin API.
    """
    data = _user_common(forum, user)
    data["email"] = user.email
    data["secondary_emails"] = []
    data["user_option"]["enable_defer"] = False  # still sent by 2025.12 webhooks
    if not created and forum.user_fields:
        data["user_fields"] = user_fields_of(forum, user)
    data["timezone"] = user.timezone
    data["cakedate"] = iso(user.created_at)[:10] if user.created_at else None
    data["birthdate"] = None
    return data


def user_detail(forum: Forum, user: User, viewer: User | None) -> dict[str, Any]:
    """UserSerializer for ``GET /u/{username}.json``."""
    data = _user_common(forum, user)
    is_self_or_staff = viewer is not None and (viewer.staff or viewer.id == user.id)
    stats = _user_stats(forum, user)
    data.update(
        {
            "ignored": False,
            "can_ignore_user": viewer is not None and viewer.id != user.id,
            "can_mute_user": viewer is not None and viewer.id != user.id,
            "can_send_private_messages": viewer is not None,
            "can_send_private_message_to_user": viewer is not None and viewer.id != user.id,
            "custom_fields": {},
            "can_edit": is_self_or_staff,
            "can_edit_username": is_self_or_staff,
            "can_edit_email": is_self_or_staff,
            "can_edit_name": is_self_or_staff,
            "uploaded_avatar_id": None,
            "has_title_badges": False,
            "can_be_deleted": viewer is not None and viewer.staff and stats["post_count"] == 0,
            "can_delete_all_posts": viewer is not None and viewer.staff,
            "system_avatar_upload_id": None,
            "can_change_bio": True,
            "can_change_location": True,
            "can_change_website": True,
            "can_change_tracking_preferences": True,
            "user_api_keys": None,
            "user_auth_tokens": [],
            "use_logo_small_as_avatar": False,
            "group_users": [
                {
                    "group_id": g.id,
                    "user_id": user.id,
                    "notification_level": g.default_notification_level,
                    "owner": user.id in g.owners,
                }
                for g in forum.user_groups(user)
                if not g.automatic
            ],
        }
    )
    if forum.user_fields and (is_self_or_staff or user.user_fields):
        visible = {
            fid for fid, f in forum.user_fields.items() if is_self_or_staff or f.show_on_profile
        }
        data["user_fields"] = {
            k: v for k, v in user_fields_of(forum, user).items() if int(k) in visible
        }
    if is_self_or_staff:
        data["email"] = user.email
        data["secondary_emails"] = []
    now = forum.now()
    if user.suspended(now):
        data["suspended_till"] = iso(user.suspended_till)
        data["suspend_reason"] = user.suspend_reason
    if user.silenced(now):
        data["silenced_till"] = iso(user.silenced_till)
    for key in ("recent_time_read",):
        data.setdefault(key, 0)
    return data


# ── categories ───────────────────────────────────────────────────────────────
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


# ── posts and topics ────────────────────────────────────────────────────────
def _post_url(topic: Topic, post: Post) -> str:
    return f"/t/{topic.slug}/{topic.id}/{post.post_number}"


def _reply_count(forum: Forum, post: Post) -> int:
    topic = forum.topics[post.topic_id]
    return sum(
        1
        for pid in topic.post_ids
        if forum.posts[pid].reply_to_post_number == post.post_number
        and forum.posts[pid].deleted_at is None
    )


def _actions_summary(post: Post, viewer: User | None) -> list[dict[str, Any]]:
    liked = viewer is not None and viewer.id in post.likers
    entry: dict[str, Any] = {
        "id": LIKE,
        "can_act": viewer is not None and viewer.id != post.user_id and not liked,
    }
    if post.likers:
        entry["count"] = len(post.likers)
    if liked:
        entry["acted"] = True
        entry["can_undo"] = True
    return [entry]


def post(forum: Forum, post: Post, viewer: User | None) -> dict[str, Any]:
    """PostSerializer (``GET /posts/{id}.json`` and friends)."""
    topic = forum.topics[post.topic_id]
    author = forum.users.get(post.user_id) or forum.users[-1]
    is_author = viewer is not None and viewer.id == post.user_id
    staff = viewer is not None and viewer.staff
    return {
        "id": post.id,
        "name": author.name,
        "username": author.username,
        "avatar_template": avatar_template(author),
        "created_at": iso(post.created_at),
        "cooked": post.cooked,
        "post_number": post.post_number,
        "post_type": post.post_type,
        "posts_count": len(topic.post_ids),
        "updated_at": iso(post.updated_at),
        "reply_count": _reply_count(forum, post),
        "reply_to_post_number": post.reply_to_post_number,
        "quote_count": post.quote_count,
        "incoming_link_count": 0,
        "reads": 1,
        "readers_count": 0,
        "score": 0,
        "yours": is_author,
        "topic_id": topic.id,
        "topic_slug": topic.slug,
        "display_username": author.name,
        "primary_group_name": None,
        "flair_name": None,
        "flair_url": None,
        "flair_bg_color": None,
        "flair_color": None,
        "flair_group_id": None,
        "badges_granted": [],
        "version": post.version,
        "can_edit": is_author or staff,
        "can_delete": (is_author or staff) and post.deleted_at is None,
        "can_recover": staff and post.deleted_at is not None,
        "can_see_hidden_post": staff,
        "can_wiki": staff,
        "user_title": author.title,
        "bookmarked": False,
        "raw": post.raw,
        "actions_summary": _actions_summary(post, viewer),
        "moderator": author.moderator,
        "admin": author.admin,
        "staff": author.staff,
        "user_id": author.id,
        "hidden": post.hidden,
        "trust_level": author.trust_level,
        "deleted_at": iso(post.deleted_at),
        "user_deleted": post.user_deleted,
        "edit_reason": post.edit_reason,
        "can_view_edit_history": True,
        "wiki": post.wiki,
        "reviewable_id": None,
        "reviewable_score_count": 0,
        "reviewable_score_pending_count": 0,
        "post_url": _post_url(topic, post),
        "mentioned_users": [],
    }


def post_in_stream(forum: Forum, p: Post, viewer: User | None) -> dict[str, Any]:
    """PostSerializer as used in a topic's post_stream."""
    data = post(forum, p, viewer)
    drop = ("raw", "posts_count", "badges_granted", "flair_group_id", "mentioned_users", "post_url")
    for key in drop:
        data.pop(key, None)
    data["reviewable_id"] = 0
    data["link_counts"] = []
    data["read"] = True
    return data


def latest_post(forum: Forum, p: Post, viewer: User | None) -> dict[str, Any]:
    """``GET /posts.json`` entries: PostSerializer with topic title, category and excerpt."""
    topic = forum.topics[p.topic_id]
    data = post(forum, p, viewer)
    data.pop("mentioned_users", None)
    data.update(
        {
            "topic_title": topic.title,
            "topic_html_title": topic.title,
            "category_id": topic.category_id,
            "excerpt": cooking.excerpt(p.cooked),
            "truncated": len(cooking.excerpt(p.cooked, 10_000)) > 200,
            "reviewable_id": None,
        }
    )
    return data


def webhook_post(forum: Forum, p: Post) -> dict[str, Any]:
    """WebHookPostSerializer (``post_*`` events)."""
    topic = forum.topics[p.topic_id]
    author = forum.users.get(p.user_id) or forum.users[-1]
    category = forum.categories.get(topic.category_id) if topic.category_id else None
    data = {
        "id": p.id,
        "name": author.name,
        "username": author.username,
        "avatar_template": avatar_template(author),
        "created_at": iso(p.created_at),
        "cooked": p.cooked,
        "post_number": p.post_number,
        "post_type": p.post_type,
        "posts_count": len(topic.post_ids),
        "updated_at": iso(p.updated_at),
        "reply_count": _reply_count(forum, p),
        "reply_to_post_number": p.reply_to_post_number,
        "quote_count": p.quote_count,
        "incoming_link_count": 0,
        "reads": 0,
        "score": 0,
        "topic_id": topic.id,
        "topic_slug": topic.slug,
        "topic_title": topic.title,
        "category_id": topic.category_id,
        "display_username": author.name,
        "primary_group_name": None,
        "flair_name": None,
        "flair_group_id": None,
        "version": p.version,
        "user_title": author.title,
        "bookmarked": False,
        "raw": p.raw,
        "moderator": author.moderator,
        "admin": author.admin,
        "staff": author.staff,
        "user_id": author.id,
        "hidden": p.hidden,
        "trust_level": author.trust_level,
        "deleted_at": iso(p.deleted_at),
        "user_deleted": p.user_deleted,
        "edit_reason": p.edit_reason,
        "wiki": p.wiki,
        "reviewable_id": None,
        "reviewable_score_count": 0,
        "reviewable_score_pending_count": 0,
        "post_url": _post_url(topic, p),
        "topic_posts_count": len([i for i in topic.post_ids if forum.posts[i].deleted_at is None]),
        "topic_filtered_posts_count": len(
            [i for i in topic.post_ids if forum.posts[i].deleted_at is None]
        ),
        "topic_archetype": topic.archetype,
    }
    if category is not None:
        data["category_slug"] = category.slug
    return data


def tag_objects(forum: Forum, topic: Topic) -> list[dict[str, Any]]:
    return [{"id": forum.tag_id(name), "name": name, "slug": name} for name in topic.tags]


def _participants(forum: Forum, topic: Topic) -> list[User]:
    seen: list[int] = []
    for pid in topic.post_ids:
        post_ = forum.posts[pid]
        if post_.deleted_at is None and post_.user_id not in seen:
            seen.append(post_.user_id)
    return [forum.users[uid] for uid in seen if uid in forum.users]


def _word_count(forum: Forum, topic: Topic) -> int:
    return sum(len(forum.posts[pid].raw.split()) for pid in topic.post_ids)


def webhook_topic(forum: Forum, topic: Topic) -> dict[str, Any]:
    """WebHookTopicViewSerializer (``topic_*`` events)."""
    creator = forum.users.get(topic.user_id) or forum.users[-1]
    last = forum.users.get(topic.last_post_user_id or topic.user_id) or creator
    visible_posts = [pid for pid in topic.post_ids if forum.posts[pid].deleted_at is None]
    deleted_by = forum.users.get(topic.deleted_by_id) if topic.deleted_by_id else None
    data: dict[str, Any] = {
        "tags": list(topic.tags),
        "tags_descriptions": {},
        "fancy_title": topic.title,
        "id": topic.id,
        "title": topic.title,
        "posts_count": len(visible_posts),
        "created_at": iso(topic.created_at),
        "views": topic.views,
        "reply_count": max(0, len(visible_posts) - 1),
        "like_count": sum(len(forum.posts[pid].likers) for pid in topic.post_ids),
        "last_posted_at": iso(topic.last_posted_at),
        "visible": topic.visible,
        "closed": topic.closed,
        "archived": topic.archived,
        "archetype": topic.archetype,
        "slug": topic.slug,
        "category_id": topic.category_id,
        "word_count": _word_count(forum, topic),
        "deleted_at": iso(topic.deleted_at),
        "user_id": topic.user_id,
        "featured_link": None,
        "pinned_globally": topic.pinned_globally,
        "pinned_at": iso(topic.pinned_at),
        "pinned_until": None,
        "unpinned": None,
        "pinned": topic.pinned_at is not None,
        "highest_post_number": topic.highest_post_number,
        "deleted_by": basic_user(deleted_by) if deleted_by else None,
        "has_deleted": len(visible_posts) != len(topic.post_ids),
        "bookmarked": False,
        "participant_count": len(_participants(forum, topic)),
        "queued_posts_count": 0,
        "thumbnails": None,
        "created_by": basic_user(creator),
        "last_poster": basic_user(last),
        "pending_posts": [],
    }
    if topic.archetype == "private_message":
        data["allowed_users"] = [
            basic_user(forum.users[uid]) for uid in topic.allowed_user_ids if uid in forum.users
        ]
    return data


def topic_view(
    forum: Forum, topic: Topic, viewer: User | None, posts: list[Post], stream: list[int]
) -> dict[str, Any]:
    """TopicViewSerializer (``GET /t/{id}.json``)."""
    creator = forum.users.get(topic.user_id) or forum.users[-1]
    last = forum.users.get(topic.last_post_user_id or topic.user_id) or creator
    staff = viewer is not None and viewer.staff
    participants = _participants(forum, topic)
    visible = [pid for pid in topic.post_ids if forum.posts[pid].deleted_at is None]
    data: dict[str, Any] = {
        "post_stream": {
            "posts": [post_in_stream(forum, p, viewer) for p in posts],
            "stream": stream,
        },
        "timeline_lookup": [[1, 0]],
        "suggested_topics": [],
        "tags": tag_objects(forum, topic),
        "tags_descriptions": {},
        "id": topic.id,
        "title": topic.title,
        "fancy_title": topic.title,
        "posts_count": len(visible),
        "created_at": iso(topic.created_at),
        "views": topic.views,
        "reply_count": max(0, len(visible) - 1),
        "like_count": sum(len(forum.posts[pid].likers) for pid in topic.post_ids),
        "last_posted_at": iso(topic.last_posted_at),
        "visible": topic.visible,
        "closed": topic.closed,
        "archived": topic.archived,
        "has_summary": False,
        "archetype": topic.archetype,
        "slug": topic.slug,
        "category_id": topic.category_id,
        "word_count": _word_count(forum, topic),
        "deleted_at": iso(topic.deleted_at),
        "user_id": topic.user_id,
        "featured_link": None,
        "pinned_globally": topic.pinned_globally,
        "pinned_at": iso(topic.pinned_at),
        "pinned_until": None,
        "image_url": None,
        "slow_mode_seconds": 0,
        "draft": None,
        "draft_key": f"topic_{topic.id}",
        "draft_sequence": 0,
        "unpinned": None,
        "pinned": topic.pinned_at is not None,
        "current_post_number": 1,
        "highest_post_number": topic.highest_post_number,
        "deleted_by": None,
        "has_deleted": len(visible) != len(topic.post_ids),
        "actions_summary": [
            {"id": 4, "count": 0, "hidden": False, "can_act": viewer is not None},
            {"id": 8, "count": 0, "hidden": False, "can_act": viewer is not None},
            {"id": 7, "count": 0, "hidden": False, "can_act": viewer is not None},
        ],
        "chunk_size": 20,
        "bookmarked": False,
        "bookmarks": [],
        "topic_timer": None,
        "message_bus_last_id": 0,
        "participant_count": len(participants),
        "show_read_indicator": False,
        "thumbnails": None,
        "slow_mode_enabled_until": None,
        "details": {
            "can_edit": staff or (viewer is not None and viewer.id == topic.user_id),
            "notification_level": 1,
            "can_move_posts": staff,
            "can_delete": staff,
            "can_remove_allowed_users": staff,
            "can_create_post": viewer is not None,
            "can_reply_as_new_topic": viewer is not None,
            "can_convert_topic": staff,
            "can_review_topic": staff,
            "can_close_topic": staff,
            "can_archive_topic": staff,
            "can_split_merge_topic": staff,
            "can_edit_staff_notes": staff,
            "can_toggle_topic_visibility": staff,
            "can_pin_unpin_topic": staff,
            "can_moderate_category": staff,
            "can_remove_self_id": viewer.id if viewer else 0,
            "participants": [
                {
                    "id": u.id,
                    "username": u.username,
                    "name": u.name or "",
                    "avatar_template": avatar_template(u),
                    "post_count": sum(
                        1 for pid in topic.post_ids if forum.posts[pid].user_id == u.id
                    ),
                    "primary_group_name": None,
                    "flair_name": None,
                    "flair_url": None,
                    "flair_color": None,
                    "flair_bg_color": None,
                    "flair_group_id": None,
                    "admin": u.admin,
                    "moderator": u.moderator,
                    "trust_level": u.trust_level,
                }
                for u in participants
            ],
            "created_by": basic_user(creator) | {"name": creator.name or ""},
            "last_poster": basic_user(last) | {"name": last.name or ""},
        },
    }
    if topic.archetype == "private_message":
        data["details"]["allowed_users"] = [
            basic_user(forum.users[uid]) for uid in topic.allowed_user_ids if uid in forum.users
        ]
        data["details"]["allowed_groups"] = [
            {"id": gid, "name": forum.groups[gid].name}
            for gid in topic.allowed_group_ids
            if gid in forum.groups
        ]
    return data


def topic_list_item(forum: Forum, topic: Topic, viewer: User | None) -> dict[str, Any]:
    """TopicListItemSerializer."""
    visible = [pid for pid in topic.post_ids if forum.posts[pid].deleted_at is None]
    last = forum.users.get(topic.last_post_user_id or topic.user_id)
    first = forum.posts[topic.post_ids[0]]
    posters = []
    for index, user in enumerate(_participants(forum, topic)[:5]):
        description = "Original Poster" if index == 0 else "Frequent Poster"
        posters.append(
            {
                "extras": "latest" if last and user.id == last.id else "",
                "description": description,
                "user_id": user.id,
                "primary_group_id": None,
            }
        )
    data: dict[str, Any] = {
        "id": topic.id,
        "title": topic.title,
        "fancy_title": topic.title,
        "slug": topic.slug,
        "posts_count": len(visible),
        "reply_count": max(0, len(visible) - 1),
        "highest_post_number": topic.highest_post_number,
        "image_url": None,
        "created_at": iso(topic.created_at),
        "last_posted_at": iso(topic.last_posted_at),
        "bumped": True,
        "bumped_at": iso(topic.bumped_at),
        "archetype": topic.archetype,
        "unseen": False,
        "pinned": topic.pinned_at is not None,
        "unpinned": None,
        "excerpt": cooking.excerpt(first.cooked),
        "visible": topic.visible,
        "closed": topic.closed,
        "archived": topic.archived,
        "bookmarked": False if viewer is not None else None,
        "liked": (viewer.id in _likers_of_topic(forum, topic)) if viewer is not None else None,
        "tags": list(topic.tags),
        "views": topic.views,
        "like_count": sum(len(forum.posts[pid].likers) for pid in topic.post_ids),
        "has_summary": False,
        "last_poster_username": last.username if last else "system",
        "category_id": topic.category_id,
        "pinned_globally": topic.pinned_globally,
        "featured_link": None,
        "posters": posters,
    }
    if topic.archetype == "private_message":
        data.pop("excerpt")
        data.pop("tags")
        data.update(
            {
                "last_read_post_number": topic.highest_post_number,
                "unread_posts": 0,
                "notification_level": 3,
                "bookmarked": False,
                "liked": False,
                "allowed_user_count": len(topic.allowed_user_ids),
                "participants": [
                    {
                        "extras": "",
                        "description": None,
                        "user_id": uid,
                        "primary_group_id": None,
                    }
                    for uid in topic.allowed_user_ids
                ],
            }
        )
    return data


def _likers_of_topic(forum: Forum, topic: Topic) -> set[int]:
    return {uid for pid in topic.post_ids for uid in forum.posts[pid].likers}


def topic_list_users(forum: Forum, topics: list[Topic]) -> list[dict[str, Any]]:
    ids: list[int] = []
    for topic in topics:
        for user in _participants(forum, topic):
            if user.id not in ids:
                ids.append(user.id)
        for uid in topic.allowed_user_ids:
            if uid not in ids:
                ids.append(uid)
    return [
        basic_user(forum.users[uid]) | {"name": forum.users[uid].name or ""}
        for uid in ids
        if uid in forum.users
    ]


# ── badges ───────────────────────────────────────────────────────────────────
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


# ── admin things ─────────────────────────────────────────────────────────────
_EVENT_BY_ID = {id_: (name, group) for name, id_, group in EVENT_TYPES}


def web_hook(forum: Forum, hook: WebHook) -> dict[str, Any]:
    """AdminWebHookSerializer."""
    return {
        "id": hook.id,
        "payload_url": hook.payload_url,
        "content_type": hook.content_type,
        "last_delivery_status": hook.last_delivery_status,
        "secret": hook.secret,
        "wildcard_web_hook": hook.wildcard_web_hook,
        "verify_certificate": hook.verify_certificate,
        "active": hook.active,
        "web_hook_event_types": [
            {"id": eid, "name": _EVENT_BY_ID[eid][0], "group": _EVENT_BY_ID[eid][1]}
            for eid in hook.event_type_ids
            if eid in _EVENT_BY_ID
        ],
        "categories": [
            {"id": cid, "name": forum.categories[cid].name}
            for cid in hook.category_ids
            if cid in forum.categories
        ],
        "category_ids": list(hook.category_ids),
        "tag_names": list(hook.tag_names),
        "groups": [
            {"id": gid, "name": forum.groups[gid].name}
            for gid in hook.group_ids
            if gid in forum.groups
        ],
        "group_ids": list(hook.group_ids),
    }


def user_field(field: UserField) -> dict[str, Any]:
    """UserFieldSerializer."""
    return {
        "id": field.id,
        "name": field.name,
        "description": field.description,
        "field_type": field.field_type,
        "editable": field.editable,
        "required": field.requirement != "optional",
        "requirement": field.requirement,
        "show_on_profile": field.show_on_profile,
        "show_on_user_card": field.show_on_user_card,
        "searchable": field.searchable,
        "position": field.position,
        "options": [{"value": option} for option in field.options],
    }


REVIEW_STATUS = {0: "pending", 1: "approved", 2: "rejected", 3: "ignored", 4: "deleted"}


def reviewable(forum: Forum, r: Reviewable) -> dict[str, Any]:
    """ReviewableUserSerializer."""
    target = forum.users.get(r.target_id)
    actions = []
    if r.status == 0:
        actions = [
            {
                "id": "approve_user",
                "icon": "user-plus",
                "label": "Approve User",
                "actions": [{"id": "approve_user", "label": "Approve User", "icon": "user-plus"}],
            },
            {
                "id": "reject_user",
                "icon": "user-xmark",
                "label": "Delete User...",
                "actions": [
                    {"id": "delete_user", "label": "Delete User", "icon": "user-xmark"},
                    {
                        "id": "delete_user_block",
                        "label": "Delete and Block User",
                        "icon": "ban",
                    },
                ],
            },
        ]
    return {
        "id": r.id,
        "type": r.type,
        "type_source": "core",
        "topic_id": None,
        "topic_url": None,
        "target_url": f"{forum.base_url}/u/{r.payload.get('username')}",
        "topic_tags": [],
        "category_id": None,
        "created_at": iso(r.created_at),
        "target_created_by_id": None,
        "user_id": r.target_id if target else None,
        "can_edit": False,
        "score": 0.0,
        "version": r.version,
        "target_id": r.target_id,
        "created_from_flag": False,
        "status": r.status,
        "reviewable_scores": [],
        "bundled_actions": actions,
        "editable_fields": [],
        "payload": dict(r.payload),
        "user_fields": user_fields_of(forum, target) if target else {},
        "link_admin": True,
    }
