"""Checks that need more than one field or more than one file.

Each check takes validated models plus their ``LocationIndex`` and returns
located problems; the loader runs them only on sections that validated.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping, Sequence
from fnmatch import fnmatchcase
from types import UnionType
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel

from worker.rules.located import DataPath, LocationIndex, format_path, suggest
from worker.rules.models import (
    FIXED_TEMPLATES,
    FIXED_TOPIC_TITLES,
    NAME_PLACEHOLDERS,
    REQUIRED_TEMPLATES,
    SHADOW_TEMPLATE,
    SLUG_PLACEHOLDERS,
    Camp,
    Language,
    Messages,
    Obligations,
    Squads,
)
from worker.rules.problems import Problem
from worker.rules.types import (
    Placeholders,
    TemplateRef,
    TopicTitle,
    UserFieldRef,
    format_fields,
    group_slug_problem,
)

M = TypeVar("M")

# Worst case for naming templates: the widest cohort date and large counters.
_WORST_INTAKE = dt.datetime(2099, 12, 31, 23, 59, 59)
_WORST_VALUES = {"n": 999, "class_n": 999, "class_key": "其他"}


def template_refs(model: BaseModel, path: DataPath = ()) -> Iterator[tuple[DataPath, str]]:
    """Every (path, key) of a ``TemplateKey`` field in ``model``, found by its annotation."""
    return marked_refs(model, TemplateRef, path)


def user_field_refs(model: BaseModel) -> Iterator[tuple[DataPath, str]]:
    """Every (path, name) of a ``UserFieldName`` field: plugin_config must declare each."""
    return marked_refs(model, UserFieldRef)


def marked_refs(
    model: BaseModel, marker: type, path: DataPath = ()
) -> Iterator[tuple[DataPath, str]]:
    """Every (path, value) of a field whose annotation carries ``marker``."""
    for here, value, _owner, _field in marked_fields(model, marker, path):
        yield here, value


# (path, value, the model holding the field, the field's pydantic FieldInfo)
MarkedField = tuple[DataPath, Any, BaseModel, Any]


def marked_fields(model: BaseModel, marker: type, path: DataPath = ()) -> Iterator[MarkedField]:
    """Every field whose annotation carries ``marker``, with the model that holds it."""
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if value is None:
            continue
        here = (*path, name)
        if field_marker(info, marker) is not None:
            yield here, value, model, info
        else:
            yield from _fields_in(value, marker, here)


def field_marker(info: Any, marker: type[M]) -> M | None:
    """The ``marker`` instance in a field's annotation, or None."""
    return _find(info.metadata, info.annotation, marker)


def _find(metadata: Sequence[Any], annotation: Any, marker: type[M]) -> M | None:
    """Also through ``X | None``: pydantic keeps that inside the annotation."""
    for m in metadata:
        if isinstance(m, marker):
            return m
    if get_origin(annotation) is Annotated:
        return _find(get_args(annotation)[1:], None, marker)
    if get_origin(annotation) in (Union, UnionType):
        for arg in get_args(annotation):
            found = _find((), arg, marker)
            if found is not None:
                return found
    return None


def _fields_in(value: Any, marker: type, path: DataPath) -> Iterator[MarkedField]:
    if isinstance(value, BaseModel):
        yield from marked_fields(value, marker, path)
    elif isinstance(value, tuple | list):
        for i, item in enumerate(value):
            yield from _fields_in(item, marker, (*path, i))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _fields_in(item, marker, (*path, key))


def check_template_refs(
    sections: Mapping[str, tuple[BaseModel, LocationIndex]],
    messages: Mapping[Language, tuple[Messages, LocationIndex]],
    message_files: Mapping[Language, str],
) -> list[Problem]:
    """Every referenced template exists in every language; unreferenced ones are in all."""
    problems: list[Problem] = []
    referenced: set[str] = set()
    for model, index in sections.values():
        for path, key in template_refs(model):
            referenced.add(key)
            missing = [
                message_files[lang]
                for lang in message_files
                if lang in messages and key not in messages[lang][0].templates
            ]
            if missing:
                problems.append(
                    index.problem(
                        path,
                        f"message template {key!r} is not defined in {' or '.join(missing)}",
                        at_value=True,
                    )
                )
    # Templates the code itself sends must be there even when no rule names them.
    for model, index in messages.values():
        for key in REQUIRED_TEMPLATES:
            if key not in model.templates:
                problems.append(
                    index.problem(
                        (),
                        f"template {key!r} is missing: Diamond writes with it (copy it "
                        "from the rules Diamond ships)",
                    )
                )
    # A template nobody references yet must still exist in both languages.
    for lang, (model, index) in messages.items():
        for key in model.templates:
            if key in referenced:
                continue
            absent = [
                message_files[other]
                for other in messages
                if other != lang and key not in messages[other][0].templates
            ]
            if absent:
                problems.append(
                    index.problem((key,), f"template {key!r} is missing from {absent[0]}")
                )
    return problems


# Rules.render fills this in for every message template.
ALWAYS_PLACEHOLDERS = ("community",)
_FULLWIDTH_PLACEHOLDER = re.compile(r"\uff5b\s*([A-Za-z_]\w*)\s*\uff5d")  # ｛name｝


def check_placeholders(
    sections: Mapping[str, tuple[BaseModel, LocationIndex]],
    messages: Mapping[Language, tuple[Messages, LocationIndex]],
) -> list[Problem]:
    """Every ``{name}`` in a template is one the code fills in wherever the template is sent.

    A template named by a field may use what that field's ``Placeholders`` declare (all
    fields, when several name it); one the code sends by its own key, what
    ``FIXED_TEMPLATES`` declares; any other is checked for syntax only (by the model).
    Also ``{name}`` fields of the rule files themselves that carry ``Placeholders``.
    """
    uses: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    problems: list[Problem] = []
    for model, index in sections.values():
        for path, value, owner, info in marked_fields(model, Placeholders):
            names = field_marker(info, Placeholders).passed(owner)  # type: ignore[union-attr]  # marked_fields: marker set
            if field_marker(info, TemplateRef) is not None:
                label = f"{index.file} {format_path(path)}"
                uses.setdefault(value, []).append((label, (*ALWAYS_PLACEHOLDERS, *names)))
            else:  # the text itself is filled in, e.g. obligations.article.thread_title
                problems += _unfilled(value, [("", names)], index, path)
    for model, index in messages.values():
        for key, template in model.templates.items():
            fixed = [
                (f"Diamond's own {pattern!r}", (*ALWAYS_PLACEHOLDERS, *placeholders.names))
                for pattern, placeholders in FIXED_TEMPLATES.items()
                if fnmatchcase(key, pattern)
            ]
            key_uses = uses.get(key, []) + fixed
            for part in ("title", "body"):
                text = getattr(template, part)
                if text is None:
                    continue
                problems += _fullwidth(text, index, (key, part))
                if key_uses:
                    problems += _unfilled(text, key_uses, index, (key, part))
    return problems


def check_topic_titles(
    sections: Mapping[str, tuple[BaseModel, LocationIndex]],
    messages: Mapping[Language, tuple[Messages, LocationIndex]],
) -> list[Problem]:
    """Every title that opens a forum topic can never repeat (see ``TopicTitle``).

    Reported at the template's title in each messages file (or at the rule-file text
    itself, e.g. obligations.article.thread_title), naming the field that sends it.
    """
    problems: list[Problem] = []
    # template key -> [(how it is sent, its TopicTitle)]
    uses: dict[str, list[tuple[str, TopicTitle]]] = {
        key: [(f"Diamond's own {key!r}", marker)] for key, marker in FIXED_TOPIC_TITLES.items()
    }
    for model, index in sections.values():
        for path, value, _owner, info in marked_fields(model, TopicTitle):
            marker = field_marker(info, TopicTitle)
            assert marker is not None
            if field_marker(info, TemplateRef) is not None:
                uses.setdefault(value, []).append((f"{index.file} {format_path(path)}", marker))
            else:
                why = marker.problem(value)
                if why:
                    problems.append(index.problem(path, why, at_value=True))
    for model, index in messages.values():
        for key, template in model.templates.items():
            labels_by_why: dict[str, list[str]] = {}  # several fields may send one template
            for label, marker in uses.get(key, []):
                why = marker.problem(template.title)
                if why:
                    labels_by_why.setdefault(why, []).append(label)
            path = (key, "title") if template.title is not None else (key,)
            for why, labels in labels_by_why.items():
                problems.append(index.problem(path, f"sent as {', '.join(labels)}, it {why}"))
            if key == SHADOW_TEMPLATE and template.title is not None:
                words = template.title.replace("{title}", "").strip()
                if not words:
                    problems.append(
                        index.problem(
                            path,
                            "needs words besides {title}, e.g. 【演习】{title}: a shadow "
                            "entry and the later live one for the same thing must not share "
                            "a title (Discourse refuses a title another topic holds)",
                        )
                    )
    return problems


def _unfilled(
    text: str,
    uses: Sequence[tuple[str, Sequence[str]]],
    index: LocationIndex,
    path: DataPath,
) -> list[Problem]:
    """A problem per placeholder in ``text`` that one of its ``uses`` (label, names) lacks."""
    common = [n for n in uses[0][1] if all(n in names for _label, names in uses)]
    shown = ", ".join("{" + n + "}" for n in common) or "none"
    problems = []
    for name in dict.fromkeys(format_fields(text)):  # each name once, in order
        lacking = [label for label, names in uses if name not in names]
        if not lacking:
            continue
        if len(lacking) == len(uses):
            message = f"placeholder {{{name}}} is not filled here; available: {shown}"
        else:  # a template several fields name must suit each of them
            message = (
                f"placeholder {{{name}}} is not filled when sent as {', '.join(lacking)}; "
                f"available to every use: {shown}"
            )
        close = suggest(name, common)
        if close:
            message += f" (did you mean {{{close}}}?)"
        problems.append(index.problem(path, message))
    return problems


def _fullwidth(text: str, index: LocationIndex, path: DataPath) -> list[Problem]:
    """``｛username｝`` typed with a Chinese input method would reach members as it is."""
    return [
        index.problem(
            path,
            f"{m.group(0)!r} is written with full-width braces and would be sent as it is; "
            f"write {{{m.group(1)}}} in half-width (英文半角)",
        )
        for m in _FULLWIDTH_PLACEHOLDER.finditer(text)
    ]


def check_ladder(obligations: Obligations, index: LocationIndex) -> list[Problem]:
    problems = []
    ladder = obligations.penalties.ladder
    for i in range(1, len(ladder)):
        if ladder[i].strikes <= ladder[i - 1].strikes:
            problems.append(
                index.problem(
                    ("penalties", "ladder", i, "strikes"),
                    f"must be greater than the previous step (got {ladder[i].strikes})",
                )
            )
    return problems


# The templates of a roll call that comes with the reminders (worker/engine/obligations.py).
ROLL_CALL_WITH_REMINDERS = (
    "reminder_roll_call",
    *(f"roll_call_member.{state}" for state in ("written", "late", "missing", "leave", "new")),
    "roll_call_review.done",
    "roll_call_review.open",
)


def check_reminders(
    obligations: Obligations,
    index: LocationIndex,
    messages: Mapping[Language, tuple[Messages, LocationIndex]],
    message_files: Mapping[Language, str],
) -> list[Problem]:
    """A reminder posted in the squad's weekly thread needs weekly threads (article mode
    ``thread``) and its ``squad_reminder.<about>`` template in every language; a roll call
    that comes with the reminders (``article.roll_call: reminders``) its templates too."""
    problems = []
    mode = obligations.article.mode

    def undefined(key: str) -> list[str]:
        return [
            message_files[lang]
            for lang in message_files
            if lang in messages and key not in messages[lang][0].templates
        ]

    if obligations.article.roll_call == "reminders" and mode == "thread":
        roll_call = ("article", "roll_call")
        if not any(r.delivery != "pm" for r in obligations.reminders):
            problems.append(
                index.problem(
                    roll_call,
                    "reminders needs at least one reminder with delivery: squad_thread "
                    "or squad_channel (the roll call comes with it; else it is never "
                    "written)",
                    at_value=True,
                )
            )
        # One problem per set of files lacking templates, not one per template.
        lacking: dict[tuple[str, ...], list[str]] = {}
        note = f"weekly_thread_roll_call.{obligations.roll_call_delivery}"
        for key in (*ROLL_CALL_WITH_REMINDERS, note):
            if missing := undefined(key):
                lacking.setdefault(tuple(missing), []).append(key)
        for files, keys in lacking.items():
            problems.append(
                index.problem(
                    roll_call,
                    f"reminders: the roll call comes with the reminders through templates "
                    f"{', '.join(map(repr, keys))}, not defined in {' or '.join(files)}",
                    at_value=True,
                )
            )
    for i, reminder in enumerate(obligations.reminders):
        delivery = reminder.delivery
        if delivery == "pm":
            continue
        path = ("reminders", i, "delivery")
        if mode != "thread":
            problems.append(
                index.problem(
                    path,
                    f"{delivery} needs weekly threads: article.mode must be thread "
                    f"(got {mode}); use pm",
                    at_value=True,
                )
            )
        # squad_channel: a squad without a channel gets the thread's post.
        wanted: tuple[str, ...] = (f"squad_reminder.{reminder.about}", "squad_reminder_cc")
        if delivery == "squad_channel":
            wanted = (f"squad_channel_reminder.{reminder.about}", *wanted)
        if reminder.about == "review":
            wanted += ("squad_reminder_review_line",)
        for key in wanted:
            if missing := undefined(key):
                verb = "sends" if key.startswith("squad_channel") else "posts"
                problems.append(
                    index.problem(
                        path,
                        f"{delivery} {verb} with template {key!r}, which is not defined "
                        f"in {' or '.join(missing)}",
                        at_value=True,
                    )
                )
    return problems


def check_camp(camp: Camp, index: LocationIndex) -> list[Problem]:
    problems = []
    checkins = camp.tasks.checkins
    if checkins.min_days > camp.duration_days:
        problems.append(
            index.problem(
                ("tasks", "checkins", "min_days"),
                f"must not exceed duration_days ({camp.duration_days}) (got {checkins.min_days})",
            )
        )
    if camp.pass_message == "shared" and camp.messages.passed_shared is None:
        problems.append(
            index.problem(
                ("pass_message",),
                "shared needs messages.passed_shared (the template of the shared PM)",
                at_value=True,
            )
        )
    if checkins.chat and not camp.chat_channel:
        # No channel, no chat check-in: campers would be told of a place that does not exist.
        problems.append(
            index.problem(
                ("tasks", "checkins", "chat"),
                "true needs chat_channel: true (the camp channel the check-ins are posted in)",
                at_value=True,
            )
        )
    return problems


def check_naming(squads: Squads, index: LocationIndex) -> list[Problem]:
    """Naming templates use known placeholders; slugs stay valid group names when filled."""
    problems = []
    naming = squads.naming
    try:
        cohort = naming.cohort(_WORST_INTAKE)
    except ValueError as exc:
        return [index.problem(("naming", "cohort_format"), f"invalid date format: {exc}")]
    values = {"cohort": cohort, **_WORST_VALUES}
    for name in ("squad_slug", "class_slug", "squad_full_name", "class_full_name"):
        template = getattr(naming, name)
        allowed = SLUG_PLACEHOLDERS if name.endswith("slug") else NAME_PLACEHOLDERS
        unknown = [f for f in format_fields(template) if f not in allowed]
        path = ("naming", name)
        if unknown:
            problems.append(
                index.problem(
                    path,
                    f"unknown placeholder {{{unknown[0]}}}; use "
                    + ", ".join("{" + a + "}" for a in allowed),
                )
            )
            continue
        if name.endswith("slug"):
            rendered = template.format(**values)
            problem = group_slug_problem(rendered)
            if problem:
                problems.append(
                    index.problem(
                        path, f"filled in as {rendered!r} it is no valid group name: {problem}"
                    )
                )
    return problems
