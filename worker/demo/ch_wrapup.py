"""Chapter 6: badges and the health report, after the last audit.

Badges are granted by Diamond's recognition jobs during the weeks (read back
from the forum here). The health report is rendered to a self-contained HTML
page in the demo's directory by ``diamond report``, run as an operator would,
against the demo's forum and Redis.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

from worker.demo.context import Demo

REPORT_TIMEOUT_SECONDS = 60


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
    html = write_html_report(demo)
    demo.facts["report_html"] = html


def write_html_report(demo: Demo) -> Path | None:
    """``diamond report --html <file>`` against the demo's forum; None if not available."""
    if not demo.note_unavailable("health report", "report", "health"):
        return None
    path = demo.stack.workdir / "health-report.html"
    command = [sys.executable, "-m", "worker", "report", "--html", str(path)]
    result = subprocess.run(
        command,
        env=demo.stack.env,
        capture_output=True,
        text=True,
        timeout=REPORT_TIMEOUT_SECONDS,
    )
    demo.facts["report_text"] = result.stdout.strip()
    if result.returncode != 0 or not path.exists():
        demo.progress.warn(
            f"`diamond report` failed ({result.returncode}): "
            + (result.stderr.strip().splitlines() or ["no output"])[-1]
        )
        return None
    for line in result.stdout.strip().splitlines()[:12]:
        demo.progress.result(line)
    return path
