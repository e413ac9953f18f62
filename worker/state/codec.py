"""JSON for the stores' dataclasses: datetimes as ``{"$dt": iso}``, tuples as lists."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any


def encode_value(value: Any) -> Any:
    """JSON-ready: datetimes as ``{"$dt": iso}``, tuples as lists (``decode_value`` undoes)."""
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, Mapping):
        return {str(k): encode_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_value(v) for v in value]
    return value


def decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$dt"}:
            return datetime.fromisoformat(value["$dt"])
        return {k: decode_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(decode_value(v) for v in value)
    return value
