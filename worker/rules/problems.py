"""A located problem in a YAML file, and the error that carries all of them."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One thing a moderator must fix: ``file:line:col: field.path: message``.

    ``line`` and ``col`` are 1-based; ``field`` is the dotted path inside the
    file (``penalties.ladder[1].strikes``), empty for file-level problems.
    """

    file: str
    line: int
    col: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}:"
        return f"{where} {self.field}: {self.message}" if self.field else f"{where} {self.message}"

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class RulesInvalid(Exception):
    """Rule files did not load; ``problems`` lists every one, sorted by file and line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
