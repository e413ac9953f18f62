"""Request parameters merged the way Rails does it.

Query string, form body (``user_fields[1]=x``, ``permissions[staff]=1``,
``moderating_group_ids[]=3``, ``group[name]=x``) and a JSON body all end up in
one nested dict, so views read ``params["group"]["name"]`` whichever way the
client sent it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request

from worker.sandbox.errors import ApiError

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def _set(target: dict[str, Any], key: str, values: list[str]) -> None:
    match = _KEY.match(key)
    if not match:
        target[key] = values[-1]
        return
    head, rest = match.group(1), match.group(2)
    parts = [head, *re.findall(r"\[([^\[\]]*)\]", rest)]
    node = target
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "":  # "name[]": a list at this level
            return
        next_is_list = not last and parts[i + 1] == ""
        if last:
            node[part] = values[-1]
        elif next_is_list:
            existing = node.get(part)
            items = existing if isinstance(existing, list) else []
            items.extend(values)
            node[part] = items
            return
        else:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child


def nest(multi: MultiDict) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in multi:
        _set(out, key, multi.getlist(key))
    return out


def request_params(request: Request) -> dict[str, Any]:
    params = nest(request.args)
    content_type = request.mimetype or ""
    if content_type == "application/json":
        raw = request.get_data(cache=True)
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError as exc:
                raise ApiError(
                    400, ["There was a problem parsing the JSON body."], "invalid_parameters"
                ) from exc
            if isinstance(body, dict):
                params.update(body)
    else:
        params.update(nest(request.form))
    return params


def as_bool(value: Any, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"true", "1", "t", "yes", "on"}


def as_int(value: Any, name: str) -> int:
    from worker.sandbox.errors import invalid_parameters

    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise invalid_parameters(name) from exc


def as_list(value: Any) -> list[Any]:
    """``a,b`` or ``["a","b"]`` or ``{"0": "a"}`` → list."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [value]
