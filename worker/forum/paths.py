"""Path templates: how calls are counted (``PUT /admin/users/{id}/approve.json``).

Typed client methods know their template. Calls that arrive through pydiscourse's
own wrappers only carry a concrete path, so ``guess_template`` rebuilds one:
numeric segments become ``{id}`` and the segment after a users/groups/badges
prefix becomes ``{username}``/``{name}``.
"""

from __future__ import annotations

import re
import string
from urllib.parse import quote

_FORMATTER = string.Formatter()

# Prefix → name of the free-text segment that follows it.
_NAMED_SEGMENTS = {
    "u": "username",
    "users": "username",
    "user-badges": "username",
    "user_avatar": "username",
    "groups": "name",
    "tag": "name",
    "c": "slug",
    "admin/site_settings": "name",
}
_NUMERIC = re.compile(r"^\d+(\.json)?$")
# Segments that are routes rather than values, even right after a named prefix.
_ROUTE_WORDS = {"list", "by-id", "by-external", "search", "check-username", "-"}


def fill(template: str, **values: object) -> str:
    """Put values into a template, URL-quoting each (usernames may hold dots or CJK)."""
    needed = {name for _, name, _, _ in _FORMATTER.parse(template) if name}
    missing = needed - values.keys()
    if missing:
        raise ValueError(f"{template}: missing path values {sorted(missing)}")
    return template.format(**{k: quote(str(v), safe="") for k, v in values.items()})


def guess_template(path: str) -> str:
    """Best-effort template for a concrete path (query string dropped)."""
    path = path.split("?", 1)[0]
    parts = path.strip("/").split("/")
    out: list[str] = []
    for i, part in enumerate(parts):
        suffix = ".json" if part.endswith(".json") else ""
        name = _NAMED_SEGMENTS.get("/".join(parts[:i]))
        if _NUMERIC.match(part):
            out.append("{id}" + suffix)
        elif name and part.removesuffix(".json") not in _ROUTE_WORDS:
            out.append("{" + name + "}" + suffix)
        else:
            out.append(part)
    return "/" + "/".join(out)
