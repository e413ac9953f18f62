"""The report as one self-contained HTML page: tables, inline SVG charts, the graph drawing.

No scripts, no fonts, no stylesheets from elsewhere: the file can be mailed or
opened offline.
"""

from __future__ import annotations

from html import escape

from worker.engine.health import STAGES, HealthReport
from worker.report.labels import Labels
from worker.report.svg import ISOLATED_COLOUR, bar_chart, graph_drawing, line_chart
from worker.report.tables import Table, sections, status_word
from worker.rules.models import Rules

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;
margin:1.5rem auto;max-width:1100px;color:#222;padding:0 1rem;line-height:1.5}
h1{margin:0 0 .2rem;font-size:1.6rem}h2{font-size:1.2rem;margin:0 0 .4rem}
.subtitle{margin:0;color:#555}section{margin:1.6rem 0}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;max-width:100%}
table{border-collapse:collapse;margin:.5rem 0;font-variant-numeric:tabular-nums}
th,td{padding:.25rem .6rem;border-bottom:1px solid #ddd;white-space:nowrap}
th{background:#f6f6f6;font-weight:600}
td:not(:first-child),th:not(:first-child){text-align:right}
td:first-child,th:first-child{position:sticky;left:0;background:#fff;text-align:left}
th:first-child{background:#f6f6f6}
svg{max-width:100%;height:auto}figure{margin:.5rem 0}
.verdict{font-size:1.2rem;font-weight:600}.healthy{color:#2ca02c}.watch{color:#d58a00}
.alert{color:#d62728}.na{color:#777}.note{color:#555;overflow-wrap:anywhere}
.heat td.cell{color:#111}.legend span{margin-right:1rem;display:inline-block}
dt{font-weight:600;margin-top:.6rem}dd{margin:0 0 0 1rem;color:#333}
@media (max-width:600px){body{margin:1rem auto;padding:0 .6rem}h1{font-size:1.3rem}
th,td{padding:.2rem .4rem;font-size:.9rem}}
"""


def _table(table: Table, css: str = "") -> str:
    if not table.rows:
        return ""
    head = "".join(f"<th>{escape(h)}</th>" for h in table.header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in table.rows
    )
    cls = f' class="{css}"' if css else ""
    return _scroll(f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def _scroll(table: str) -> str:
    """A table wider than a phone scrolls sideways inside its box, not the whole page."""
    return f'<div class="scroll">{table}</div>'


def _definitions(report: HealthReport, labels: Labels) -> str:
    """What each measure means: every indicator, then the graph's own measures."""
    names = [i.name for i in report.indicators]
    names += [
        n
        for n in ("density", "largest_component", "cross_squad_share", "cohesion")
        if n not in names
    ]
    items = "".join(
        f"<dt>{escape(labels[n])}</dt><dd>{escape(labels.definitions[n])}</dd>"
        for n in names
        if labels.definitions.get(n)
    )
    if labels.definitions.get("na"):
        items += f"<dt>{escape(labels['na'])}</dt><dd>{escape(labels.definitions['na'])}</dd>"
    heading = labels.definitions.get("heading", "")
    return f'<section id="definitions"><h2>{escape(heading)}</h2><dl>{items}</dl></section>'


def _notes(table: Table) -> str:
    return "".join(f'<p class="note">{escape(n)}</p>' for n in table.notes)


def _heat(rate: float | None) -> str:
    """Background for a completion rate: red (0) through yellow to green (1)."""
    if rate is None:
        return "#eee"
    hue = 120 * rate
    return f"hsl({hue:.0f},70%,80%)"


def _completion(report: HealthReport, table: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in table.header)
    rows = []
    for squad, row in zip(report.squads, table.rows, strict=True):
        weeks = report.completion.get(squad.slug, ())
        cells = [f"<td>{escape(row[0])}</td>", f"<td>{escape(row[1])}</td>"]
        cells += [
            f'<td class="cell" style="background:{_heat(w.rate)}">{escape(text)}</td>'
            for w, text in zip(weeks, row[2:], strict=True)
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return _scroll(
        f'<table class="heat"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def render_html(rules: Rules, report: HealthReport, lang: str | None = None) -> str:
    """The whole report as one HTML document, in ``lang`` (default: the community's)."""
    labels = Labels.from_rules(rules, lang)
    tables = {t.key: t for t in sections(report, labels)}
    pct = lambda v: f"{v * 100:.0f}%"  # noqa: E731
    weeks = [str(w) for w in report.weeks]
    charts = {
        "stages": bar_chart(
            [(labels[s], report.stages.get(s, 0)) for s in STAGES], title=labels["stages"]
        ),
        "contributors": line_chart(
            {labels["contributor_share"]: [w.share for w in report.contributors]},
            weeks,
            title=labels["contributors"],
            y_format=pct,
        ),
        "graph": line_chart(
            {
                labels["cross_squad_share"]: [
                    w.cross_squad_share if w.can_cross else None for w in report.graph.weeks
                ],
                labels["largest_component"]: [
                    w.largest_component_share for w in report.graph.weeks
                ],
                labels["isolated_share"]: [
                    w.isolated_count / w.members if w.members else None for w in report.graph.weeks
                ],
            },
            [str(w.week) for w in report.graph.weeks],
            title=labels["graph"],
            y_format=pct,
        )
        + line_chart(
            {labels["avg_partners"]: [w.avg_partners for w in report.graph.weeks]},
            [str(w.week) for w in report.graph.weeks],
            title=labels["avg_partners"],
            y_format=lambda v: f"{v:.1f}",
        ),
        "activity": line_chart(
            {
                labels["actives"]: [float(w.actives) for w in report.activity],
                labels["posts"]: [float(w.posts) for w in report.activity],
                labels["staff_posts"]: [float(w.staff_posts) for w in report.activity],
            },
            weeks,
            title=labels["activity"],
            y_format=lambda v: f"{v:,.0f}",
        ),
    }
    isolated = {n for names in report.graph.current.isolated.values() for n in names}
    drawing = graph_drawing(
        report.member_squads,
        report.graph.edges,
        isolated,
        {s.slug: s.full_name for s in report.squads},
        title=labels["drawing"],
    )
    legend = (
        f'<p class="legend note"><span style="color:{ISOLATED_COLOUR}">◯ '
        f"{escape(labels['isolated'])}: {len(isolated)}</span>"
        f"<span>{escape(labels['edges'])}: {len(report.graph.edges):,}</span></p>"
    )
    body = []
    for key, table in tables.items():
        inner = _completion(report, table) if key == "completion" else _table(table)
        extra = charts.get(key, "")
        if key == "graph":
            extra += f'<figure id="drawing">{drawing}<figcaption>{legend}</figcaption></figure>'
        body.append(
            f'<section id="{key}"><h2>{escape(table.title)}</h2>{extra}{inner}{_notes(table)}'
            "</section>"
        )
    body.append(_definitions(report, labels))
    community = rules.community.name
    dates = labels.week_dates(report.week)
    title = f"{community} · {labels['indicators']} · {dates}"
    return (
        f'<!DOCTYPE html><html lang="{escape(labels.language)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>{escape(community)}</h1>"
        f'<p class="subtitle">{escape(labels["indicators"])} · {escape(dates)} '
        f"({escape(str(report.week))})</p></header>"
        f'<p class="verdict {report.verdict}">{escape(labels["overall"])}: '
        f"{escape(status_word(labels, report.verdict))}</p>" + "".join(body) + "</body></html>\n"
    )
