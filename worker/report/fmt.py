"""Number formatting and text tables shared by the renderers."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def num(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "–"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


def signed(value: float | None, *, as_pct: bool = False) -> str:
    if value is None:
        return "–"
    if as_pct:
        return f"{value * 100:+.0f}pp"
    return f"{int(value):+,}" if float(value).is_integer() else f"{value:+,.2f}"


def indicator_number(name: str, value: float | None) -> str:
    """An indicator's value or line: partners per member is a count, the rest are shares."""
    return num(value) if name == "partners_per_member" else pct(value)


STATUS_MARK = {"healthy": "✓", "watch": "!", "alert": "✗", "na": "–"}


def width(text: str) -> int:
    """Columns ``text`` takes in a terminal (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> str:
    """Columns aligned for a terminal; the first column left, the others right."""
    cols = [header, *rows]
    widths = [max(width(str(r[i])) for r in cols) for i in range(len(header))]
    lines = []
    for r, row in enumerate(cols):
        cells = []
        for i, cell in enumerate(row):
            pad = " " * (widths[i] - width(str(cell)))
            cells.append(f"{cell}{pad}" if i == 0 else f"{pad}{cell}")
        lines.append(indent + "  ".join(cells).rstrip())
        if r == 0:
            lines.append(indent + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def esc(cell: str) -> str:
        return str(cell).replace("|", "\\|")

    lines = ["| " + " | ".join(esc(h) for h in header) + " |"]
    lines.append("|" + "|".join(":--" if i == 0 else "--:" for i in range(len(header))) + "|")
    lines.extend("| " + " | ".join(esc(c) for c in row) + " |" for row in rows)
    return "\n".join(lines)
