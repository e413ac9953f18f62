"""The ownership marker: Diamond manages only what carries ``[diamond:<key>]``.

The marker ends the free-text field each resource has and Discourse keeps as typed
(groups' ``bio_raw``; categories', badges' and user fields' ``description``). The key
is stable, so a resource renamed in ``plugin_config/`` is updated in place, not
recreated. Text without the marker belongs to someone else and is never changed.
Reading the marker is parsing forum JSON: ``worker.reads.parse.read_mark``.
"""

from __future__ import annotations

from worker.reads.parse import MARKER_PREFIX, read_mark

__all__ = ["MARKER_PREFIX", "mark", "read_mark"]


def mark(text: str, key: str) -> str:
    """``text`` followed by the marker for ``key`` (what Diamond writes to the forum)."""
    marker = f"[{MARKER_PREFIX}:{key}]"
    text = (text or "").strip()
    return f"{text} {marker}" if text else marker
