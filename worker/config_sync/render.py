"""The plan as people read it: per resource, field by field, secrets masked."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from worker.config_sync.desired import (
    ALIAS_LEVELS,
    BADGE_TIERS,
    PERMISSION_TYPES,
    VISIBILITY_LEVELS,
    WEBHOOK_CONTENT_TYPES,
)
from worker.config_sync.plan import RESOURCES, Change, Kind, Plan
from worker.logs import MASK

TITLES = {
    "site_setting": "Site settings / 站点设置",
    "user_field": "User fields / 用户字段",
    "group": "Groups / 群组",
    "category": "Categories / 版块",
    "badge": "Badges / 徽章",
    "webhook": "Webhook",
}
SYMBOLS = {Kind.CREATE: "+", Kind.UPDATE: "~", Kind.DELETE: "-"}
# any field or site setting whose name looks like one of these is never shown
_SECRET_NAME = re.compile(r"secret|password|api_key|token", re.IGNORECASE)

_NAMED_LEVELS: dict[str, Mapping[str, int]] = {
    "visibility_level": VISIBILITY_LEVELS,
    "members_visibility_level": VISIBILITY_LEVELS,
    "messageable_level": ALIAS_LEVELS,
    "mentionable_level": ALIAS_LEVELS,
    "badge_type_id": BADGE_TIERS,
    "content_type": WEBHOOK_CONTENT_TYPES,
}
_PERMISSION_NAMES = {number: name for name, number in PERMISSION_TYPES.items()}


def render_plan(plan: Plan) -> str:
    lines: list[str] = []
    for resource in RESOURCES:
        changes = [c for c in plan.changes if c.resource == resource]
        if not changes:
            continue
        lines.append(TITLES[resource])
        for change in changes:
            lines.extend(_change(change))
    if plan.conflicts:
        lines.append("Conflicts (left alone) / 冲突（未改动）")
        for conflict in plan.conflicts:
            lines.append(f"  ! {conflict.resource} {conflict.key}: {conflict.reason}")
    if plan.notices:
        lines.append("Notes / 说明")
        lines.extend(f"  · {notice}" for notice in plan.notices)
    if not plan.changes:
        lines.append("No changes: the forum matches plugin_config/. / 论坛与配置一致。")
    lines.append(f"Plan: {plan.summary()}.")
    return "\n".join(lines)


def _change(change: Change) -> list[str]:
    where = f" (id {change.id})" if change.id is not None else ""
    symbol = SYMBOLS[change.kind]
    if change.resource == "site_setting":
        old, new = change.fields["value"]
        secret = bool(_SECRET_NAME.search(change.key))
        return [f"  {symbol} {change.key}: {_show(old, secret)} → {_show(new, secret)}"]
    verb = "adopt" if change.adopt else change.kind.value
    lines = [f"  {symbol} {verb} {change.key}{where}"]
    for name, (old, new) in sorted(change.fields.items()):
        secret = bool(_SECRET_NAME.search(name))
        if change.kind is Kind.CREATE:
            if new is None or new == ():
                continue  # nothing to say about an empty optional field
            lines.append(f"      {name}: {_show(new, secret, name)}")
        elif change.kind is Kind.DELETE:
            lines.append(f"      {name}: {_show(old, secret, name)}")
        else:
            lines.append(f"      {name}: {_show(old, secret, name)} → {_show(new, secret, name)}")
    return lines


def _show(value: Any, secret: bool = False, name: str = "") -> str:
    if isinstance(value, SecretStr) or (secret and value not in (None, "")):
        return MASK
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if name in _NAMED_LEVELS and isinstance(value, int):
        names = {number: label for label, number in _NAMED_LEVELS[name].items()}
        return f"{value} ({names[value]})" if value in names else str(value)
    if name == "permissions" and isinstance(value, Mapping):
        parts = [
            f"{group}: {_PERMISSION_NAMES.get(level, level)}" for group, level in value.items()
        ]
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(str(item) for item in value) + "]"
    if isinstance(value, str):
        return '"' + value.replace("\n", "\\n") + '"'
    return str(value)
