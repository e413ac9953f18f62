"""The report's sections as tables (header + rows of text), shared by every renderer."""

from __future__ import annotations

from dataclasses import dataclass, field

from worker.engine.graph import NO_SQUAD, SquadBonds
from worker.engine.health import STAGES, HealthReport, SquadPart
from worker.report.fmt import STATUS_MARK, indicator_number, num, pct, signed
from worker.report.labels import Labels

# (attribute of GraphMeasures, label name, format)
GRAPH_MEASURES = (
    ("members", "graph_members", num),
    ("edges", "edges", num),
    ("density", "density", lambda v: f"{v:.4f}"),
    ("avg_partners", "avg_partners", num),
    ("cross_squad_share", "cross_squad_share", pct),
    ("largest_component", "largest_component", num),
    ("isolated_count", "isolated_count", num),
)


@dataclass(frozen=True)
class Table:
    key: str  # section id: stages, flows, contributors, graph, isolated, completion, ...
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    notes: tuple[str, ...] = field(default=())


def status_word(labels: Labels, status: str) -> str:
    if status == "na":  # no mark: "not applicable" is neither good nor bad
        return labels["na"]
    return f"{STATUS_MARK.get(status, '?')} {labels[status]}"


def _value(labels: Labels, name: str, value: float | None) -> str:
    """An indicator's value; a measure with nothing to divide by says "n/a" in words."""
    return labels["na"] if value is None else indicator_number(name, value)


def sections(report: HealthReport, labels: Labels, *, worst_first: bool = False) -> list[Table]:
    """Every section of the report, in reading order (``worst_first``: squads by their
    latest completion rate, lowest first, for views that show only the first rows)."""
    return [
        alerts(report, labels),
        stages(report, labels),
        flows(report, labels),
        contributors(report, labels),
        graph(report, labels),
        bonds(report, labels),
        isolated(report, labels),
        activity(report, labels),
        indicators(report, labels),
        completion(report, labels, worst_first=worst_first),
    ]


def alerts(report: HealthReport, labels: Labels) -> Table:
    rows = tuple(
        (labels[i.name], indicator_number(i.name, i.value), _line(i, labels)) for i in report.alerts
    )
    notes = () if rows else (labels["no_alerts"],)
    header = (labels["indicators"], labels["value"], labels["critical_line"])
    return Table("alerts", labels["alerts"], header, rows, notes)


def _line(ind, labels: Labels) -> str:
    sign = "≥" if ind.higher_is_better else "≤"
    return f"{sign} {indicator_number(ind.name, ind.critical)}"


def stages(report: HealthReport, labels: Labels) -> Table:
    rows = tuple((labels[s], num(report.stages.get(s, 0))) for s in STAGES)
    return Table("stages", labels["stages"], (labels["stages"], labels["count"]), rows)


def flows(report: HealthReport, labels: Labels) -> Table:
    rows = tuple((f"{labels[a]} → {labels[b]}", num(n)) for (a, b), n in report.flows.items())
    notes = () if rows else (labels["none"],)
    return Table("flows", labels["flows"], (labels["flows"], labels["count"]), rows, notes)


def contributors(report: HealthReport, labels: Labels) -> Table:
    kinds = sorted({k for w in report.contributors for k in w.kinds})
    header = (labels["week"], labels["count"], labels["share"], *(labels[k] for k in kinds))
    rows = tuple(
        (str(w.week), num(w.count), pct(w.share), *(num(w.kinds.get(k, 0)) for k in kinds))
        for w in report.contributors
    )
    names = ", ".join("@" + n for n in report.contributor_names)
    return Table("contributors", labels["contributors"], header, rows, (names,) if names else ())


def graph(report: HealthReport, labels: Labels) -> Table:
    weeks = report.graph.weeks
    header = (labels["graph"], *(str(w.week) for w in weeks), labels["change"])
    rows = []
    for name, label, fmt in GRAPH_MEASURES:
        change = report.graph.change(name)
        shown = signed(change, as_pct=True) if fmt is pct else signed(change)
        cells = (
            labels["na"]
            if name == "cross_squad_share" and not w.can_cross
            else fmt(getattr(w, name))
            for w in weeks
        )
        rows.append((labels[label], *cells, shown))
    return Table("graph", labels["graph"], header, tuple(rows))


def _bond_cells(b: SquadBonds) -> tuple[str, ...]:
    return (
        num(b.members),
        num(b.forum),
        num(b.chat),
        num(b.combined),
        pct(b.forum_cohesion),
        pct(b.cohesion),
    )


_BOND_HEADER = ("members", "forum_bonds", "chat_bonds", "all_bonds", "forum_cohesion", "cohesion")


def bonds(report: HealthReport, labels: Labels) -> Table:
    """This week's bonds inside each squad: forum, chat and both, side by side."""
    header = (labels["squad"], *(labels[k] for k in _BOND_HEADER))
    rows = tuple(
        (squad.full_name, *_bond_cells(b))
        for squad in report.squads
        if (b := report.bonds.get(squad.slug)) is not None
    )
    notes = () if rows else (labels["none"],)
    return Table("bonds", labels["bonds"], header, rows, notes)


def isolated(report: HealthReport, labels: Labels) -> Table:
    names = {s.slug: s.full_name for s in report.squads}
    rows = tuple(
        (
            names.get(slug, labels["no_squad"] if slug == NO_SQUAD else slug),
            num(len(people)),
            ", ".join("@" + p for p in people),
        )
        for slug, people in report.graph.current.isolated.items()
    )
    notes = () if rows else (labels["none"],)
    header = (labels["squad"], labels["count"], labels["members"])
    return Table("isolated", labels["isolated"], header, rows, notes)


def activity(report: HealthReport, labels: Labels) -> Table:
    header = tuple(
        labels[k]
        for k in ("week", "actives", "posts", "staff_posts", "ad_posts", "topics", "unanswered")
    )
    rows = tuple(
        (
            str(w.week),
            num(w.actives),
            num(w.posts),
            num(w.staff_posts),
            num(w.ad_posts),
            num(w.topics),
            num(w.unanswered),
        )
        for w in report.activity
    )
    return Table("activity", labels["activity"], header, rows)


def indicators(report: HealthReport, labels: Labels) -> Table:
    header = tuple(
        labels[k] for k in ("indicators", "value", "healthy_line", "critical_line", "status")
    )
    rows = tuple(
        (
            labels[i.name],
            _value(labels, i.name, i.value),
            indicator_number(i.name, i.healthy),
            indicator_number(i.name, i.critical),
            status_word(labels, i.status),
        )
        for i in report.indicators
    )
    return Table("indicators", labels["indicators"], header, rows)


def completion(report: HealthReport, labels: Labels, *, worst_first: bool = False) -> Table:
    header = (labels["squad"], labels["leader"], *map(str, report.weeks))
    squads = list(report.squads)
    if worst_first:
        squads.sort(key=lambda s: _latest_rate(report, s.slug))
    rows = tuple(
        (
            squad.full_name,
            "@" + squad.leader if squad.leader else "–",
            *(pct(w.rate) for w in report.completion.get(squad.slug, ())),
        )
        for squad in squads
    )
    return Table("completion", labels["completion"], header, rows)


def _latest_rate(report: HealthReport, slug: str) -> float:
    weeks = report.completion.get(slug, ())
    rate = weeks[-1].rate if weeks else None
    return 2.0 if rate is None else rate  # squads with nothing to judge go last


def squad_tables(part: SquadPart, labels: Labels) -> list[Table]:
    """A leader's part: completion by week, each member's partners, isolated, contributors.

    Headings speak of the leader's own squad (not "completion by squad"); the member list
    leaves the leader out (``SquadPart.partners``)."""
    weeks = Table(
        "completion",
        labels["squad_completion"],
        (labels["week"], labels["met"], labels["excused"], labels["missed"], labels["rate"]),
        tuple(
            (str(w.week), num(w.met), num(w.excused), num(w.missed), pct(w.rate))
            for w in part.completion
        ),
    )
    partners = Table(
        "partners",
        labels["squad_partners"],
        (labels["members"], labels["partners"], labels["chat_messages"]),
        tuple(
            ("@" + name, num(n), num(part.chat_messages.get(name, 0)))
            for name, n in part.partners.items()
        ),
    )
    lonely = ", ".join("@" + n for n in part.isolated) or labels["none"]
    givers = ", ".join("@" + n for n in part.contributors) or labels["none"]
    notes = Table(
        "people",
        labels["squad_people"],
        (labels["isolated"], labels["contributors"]),
        ((lonely, givers),),
    )
    tables = [weeks, partners, notes]
    if part.bonds is not None:
        tables.append(
            Table(
                "bonds",
                labels["squad_bonds"],
                tuple(labels[k] for k in _BOND_HEADER),
                (_bond_cells(part.bonds),),
            )
        )
    return tables
