"""Redis answers as text: Diamond's clients return bytes, redis-py's types say bytes or str."""

from __future__ import annotations


def text(value: bytes | str | None, default: str = "") -> str:
    """``value`` decoded as UTF-8 (``default`` for None)."""
    if value is None:
        return default
    return value.decode() if isinstance(value, bytes) else value
