"""The pure heart of the sync: ``diff(desired, actual) -> Plan``.

Set arithmetic over keys, no I/O. What Diamond owns is matched by the key in its
marker; something with the same name that is not Diamond's is never touched (a
``Conflict``), unless the config says ``adopt: true``. Owned resources no longer in
the config are deleted only when their section says ``prune: true``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from worker.config_sync.desired import (
    INTERNAL_HOSTS,
    CategorySpec,
    ChatWebhookSpec,
    Desired,
    Section,
    WebhookSpec,
    with_items,
)
from worker.config_sync.ownership import MARKER_PREFIX
from worker.config_sync.plan import (
    BADGE,
    CATEGORY,
    GROUP,
    SITE_SETTING,
    USER_FIELD,
    WEBHOOK,
    Change,
    Conflict,
    Existing,
    ForumState,
    Kind,
    Plan,
)
from worker.forum.addresses import host_is_internal, setting_list


def diff(desired: Desired, actual: ForumState) -> Plan:
    """Every write needed to make ``actual`` match ``desired``, in the order to apply them."""
    out = _Builder()
    _site_settings(desired.site_settings, actual.site_settings, out)
    _setting_includes(desired.site_setting_includes, actual.site_settings, out)
    _owned(USER_FIELD, desired.user_fields, actual.user_fields, out)
    _owned(GROUP, desired.groups, actual.groups, out)
    _setting_groups(desired.site_setting_groups, actual, out)  # after the groups it may name
    _owned(CATEGORY, _parents_first(desired.categories), actual.categories, out)
    _owned(BADGE, desired.badges, actual.badges, out)
    _webhook(desired.webhook, desired.webhook_prune, actual, out)
    _webhook(
        _with_squad_categories(desired.chat_webhook, actual), desired.webhook_prune, actual, out
    )
    return out.plan()


# A squad's category ends its description with this (``worker.engine.squads``, made by the
# worker as squads form, not by this sync).
SQUAD_CATEGORY_MARK = "[diamond-squad-category "


def _with_squad_categories(
    spec: ChatWebhookSpec | None, actual: ForumState
) -> ChatWebhookSpec | None:
    """The chat webhook's categories: the base ones and every squad's found on the forum
    (Discourse's filter is by exact category id; squads formed since the last sync were
    added as they formed: ``AddChatWebhookCategories``)."""
    if spec is None:
        return None
    squads = [
        c.natural_key
        for c in actual.categories
        if SQUAD_CATEGORY_MARK in str(c.fields.get("description") or "")
    ]
    return spec.model_copy(update={"categories": (*spec.categories, *squads)})


class _Builder:
    def __init__(self) -> None:
        self.writes: list[Change] = []
        self.deletes: list[Change] = []
        self.conflicts: list[Conflict] = []
        self.notices: list[str] = []
        self.owned: dict[str, int] = {}

    def plan(self) -> Plan:
        # deletes last and in reverse dependency order: a category goes before the group
        # its permissions name, a child category before its parent
        deletes = sorted(
            self.deletes, key=lambda c: -_ORDER.index(c.resource)
        )  # sorted() is stable: within a resource the diff's own order stays
        return Plan(
            changes=tuple(self.writes + deletes),
            conflicts=tuple(self.conflicts),
            notices=tuple(self.notices),
            owned_counts=dict(self.owned),
        )


_ORDER = (SITE_SETTING, USER_FIELD, GROUP, CATEGORY, BADGE, WEBHOOK)


# --- site settings: enforced, never owned ---------------------------------------------------


def _site_settings(desired: Mapping[str, Any], actual: Mapping[str, Any], out: _Builder) -> None:
    for name, value in desired.items():
        if name not in actual:
            out.conflicts.append(Conflict(SITE_SETTING, name, "no such site setting on the forum"))
            continue
        old, new = setting_text(actual[name]), setting_text(value)
        if old != new:
            out.writes.append(
                Change(
                    Kind.UPDATE, SITE_SETTING, name, {"value": (old, new)}, desired={"value": new}
                )
            )


def _setting_includes(
    includes: Mapping[str, tuple[str, ...]], actual: Mapping[str, Any], out: _Builder
) -> None:
    """List settings that must contain some items: add what is missing, keep the rest."""
    for name, items in includes.items():
        if name not in actual:
            out.conflicts.append(Conflict(SITE_SETTING, name, "no such site setting on the forum"))
            continue
        old = setting_text(actual[name])
        new = with_items(old, items)
        if new != old:
            out.writes.append(
                Change(
                    Kind.UPDATE, SITE_SETTING, name, {"value": (old, new)}, desired={"value": new}
                )
            )


def _setting_groups(
    wanted: Mapping[str, tuple[str, ...]], actual: ForumState, out: _Builder
) -> None:
    """group_list settings (Discourse stores group ids, ``1|2|11``) that must hold some
    groups, named in plugin_config: ids of the groups that exist are added, the rest kept.
    A group this same plan creates is added once it is made (``desired["groups"]``: the
    change comes after the groups; the plan shows it as ``<name>``)."""
    ids = {g.natural_key.lower(): g.id for g in actual.groups}
    created = {
        str(c.desired["name"]).lower()
        for c in out.writes
        if c.resource == GROUP and c.kind is Kind.CREATE and c.desired.get("name")
    }
    for name, groups in wanted.items():
        if name not in actual.site_settings:
            out.conflicts.append(Conflict(SITE_SETTING, name, "no such site setting on the forum"))
            continue
        made = tuple(g for g in groups if g.lower() not in ids and g.lower() in created)
        missing = [g for g in groups if g.lower() not in ids and g.lower() not in created]
        if missing:
            out.notices.append(
                f"{name}: group(s) {', '.join(missing)} do not exist yet; "
                "added once they are created"
            )
        old = setting_text(actual.site_settings[name])
        new = with_items(old, [str(ids[g.lower()]) for g in groups if g.lower() in ids])
        if new != old or made:
            shown = with_items(new, [f"<{g}>" for g in made])
            desired: dict[str, Any] = {"value": new}
            if made:
                desired["groups"] = made
            out.writes.append(
                Change(Kind.UPDATE, SITE_SETTING, name, {"value": (old, shown)}, desired=desired)
            )


def setting_text(value: Any) -> str:
    """Discourse stores every site setting as text; compare in that form."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- resources Diamond owns ------------------------------------------------------------------


def _owned(resource: str, section: Section, actual: Sequence[Existing], out: _Builder) -> None:
    owned: dict[str, Existing] = {}
    for existing in sorted(actual, key=lambda e: e.id):
        if existing.owner_key is None or existing.system:
            continue
        if existing.owner_key in owned:
            out.conflicts.append(
                Conflict(
                    resource,
                    existing.owner_key,
                    f"{existing.natural_key!r} (id {existing.id}) carries the same marker as "
                    f"id {owned[existing.owner_key].id}; remove one marker by hand",
                )
            )
            continue
        owned[existing.owner_key] = existing
    out.owned[resource] = len(owned)
    others = {e.natural_key: e for e in actual if e.owner_key is None or e.system}
    taken = {e.natural_key: e for e in actual}

    for spec in section.items:
        want = spec.managed()
        natural = _natural_key(resource, spec)
        current = owned.get(spec.key)
        if current is not None:
            holder = taken.get(natural)
            if holder is not None and holder.id != current.id:
                out.conflicts.append(
                    Conflict(resource, spec.key, f"cannot rename to {natural!r}: already taken")
                )
                continue
            fields = changed_fields(current.fields, want)
            if fields:
                out.writes.append(
                    Change(Kind.UPDATE, resource, spec.key, fields, current.id, desired=want)
                )
            continue
        other = others.get(natural)
        if other is None:
            out.writes.append(
                Change(
                    Kind.CREATE,
                    resource,
                    spec.key,
                    {name: (None, value) for name, value in want.items()},
                    desired=want,
                )
            )
        elif other.system:
            out.conflicts.append(
                Conflict(resource, spec.key, f"{natural!r} is built into Discourse; pick another")
            )
        elif getattr(spec, "adopt", False):
            fields = changed_fields(other.fields, want)
            fields["owner"] = (None, f"{MARKER_PREFIX}:{spec.key}")
            out.writes.append(
                Change(Kind.UPDATE, resource, spec.key, fields, other.id, adopt=True, desired=want)
            )
        else:
            out.conflicts.append(
                Conflict(
                    resource,
                    spec.key,
                    f"{natural!r} exists (id {other.id}) but was not created by Diamond; "
                    "left alone (set adopt: true to manage it)",
                )
            )

    wanted = {spec.key for spec in section.items}
    leftovers = [existing for key, existing in owned.items() if key not in wanted]
    if resource == CATEGORY:
        leftovers = _children_first(leftovers)
    for existing in leftovers:
        if section.prune:
            out.deletes.append(
                Change(
                    Kind.DELETE,
                    resource,
                    existing.owner_key or existing.natural_key,
                    {name: (value, None) for name, value in existing.fields.items()},
                    existing.id,
                )
            )
        else:
            out.notices.append(
                f"{resource} {existing.natural_key!r} is Diamond's but no longer configured; "
                "kept (prune: false)"
            )


def _natural_key(resource: str, spec: Any) -> str:
    return spec.slug if resource == CATEGORY else spec.name


def changed_fields(current: Mapping[str, Any], want: Mapping[str, Any]) -> dict[str, tuple]:
    """Field-by-field difference, only over the fields the config manages."""
    return {
        name: (current.get(name), value)
        for name, value in want.items()
        if not same_value(current.get(name), value)
    }


def same_value(old: Any, new: Any) -> bool:
    if isinstance(new, SecretStr):
        # Discourse may not reveal a stored secret; an unknown secret is not drift
        return old is None or (isinstance(old, SecretStr) and old == new)
    if isinstance(old, str) or isinstance(new, str):
        # Discourse returns null for empty text and trims what it stores
        old, new = old or "", new or ""
        return isinstance(old, str) and isinstance(new, str) and old.strip() == new.strip()
    if isinstance(old, list | tuple) and isinstance(new, list | tuple):
        return tuple(old) == tuple(new)
    if old is None and new in ((), {}, False):
        return True
    return old == new


def _parents_first(section: Section) -> Section:
    """Order categories so each parent comes before its children (stable otherwise)."""
    by_slug = {spec.slug: spec for spec in section.items}
    ordered: list[CategorySpec] = []
    placed: set[str] = set()

    def place(spec: CategorySpec, trail: frozenset[str] = frozenset()) -> None:
        if spec.slug in placed or spec.slug in trail:
            return
        if spec.parent in by_slug:
            place(by_slug[spec.parent], trail | {spec.slug})
        ordered.append(spec)
        placed.add(spec.slug)

    for spec in section.items:
        place(spec)
    return Section(tuple(ordered), section.prune)


def _children_first(categories: Iterable[Existing]) -> list[Existing]:
    items = list(categories)
    slugs = {e.natural_key for e in items}

    def depth(existing: Existing) -> int:
        level, parent, seen = 0, existing.fields.get("parent"), set()
        by_key = {e.natural_key: e for e in items}
        while parent in slugs and parent not in seen:
            seen.add(parent)
            level += 1
            parent = by_key[parent].fields.get("parent")
        return level

    return sorted(items, key=depth, reverse=True)


# --- the webhook: Diamond's is the one pointing at its receiver -------------------------------


def _webhook(desired: WebhookSpec | None, prune: bool, actual: ForumState, out: _Builder) -> None:
    if desired is None:
        return
    want = desired.managed()
    if actual.event_types:
        unknown = [name for name in want["events"] if name not in actual.event_types]
        if unknown:
            out.conflicts.append(
                Conflict(
                    WEBHOOK, desired.key, f"unknown event(s) on this forum: {', '.join(unknown)}"
                )
            )
            want["events"] = tuple(e for e in want["events"] if e in actual.event_types)
            if not want["events"]:
                return  # nothing this forum can send it (Discourse refuses a hook without)
    ours = sorted(
        (hook for hook in actual.webhooks if hook.natural_key == desired.payload_url),
        key=lambda hook: hook.id,
    )
    out.owned[WEBHOOK] = out.owned.get(WEBHOOK, 0) + len(ours)
    if not ours:
        _warn_if_refused(desired.payload_url, actual.site_settings, out)
        out.writes.append(
            Change(
                Kind.CREATE,
                WEBHOOK,
                desired.key,
                {name: (None, value) for name, value in want.items()},
                desired=want,
            )
        )
        return
    current, duplicates = ours[0], ours[1:]
    fields = changed_fields(current.fields, want)
    if fields:
        out.writes.append(
            Change(Kind.UPDATE, WEBHOOK, desired.key, fields, current.id, desired=want)
        )
    for hook in duplicates:
        if prune:
            out.deletes.append(
                Change(
                    Kind.DELETE,
                    WEBHOOK,
                    f"{desired.key}#{hook.id}",
                    {name: (value, None) for name, value in hook.fields.items()},
                    hook.id,
                )
            )
        else:
            out.notices.append(
                f"webhook id {hook.id} also posts to the receiver (duplicate deliveries); "
                "kept (prune: false)"
            )


def _warn_if_refused(url: str, settings: Mapping[str, Any], out: _Builder) -> None:
    """Discourse refuses a webhook on a private address whose host it was not told to allow."""
    host = urlsplit(url).hostname
    if not host or not host_is_internal(host):
        return
    planned = [c.desired.get("value") for c in out.writes if c.key == INTERNAL_HOSTS]
    allowed = planned[-1] if planned else settings.get(INTERNAL_HOSTS)
    if host.lower() in {h.lower() for h in setting_list(allowed)}:
        return
    out.notices.append(
        f"the forum will refuse the webhook: {host} is a private or internal address; "
        f"add {host} to the forum's site setting {INTERNAL_HOSTS} "
        "(or set allow_internal_receiver: true in webhook.yml)"
    )
