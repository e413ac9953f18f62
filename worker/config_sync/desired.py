"""What the forum must have: typed models of ``plugin_config/`` and their loader.

Every model exposes ``key`` (stable identity, written in the ownership marker) and
``managed()``: the fields the moderators actually wrote, in the shape ``actual``
reads from the forum. Fields left out of the YAML are not managed, so Diamond does
not fight an admin over settings it was never told about.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from worker.forum.addresses import chat_payload_url, host_is_internal, setting_list
from worker.rules.located import LocationIndex, load_located_yaml, validate_located
from worker.rules.problems import Problem
from worker.rules.types import in_language

# Discourse's Group.visibility_levels and Group::ALIAS_LEVELS.
VISIBILITY_LEVELS: dict[str, int] = {
    "public": 0,
    "logged_on_users": 1,
    "members": 2,
    "staff": 3,
    "owners": 4,
}
ALIAS_LEVELS: dict[str, int] = {
    "nobody": 0,
    "only_admins": 1,
    "mods_and_admins": 2,
    "members_mods_and_admins": 3,
    "owners_mods_and_admins": 4,
    "everyone": 99,
}
# CategoryGroup.permission_types
PERMISSION_TYPES: dict[str, int] = {"full": 1, "create_post": 2, "readonly": 3}
BADGE_TIERS: dict[str, int] = {"gold": 1, "silver": 2, "bronze": 3}
# Discourse seeds these groupings with fixed ids (BadgeGrouping::GettingStarted = 1, ...).
BADGE_GROUPINGS: dict[str, int] = {
    "getting_started": 1,
    "community": 2,
    "posting": 3,
    "trust_level": 4,
    "other": 5,
}
# Discourse's automatic groups, which categories may grant permissions to.
BUILTIN_GROUPS = frozenset(
    {"everyone", "admins", "moderators", "staff"} | {f"trust_level_{n}" for n in range(5)}
)
WEBHOOK_CONTENT_TYPES: dict[str, int] = {"json": 1, "form": 2}
# the site setting whose hosts skip Discourse's check for private webhook addresses
INTERNAL_HOSTS = "allowed_internal_hosts"

GROUP_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,19}$")
SLUG = re.compile(r"^[a-z0-9][a-z0-9\-]{0,49}$")
KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,50}$")
HEX_COLOR = re.compile(r"^[0-9A-Fa-f]{6}$")


def _level(table: Mapping[str, int], what: str) -> Callable[[Any], int]:
    """Accept a level by name (readable YAML) or by Discourse's number."""

    def convert(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError(f"must be one of {', '.join(table)}")
        if isinstance(value, int) and value in table.values():
            return value
        if isinstance(value, str) and value in table:
            return table[value]
        raise ValueError(f"unknown {what} {value!r}; use one of {', '.join(table)}")

    return convert


# fields that identify a resource or steer the sync rather than describe the resource
CONTROL_FIELDS = frozenset({"key", "adopt"})


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def managed(self) -> dict[str, Any]:
        """The fields written in the YAML, as the forum shape ``actual`` produces."""
        required = {name for name, info in type(self).model_fields.items() if info.is_required()}
        return {
            name: getattr(self, name)
            for name in self.model_fields_set | required
            if name not in CONTROL_FIELDS
        }


class UserFieldSpec(_Spec):
    key: str
    name: str = Field(min_length=1)
    description: str = ""
    field_type: Literal["text", "confirm", "dropdown", "multiselect"]
    requirement: Literal["optional", "on_signup", "for_all_users"] = "optional"
    editable: bool = True
    show_on_profile: bool = False
    show_on_user_card: bool = False
    searchable: bool = False
    options: tuple[str, ...] = ()
    adopt: bool = False

    @field_validator("key")
    @classmethod
    def _key_pattern(cls, value: str) -> str:
        return _match(KEY, value, "a key (letters, digits, _.-)")

    @model_validator(mode="after")
    def _options_match_type(self) -> UserFieldSpec:
        if self.field_type in ("dropdown", "multiselect") and not self.options:
            raise ValueError(f"options: a {self.field_type} field needs at least one option")
        if self.field_type not in ("dropdown", "multiselect") and self.options:
            raise ValueError("options: only dropdown and multiselect fields have options")
        return self

    def managed(self) -> dict[str, Any]:
        data = super().managed()
        # description and options are always managed: they carry meaning on the signup form
        data.setdefault("description", self.description)
        data.setdefault("options", self.options)
        data["options"] = tuple(data["options"])
        return data


class GroupSpec(_Spec):
    name: str
    full_name: str = ""
    bio: str = ""
    visibility_level: int = 0
    members_visibility_level: int = 0
    messageable_level: int = 0
    mentionable_level: int = 0
    public_admission: bool = False
    public_exit: bool = False
    allow_membership_requests: bool = False
    primary_group: bool = False
    title: str = ""
    default_notification_level: int = Field(default=3, ge=0, le=4)
    adopt: bool = False

    @field_validator("name")
    @classmethod
    def _name_pattern(cls, value: str) -> str:
        return _match(GROUP_NAME, value, "a Discourse group name (ASCII letters, digits, _.-, ≤20)")

    @field_validator("visibility_level", "members_visibility_level", mode="before")
    @classmethod
    def _visibility(cls, value: Any) -> int:
        return _level(VISIBILITY_LEVELS, "visibility level")(value)

    @field_validator("messageable_level", "mentionable_level", mode="before")
    @classmethod
    def _alias(cls, value: Any) -> int:
        return _level(ALIAS_LEVELS, "level")(value)

    @property
    def key(self) -> str:
        return self.name

    def managed(self) -> dict[str, Any]:
        data = super().managed()
        data.setdefault("bio", self.bio)
        return data


class CategorySpec(_Spec):
    slug: str
    name: str = Field(min_length=1, max_length=50)
    color: str = "0088CC"
    text_color: str = "FFFFFF"
    parent: str | None = None
    description: str = ""
    permissions: dict[str, int] = Field(default_factory=dict)
    moderating_groups: tuple[str, ...] = ()
    adopt: bool = False

    @field_validator("slug")
    @classmethod
    def _slug_pattern(cls, value: str) -> str:
        return _match(SLUG, value, "a slug (lower-case ASCII letters, digits, -)")

    @field_validator("color", "text_color")
    @classmethod
    def _colors(cls, value: str) -> str:
        return _match(HEX_COLOR, value, "a hex colour without # (e.g. 0088CC)").upper()

    @field_validator("permissions", mode="before")
    @classmethod
    def _permission_names(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        convert = _level(PERMISSION_TYPES, "permission")
        return {str(group): convert(level) for group, level in value.items()}

    @property
    def key(self) -> str:
        return self.slug

    def managed(self) -> dict[str, Any]:
        data = super().managed()
        data.setdefault("description", self.description)
        data.setdefault("parent", self.parent)
        data["moderating_groups"] = tuple(sorted(self.moderating_groups))
        return data


class BadgeSpec(_Spec):
    key: str
    name: str = Field(min_length=1)
    badge_type_id: int = Field(ge=1, le=3)
    description: str = ""
    badge_grouping_id: int = 5
    allow_title: bool = False
    multiple_grant: bool = False
    listable: bool = True
    enabled: bool = True
    icon: str | None = None

    @field_validator("key")
    @classmethod
    def _key_pattern(cls, value: str) -> str:
        return _match(KEY, value, "a key (letters, digits, _.-)")

    @field_validator("badge_type_id", mode="before")
    @classmethod
    def _tier(cls, value: Any) -> int:
        return _level(BADGE_TIERS, "tier")(value)

    @field_validator("badge_grouping_id", mode="before")
    @classmethod
    def _grouping(cls, value: Any) -> int:
        return _level(BADGE_GROUPINGS, "badge grouping")(value)

    def managed(self) -> dict[str, Any]:
        data = super().managed()
        data.setdefault("description", self.description)
        return data


class WebhookSpec(_Spec):
    payload_url: str
    secret: SecretStr
    events: tuple[str, ...]
    content_type: int = 1
    active: bool = True
    verify_certificate: bool = True

    @field_validator("content_type", mode="before")
    @classmethod
    def _content(cls, value: Any) -> int:
        return _level(WEBHOOK_CONTENT_TYPES, "content type")(value)

    @property
    def key(self) -> str:
        return "receiver"

    def managed(self) -> dict[str, Any]:
        data = super().managed()
        data["events"] = tuple(sorted(set(self.events)))
        return data


class ChatWebhookSpec(WebhookSpec):
    """The second webhook: chat events only, filtered to Diamond's categories (Discourse's
    category filter drops every event without a category, so the user and post events
    stay on the first webhook). ``categories`` are the base categories' slugs; the diff adds
    the squads' categories it finds on the forum, and the sync writes their ids."""

    categories: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return "chat"

    def managed(self) -> dict[str, Any]:
        data = super().managed()
        data["categories"] = tuple(sorted(set(self.categories)))
        return data


def _match(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise ValueError(f"{value!r} is not {what}")
    return value


# --- sections (one file each) ---------------------------------------------------------


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    prune: bool = False


class SafetyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    max_change_share: float = Field(default=0.3, gt=0, le=1)
    always_allow: int = Field(default=1, ge=0)


class SyncFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    safety: SafetyOptions = SafetyOptions()


class SiteSettingsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    settings: dict[str, bool | int | float | str] = Field(default_factory=dict)
    # group_list settings (e.g. chat_allowed_groups) that must hold these groups, by name
    group_lists: dict[str, tuple[str, ...]] = Field(default_factory=dict)


class UserFieldsFile(_Section):
    fields: tuple[UserFieldSpec, ...] = ()


class GroupsFile(_Section):
    groups: tuple[GroupSpec, ...] = ()


class CategoriesFile(_Section):
    categories: tuple[CategorySpec, ...] = ()


class BadgesFile(_Section):
    grouping: str = "community"

    @field_validator("grouping")
    @classmethod
    def _known_grouping(cls, value: str) -> str:
        _level(BADGE_GROUPINGS, "badge grouping")(value)
        return value


class ChatWebhookFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = True
    events: tuple[str, ...] = ()


class WebhookFile(_Section):
    enabled: bool = True
    # Discourse refuses payload URLs on private addresses unless the site setting
    # allowed_internal_hosts lists the host: add the receiver's host when it is one.
    allow_internal_receiver: bool = True
    events: tuple[str, ...] = ()
    content_type: Literal["json", "form"] = "json"
    active: bool = True
    verify_certificate: bool = True
    chat: ChatWebhookFile | None = None  # the second webhook, chat events only


@dataclass(frozen=True)
class Section:
    """A list of resources of one kind and whether owned leftovers are deleted."""

    items: tuple[Any, ...] = ()
    prune: bool = False


@dataclass(frozen=True)
class Desired:
    safety: SafetyOptions = field(default_factory=SafetyOptions)
    site_settings: Mapping[str, Any] = field(default_factory=dict)
    user_fields: Section = Section()
    groups: Section = Section()
    categories: Section = Section()
    badges: Section = Section()
    webhook: WebhookSpec | None = None
    webhook_prune: bool = False
    chat_webhook: ChatWebhookSpec | None = None
    # list site settings that must contain these items (others already there are kept)
    site_setting_includes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # group_list site settings that must contain these groups, by name (resolved to ids)
    site_setting_groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


class ConfigProblems(Exception):
    """``plugin_config/`` is invalid; ``problems`` lists every mistake, located."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


# --- loading ----------------------------------------------------------------------------

FILES: dict[str, type[BaseModel]] = {
    "sync.yml": SyncFile,
    "site_settings.yml": SiteSettingsFile,
    "user_fields.yml": UserFieldsFile,
    "groups.yml": GroupsFile,
    "categories.yml": CategoriesFile,
    "badges.yml": BadgesFile,
    "webhook.yml": WebhookFile,
}


def load_desired(
    config_dir: Path | str,
    *,
    receiver_url: str = "",
    webhook_secret: str = "",
    badges: Iterable[Any] = (),
) -> Desired:
    """Read ``plugin_config/`` (+ badges from the rules) into ``Desired``.

    ``badges``: the rules' badge definitions (``rules.badges.badges``: slug, name, tier,
    description) or ready ``BadgeSpec`` objects. Raises ``ConfigProblems`` with every
    problem in every file at once, each as ``file:line:col: field.path: message``.
    """
    config_dir = Path(config_dir)
    problems: list[Problem] = []
    if not config_dir.is_dir():
        raise ConfigProblems([Problem(config_dir.as_posix(), 1, 1, "", "directory not found")])
    parsed: dict[str, Any] = {}
    index: dict[str, LocationIndex] = {}
    for filename, model in FILES.items():
        parsed[filename], index[filename] = _load_file(config_dir, filename, model, problems)
    if problems:
        raise ConfigProblems(problems)

    sync: SyncFile = parsed["sync.yml"]
    groups: GroupsFile = parsed["groups.yml"]
    categories: CategoriesFile = parsed["categories.yml"]
    user_fields: UserFieldsFile = parsed["user_fields.yml"]
    hook: WebhookFile = parsed["webhook.yml"]
    badge_list = badge_specs(badges, grouping=parsed["badges.yml"].grouping)

    problems += _duplicates(index["user_fields.yml"], "fields", user_fields.fields)
    problems += _duplicates(index["groups.yml"], "groups", groups.groups)
    problems += _duplicates(index["categories.yml"], "categories", categories.categories)
    problems += _check_categories(index["categories.yml"], categories.categories, groups.groups)

    webhook = None
    if hook.enabled:
        webhook, hook_problems = _webhook(index["webhook.yml"], hook, receiver_url, webhook_secret)
        problems += hook_problems
    chat_webhook = None
    if webhook is not None and hook.chat is not None and hook.chat.enabled:
        chat_webhook, chat_problems = _chat_webhook(
            index["webhook.yml"], hook.chat, webhook, categories.categories
        )
        problems += chat_problems
    if problems:
        raise ConfigProblems(problems)

    site_settings: dict[str, Any] = dict(parsed["site_settings.yml"].settings)
    includes: dict[str, tuple[str, ...]] = {}
    if webhook is not None and hook.allow_internal_receiver:
        host = urlsplit(webhook.payload_url).hostname
        if host and host_is_internal(host):
            if INTERNAL_HOSTS in site_settings:  # written out by hand: the receiver joins it
                site_settings[INTERNAL_HOSTS] = with_items(site_settings[INTERNAL_HOSTS], [host])
            else:
                includes[INTERNAL_HOSTS] = (host,)

    return Desired(
        safety=sync.safety,
        site_settings=site_settings,
        site_setting_includes=includes,
        site_setting_groups=dict(parsed["site_settings.yml"].group_lists),
        user_fields=Section(user_fields.fields, user_fields.prune),
        groups=Section(groups.groups, groups.prune),
        categories=Section(categories.categories, categories.prune),
        badges=Section(badge_list, parsed["badges.yml"].prune),
        webhook=webhook,
        webhook_prune=hook.prune,
        chat_webhook=chat_webhook,
    )


def with_items(value: Any, items: Iterable[str]) -> str:
    """A list site setting's value with ``items`` added (case-insensitive), order kept."""
    current = setting_list(value)
    seen = {item.lower() for item in current}
    return "|".join(current + [item for item in items if item.lower() not in seen])


def badge_specs(badges: Iterable[Any], *, grouping: str = "community") -> tuple[BadgeSpec, ...]:
    """The rules' badges as the forum should have them (rules own name, tier, description)."""
    specs = []
    for badge in badges:
        if isinstance(badge, BadgeSpec):
            specs.append(badge)
            continue
        specs.append(
            BadgeSpec(
                key=badge.slug,
                name=badge.name,
                badge_type_id=badge.tier,
                # one text on the forum: the first language written (the default's)
                description=in_language(badge.description, None),
                # a per-badge grouping in the rules wins over the sync default
                # a name here: the field's validator turns it into the grouping's id
                badge_grouping_id=getattr(badge, "grouping", None) or grouping,  # type: ignore[arg-type]  # see above
                # grants come from Diamond with a post as reason; members may not pick them
                allow_title=False,
                multiple_grant=False,
                listable=True,
                enabled=True,
            )
        )
    return tuple(specs)


def _load_file(
    directory: Path, name: str, model: type[BaseModel], problems: list[Problem]
) -> tuple[Any, LocationIndex]:
    path = directory / name
    shown = (directory / name).as_posix()
    if not path.exists():
        # every file is optional: an absent section manages nothing
        empty = model(enabled=False) if model is WebhookFile else model()
        return empty, LocationIndex(shown)
    doc = load_located_yaml(path, shown)
    problems.extend(doc.problems)
    if doc.problems and doc.data is None:
        return None, doc.index
    result = validate_located(model, doc.data if doc.data is not None else {}, doc.index)
    if isinstance(result, list):
        problems.extend(result)
        return None, doc.index
    return result, doc.index


def _duplicates(index: LocationIndex, where: str, items: Sequence[Any]) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[Any, int] = {}
    for position, item in enumerate(items):
        if item.key in seen:
            problems.append(
                index.problem(
                    (where, position),
                    f"duplicate {item.key!r} (also {where}[{seen[item.key]}])",
                )
            )
        seen.setdefault(item.key, position)
    return problems


def _check_categories(
    index: LocationIndex, categories: Sequence[CategorySpec], groups: Sequence[GroupSpec]
) -> list[Problem]:
    problems: list[Problem] = []
    known_groups = BUILTIN_GROUPS | {g.name for g in groups}
    slugs = {c.slug: c for c in categories}
    for position, category in enumerate(categories):
        at = ("categories", position)
        for group in category.permissions:
            if group not in known_groups:
                problems.append(
                    index.problem((*at, "permissions", group), _unknown_group(group, groups))
                )
        for number, group in enumerate(category.moderating_groups):
            if group not in known_groups:
                problems.append(
                    index.problem(
                        (*at, "moderating_groups", number),
                        _unknown_group(group, groups),
                        at_value=True,
                    )
                )
        if category.parent is not None:
            if category.parent not in slugs:
                message = f"no category with slug {category.parent!r} in this file"
                problems.append(index.problem((*at, "parent"), message))
            elif _has_cycle(category.slug, slugs):
                problems.append(index.problem((*at, "parent"), "categories form a cycle"))
    return problems


def _unknown_group(group: str, groups: Sequence[GroupSpec]) -> str:
    names = ", ".join(g.name for g in groups)
    return f"unknown group {group!r} (groups.yml has: {names}; or a built-in group like staff)"


def _has_cycle(slug: str, slugs: Mapping[str, CategorySpec]) -> bool:
    seen = set()
    while slug in slugs and slugs[slug].parent is not None:
        if slug in seen:
            return True
        seen.add(slug)
        slug = slugs[slug].parent  # type: ignore[assignment]  # None ends the loop
    return False


def _webhook(
    index: LocationIndex, hook: WebhookFile, receiver_url: str, secret: str
) -> tuple[WebhookSpec | None, list[Problem]]:
    problems = []
    if not receiver_url.startswith(("http://", "https://")):
        problems.append(
            index.problem(
                ("enabled",),
                "the webhook needs DIAMOND_RECEIVER_URL (http:// or https://), "
                "or set enabled: false",
            )
        )
    if not secret:
        problems.append(
            index.problem(
                ("enabled",), "the webhook needs DIAMOND_WEBHOOK_SECRET, or set enabled: false"
            )
        )
    if not hook.events:
        problems.append(index.problem(("events",), "list the events the worker needs"))
    if problems:
        return None, problems
    spec = WebhookSpec(
        payload_url=receiver_url,
        secret=SecretStr(secret),
        events=hook.events,
        content_type=hook.content_type,  # type: ignore[arg-type]  # validated by the field
        active=hook.active,
        verify_certificate=hook.verify_certificate,
    )
    return spec, []


def _chat_webhook(
    index: LocationIndex,
    chat: ChatWebhookFile,
    main: WebhookSpec,
    categories: Sequence[CategorySpec],
) -> tuple[ChatWebhookSpec | None, list[Problem]]:
    if not chat.events:
        return None, [index.problem(("chat", "events"), "list the chat events the worker needs")]
    others = [e for e in chat.events if not e.startswith("chat_")]
    if others:
        # A category filter drops every event without a category: those belong on the
        # first webhook (``events``).
        return None, [
            index.problem(
                ("chat", "events"),
                f"only chat events here (got {', '.join(others)}); list them under events",
            )
        ]
    spec = ChatWebhookSpec(
        payload_url=chat_payload_url(main.payload_url),
        secret=main.secret,
        events=chat.events,
        content_type=main.content_type,
        active=main.active,
        verify_certificate=main.verify_certificate,
        categories=tuple(c.slug for c in categories),
    )
    return spec, []
