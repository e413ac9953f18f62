"""Every number in the shipped rules set to an extreme: refused with a located problem,
or the date arithmetic the engines do with it stays on the calendar."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest

from worker.engine.camp import camp_end
from worker.rules import Rules, RulesInvalid, load_rules
from worker.rules.loader import RULE_FILES

SHIPPED = Path(__file__).resolve().parent.parent / "rules"
EXTREMES = (0, -1, 100_000_000, 3_000_000, 2**63)
# "key: 12" lines (not times like 22:00, not list items of text)
NUMBER = re.compile(r"^(\s*[a-z_]+:\s*)(\d+)(\s*(#.*)?)$")
NOW = dt.datetime(2030, 6, 1, tzinfo=dt.UTC)


def numeric_lines() -> list[tuple[str, int]]:
    found = []
    for name in RULE_FILES:
        for number, line in enumerate((SHIPPED / name).read_text().splitlines(), 1):
            if NUMBER.match(line):
                found.append((name, number))
    return found


def engines_date_arithmetic(rules: Rules) -> None:
    """What the camp, the audit and the ladder compute from the durations."""
    camp_end(rules, NOW, rules.camp.extension.times)
    ob = rules.obligations
    NOW + dt.timedelta(hours=ob.review.window_hours + ob.deadline.late_hours)
    NOW + dt.timedelta(days=(ob.review.due_days_after_article or 0) + 7)
    NOW - dt.timedelta(weeks=rules.health.lookback_weeks + ob.penalties.expiry.clean_weeks)
    for step in rules.obligations.penalties.ladder:
        for action in step.actions:
            if hasattr(action, "days"):
                NOW + dt.timedelta(days=action.days)


def test_the_shipped_rules_have_numbers_to_mutate() -> None:
    assert len(numeric_lines()) > 20


@pytest.mark.parametrize(("name", "line_no"), numeric_lines(), ids=lambda v: str(v))
def test_an_extreme_number_is_refused_where_written_or_the_engines_stay_on_the_calendar(
    tmp_path: Path, name: str, line_no: int
) -> None:
    rules_dir = tmp_path / "rules"
    shutil.copytree(SHIPPED, rules_dir)
    lines = (SHIPPED / name).read_text().splitlines()
    for value in EXTREMES:
        mutated = list(lines)
        mutated[line_no - 1] = NUMBER.sub(rf"\g<1>{value}\g<3>", lines[line_no - 1])
        (rules_dir / name).write_text("\n".join(mutated) + "\n")
        try:
            rules = load_rules(rules_dir)
        except RulesInvalid as exc:
            located = [p for p in exc.problems if p.file.endswith(name)]
            assert located, exc.problems
            assert any(p.line == line_no for p in located), [str(p) for p in exc.problems]
        else:
            engines_date_arithmetic(rules)
