"""The sandbox forum's records: plain dataclasses, mutated only under ``Forum.lock``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SYSTEM_USER_ID = -1  # Discourse's "system" user
UNCATEGORIZED_ID = 1

# Discourse's automatic group ids (Group::AUTO_GROUPS).
AUTO_GROUPS: dict[str, int] = {
    "everyone": 0,
    "admins": 1,
    "moderators": 2,
    "staff": 3,
    "trust_level_0": 10,
    "trust_level_1": 11,
    "trust_level_2": 12,
    "trust_level_3": 13,
    "trust_level_4": 14,
}

# Category permission types (CategoryGroup.permission_types).
FULL, CREATE_POST, READONLY = 1, 2, 3

LIKE = 2  # PostActionType.types[:like]


@dataclass
class User:
    id: int
    username: str
    name: str | None
    email: str
    created_at: datetime
    active: bool = True
    approved: bool = True
    approved_by_id: int | None = None
    approved_at: datetime | None = None
    admin: bool = False
    moderator: bool = False
    trust_level: int = 1
    staged: bool = False
    last_seen_at: datetime | None = None
    last_posted_at: datetime | None = None
    silenced_till: datetime | None = None
    silenced_at: datetime | None = None
    silence_reason: str | None = None
    silenced_by_id: int | None = None
    suspended_till: datetime | None = None
    suspended_at: datetime | None = None
    suspend_reason: str | None = None
    suspended_by_id: int | None = None
    user_fields: dict[str, Any] = field(default_factory=dict)
    invited_by_id: int | None = None
    title: str | None = None
    timezone: str | None = None
    locale: str | None = None
    # The signup email token of an inactive account (EmailToken, scope signup).
    email_token: str | None = None

    @property
    def staff(self) -> bool:
        return self.admin or self.moderator

    def silenced(self, now: datetime) -> bool:
        return self.silenced_till is not None and self.silenced_till > now

    def suspended(self, now: datetime) -> bool:
        return self.suspended_till is not None and self.suspended_till > now


@dataclass
class Group:
    id: int
    name: str
    created_at: datetime
    automatic: bool = False
    full_name: str | None = None
    bio_raw: str | None = None
    title: str | None = None
    visibility_level: int = 0
    members_visibility_level: int = 0
    mentionable_level: int = 0
    messageable_level: int = 0
    public_admission: bool = False
    public_exit: bool = False
    allow_membership_requests: bool = False
    primary_group: bool = False
    default_notification_level: int = 3
    grant_trust_level: int | None = None
    flair_icon: str | None = None
    flair_bg_color: str | None = None
    flair_color: str | None = None
    membership_request_template: str | None = None
    automatic_membership_email_domains: str | None = None
    # user id -> added_at; owners are members too
    members: dict[int, datetime] = field(default_factory=dict)
    owners: set[int] = field(default_factory=set)
    # user id -> id of the group_users row (a group_user webhook body's ``id``)
    member_row_ids: dict[int, int] = field(default_factory=dict)


@dataclass
class Category:
    id: int
    name: str
    slug: str
    created_at: datetime
    color: str = "0088CC"
    text_color: str = "FFFFFF"
    description: str | None = None
    parent_category_id: int | None = None
    position: int = 0
    # group id -> permission type; empty means everyone: full
    permissions: dict[int, int] = field(default_factory=dict)
    moderating_group_ids: list[int] = field(default_factory=list)
    style_type: str = "square"
    emoji: str | None = None
    icon: str | None = None
    topic_template: str | None = None
    allow_badges: bool = True
    search_priority: int = 0
    topic_id: int | None = None  # the "About the X category" topic


@dataclass
class Topic:
    id: int
    title: str
    slug: str
    user_id: int
    created_at: datetime
    category_id: int | None
    archetype: str = "regular"
    tags: list[str] = field(default_factory=list)
    bumped_at: datetime | None = None
    last_posted_at: datetime | None = None
    last_post_user_id: int | None = None
    views: int = 0
    closed: bool = False
    archived: bool = False
    visible: bool = True
    pinned_at: datetime | None = None
    pinned_globally: bool = False
    deleted_at: datetime | None = None
    deleted_by_id: int | None = None
    highest_post_number: int = 0
    allowed_user_ids: list[int] = field(default_factory=list)
    allowed_group_ids: list[int] = field(default_factory=list)
    post_ids: list[int] = field(default_factory=list)


@dataclass
class Post:
    id: int
    topic_id: int
    post_number: int
    user_id: int
    raw: str
    cooked: str
    created_at: datetime
    updated_at: datetime
    reply_to_post_number: int | None = None
    version: int = 1
    post_type: int = 1
    deleted_at: datetime | None = None
    user_deleted: bool = False
    edit_reason: str | None = None
    hidden: bool = False
    wiki: bool = False
    quote_count: int = 0
    likers: dict[int, datetime] = field(default_factory=dict)


@dataclass
class Badge:
    id: int
    name: str
    badge_type_id: int
    created_at: datetime
    description: str = ""
    long_description: str = ""
    icon: str = "certificate"
    image_upload_id: int | None = None
    allow_title: bool = False
    multiple_grant: bool = False
    listable: bool = True
    enabled: bool = True
    badge_grouping_id: int = 5
    system: bool = False
    show_posts: bool = False
    target_posts: bool = False
    auto_revoke: bool = True
    show_in_post_header: bool = False
    query: str | None = None
    trigger: int | None = None


@dataclass
class UserBadge:
    id: int
    badge_id: int
    user_id: int
    granted_at: datetime
    granted_by_id: int
    post_id: int | None = None
    reason: str | None = None


@dataclass
class UserField:
    id: int
    name: str
    description: str
    field_type: str = "text"
    editable: bool = False  # the column default
    requirement: str = "optional"
    show_on_profile: bool = False
    show_on_user_card: bool = False
    searchable: bool = False
    position: int = 0
    options: list[str] = field(default_factory=list)


@dataclass
class Reviewable:
    id: int
    type: str
    target_id: int  # the user for ReviewableUser
    created_at: datetime
    status: int = 0  # 0 pending, 1 approved, 2 rejected, 3 ignored, 4 deleted
    version: int = 0
    created_by_id: int = -1
    payload: dict[str, Any] = field(default_factory=dict)
    reject_reason: str | None = None


@dataclass
class WebHook:
    id: int
    payload_url: str
    secret: str = ""
    content_type: int = 1  # 1 application/json, 2 application/x-www-form-urlencoded
    wildcard_web_hook: bool = False
    verify_certificate: bool = True
    active: bool = True
    event_type_ids: list[int] = field(default_factory=list)
    category_ids: list[int] = field(default_factory=list)
    group_ids: list[int] = field(default_factory=list)
    tag_names: list[str] = field(default_factory=list)
    last_delivery_status: int = 1  # 1 inactive, 2 failed, 3 successful, 4 disabled


@dataclass
class Invite:
    id: int
    invite_key: str
    invited_by_id: int
    created_at: datetime
    email: str | None = None
    max_redemptions_allowed: int = 1
    redemption_count: int = 0
