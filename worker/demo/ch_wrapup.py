"""Chapter 6: badges and the health report, the Sunday after the last audit.

Badges are granted by Diamond's weekly recognition job (read back from the
forum here); the weekly report job has posted the health report to the staff
audit log and each leader. The demo then does what ``diamond report --html``
does, in this process: builds the report of the last audited week from the
forum and Redis, prints its measures and writes the self-contained HTML page
into the demo's directory.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from worker.demo.context import Demo

HTML_NAME = "health-report.html"


def schedule_wrapup(demo: Demo, when: datetime) -> None:
    demo.agenda.at(when, "badges and health", lambda: wrap_up(demo), order=90)


def wrap_up(demo: Demo) -> None:
    demo.progress.phase("Badges and the health report")
    demo.note_unavailable("badges", "recognition")
    badges = demo.view.badges()
    demo.facts["badges"] = badges
    if badges:
        for name, holders in badges.items():
            shown = ", ".join(f"@{u}" for u in holders[:6])
            more = f" and {len(holders) - 6} more" if len(holders) > 6 else ""
            demo.progress.result(f"{name}: {shown}{more}")
    else:
        demo.progress.result("no badges granted")
    if not demo.note_unavailable("health report", "health", "report"):
        return
    report = build_report(demo)
    if report is None:
        return
    demo.facts["health"] = health_lines(demo, report)
    for line in demo.facts["health"]:
        demo.progress.result(line)
    demo.facts["report_html"] = write_html(demo, report)
    demo.progress.result(f"HTML report: {demo.facts['report_html']}")


def build_report(demo: Demo) -> Any | None:
    """The health report of the latest audited week, as ``diamond report`` builds it."""
    from worker.demo.ch_gate import diamond_client
    from worker.engine.weeks import audit_week
    from worker.reads.forum_view import cached_roster
    from worker.steps.health_report import build_health

    rules = demo.rules
    settings = demo.stack.settings
    assert settings is not None and demo.stack.redis is not None
    client = diamond_client(demo)
    week = audit_week(rules.obligations, demo.sim.now, rules.tz)
    try:
        report, _ = build_health(
            client,
            demo.stack.redis,
            rules,
            cached_roster(client, demo.stack.redis, rules),
            week,
            base_url=settings.public_url,
            api_username=settings.api_username,
            save_snapshot=False,
        )
    except Exception as exc:  # a bug there must not hide the rest of the story
        demo.progress.warn(f"the health report could not be built: {type(exc).__name__}: {exc}")
        demo.unavailable.append(f"health report: building it failed ({exc})")
        return None
    return report


def health_lines(demo: Demo, report: Any) -> list[str]:
    from worker.report import Labels

    labels = Labels.from_rules(demo.rules)
    marks = {"healthy": "✓", "watch": "~", "alert": "✗"}
    shown = []
    for indicator in report.indicators:
        if indicator.value is None:
            continue
        value = indicator.value
        is_share = indicator.healthy <= 1 and indicator.critical <= 1
        text = f"{value:.0%}" if is_share else f"{value:.1f}"
        shown.append(f"{labels[indicator.name]} {text} {marks.get(indicator.status, '?')}")
    lines = [f"{report.week}: {labels[report.verdict]} ({report.verdict})"]
    for start in range(0, len(shown), 5):
        lines.append(" · ".join(shown[start : start + 5]))
    lines.extend(bond_lines(report))
    return lines


def bond_lines(report: Any) -> list[str]:
    """Each squad's bonds this week, forum and chat side by side."""
    out = []
    for squad in report.squads:
        b = report.bonds.get(squad.slug)
        if b is None:
            continue
        out.append(
            f"{squad.slug}: bonds forum {b.forum} · chat {b.chat} · all {b.combined} "
            f"of {b.pairs} pairs (cohesion {b.forum_cohesion:.0%} forum → {b.cohesion:.0%} all)"
        )
    return out


def write_html(demo: Demo, report: Any) -> Path:
    from worker.report import render_html

    path = demo.stack.workdir / HTML_NAME
    path.write_text(render_html(demo.rules, report), encoding="utf-8")
    return path
