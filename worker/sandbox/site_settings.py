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
        return int(value)
    if spec.type == "enum":
        if str(value) not in spec.choices:
            raise ValueError(value)
        return str(value)
    return "" if value is None else str(value)
