"""The ownership marker: Diamond manages only what carries ``[diamond:<key>]``.

The marker ends the free-text field each resource has and Discourse keeps as typed
(groups' ``bio_raw``; categories', badges' and user fields' ``description``). The key
is stable, so a resource renamed in ``plugin_config/`` is updated in place, not
recreated. Text without the marker belongs to someone else and is never changed.
"""

from __future__ import annotations

import html
import re

MARKER_PREFIX = "diamond"
_MARKER = re.compile(r"\s*\[diamond:([A-Za-z0-9_.\-]+)\]\s*$")
_TAGS = re.compile(r"<[^>]+>")


def mark(text: str, key: str) -> str:
    """``text`` followed by the marker for ``key`` (what Diamond writes to the forum)."""
    marker = f"[{MARKER_PREFIX}:{key}]"
    text = (text or "").strip()
    return f"{text} {marker}" if text else marker


def read_mark(text: str | None, *, cooked: bool = False) -> tuple[str, str | None]:
    """Split forum text into (text without marker, owner key or None).

    ``cooked``: the text is HTML rendered by Discourse (a category's ``description``);
    tags are dropped and entities decoded before reading.
    """
    plain = html.unescape(_TAGS.sub("", text or "")) if cooked else (text or "")
    plain = plain.strip()
    match = _MARKER.search(plain)
    if not match:
        return plain, None
    return plain[: match.start()].strip(), match.group(1)
