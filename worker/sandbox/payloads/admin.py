"""Admin JSON: webhooks, user fields, reviewables."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from worker.sandbox.event_types import EVENT_TYPES
from worker.sandbox.models import (
    Reviewable,
    UserField,
    WebHook,
)
from worker.sandbox.timeutil import iso

if TYPE_CHECKING:
    from worker.sandbox.state import Forum
from worker.sandbox.payloads.users import user_fields_of

_EVENT_BY_ID = {id_: (name, group) for name, id_, group in EVENT_TYPES}


def web_hook(forum: Forum, hook: WebHook) -> dict[str, Any]:
    """AdminWebHookSerializer."""
    return {
        "id": hook.id,
        "payload_url": hook.payload_url,
        "content_type": hook.content_type,
        "last_delivery_status": hook.last_delivery_status,
        "secret": hook.secret,
        "wildcard_web_hook": hook.wildcard_web_hook,
        "verify_certificate": hook.verify_certificate,
        "active": hook.active,
        "web_hook_event_types": [
            {"id": eid, "name": _EVENT_BY_ID[eid][0], "group": _EVENT_BY_ID[eid][1]}
            for eid in hook.event_type_ids
            if eid in _EVENT_BY_ID
        ],
        "categories": [
            {"id": cid, "name": forum.categories[cid].name}
            for cid in hook.category_ids
            if cid in forum.categories
        ],
        "category_ids": list(hook.category_ids),
        "tag_names": list(hook.tag_names),
        "groups": [
            {"id": gid, "name": forum.groups[gid].name}
            for gid in hook.group_ids
            if gid in forum.groups
        ],
        "group_ids": list(hook.group_ids),
    }


def user_field(field: UserField) -> dict[str, Any]:
    """UserFieldSerializer."""
    return {
        "id": field.id,
        "name": field.name,
        "description": field.description,
        "field_type": field.field_type,
        "editable": field.editable,
        "required": field.requirement != "optional",
        "requirement": field.requirement,
        "show_on_profile": field.show_on_profile,
        "show_on_user_card": field.show_on_user_card,
        "searchable": field.searchable,
        "position": field.position,
        "options": [{"value": option} for option in field.options],
    }


REVIEW_STATUS = {0: "pending", 1: "approved", 2: "rejected", 3: "ignored", 4: "deleted"}


def reviewable(forum: Forum, r: Reviewable) -> dict[str, Any]:
    """ReviewableUserSerializer."""
    target = forum.users.get(r.target_id)
    actions = []
    if r.status == 0:
        actions = [
            {
                "id": "approve_user",
                "icon": "user-plus",
                "label": "Approve User",
                "actions": [{"id": "approve_user", "label": "Approve User", "icon": "user-plus"}],
            },
            {
                "id": "reject_user",
                "icon": "user-xmark",
                "label": "Delete User...",
                "actions": [
                    {"id": "delete_user", "label": "Delete User", "icon": "user-xmark"},
                    {
                        "id": "delete_user_block",
                        "label": "Delete and Block User",
                        "icon": "ban",
                    },
                ],
            },
        ]
    return {
        "id": r.id,
        "type": r.type,
        "type_source": "core",
        "topic_id": None,
        "topic_url": None,
        "target_url": f"{forum.base_url}/u/{r.payload.get('username')}",
        "topic_tags": [],
        "category_id": None,
        "created_at": iso(r.created_at),
        "target_created_by_id": None,
        "user_id": r.target_id if target else None,
        "can_edit": False,
        "score": 0.0,
        "version": r.version,
        "target_id": r.target_id,
        "created_from_flag": False,
        "status": r.status,
        "reviewable_scores": [],
        "bundled_actions": actions,
        "editable_fields": [],
        "payload": dict(r.payload),
        "user_fields": user_fields_of(forum, target) if target else {},
        "link_admin": True,
    }
