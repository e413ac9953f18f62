"""User JSON: BasicUser, admin list/detail, UserSerializer, WebHookUserSerializer; BasicGroup."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from worker.sandbox import cooking
from worker.sandbox.models import (
    Group,
    User,
)
from worker.sandbox.timeutil import iso

if TYPE_CHECKING:
    from worker.sandbox.state import Forum


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


MAX_STAFF_DELETE_POST_COUNT = 5  # User::MAX_STAFF_DELETE_POST_COUNT
DELETE_USER_MAX_POST_AGE_DAYS = 60  # SiteSetting.delete_user_max_post_age


def can_delete_user(forum: Forum, user: User | None) -> bool:
    """Guardian#can_delete_user? for a staff viewer deleting someone else: never an admin
    (nor the system user); a member with more than five posts only while their first
    post is recent."""
    if user is None or user.admin or user.id < 0:
        return False
    posts = [p for p in forum.posts.values() if p.user_id == user.id and p.deleted_at is None]
    if len(posts) <= MAX_STAFF_DELETE_POST_COUNT:
        return True
    first = min(p.created_at for p in posts)
    return (forum.now() - first).days < DELETE_USER_MAX_POST_AGE_DAYS


def admin_user_list_item(
    forum: Forum,
    user: User,
    *,
    show_email: bool,
    viewer: User | None = None,
    include_can_be_deleted: bool = False,
) -> dict[str, Any]:
    """AdminUserListSerializer (conditional keys included when Discourse includes them).

    ``show_email``: ``emails_desired`` and Guardian#can_check_emails?; staff always see
    their own email and staged users' (``include_email?``)."""
    stats = _user_stats(forum, user)
    now = forum.now()
    if viewer is not None and viewer.staff and (viewer.id == user.id or user.staged):
        show_email = True
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
        # index renders with include_silence_reason: true (the spec reads it)
        data["silence_reason"] = user.silence_reason
    if include_can_be_deleted:
        data["can_be_deleted"] = can_delete_user(forum, user)
    return data


def admin_user(forum: Forum, user: User, viewer: User | None) -> dict[str, Any]:
    """AdminUserSerializer (what ``#trust_level`` renders): the list item plus a few keys,
    not the detailed view's groups, penalties or counts."""
    data = admin_user_list_item(forum, user, show_email=False, viewer=viewer)
    data.update(
        {
            "name": user.name,
            "can_send_activation_email": not user.active,
            "can_activate": not user.active,
            "can_deactivate": not user.staff,  # Guardian#can_deactivate? is can_suspend?
            "ip_address": "127.0.0.1",
            "registration_ip_address": None,
            "single_sign_on_record": None,
            "can_be_deleted": can_delete_user(forum, user),
        }
    )
    if "email" in data:
        data["associated_accounts"] = []
    if forum.settings["must_approve_users"]:
        data["can_approve"] = user.active and not user.approved
    return data


def webhook_group_user(group: Group, user_id: int) -> dict[str, Any]:
    """WebHookGroupUserSerializer (BasicGroupUserSerializer + id, created_at), as
    config/initializers/012-web_hook_events.rb (user_added_to_group) and
    app/models/group.rb#enqueue_user_removed_from_group_webhook_events send it under
    ``{"group_user": ...}``; ``owner`` is left out as Discourse does (the serializer's scope
    is the system user, include_owner? is false for anyone else). Call it before a removal."""
    return {
        "id": group.member_row_ids.get(user_id, 0),
        "group_id": group.id,
        "user_id": user_id,
        "notification_level": group.default_notification_level,
        "created_at": iso(group.members.get(user_id)),
    }


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
    """AdminDetailedUserSerializer: ``email`` only for staged users (include_email? without
    ``emails_desired``), and no ``invited_by`` (it is not one of its associations)."""
    data = admin_user_list_item(forum, user, show_email=user.staged)
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
            "can_deactivate": not user.staff,  # Guardian#can_deactivate? is can_suspend?
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
            "can_be_deleted": can_delete_user(forum, user),
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
    data["cakedate"] = (iso(user.created_at) or "")[:10] if user.created_at else None
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
    # UserSerializer#include_email?: the user themselves, or staff looking at a staged user.
    if viewer is not None and (viewer.id == user.id or (viewer.staff and user.staged)):
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
