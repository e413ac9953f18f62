"""The report as forum posts: the staff audit-log post and each leader's squad part."""

from __future__ import annotations

from dataclasses import replace

from worker.engine.health import HealthReport
from worker.engine.weeks import week_values
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


# Discourse refuses posts over ``max_post_length`` (32,000 characters by default): long
# tables are cut to their first rows here (worst squads first); the HTML report has all.
MAX_POST_CHARS = 30_000
POST_ROWS = 30
NAMES_PER_ROW = 20


def _short(table: Table, labels: Labels, rows: int = POST_ROWS) -> Table:
    if len(table.rows) <= rows:
        return table
    more = labels["more_rows"].replace("{n}", str(len(table.rows) - rows))
    return replace(table, rows=table.rows[:rows], notes=(*table.notes, more))


def _few_names(table: Table) -> Table:
    """Isolated members: at most ``NAMES_PER_ROW`` names per squad in a post."""
    rows = []
    for row in table.rows:
        names = row[-1].split(", ")
        shown = ", ".join(names[:NAMES_PER_ROW]) + (" …" if len(names) > NAMES_PER_ROW else "")
        rows.append((*row[:-1], shown))
    return replace(table, rows=tuple(rows))


def render_post(rules: Rules, report: HealthReport, lang: str | None = None) -> Rendered:
    """Title and body of the staff report post (template ``health.messages.report``)."""
    labels = Labels.from_rules(rules, lang)
    tables = []
    for table in sections(report, labels, worst_first=True):
        if table.key == "isolated":
            table = _few_names(table)
        tables.append(_short(table, labels))
    values = {t.key: _section(t) for t in tables}
    values["squads"] = values.pop("completion")
    post = rules.render(
        rules.health.messages.report,
        labels.language,
        **week_values(report.week),
        verdict=status_word(labels, report.verdict),
        metrics="\n\n".join(values.values()),
        **values,
    )
    if len(post.body) > MAX_POST_CHARS:  # a last resort: the sections above are bounded
        cut = post.body[:MAX_POST_CHARS].rsplit("\n", 1)[0]
        post = Rendered(
            title=post.title, body=cut + "\n\n" + labels["more_rows"].replace("{n}", "…")
        )
    return post


def render_leader_part(
    rules: Rules, report: HealthReport, squad_slug: str, lang: str | None = None
) -> Rendered:
    """A leader's PM: their squad's figures (template ``health.messages.leader_part``)."""
    labels = Labels.from_rules(rules, lang)
    part = report.squad_part(squad_slug)
    metrics = "\n\n".join(_section(t) for t in squad_tables(part, labels))
    return rules.render(
        rules.health.messages.leader_part,
        labels.language,
        username=part.squad.leader or "",
        squad=part.squad.full_name,
        **week_values(report.week),
        metrics=metrics,
    )
