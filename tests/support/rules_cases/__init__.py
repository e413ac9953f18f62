"""Rule-file fixtures: ``minimal/`` is a small valid rules directory with stable line numbers."""

from __future__ import annotations

import shutil
from pathlib import Path

from worker.rules import RulesInvalid, load_rules

CASES = Path(__file__).resolve().parent
MINIMAL = CASES / "minimal"
SHIPPED = CASES.parents[2] / "rules"


def copy_rules(dest_parent: Path, source: Path = MINIMAL) -> Path:
    """A writable copy of ``source`` at ``dest_parent/rules``."""
    target = dest_parent / "rules"
    shutil.copytree(source, target)
    return target


def edit(rules_dir: Path, file: str, old: str, new: str) -> None:
    """Replace the first ``old`` in ``file``; fails loudly if the fixture drifted."""
    path = rules_dir / file
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {file}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def problems_of(directory: Path) -> list[str]:
    """Every problem ``load_rules`` finds in ``directory`` as ``file:line:col: ...`` (none: [])."""
    try:
        load_rules(directory)
    except RulesInvalid as caught:
        return [str(p) for p in caught.problems]
    return []
