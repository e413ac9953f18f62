"""The report in a terminal: ``diamond report``."""

from __future__ import annotations

from worker.engine.health import HealthReport
from worker.report.fmt import text_table
from worker.report.labels import Labels
from worker.report.tables import sections, status_word
from worker.rules.models import Rules


def render_text(rules: Rules, report: HealthReport, lang: str | None = None) -> str:
    """The report for a terminal, in ``lang`` (default: the community's)."""
    labels = Labels.from_rules(rules, lang)
    out = [f"{labels['overall']} {report.week}: {status_word(labels, report.verdict)}", ""]
    for table in sections(report, labels):
        out.append(f"== {table.title} ==")
        if table.rows:
            out.append(text_table(table.header, table.rows))
        out.extend("  " + note for note in table.notes)
        out.append("")
    return "\n".join(out).rstrip() + "\n"
