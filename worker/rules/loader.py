"""Load a rules directory into ``Rules`` or raise ``RulesInvalid`` with every problem."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from worker.rules.models import MESSAGE_FILES, SECTION_FILES, Messages, Rules
from worker.rules.problems import Problem, RulesInvalid


def load_rules(directory: Path) -> Rules:
    directory = Path(directory)
    problems: list[Problem] = []
    sections: dict[str, object] = {}
    messages: dict[str, object] = {}
    for name, (field, model) in SECTION_FILES.items():
        value = _load(directory / name, model, problems)
        if value is not None:
            sections[field] = value
    for name, lang in MESSAGE_FILES.items():
        value = _load(directory / name, Messages, problems)
        if value is not None:
            messages[lang] = value
    if problems:
        raise RulesInvalid(problems)
    return Rules(**sections, messages=messages)


def _load(path: Path, model, problems: list[Problem]):
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return model.model_validate(data)
    except (OSError, yaml.YAMLError) as exc:
        problems.append(Problem(str(path), 1, 1, "", str(exc)))
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            field = ".".join(str(x) for x in err["loc"])
            problems.append(Problem(str(path), 1, 1, field, err["msg"]))
    return None
