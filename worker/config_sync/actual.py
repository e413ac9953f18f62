"""Read the live forum into the shape ``desired`` uses (the second input of ``diff``).

Reads only; every value is normalised the way ``Spec.managed()`` produces it, so the
pure diff compares like with like (levels as numbers, groups and parents by name,
descriptions without the ownership marker).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from worker.config_sync.desired import Desired
from worker.config_sync.ownership import read_mark
from worker.config_sync.plan import Existing, ForumState
from worker.forum.errors import NotFound

if TYPE_CHECKING:
    from worker.forum.client import ForumClient


def read_actual(client: ForumClient, desired: Desired | None = None) -> ForumState:
    """One consistent read of everything the sync manages.

    Category details (permissions, moderating groups) are not in the category list: they
    are read for the categories Diamond owns or may adopt (``desired``), in one call
    (``_category_details``).
    """
    groups_json = client.list_groups()
    group_names = {int(g["id"]): g["name"] for g in groups_json if "id" in g}
    categories_json = client.list_categories()
    interesting = set()
    if desired is not None:
        interesting = {spec.slug for spec in desired.categories.items}
    hooks_json: list[dict[str, Any]] = []
    event_types: dict[str, int] = {}
    if desired is None or desired.webhook:  # one listing: its first page has the event types
        hooks_json, raw_types = client.list_webhooks_and_event_types()
        event_types = event_type_ids(raw_types)
    elif desired:
        event_types = event_type_ids(client.webhook_event_types())
    return ForumState(
        site_settings=client.get_site_settings(),
        user_fields=tuple(user_field(f) for f in client.list_user_fields()),
        groups=tuple(group(g) for g in groups_json),
        categories=tuple(
            _categories(client, categories_json, group_names, interesting=interesting)
        ),
        badges=tuple(badge(b) for b in client.list_badges()),
        webhooks=tuple(webhook(h, event_types, _slugs(categories_json)) for h in hooks_json),
        event_types=event_types,
    )


def owned_ids(existing: Iterable[Existing]) -> dict[str, int]:
    """``{key: forum id}`` of what Diamond owns, e.g. user field keys the rules name."""
    ids: dict[str, int] = {}
    for item in sorted(existing, key=lambda e: e.id):
        if item.owner_key is not None and not item.system:
            ids.setdefault(item.owner_key, item.id)
    return ids


# --- one function per resource: forum JSON -> Existing ----------------------------------


def user_field(data: Mapping[str, Any]) -> Existing:
    description, owner = read_mark(data.get("description"))
    requirement = data.get("requirement")
    if requirement is None:  # Discourse before 3.2 had a boolean ``required``
        requirement = "for_all_users" if data.get("required") else "optional"
    return Existing(
        id=int(data["id"]),
        natural_key=str(data.get("name", "")),
        owner_key=owner,
        fields={
            "name": data.get("name"),
            "description": description,
            "field_type": data.get("field_type"),
            "requirement": requirement,
            "editable": data.get("editable"),
            "show_on_profile": data.get("show_on_profile"),
            "show_on_user_card": data.get("show_on_user_card"),
            "searchable": data.get("searchable"),
            "options": tuple(_option_values(data.get("options"))),
        },
    )


def _option_values(options: Any) -> Iterable[str]:
    for option in options or ():
        yield option.get("value", "") if isinstance(option, Mapping) else str(option)


def group(data: Mapping[str, Any]) -> Existing:
    bio, owner = read_mark(data.get("bio_raw"))
    return Existing(
        id=int(data["id"]),
        natural_key=str(data.get("name", "")),
        owner_key=owner,
        system=bool(data.get("automatic")),
        fields={
            "name": data.get("name"),
            "full_name": data.get("full_name"),
            "bio": bio,
            "visibility_level": data.get("visibility_level"),
            "members_visibility_level": data.get("members_visibility_level"),
            "messageable_level": data.get("messageable_level"),
            "mentionable_level": data.get("mentionable_level"),
            "public_admission": data.get("public_admission"),
            "public_exit": data.get("public_exit"),
            "allow_membership_requests": data.get("allow_membership_requests"),
            "primary_group": data.get("primary_group"),
            "title": data.get("title"),
            "default_notification_level": data.get("default_notification_level"),
        },
    )


def _categories(
    client: ForumClient,
    categories: Sequence[Mapping[str, Any]],
    group_names: Mapping[int, str],
    *,
    interesting: set[str],
) -> Iterable[Existing]:
    slugs = {int(c["id"]): c.get("slug") for c in categories if "id" in c}
    marked = []
    for data in categories:
        # plain text when the forum gives it; both may carry HTML entities
        text = data.get("description_text") or data.get("description")
        description, owner = read_mark(text, cooked=True)
        marked.append((data, description, owner))
    wanted = [
        int(data["id"])
        for data, _description, owner in marked
        if (owner is not None or data.get("slug") in interesting)
        and "group_permissions" not in data
    ]
    details = _category_details(client, wanted)
    for data, description, owner in marked:
        more = details.get(int(data["id"])) if "id" in data else None
        yield category(
            data, {**data, **more} if more else data, description, owner, slugs, group_names
        )


def _category_details(client: ForumClient, ids: list[int]) -> dict[int, Mapping[str, Any]]:
    """``{id: CategorySerializer fields}`` of ``ids``: one ``GET /categories/find.json`` with
    ``include_permissions`` (categories_controller.rb#find); a forum before it (404), or one
    that leaves the permissions out, is asked per category (``GET /c/{id}/show.json``)."""
    if not ids:
        return {}
    found: dict[int, Mapping[str, Any]] = {}
    try:
        for data in client.find_categories(ids):
            if "id" in data and "group_permissions" in data:
                found[int(data["id"])] = data
    except NotFound:
        pass
    for category_id in ids:
        if category_id not in found:
            found[category_id] = client.get_category(category_id)
    return found


def category(
    data: Mapping[str, Any],
    details: Mapping[str, Any],
    description: str,
    owner: str | None,
    slugs: Mapping[int, str | None],
    group_names: Mapping[int, str],
) -> Existing:
    parent_id = data.get("parent_category_id")
    return Existing(
        id=int(data["id"]),
        natural_key=str(data.get("slug", "")),
        owner_key=owner,
        system=bool(data.get("is_uncategorized")),
        fields={
            "slug": data.get("slug"),
            "name": data.get("name"),
            "color": str(data.get("color") or "").upper() or None,
            "text_color": str(data.get("text_color") or "").upper() or None,
            "parent": slugs.get(int(parent_id)) if parent_id is not None else None,
            "description": description,
            "permissions": _permissions(details.get("group_permissions")),
            "moderating_groups": tuple(sorted(_moderating(details, group_names))),
        },
    )


def _permissions(rows: Any) -> dict[str, int] | None:
    if rows is None:
        return None  # not read: the list endpoint does not carry permissions
    return {str(r["group_name"]): int(r["permission_type"]) for r in rows if "group_name" in r}


def _moderating(details: Mapping[str, Any], group_names: Mapping[int, str]) -> Iterable[str]:
    ids = details.get("moderating_group_ids")
    if ids is not None:
        return [group_names.get(int(i), f"#{i}") for i in ids]
    name = details.get("reviewable_by_group_name")  # Discourse before category_moderation_groups
    return [name] if name else []


def badge(data: Mapping[str, Any]) -> Existing:
    description, owner = read_mark(data.get("description"))
    return Existing(
        id=int(data["id"]),
        natural_key=str(data.get("name", "")),
        owner_key=owner,
        system=bool(data.get("system")),
        fields={
            "name": data.get("name"),
            "badge_type_id": data.get("badge_type_id"),
            "description": description,
            "badge_grouping_id": data.get("badge_grouping_id"),
            "allow_title": data.get("allow_title"),
            "multiple_grant": data.get("multiple_grant"),
            "listable": data.get("listable"),
            "enabled": data.get("enabled"),
            "icon": data.get("icon"),
        },
    )


def _slugs(categories: Sequence[Mapping[str, Any]]) -> dict[int, str]:
    return {int(c["id"]): str(c.get("slug")) for c in categories if "id" in c}


def webhook(
    data: Mapping[str, Any],
    event_types: Mapping[str, int],
    category_slugs: Mapping[int, str] | None = None,
) -> Existing:
    """``categories``: the category filter by slug (an id the list lacks as ``#id``)."""
    names_by_id = {number: name for name, number in event_types.items()}
    slugs = category_slugs or {}
    if "web_hook_event_types" in data:
        events = [
            t.get("name") or names_by_id.get(int(t["id"]), f"#{t['id']}")
            for t in data["web_hook_event_types"] or ()
        ]
    else:
        events = [
            names_by_id.get(int(i), f"#{i}") for i in data.get("web_hook_event_type_ids") or ()
        ]
    secret = data.get("secret")
    return Existing(
        id=int(data["id"]),
        natural_key=str(data.get("payload_url", "")),
        owner_key=None,  # Diamond's webhook is the one pointing at its receiver (see diff)
        fields={
            "payload_url": data.get("payload_url"),
            "secret": SecretStr(secret) if isinstance(secret, str) and secret else None,
            "events": tuple(sorted(set(events))),
            "content_type": data.get("content_type"),
            "active": data.get("active"),
            "verify_certificate": data.get("verify_certificate"),
            "categories": tuple(
                sorted(slugs.get(int(i), f"#{i}") for i in data.get("category_ids") or ())
            ),
        },
    )


def event_type_ids(raw: Any) -> dict[str, int]:
    """``{event name: id}`` from ``extras.grouped_event_types`` (dict of lists) or a flat list."""
    rows: list[Any] = []
    if isinstance(raw, Mapping):
        for value in raw.values():
            rows.extend(value if isinstance(value, list) else [value])
    elif isinstance(raw, list):
        rows = raw
    return {
        str(row["name"]): int(row["id"])
        for row in rows
        if isinstance(row, Mapping) and "name" in row and "id" in row
    }
