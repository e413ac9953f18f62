"""Inline SVG charts and the interaction-graph drawing: plain strings, no scripts, no assets."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from html import escape

from worker.engine.graph import NO_SQUAD

# Distinct, print-friendly colours for squads; beyond them, hues spread by the golden angle.
PALETTE = (
    "#1f77b4",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#7f7f7f",
    "#393b79",
    "#637939",
    "#843c39",
)
NO_SQUAD_COLOUR = "#b0b0b0"
ISOLATED_COLOUR = "#d62728"
MAX_EDGES_DRAWN = 4000  # beyond this the drawing shows an even sample of the bonds


def squad_colour(index: int) -> str:
    if index < len(PALETTE):
        return PALETTE[index]
    hue = (index * 137.508) % 360
    return f"hsl({hue:.0f},55%,45%)"


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


def line_chart(
    series: Mapping[str, Sequence[float | None]],
    x_labels: Sequence[str],
    *,
    title: str,
    y_format: Callable[[float], str] = lambda v: f"{v:g}",
    width: int = 420,  # narrow enough that a phone shows its words at a readable size
    height: int = 220,
) -> str:
    """One line per series over ``x_labels``; None values leave a gap."""
    left, right, top, bottom = 48, 120, 24, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for vs in series.values() for v in vs if v is not None]
    top_value = max(values, default=0.0) or 1.0
    n = max(len(x_labels), 1)

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h - plot_h * v / top_value

    parts = [
        f'<svg class="chart line-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_attr(title)}"><title>{escape(title)}</title>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#999"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" font-size="11">'
        f"{escape(y_format(top_value))}</text>",
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" font-size="11">'
        f"{escape(y_format(0))}</text>",
    ]
    for i, label in enumerate(x_labels):
        parts.append(
            f'<text x="{x(i):.1f}" y="{height - 12}" text-anchor="middle" font-size="11">'
            f"{escape(label)}</text>"
        )
    for k, (name, vs) in enumerate(series.items()):
        colour = squad_colour(k)
        runs: list[list[str]] = [[]]
        for i, v in enumerate(vs):
            if v is None:
                runs.append([])
                continue
            runs[-1].append(f"{x(i):.1f},{y(v):.1f}")
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}">'
                f"<title>{escape(name)} {escape(x_labels[i])}: {escape(y_format(v))}</title>"
                "</circle>"
            )
        for run in runs:
            if len(run) > 1:
                parts.append(
                    f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" '
                    'stroke-width="2"/>'
                )
        parts.append(
            f'<text x="{left + plot_w + 8}" y="{top + 14 + 16 * k}" font-size="12" '
            f'fill="{colour}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    items: Sequence[tuple[str, float]], *, title: str, width: int = 380, bar_h: int = 22
) -> str:
    """Horizontal bars with their values."""
    left, right = 140, 70
    height = bar_h * len(items) + 10
    top_value = max((v for _, v in items), default=0) or 1
    parts = [
        f'<svg class="chart bar-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_attr(title)}"><title>{escape(title)}</title>'
    ]
    for i, (label, value) in enumerate(items):
        y = 5 + i * bar_h
        w = (width - left - right) * value / top_value
        parts.append(
            f'<text x="{left - 8}" y="{y + bar_h * 0.65:.1f}" text-anchor="end" '
            f'font-size="12">{escape(label)}</text>'
            f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{bar_h - 6}" '
            f'fill="{squad_colour(i)}"/>'
            f'<text x="{left + w + 6:.1f}" y="{y + bar_h * 0.65:.1f}" font-size="12">'
            f"{value:,.0f}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


# ───────────────────────────── the graph drawing ─────────────────────────────


def layout(
    member_squads: Mapping[str, str], size: float
) -> tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]]]:
    """Deterministic positions: squads on a circle (or a grid when there are many), each
    squad's members on a small circle around its centre; squad-less members on an outer ring.

    Returns (member → (x, y), squad slug → centre).
    """
    groups: dict[str, list[str]] = {}
    for name in sorted(member_squads):
        groups.setdefault(member_squads[name], []).append(name)
    loners = groups.pop(NO_SQUAD, [])
    slugs = sorted(groups)
    centre = size / 2
    pos: dict[str, tuple[float, float]] = {}
    centres: dict[str, tuple[float, float]] = {}
    if len(slugs) <= 16:
        ring = size * 0.32 if len(slugs) > 1 else 0.0
        for k, slug in enumerate(slugs):
            angle = 2 * math.pi * k / max(len(slugs), 1) - math.pi / 2
            centres[slug] = (centre + ring * math.cos(angle), centre + ring * math.sin(angle))
        spread = size * (0.12 if len(slugs) > 1 else 0.3)
    else:
        cols = math.ceil(math.sqrt(len(slugs)))
        cell = size * 0.8 / cols
        for k, slug in enumerate(slugs):
            row, col = divmod(k, cols)
            centres[slug] = (size * 0.1 + cell * (col + 0.5), size * 0.1 + cell * (row + 0.5))
        spread = cell * 0.38
    for slug in slugs:
        cx, cy = centres[slug]
        people = groups[slug]
        for i, name in enumerate(people):
            angle = 2 * math.pi * i / len(people)
            r = spread if len(people) > 1 else 0.0
            pos[name] = (cx + r * math.cos(angle), cy + r * math.sin(angle))
    outer = size * 0.47
    for i, name in enumerate(loners):
        angle = 2 * math.pi * i / len(loners) - math.pi / 2
        pos[name] = (centre + outer * math.cos(angle), centre + outer * math.sin(angle))
    return pos, centres


def graph_drawing(
    member_squads: Mapping[str, str],
    edges: Collection[tuple[str, str]],
    isolated: Collection[str],
    squad_names: Mapping[str, str],
    *,
    title: str,
    size: int = 720,
) -> str:
    """Members as dots coloured by squad, bonds as lines; isolated members ringed in red.

    Every member gets one ``<circle class="member">`` (``isolated`` added for the
    isolated), with ``data-member`` and ``data-squad`` and a tooltip.
    """
    pos, centres = layout(member_squads, size)
    colours = {slug: squad_colour(k) for k, slug in enumerate(sorted(centres))}
    shown = sorted(e for e in edges if e[0] in pos and e[1] in pos)
    total = len(shown)
    if total > MAX_EDGES_DRAWN:
        step = total / MAX_EDGES_DRAWN
        shown = [shown[int(i * step)] for i in range(MAX_EDGES_DRAWN)]
    n = len(pos)
    dot = max(1.5, min(7.0, size / (3 * math.sqrt(n) + 1))) if n else 4.0
    lonely = set(isolated)
    parts = [
        f'<svg id="graph-drawing" class="graph" xmlns="http://www.w3.org/2000/svg" '
        f'width="{size}" height="{size}" viewBox="0 0 {size} {size}" role="img" '
        f'aria-label="{_attr(title)}" data-edges-total="{total}" '
        f'data-edges-drawn="{len(shown)}"><title>{escape(title)}</title>',
        '<g class="edges" stroke="#8a8a8a" stroke-opacity="0.35" stroke-width="0.8">',
    ]
    for a, b in shown:
        (x1, y1), (x2, y2) = pos[a], pos[b]
        parts.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}"/>')
    parts.append("</g>")
    for slug, (cx, cy) in sorted(centres.items()):
        if len(centres) <= 40:
            parts.append(
                f'<text class="squad-label" x="{cx:.1f}" y="{cy:.1f}" text-anchor="middle" '
                f'font-size="12" fill="{colours[slug]}">{escape(squad_names.get(slug, slug))}'
                "</text>"
            )
    parts.append('<g class="members">')
    for name, (x, y) in pos.items():
        slug = member_squads[name]
        fill = colours.get(slug, NO_SQUAD_COLOUR)
        squad_label = squad_names.get(slug, slug) if slug != NO_SQUAD else "–"
        tip = f"@{name} · {squad_label}"
        if name in lonely:
            parts.append(
                f'<circle class="member isolated" cx="{x:.1f}" cy="{y:.1f}" r="{dot * 1.4:.1f}" '
                f'fill="{fill}" stroke="{ISOLATED_COLOUR}" stroke-width="{max(1.5, dot / 2):.1f}" '
                f'data-member="{_attr(name)}" data-squad="{_attr(slug)}">'
                f"<title>{escape(tip)}</title></circle>"
            )
        else:
            parts.append(
                f'<circle class="member" cx="{x:.1f}" cy="{y:.1f}" r="{dot:.1f}" fill="{fill}" '
                f'data-member="{_attr(name)}" data-squad="{_attr(slug)}">'
                f"<title>{escape(tip)}</title></circle>"
            )
    parts.append("</g></svg>")
    return "".join(parts)
