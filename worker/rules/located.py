"""YAML that remembers where every value came from, and pydantic errors located in it.

Reusable for any YAML file validated by a pydantic model (rules, plugin_config):

    doc = load_located_yaml(path, display="rules/camp.yml")   # data, index, problems
    result = validate_located(Camp, doc.data, doc.index)      # Camp | list[Problem]

Paths into the data are tuples of mapping keys and list indexes, e.g.
``("penalties", "ladder", 1, "strikes")``; they are also the pydantic ``loc``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from worker.rules.problems import Problem

DataPath = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)

FULLWIDTH_COLON = "\uff1a"  # ：
FULLWIDTH_SPACE = "\u3000"  #
HINT_COLON = "'：' is a full-width colon; YAML needs an ASCII ':' followed by a space"
HINT_SPACE = "'\u3000' is a full-width space; YAML needs ASCII spaces"
HINT_TAB = "indent with spaces, not tabs"

# Keeps the billion-laughs alias trick and runaway nesting from eating the process.
MAX_NODES = 100_000


@dataclass(frozen=True, slots=True)
class Mark:
    line: int  # 1-based
    col: int  # 1-based


@dataclass
class LocationIndex:
    """Where each path of a parsed document was written."""

    file: str
    keys: dict[DataPath, Mark] = field(default_factory=dict)  # mapping entry -> its key
    values: dict[DataPath, Mark] = field(default_factory=dict)  # any path -> its value node

    def locate(self, path: DataPath) -> Mark:
        """The key of a mapping entry, else the value, else the nearest located ancestor."""
        path = tuple(path)
        while True:
            mark = self.keys.get(path) or self.values.get(path)
            if mark or not path:
                return mark or Mark(1, 1)
            path = path[:-1]

    def value_mark(self, path: DataPath) -> Mark:
        return self.values.get(tuple(path)) or self.locate(path)

    def problem(self, path: DataPath, message: str, *, at_value: bool = False) -> Problem:
        mark = self.value_mark(path) if at_value else self.locate(path)
        return Problem(self.file, mark.line, mark.col, format_path(path), message)


class LocatedYaml(NamedTuple):
    data: Any  # plain dicts, lists and scalars; None for an empty file
    # A field named like tuple.index (the method) on purpose: callers read doc.index.
    index: LocationIndex  # type: ignore[assignment]  # see above
    problems: list[Problem]  # syntax errors, duplicate keys, unsupported YAML features


def format_path(path: Sequence[str | int]) -> str:
    """``("ladder", 1, "strikes")`` -> ``ladder[1].strikes``."""
    out = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif isinstance(part, str) and re.fullmatch(r"[\w-]+", part):
            out += f".{part}" if out else part
        else:
            out += f'["{part}"]'  # not repr: it would escape the full-width space
    return out


def load_located_yaml(path: Path, display: str | None = None) -> LocatedYaml:
    """Read and parse ``path``; problems name it as ``display`` (default: ``str(path)``)."""
    name = display if display is not None else str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return LocatedYaml(None, LocationIndex(name), [Problem(name, 1, 1, "", reason.lower())])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        problem = Problem(name, line, col, "", "not valid UTF-8 text; save the file as UTF-8")
        return LocatedYaml(None, LocationIndex(name), [problem])
    return parse_located_yaml(text, name)


def parse_located_yaml(text: str, file: str) -> LocatedYaml:
    """Parse one YAML document from ``text``; never raises for bad input."""
    index = LocationIndex(file)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        return LocatedYaml(None, index, [_syntax_problem(exc, text, file)])
    except yaml.reader.ReaderError as exc:  # a NUL or control character: it has a position
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        message = f"YAML: character U+{exc.character:04X} is not allowed in a rule file"
        return LocatedYaml(None, index, [Problem(file, line, col, "", message)])
    except yaml.YAMLError as exc:  # unmarked, e.g. a second document
        return LocatedYaml(None, index, [Problem(file, 1, 1, "", f"YAML: {exc}")])
    except RecursionError:
        return LocatedYaml(None, index, [Problem(file, 1, 1, "", "YAML nested too deeply")])
    if node is None:
        return LocatedYaml(None, index, [])
    builder = _Builder(text, index)
    try:
        data = builder.build(node, ())
    except _TooBig:
        builder.problems.append(Problem(file, 1, 1, "", "document too large (aliases or nesting)"))
        data = None
    except RecursionError:
        builder.problems.append(Problem(file, 1, 1, "", "YAML nested too deeply"))
        data = None
    return LocatedYaml(data, index, builder.problems)


def _syntax_problem(exc: yaml.MarkedYAMLError, text: str, file: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = exc.problem or "invalid YAML"
    # A full-width colon or space makes YAML fail a few lines later; point at the cause.
    hazards = [h for h in find_hazards(text) if h[0] <= line]
    if hazards:
        at_line, at_col, hint = hazards[-1]
        message = f"{hint} (YAML stopped at line {line}: {problem})"
        return Problem(file, at_line, at_col, "", message)
    message = f"YAML syntax: {problem}"
    if exc.context and exc.context_mark and exc.context_mark is not mark:
        message += f" ({exc.context} at line {exc.context_mark.line + 1})"
    quoting = _quoting_hint(exc, text)
    if quoting:
        at_line, hint = quoting
        return Problem(file, at_line, 1, "", f"{message}; hint: {hint}")
    if "\\t" in problem:  # PyYAML: found character '\t' that cannot start any token
        message += f"; hint: {HINT_TAB}"
    return Problem(file, line, col, "", message)


# "key: * 9 * * *" (a star starts an alias) or "key: {name} text" (a brace starts a mapping)
_STARTS_SPECIAL = re.compile(r"^( *(?:- +)?[\w.-]+): +([*{&!|>%@`].*?)\s*$")


def _quoting_hint(exc: yaml.MarkedYAMLError, text: str) -> tuple[int, str] | None:
    """(line, hint) when YAML failed on a value starting with a character YAML reserves."""
    lines = text.splitlines()
    marks = [m for m in (exc.context_mark, exc.problem_mark) if m is not None]
    for m in marks:
        for number in range(min(m.line, len(lines) - 1), -1, -1):
            match = _STARTS_SPECIAL.match(lines[number])
            if match and (match.group(2)[0] in "*{" or number == m.line):
                key, value = match.group(1).strip(), match.group(2)
                # A comment (" #" after the value) stays outside the quotes.
                value = re.split(r"\s+#", value, maxsplit=1)[0].rstrip()
                value = value.replace('"', '\\"')
                return number + 1, (
                    f"a value starting with {value[0]!r} means something else to YAML; "
                    f'put the value in quotes: {key}: "{value}"'
                )
            if number < m.line - 1:
                break
    return None


# "key：" or "- key：" (full-width colon after an ASCII key) and "key:　" / a full-width indent.
_HAZARD_COLON = re.compile(r"^ *(?:- +)?([A-Za-z_][\w-]*)[ \u3000]*(\uff1a)")
_HAZARD_SPACE = re.compile(r"^ *(?:(?:- +)?[A-Za-z_][\w-]*:)?[ ]*(\u3000)")


def find_hazards(text: str) -> list[tuple[int, int, str]]:
    """(line, col, hint) of every line that looks like a key typed with full-width characters."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for pattern, hint in ((_HAZARD_COLON, HINT_COLON), (_HAZARD_SPACE, HINT_SPACE)):
            match = pattern.match(line)
            if match:
                found.append((number, match.start(match.lastindex or 0) + 1, hint))
                break
    return found


def hazard_hints(text: str) -> list[str]:
    """Hints for Chinese typing hazards found in ``text``."""
    hints = []
    if FULLWIDTH_COLON in text:
        hints.append(HINT_COLON)
    if FULLWIDTH_SPACE in text:
        hints.append(HINT_SPACE)
    return hints


class _TooBig(Exception):
    pass


_SCALAR_CONSTRUCTOR = SafeConstructor()
_TAG = "tag:yaml.org,2002:"


class _Builder:
    """Turns a composed node tree into plain data, recording every node's mark."""

    def __init__(self, text: str, index: LocationIndex) -> None:
        self.lines = text.splitlines()
        self.index = index
        self.problems: list[Problem] = []
        self.count = 0
        self.active: set[int] = set()

    def build(self, node: Node, path: DataPath) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooBig
        self.index.values.setdefault(path, _mark(node))
        if id(node) in self.active:
            self._problem(node, path, "an alias refers to itself (recursive anchor)")
            return None
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
        finally:
            self.active.discard(id(node))
        return None  # pragma: no cover - compose yields only these three kinds

    def _mapping(self, node: MappingNode, path: DataPath) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        first: dict[Any, Mark] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                self._problem(key_node, path, "YAML merge keys ('<<') are not supported")
                continue
            if not isinstance(key_node, ScalarNode):
                self._problem(key_node, path, "a key must be plain text, not a list or mapping")
                continue
            key = self._scalar(key_node, path, as_key=True)
            if key in first:
                where = first[key]
                self._problem(
                    key_node,
                    (*path, key),
                    f"duplicate key {key!r} (first defined at line {where.line}); "
                    "remove one of them",
                )
                continue
            first[key] = _mark(key_node)
            entry = (*path, key)
            self.index.keys[entry] = _mark(key_node)
            self.index.values[entry] = _mark(value_node)
            result[key] = self.build(value_node, entry)
        return result

    def _scalar(self, node: ScalarNode, path: DataPath, *, as_key: bool = False) -> Any:
        tag = node.tag
        if node.style is None and not as_key:
            self._check_hazard(node, path)
            if node.value.startswith("“") and node.value.endswith("”"):
                # A Chinese input method's quotes are text to YAML: every message would show them.
                self._problem(node, path, HINT_CN_QUOTES)
        if tag in (_TAG + "str", _TAG + "timestamp"):
            # Dates stay text; the models parse what they need.
            return node.value
        if tag in (_TAG + "int", _TAG + "float") and ":" in node.value:
            # YAML 1.1 reads 22:00 as the base-60 number 1320; people mean a time.
            return node.value
        if tag in (_TAG + "null", _TAG + "bool", _TAG + "int", _TAG + "float"):
            try:
                return _SCALAR_CONSTRUCTOR.construct_object(node)
            except (ConstructorError, ValueError):
                return node.value
        self._problem(node, path, f"unsupported YAML tag {tag!r}; remove it")
        return node.value

    def _check_hazard(self, node: ScalarNode, path: DataPath) -> None:
        first, last = node.start_mark.line, node.end_mark.line
        # Continuation lines of a multi-line plain scalar: a mistyped key hides there
        # because YAML folds it into the previous value instead of failing.
        for number in range(first + 1, min(last, len(self.lines) - 1) + 1):
            for _line, col, hint in find_hazards(self.lines[number]):
                self.problems.append(
                    Problem(
                        self.index.file,
                        number + 1,
                        col,
                        format_path(path),
                        f"this line is read as part of the value above; {hint}",
                    )
                )

    def _problem(self, node: Node, path: DataPath, message: str) -> None:
        mark = _mark(node)
        self.problems.append(
            Problem(self.index.file, mark.line, mark.col, format_path(path), message)
        )


HINT_CN_QUOTES = (
    "“ ” are Chinese quotes and would become part of the text; use ASCII quotes "
    '"..." (英文半角引号) or none'
)


def _mark(node: Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


# ───────────────────────────── validation ─────────────────────────────


def validate_located(model_cls: type[M], data: Any, index: LocationIndex) -> M | list[Problem]:
    """``model_cls`` validated from ``data``, or every error located via ``index``."""
    try:
        return model_cls.model_validate(data)
    except ValidationError as exc:
        errors = _without_echoes(exc.errors(include_url=False))
        return [problem_from_error(error, model_cls, data, index) for error in errors]


def _without_echoes(errors: list[Any]) -> list[Any]:
    """Drop "at least N items after validation" when an item's own error explains it."""
    kept = []
    for error in errors:
        loc = tuple(error["loc"])
        echo = error["type"] == "too_short" and any(
            len(other["loc"]) > len(loc) and tuple(other["loc"][: len(loc)]) == loc
            for other in errors
        )
        if not echo:
            kept.append(error)
    return kept


def problem_from_error(
    error: Mapping[str, Any], model_cls: type[BaseModel], data: Any, index: LocationIndex
) -> Problem:
    """One pydantic error as a located ``Problem`` with a moderator-friendly message."""
    loc = tuple(error["loc"])
    path, rest = resolve_loc(loc, data)
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    shown_path = (*path, *[p for p in rest if isinstance(p, str) and not p.startswith("[")])
    at: DataPath = path

    if data is None and not loc:
        message = "the file is empty; it needs the keys of this section"
    elif kind == "missing":
        message = "required key is missing"
    elif kind == "extra_forbidden":
        key = path[-1] if path else rest[-1] if rest else "?"
        message = f"unknown key '{key}'"
        suggestion = suggest(key, field_names_at(model_cls, loc[:-1]))
        if suggestion:
            message += f"; did you mean {suggestion!r}?"
        message += _hints(str(key))
    elif kind in ("union_tag_invalid", "union_tag_not_found"):
        tag_key = str(ctx.get("discriminator", "")).strip("'\"")
        expected = str(ctx.get("expected_tags", ""))
        if kind == "union_tag_not_found":
            tags = ", ".join(repr(t) for t in tag_values_at(model_cls, loc, tag_key))
            message = f"required key {tag_key!r} is missing (one of: {tags})"
            shown_path = (*path, tag_key)
        else:
            tag = ctx.get("tag")
            options = [t.strip().strip("'") for t in expected.split(",")]
            message = f"unknown {tag_key} {tag!r}; expected one of: {expected}"
            suggestion = suggest(str(tag), options)
            if suggestion:
                message += f"; did you mean {suggestion!r}?"
            at = shown_path = (*path, tag_key)
    else:
        message = _friendly(error["msg"], kind, value)
    if kind != "extra_forbidden" and isinstance(value, str):
        message += _hints(value)
    mark = index.locate(at)
    return Problem(index.file, mark.line, mark.col, format_path(shown_path), message)


def resolve_loc(loc: Sequence[Any], data: Any) -> tuple[DataPath, DataPath]:
    """Split a pydantic ``loc`` into the part found in ``data`` and the rest.

    Tags of discriminated unions (``loc`` says ``silence`` where the data has
    ``action: silence``) are skipped, so paths match the YAML.
    """
    path: list[str | int] = []
    current = data
    for i, part in enumerate(loc):
        if (isinstance(current, dict) and part in current) or (
            isinstance(current, list)
            and isinstance(part, int)
            and not isinstance(part, bool)
            and 0 <= part < len(current)
        ):
            path.append(part)
            current = current[part]
        elif isinstance(current, dict) and isinstance(part, str) and _is_tag(part, current):
            continue
        else:
            return tuple(path), tuple(loc[i:])
    return tuple(path), ()


def _is_tag(part: str, mapping: dict[Any, Any]) -> bool:
    return any(isinstance(v, str) and v == part for v in mapping.values())


def field_names_at(model_cls: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """Field names of the model(s) found at ``loc`` below ``model_cls`` (for suggestions)."""
    current: list[Any] = [model_cls]
    for part in loc:
        current = [nxt for tp in current for nxt in _step(tp, part)]
    names: list[str] = []
    for tp in current:
        for model in _models(tp):
            names.extend(model.model_fields)
    return sorted(set(names))


def tag_values_at(model_cls: type[BaseModel], loc: Sequence[Any], tag_key: str) -> list[str]:
    """The values a discriminated union at ``loc`` accepts for ``tag_key``."""
    current: list[Any] = [model_cls]
    for part in loc:
        current = [nxt for tp in current for nxt in _step(tp, part)]
    values: list[str] = []
    for tp in current:
        for model in _models(tp):
            info = model.model_fields.get(tag_key)
            if info and typing.get_origin(info.annotation) is typing.Literal:
                values.extend(str(v) for v in typing.get_args(info.annotation))
    return values


def _models(tp: Any) -> list[type[BaseModel]]:
    return [t for t in _flatten(tp) if isinstance(t, type) and issubclass(t, BaseModel)]


def _flatten(tp: Any) -> list[Any]:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _flatten(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(tp) for t in _flatten(arg)]
    return [tp]


def _step(tp: Any, part: Any) -> list[Any]:
    out: list[Any] = []
    for t in _flatten(tp):
        if isinstance(t, type) and issubclass(t, BaseModel):
            fields = t.model_fields
            if "root" in fields and getattr(t, "__pydantic_root_model__", False):
                out.extend(_step(fields["root"].annotation, part))
            elif isinstance(part, str) and part in fields:
                out.append(fields[part].annotation)
            elif isinstance(part, str) and _has_literal(t, part):
                out.append(t)  # the tag of a discriminated union: stay on this variant
            continue
        origin = typing.get_origin(t)
        args = typing.get_args(t)
        if origin in (tuple, list, Sequence, set, frozenset) and args and isinstance(part, int):
            out.append(args[0])
        elif origin in (dict, Mapping) and len(args) == 2:
            out.append(args[1])
    return out


def _has_literal(model: type[BaseModel], value: str) -> bool:
    for info in model.model_fields.values():
        if typing.get_origin(info.annotation) is typing.Literal and value in typing.get_args(
            info.annotation
        ):
            return True
    return False


def suggest(word: Any, options: Sequence[str]) -> str | None:
    """The option closest to ``word`` (a likely typo of it), or None."""
    matches = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _hints(text: str) -> str:
    return "".join(f"; hint: {hint}" for hint in hazard_hints(text))


_TYPE_NAMES = {
    dict: "a mapping",
    list: "a list",
    str: "text",
    int: "a whole number",
    float: "a number",
    bool: "true/false",
    type(None): "nothing (empty)",
}


def _friendly(msg: str, kind: str, value: Any) -> str:
    """Pydantic's message reworded for moderators, with the offending value."""
    msg = re.sub(r"^(Value|Assertion) error, ", "", msg)
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"must be a mapping of 'key: value' lines (got {_describe(value)})"
    if kind in ("tuple_type", "list_type"):
        return f"must be a list (got {_describe(value)})"
    if kind in ("string_type",):
        return f"must be text (got {_describe(value)}); put it in quotes"
    msg = re.sub(r"^Input should be ", "must be ", msg)
    msg = re.sub(r"^Input should have ", "must have ", msg)
    msg = re.sub(r"^String should have ", "must have ", msg)
    msg = re.sub(r"^Tuple should have ", "must have ", msg)
    msg = re.sub(r"^Dictionary should have ", "must have ", msg)
    if msg.startswith("must") and "(got" not in msg and value is not None and _is_scalar(value):
        msg += f" (got {value!r})"
    return msg


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | dt.date | dt.time)


def _describe(value: Any) -> str:
    if _is_scalar(value):
        return repr(value)
    return _TYPE_NAMES.get(type(value), type(value).__name__)
