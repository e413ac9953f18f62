"""Webhook event types: name, id and group as in Discourse's ``WebHookEventType``.

Copied from ``app/models/web_hook_event_type.rb`` so the sandbox runs from a fresh
clone; clients should read ids from ``extras.grouped_event_types``, never hard-code them.
"""

from __future__ import annotations

# (name, id, group)
EVENT_TYPES: tuple[tuple[str, int, str], ...] = (
    ("topic_created", 101, "topic"),
    ("topic_revised", 102, "topic"),
    ("topic_edited", 103, "topic"),
    ("topic_destroyed", 104, "topic"),
    ("topic_recovered", 105, "topic"),
    ("post_created", 201, "post"),
    ("post_edited", 202, "post"),
    ("post_destroyed", 203, "post"),
    ("post_recovered", 204, "post"),
    ("user_logged_in", 301, "user"),
    ("user_logged_out", 302, "user"),
    ("user_confirmed_email", 303, "user"),
    ("user_created", 304, "user"),
    ("user_approved", 305, "user"),
    ("user_updated", 306, "user"),
    ("user_destroyed", 307, "user"),
    ("user_suspended", 308, "user"),
    ("user_unsuspended", 309, "user"),
    ("group_created", 401, "group"),
    ("group_updated", 402, "group"),
    ("group_destroyed", 403, "group"),
    ("category_created", 501, "category"),
    ("category_updated", 502, "category"),
    ("category_destroyed", 503, "category"),
    ("tag_created", 601, "tag"),
    ("tag_updated", 602, "tag"),
    ("tag_destroyed", 603, "tag"),
    ("reviewable_created", 901, "reviewable"),
    ("reviewable_updated", 902, "reviewable"),
    ("notification_created", 1001, "notification"),
    ("accepted_solution", 1101, "solved"),
    ("unaccepted_solution", 1102, "solved"),
    ("assigned", 1201, "assign"),
    ("unassigned", 1202, "assign"),
    ("user_badge_granted", 1301, "user_badge"),
    ("user_badge_revoked", 1302, "user_badge"),
    ("user_added_to_group", 1401, "group_user"),
    ("user_removed_from_group", 1402, "group_user"),
    ("post_liked", 1501, "like"),
    ("user_promoted", 1601, "user_promoted"),
    ("topic_upvote", 1701, "voting"),
    ("topic_unvote", 1702, "voting"),
    ("chat_message_created", 1801, "chat"),
    ("chat_message_edited", 1802, "chat"),
    ("chat_message_trashed", 1803, "chat"),
    ("chat_message_restored", 1804, "chat"),
)

EVENT_ID: dict[str, int] = {name: id_ for name, id_, _ in EVENT_TYPES}
EVENT_GROUP: dict[str, str] = {name: group for name, _, group in EVENT_TYPES}


def grouped() -> dict[str, list[dict[str, object]]]:
    """``extras.grouped_event_types`` of ``GET /admin/api/web_hooks.json``."""
    out: dict[str, list[dict[str, object]]] = {}
    for name, id_, group in EVENT_TYPES:
        out.setdefault(group, []).append({"id": id_, "name": name, "group": group})
    return out
