"""Small validated value types shared by the rule models.

Each is an ``Annotated`` alias so a wrong value fails where it is written,
with a message a moderator can act on.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, Field

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[Weekday, ...] = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)

# Discourse group names follow its username rules: 3..20 chars by default. We keep
# them lowercase ASCII so they are safe in URLs and mentions.
GROUP_SLUG_MAX = 20
_GROUP_SLUG = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?")


def group_slug_problem(value: str) -> str | None:
    """Why ``value`` is not a valid Discourse group name, or None when it is."""
    if not 3 <= len(value) <= GROUP_SLUG_MAX:
        return f"must be 3 to {GROUP_SLUG_MAX} characters long (got {len(value)}: {value!r})"
    if not _GROUP_SLUG.fullmatch(value):
        return (
            "may only contain lowercase ASCII letters, digits, '_' and '-', "
            f"and must not start or end with '-' (got {value!r})"
        )
    if "--" in value or "__" in value or "-_" in value or "_-" in value:
        return f"must not contain two special characters in a row (got {value!r})"
    return None


def _check_group_slug(value: str) -> str:
    problem = group_slug_problem(value)
    if problem:
        raise ValueError(problem)
    return value


# A Discourse group name, e.g. "camp", "sq-2026-11-3".
GroupSlug = Annotated[str, AfterValidator(_check_group_slug)]

_CATEGORY_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,49}")


def _check_category_slug(value: str) -> str:
    if not _CATEGORY_SLUG.fullmatch(value):
        raise ValueError(
            "must be a category slug: lowercase ASCII letters, digits and '-', "
            f"at most 50 characters (got {value!r})"
        )
    return value


# A Discourse category slug, e.g. "introductions".
CategorySlug = Annotated[str, AfterValidator(_check_category_slug)]

_USER_FIELD = re.compile(r"\S.{0,99}", re.DOTALL)


def _check_user_field(value: str) -> str:
    if not _USER_FIELD.fullmatch(value) or value != value.strip():
        raise ValueError(f"must be a user field name without surrounding spaces (got {value!r})")
    return value


@dataclass(frozen=True, slots=True)
class UserFieldRef:
    """Marks a field naming a user field, so plugin_config can be checked to declare it."""


# The name of a Discourse custom user field as declared in plugin_config (e.g. "referrer").
UserFieldName = Annotated[str, AfterValidator(_check_user_field), UserFieldRef()]


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except Exception:  # ZoneInfoNotFoundError, ValueError, OSError...: never crash a validator
        raise ValueError(
            f"unknown time zone {value!r} (use an IANA name such as 'Asia/Shanghai')"
        ) from None
    return value


TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]


def _check_cron(value: str) -> str:
    # Imported here: APScheduler is only needed when a cron string is validated.
    from apscheduler.triggers.cron import CronTrigger

    fields = value.split()
    if len(fields) != 5:
        raise ValueError(
            "must be a cron expression with 5 fields 'minute hour day month weekday' "
            f"(got {len(fields)} field{'s' if len(fields) != 1 else ''}: {value!r})"
        )
    try:
        CronTrigger.from_crontab(value, timezone=UTC)
    except Exception as exc:  # APScheduler raises several kinds; a validator must not crash
        raise ValueError(f"invalid cron expression {value!r}: {exc}") from None
    return value


# A 5-field crontab string, evaluated in the community's time zone, e.g. "0 20 * * sun".
CronExpr = Annotated[str, AfterValidator(_check_cron)]


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except (re.error, OverflowError, RecursionError) as exc:
        raise ValueError(f"invalid regular expression {value!r}: {exc}") from None
    return value


Regex = Annotated[str, AfterValidator(_check_regex)]

Share = Annotated[float, Field(gt=0, le=1)]  # a fraction of members, 0 < x <= 1
Rate = Annotated[float, Field(ge=0, le=1)]  # a ratio, 0 <= x <= 1
PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]


@dataclass(frozen=True, slots=True)
class TemplateRef:
    """Marks a field whose value is a key into ``messages/<lang>.yml``.

    The loader finds every such field by walking the models, so a new template
    reference is checked in both languages without further code. Each such field also
    declares the values its call site passes, with ``Placeholders`` below.
    """


# A key into messages/zh.yml and messages/en.yml, e.g. "camp_welcome".
_TEMPLATE_KEY = re.compile(r"[a-z][a-z0-9_.]*")


def _check_template_key(value: str) -> str:
    if not _TEMPLATE_KEY.fullmatch(value):
        raise ValueError(
            "must be a message key: lowercase ASCII letters, digits, '_' and '.', "
            f"starting with a letter (got {value!r})"
        )
    return value


TemplateKey = Annotated[str, AfterValidator(_check_template_key), TemplateRef()]


@dataclass(frozen=True, slots=True, init=False)
class Placeholders:
    """The values the code passes when it fills in the text or template a field names.

    Written next to the field, ``Annotated[TemplateKey, Placeholders("username", ...)]``,
    so whoever adds a template field or changes its call site sees the list to keep in
    step; tests/pure/test_rules_placeholders.py fails when the two drift apart. The loader
    reports a placeholder outside the list where it is written, instead of a literal
    ``{usrname}`` reaching a member (``Rules.render`` adds ``{community}`` to every
    message template).

    ``by``/``cases``: names only some values of a sibling field get, e.g. a reminder
    ``about: review`` gets its review links: ``by="about", cases={"review": (...)}``.
    """

    names: tuple[str, ...]
    by: str | None
    cases: tuple[tuple[str, tuple[str, ...]], ...]

    def __init__(
        self, *names: str, by: str | None = None, cases: Mapping[str, Sequence[str]] | None = None
    ) -> None:
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "by", by)
        object.__setattr__(self, "cases", tuple((k, tuple(v)) for k, v in (cases or {}).items()))

    def passed(self, owner: object = None) -> tuple[str, ...]:
        """The names passed where ``owner`` (the model holding the field) is used."""
        if self.by is None:
            return self.names
        cases: dict[object, tuple[str, ...]] = dict(self.cases)  # the sibling's value, any type
        return (*self.names, *cases.get(getattr(owner, self.by, None), ()))


@dataclass(frozen=True, slots=True, init=False)
class TopicTitle:
    """Marks a template (or text) whose title becomes the title of a new forum topic.

    Discourse refuses a topic whose title a listable topic already holds, for admins too
    (``Topic validates :title, unique_among``), so such a title must differ for every
    topic the code opens with it: it must use every placeholder of at least one of
    ``alternatives`` (e.g. ``("year", "week")`` for a weekly post: the week number alone
    comes back every year). A template without a title would be titled with the
    community's name: refused too.
    """

    alternatives: tuple[tuple[str, ...], ...]

    def __init__(self, *alternatives: Sequence[str]) -> None:
        object.__setattr__(self, "alternatives", tuple(tuple(alt) for alt in alternatives))

    def problem(self, title: str | None) -> str | None:
        """Why ``title`` (a template's title, None when it has none) may repeat, or None."""
        wanted = ", or ".join(
            " and ".join("{" + name + "}" for name in alt) for alt in self.alternatives
        )
        if title is None:
            return (
                "opens a forum topic, and without a title every one would be titled with the "
                "community's name, which Discourse refuses the second time: give it a title "
                f"with {wanted}"
            )
        used = set(format_fields(title))
        if any(set(alt) <= used for alt in self.alternatives):
            return None
        return (
            "titles a new forum topic each time, and Discourse refuses a title another topic "
            f"already has: use {wanted} in it so that no two are alike"
        )


# The same shape where a template is defined (messages files), not referenced.
MessageKey = Annotated[str, AfterValidator(_check_template_key)]


def format_fields(template: str) -> list[str]:
    """The ``{placeholder}`` names used in a str.format template; ValueError if malformed.

    Only plain ``{name}`` is allowed: no positions, format specs, conversions,
    attributes or indexes, so rendering with any values can never fail.
    """
    names = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        message = f"{exc}; write {{{{ or }}}} for a literal brace"
        if "\uff5b" in template or "\uff5d" in template:  # ｛ ｝ from a Chinese input method
            message += "; hint: '｛' and '｝' are full-width braces, placeholders need '{' and '}'"
        raise ValueError(message) from None
    for _literal, field_name, spec, conversion in parsed:
        if field_name is None:
            continue
        if not re.fullmatch(r"[A-Za-z_]\w*", field_name) or spec or conversion:
            shown = "{" + field_name + (f"!{conversion}" if conversion else "")
            shown += (f":{spec}" if spec else "") + "}"
            raise ValueError(f"use plain named placeholders like {{username}} (found {shown})")
        names.append(field_name)
    return names


def _check_format(value: str) -> str:
    format_fields(value)  # its ValueError names the bad placeholder
    return value


# Text with {named} placeholders (str.format style). Use {{ and }} for literal braces.
FormatText = Annotated[str, AfterValidator(_check_format)]


# Text moderators write once per language, or once for all: ``reason: 含推销内容`` or
# ``reason: {zh: 含推销内容, en: advertises}``. Read it with ``in_language``.
LocalText = Annotated[
    str | dict[Language, Annotated[str, Field(min_length=1)]], Field(min_length=1)
]


def in_language(text: str | Mapping[Any, str], lang: str | None) -> str:
    """``text`` in ``lang``: the plain text, or that language's (else the first given)."""
    if isinstance(text, str):
        return text
    return text.get(lang or "") or next(iter(text.values()))
