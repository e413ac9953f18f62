"""The report as forum posts: the staff audit-log post and each leader's squad part."""

from __future__ import annotations

from worker.engine.health import HealthReport
from worker.report.fmt import md_table
from worker.report.labels import Labels
from worker.report.tables import Table, sections, squad_tables, status_word
from worker.rules.models import Rendered, Rules


def _section(table: Table) -> str:
    parts = [f"### {table.title}"]
    if table.rows:
        parts.append(md_table(table.header, table.rows))
    parts.extend(table.notes)
    return "\n\n".join(parts)


def render_post(rules: Rules, report: HealthReport, lang: str | None = None) -> Rendered:
    """Title and body of the staff report post (template ``health.messages.report``)."""
    labels = Labels.from_rules(rules, lang)
    values = {t.key: _section(t) for t in sections(report, labels)}
    values["squads"] = values.pop("completion")
    return rules.render(
        rules.health.messages.report,
        labels.language,  # type: ignore[arg-type]
        week=report.week,
        verdict=status_word(labels, report.verdict),
        metrics="\n\n".join(values.values()),
        **values,
    )


def render_leader_part(
    rules: Rules, report: HealthReport, squad_slug: str, lang: str | None = None
) -> Rendered:
    """A leader's PM: their squad's figures (template ``health.messages.leader_part``)."""
    labels = Labels.from_rules(rules, lang)
    part = report.squad_part(squad_slug)
    metrics = "\n\n".join(_section(t) for t in squad_tables(part, labels))
    return rules.render(
        rules.health.messages.leader_part,
        labels.language,  # type: ignore[arg-type]
        username=part.squad.leader or "",
        squad=part.squad.full_name,
        week=report.week,
        metrics=metrics,
    )
