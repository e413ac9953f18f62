"""Site settings the sandbox knows, with Discourse's defaults and types."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SettingSpec:
    name: str
    default: Any
    type: str  # bool | integer | string | list | enum
    category: str
    description: str
    choices: tuple[str, ...] = ()  # the values an enum accepts
    mandatory: tuple[str, ...] = ()  # list items that cannot be removed (mandatory_values)
    minimum: int | None = None
    maximum: int | None = None


SPECS: tuple[SettingSpec, ...] = (
    SettingSpec("title", "Diamond Sandbox", "string", "required", "The name of this site."),
    SettingSpec(
        "login_required", False, "bool", "login", "Require authentication to read content."
    ),
    SettingSpec(
        "auto_approve_email_domains",
        "",
        "list",
        "login",
        "Users with email addresses from this list of domains (a|b) are approved automatically.",
    ),
    SettingSpec("allow_user_locale", False, "bool", "basic", "Allow users to choose a language."),
    SettingSpec(
        "must_approve_users", False, "bool", "login", "Staff must approve all new user accounts."
    ),
    SettingSpec(
        "enable_category_group_moderation",
        False,
        "bool",
        "groups",
        "Allow groups to moderate content in specific categories.",
    ),
    SettingSpec(
        "max_admin_api_reqs_per_minute",
        60,
        "integer",
        "api",
        "Maximum number of admin API requests per minute.",
    ),
    SettingSpec("min_post_length", 20, "integer", "posting", "Minimum post length."),
    SettingSpec("min_first_post_length", 20, "integer", "posting", "Minimum first post length."),
    SettingSpec("min_topic_title_length", 15, "integer", "posting", "Minimum title length."),
    SettingSpec("min_personal_message_post_length", 10, "integer", "posting", "Minimum PM length."),
    SettingSpec("min_personal_message_title_length", 2, "integer", "posting", "Min PM title."),
    # config/site_settings.yml (posting / notifications): what one post or PM may reach.
    SettingSpec("max_mentions_per_post", 10, "integer", "posting", "Maximum @mentions in a post."),
    SettingSpec(
        "newuser_max_mentions_per_post",
        2,
        "integer",
        "posting",
        "Maximum @mentions a new user (trust level 0) may put in a post.",
    ),
    SettingSpec(
        "max_allowed_message_recipients",
        30,
        "integer",
        "posting",
        "Maximum recipients allowed in a message.",
    ),
    SettingSpec("max_username_length", 20, "integer", "users", "Maximum username length."),
    SettingSpec("min_username_length", 3, "integer", "users", "Minimum username length."),
    # config/site_settings.yml (security): the webhook admin's SSRF check reads both.
    SettingSpec(
        "blocked_ip_blocks",
        "",
        "list",
        "security",
        "A list of private IP subnets that Discourse should never be crawling.",
    ),
    SettingSpec(
        "allowed_internal_hosts",
        "",
        "list",
        "security",
        "A list of internal hosts that discourse can safely crawl for oneboxing and webhooks.",
    ),
    SettingSpec("tagging_enabled", True, "bool", "tags", "Enable tags on topics."),
    SettingSpec("enable_badges", True, "bool", "badges", "Enable the badge system."),
    SettingSpec("default_locale", "en", "string", "required", "Default language."),
    SettingSpec("enable_user_directory", True, "bool", "users", "User directory."),
    # config/site_settings.yml, enum DuplicateTopicTitlesSiteSetting (replaced the hidden
    # allow_duplicate_topic_titles and allow_duplicate_topic_titles_category booleans).
    SettingSpec(
        "duplicate_topic_titles",
        "disallowed",
        "enum",
        "posting",
        "Allow topics with identical, duplicate titles.",
        choices=("disallowed", "allowed_across_categories", "allowed"),
    ),
    # plugins/chat/config/settings.yml (chat is a core plugin, on by default)
    SettingSpec("chat_enabled", True, "bool", "chat", "Enable chat."),
    SettingSpec("enable_public_channels", True, "bool", "chat", "Enable public channels."),
    SettingSpec(
        "chat_allowed_groups",
        "1|2|11",
        "group_list",
        "chat",
        "Users in these groups can chat. Staff can always chat.",
        mandatory=("1", "2"),
    ),
    SettingSpec(
        "chat_channel_retention_days",
        90,
        "integer",
        "chat",
        "Messages in regular channels are kept this many days (0: forever).",
        minimum=0,
        maximum=3652,
    ),
    SettingSpec(
        "chat_dm_retention_days",
        0,
        "integer",
        "chat",
        "Direct messages are kept this many days (0: forever).",
        minimum=0,
        maximum=3652,
    ),
    SettingSpec(
        "chat_allowed_messages_for_trust_level_0",
        20,
        "integer",
        "chat",
        "Messages a trust level 0 user may send in 30 seconds (0: no limit).",
        minimum=0,
    ),
    SettingSpec(
        "chat_allowed_messages_for_other_trust_levels",
        40,
        "integer",
        "chat",
        "Messages other users may send in 30 seconds (0: no limit).",
        minimum=0,
    ),
    SettingSpec(
        "chat_auto_silence_duration",
        30,
        "integer",
        "chat",
        "Minutes a user who floods chat is silenced (0: not silenced).",
        minimum=0,
    ),
    SettingSpec(
        "chat_minimum_message_length",
        1,
        "integer",
        "chat",
        "Minimum message length.",
        minimum=1,
        maximum=50,
    ),
    SettingSpec(
        "chat_maximum_message_length",
        6000,
        "integer",
        "chat",
        "Maximum message length.",
        minimum=100,
        maximum=12000,
    ),
    SettingSpec(
        "max_chat_auto_joined_users",
        10000,
        "integer",
        "chat",
        "Most users auto-joined to a channel.",
        minimum=0,
    ),
    SettingSpec(
        "max_mentions_per_chat_message",
        5,
        "integer",
        "chat",
        "Most mentions notified per message.",
        minimum=0,
        maximum=10,
    ),
)

BY_NAME: dict[str, SettingSpec] = {spec.name: spec for spec in SPECS}


def coerce(spec: SettingSpec, value: Any) -> Any:
    """Turn a form value into the setting's type; ValueError when it does not fit."""
    if spec.type == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"true", "t", "1"}:
            return True
        if text in {"false", "f", "0", ""}:
            return False
        raise ValueError(value)
    if spec.type == "integer":
        number = int(value)
        if spec.minimum is not None and number < spec.minimum:
            raise ValueError(value)
        if spec.maximum is not None and number > spec.maximum:
            raise ValueError(value)
        return number
    if spec.type == "group_list":
        items = [item for item in str(value or "").split("|") if item]
        if not all(item.isdigit() for item in items):
            raise ValueError(value)
        if not set(spec.mandatory) <= set(items):
            raise ValueError(value)
        return "|".join(items)
    if spec.type == "enum":
        if str(value) not in spec.choices:
            raise ValueError(value)
        return str(value)
    return "" if value is None else str(value)
