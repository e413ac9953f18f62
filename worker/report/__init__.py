"""Rendering the health report: terminal text, a forum post, a self-contained HTML page.

Renderers only format a ``worker.engine.health.HealthReport``; every word they
show comes from the rules' ``health_labels`` template (zh/en), every figure
from the report.
"""

from worker.report.html import render_html
from worker.report.labels import Labels
from worker.report.markdown import render_leader_part, render_post
from worker.report.text import render_text

__all__ = ["Labels", "render_html", "render_leader_part", "render_post", "render_text"]
