"""Load a rules directory into ``Rules`` or raise ``RulesInvalid`` with every problem.

All files are read and validated before anything is returned, so a caller gets
either complete valid rules or the full list of located problems.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from pydantic import BaseModel

from worker.rules.checks import (
    check_camp,
    check_ladder,
    check_naming,
    check_placeholders,
    check_reminders,
    check_template_refs,
    check_topic_titles,
)
from worker.rules.located import LocationIndex, load_located_yaml, validate_located
from worker.rules.models import (
    MESSAGE_FILES,
    SECTION_FILES,
    Language,
    Messages,
    Rules,
)
from worker.rules.problems import Problem, RulesInvalid

RULE_FILES: tuple[str, ...] = (*SECTION_FILES, *MESSAGE_FILES)


def display_path(directory: Path, name: str) -> str:
    """How problems name a file: the directory as given, joined with the file name."""
    return (Path(directory) / name).as_posix()


def load_rules(directory: Path | str) -> Rules:
    """Every rule file of ``directory`` validated together; raises ``RulesInvalid``."""
    directory = Path(directory)
    problems: list[Problem] = []
    if not directory.is_dir():
        raise RulesInvalid([Problem(directory.as_posix(), 1, 1, "", "rules directory not found")])
    sections: dict[str, tuple[BaseModel, LocationIndex]] = {}
    for name, (section, model_cls) in SECTION_FILES.items():
        loaded = _load_file(directory, name, model_cls, problems)
        if loaded is not None:
            sections[section] = loaded
    messages: dict[Language, tuple[Messages, LocationIndex]] = {}
    for name, lang in MESSAGE_FILES.items():
        loaded = _load_file(directory, name, Messages, problems)
        if loaded is not None:
            messages[lang] = loaded  # type: ignore[assignment]  # a Messages model here
    problems.extend(_unknown_files(directory))

    if len(messages) == len(MESSAGE_FILES):
        files = {lang: display_path(directory, name) for name, lang in MESSAGE_FILES.items()}
        problems.extend(check_template_refs(sections, messages, files))
    # Also with one messages file broken: the other's placeholders are still worth a look.
    problems.extend(check_placeholders(sections, messages))
    problems.extend(check_topic_titles(sections, messages))
    if "obligations" in sections:
        obligations, index = sections["obligations"]
        problems.extend(check_ladder(obligations, index))  # type: ignore[arg-type]  # the obligations model
        files = {lang: display_path(directory, name) for name, lang in MESSAGE_FILES.items()}
        problems.extend(check_reminders(obligations, index, messages, files))  # type: ignore[arg-type]  # the obligations model
    if "camp" in sections:
        camp, index = sections["camp"]
        problems.extend(check_camp(camp, index))  # type: ignore[arg-type]  # the camp model
    if "squads" in sections:
        squads, index = sections["squads"]
        problems.extend(check_naming(squads, index))  # type: ignore[arg-type]  # the squads model

    if problems:
        raise RulesInvalid(problems)
    return Rules(
        # Each section's model is the one SECTION_FILES names for that Rules field.
        **{section: model for section, (model, _index) in sections.items()},  # type: ignore[arg-type]  # see above
        messages={lang: model for lang, (model, _index) in messages.items()},
    )


def _load_file(
    directory: Path, name: str, model_cls: type[BaseModel], problems: list[Problem]
) -> tuple[BaseModel, LocationIndex] | None:
    path = directory / name
    shown = display_path(directory, name)
    if not path.is_file():
        problems.append(Problem(shown, 1, 1, "", "file is missing"))
        return None
    doc = load_located_yaml(path, shown)
    if doc.problems:
        # Syntax or structure problems: validating what was salvaged would only add noise
        # for syntax errors, but duplicate keys leave sound data worth checking too.
        problems.extend(doc.problems)
        if doc.data is None:
            return None
    result = validate_located(model_cls, doc.data, doc.index)
    if isinstance(result, list):
        problems.extend(result)
        return None
    return (result, doc.index) if not doc.problems else None


def _unknown_files(directory: Path) -> list[Problem]:
    """A misnamed rule file would be silently ignored; say so instead."""
    problems = []
    known = set(RULE_FILES)
    for path in sorted(directory.rglob("*")):
        if not path.is_file() or path.suffix not in (".yml", ".yaml"):
            continue
        name = path.relative_to(directory).as_posix()
        if name in known:
            continue
        message = "not a rule file Diamond reads"
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
        if close:
            message += f"; did you mean {close[0]!r}?"
        problems.append(Problem(display_path(directory, name), 1, 1, "", message))
    return problems
