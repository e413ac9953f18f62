"""Checks that need more than one field or more than one file.

Each check takes validated models plus their ``LocationIndex`` and returns
located problems; the loader runs them only on sections that validated.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from worker.rules.located import DataPath, LocationIndex
from worker.rules.models import (
    NAME_PLACEHOLDERS,
    SLUG_PLACEHOLDERS,
    Camp,
    Language,
    Messages,
    Obligations,
    Squads,
)
from worker.rules.problems import Problem
from worker.rules.types import TemplateRef, UserFieldRef, format_fields, group_slug_problem

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
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if value is None:
            continue
        here = (*path, name)
        if _carries(info.metadata, info.annotation, marker):
            yield here, value
        else:
            yield from _refs_in(value, marker, here)


def _carries(metadata: Any, annotation: Any, marker: type) -> bool:
    """Whether a field is marked, also through ``X | None`` (pydantic keeps that inside)."""
    if any(isinstance(m, marker) for m in metadata):
        return True
    if get_origin(annotation) is Annotated:
        return any(isinstance(m, marker) for m in get_args(annotation)[1:])
    if get_origin(annotation) in (Union, UnionType):
        return any(_carries((), arg, marker) for arg in get_args(annotation))
    return False


def _refs_in(value: Any, marker: type, path: DataPath) -> Iterator[tuple[DataPath, str]]:
    if isinstance(value, BaseModel):
        yield from marked_refs(value, marker, path)
    elif isinstance(value, tuple | list):
        for i, item in enumerate(value):
            yield from _refs_in(item, marker, (*path, i))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _refs_in(item, marker, (*path, key))


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


def check_camp(camp: Camp, index: LocationIndex) -> list[Problem]:
    checkins = camp.tasks.checkins
    if checkins.min_days > camp.duration_days:
        return [
            index.problem(
                ("tasks", "checkins", "min_days"),
                f"must not exceed duration_days ({camp.duration_days}) (got {checkins.min_days})",
            )
        ]
    return []


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
