"""Groups: list, show, create, update, delete, members and owners."""

from __future__ import annotations

from typing import Any

from worker.sandbox import payloads
from worker.sandbox.app import Ctx
from worker.sandbox.errors import (
    ApiError,
    invalid_access,
    invalid_parameters,
    not_found,
    param_missing,
    unprocessable,
)
from worker.sandbox.models import Group, User
from worker.sandbox.params import as_int, as_list
from worker.sandbox.state import apply_group_attrs

ADD_MEMBERS_LIMIT = 1000
GROUPS_PAGE = 36


def can_see_group(ctx: Ctx, group: Group) -> bool:
    viewer = ctx.actor
    level = group.visibility_level
    if level == 0 or (viewer is not None and viewer.staff):
        return True
    if viewer is None:
        return False
    if level == 1:
        return True
    if level == 2:
        return viewer.id in ctx.forum.group_member_ids(group)
    if level == 4:
        return viewer.id in group.owners
    return False


def _group(ctx: Ctx, key: str | int, *, ensure_can_see: bool = True) -> Group:
    group = ctx.forum.find_group(key)
    if group is None:
        raise not_found()
    if ensure_can_see and not can_see_group(ctx, group):
        raise invalid_access()
    return group


def _group_by_id(ctx: Ctx, group_id: int) -> Group:
    group = ctx.forum.groups.get(group_id)
    if group is None:
        raise not_found()
    return group


def _ensure_can_edit(ctx: Ctx, group: Group) -> User:
    actor = ctx.require_login()
    if actor.admin or (actor.id in group.owners and not group.automatic):
        return actor
    if actor.moderator and not group.automatic:
        return actor
    raise invalid_access()


def _users_from_params(ctx: Ctx, params: dict[str, Any]) -> list[User]:
    names = as_list(params.get("usernames") or params.get("username"))
    emails = as_list(params.get("user_emails") or params.get("user_email"))
    ids = as_list(params.get("user_ids") or params.get("user_id"))
    if not (names or emails or ids):
        raise invalid_parameters("user_ids or usernames or user_emails must be present")
    forum = ctx.forum
    found: list[User] = []
    for name in names:
        user = forum.find_user(str(name))
        if user is not None and user not in found:
            found.append(user)
    for email in emails:
        for user in forum.users.values():
            if user.email.lower() == str(email).lower() and user not in found:
                found.append(user)
    for raw_id in ids:
        user = forum.users.get(as_int(raw_id, "user_ids"))
        if user is not None and user not in found:
            found.append(user)
    if not found:
        raise invalid_parameters("usernames")
    return found


def index(ctx: Ctx) -> Any:
    """Imitates: app/controllers/groups_controller.rb#index (BasicGroupSerializer)"""
    forum = ctx.forum
    groups = [g for g in forum.groups.values() if can_see_group(ctx, g)]
    if not ctx.staff:
        groups = [g for g in groups if not g.automatic or g.name == "moderators"]
    if ctx.params.get("filter"):
        term = str(ctx.params["filter"]).lower()
        groups = [
            g for g in groups if term in g.name.lower() or term in (g.full_name or "").lower()
        ]
    groups.sort(key=lambda g: g.name.lower())
    page = max(0, as_int(ctx.params.get("page") or 0, "page"))
    chunk = groups[page * GROUPS_PAGE : (page + 1) * GROUPS_PAGE]
    items = []
    for group in chunk:
        item = payloads.basic_group(forum, group, ctx.actor)
        if ctx.actor is not None:
            item["is_group_user"] = ctx.actor.id in forum.group_member_ids(group)
            item["is_group_owner"] = ctx.actor.id in group.owners
        items.append(item)
    type_filters = ["my", "owner", "public", "close"] + (["automatic"] if ctx.staff else [])
    if ctx.actor is None:
        type_filters = ["public", "close"]
    return {
        "groups": items,
        "extras": {"type_filters": type_filters},
        "total_rows_groups": len(groups),
        "load_more_groups": f"/groups?page={page + 1}",
    }


def show(ctx: Ctx, key: str) -> Any:
    """Imitates: app/controllers/groups_controller.rb#show (GroupShowSerializer)"""
    forum = ctx.forum
    group = _group(ctx, key)
    data = payloads.basic_group(forum, group, ctx.actor)
    del data["display_name"]
    viewer = ctx.actor
    data.update(
        {
            "is_group_user": viewer is not None and viewer.id in forum.group_member_ids(group),
            "is_group_owner_display": viewer is not None and viewer.id in group.owners,
            "mentionable": group.mentionable_level == 99 or viewer is not None,
            "messageable": viewer is not None and viewer.staff,
            "automatic_membership_email_domains": group.automatic_membership_email_domains,
            "smtp_server": None,
            "smtp_port": None,
            "smtp_ssl_mode": None,
            "email_username": None,
            "email_password": None,
            "message_count": 0,
            "allow_unknown_sender_topic_replies": False,
            "watching_category_ids": [],
            "tracking_category_ids": [],
            "watching_first_post_category_ids": [],
            "regular_category_ids": [],
            "muted_category_ids": [],
        }
    )
    visible = [
        g.name
        for g in forum.groups.values()
        if can_see_group(ctx, g) and (ctx.staff or not g.automatic)
    ]
    return {"group": data, "extras": {"visible_group_names": visible}}


def create(ctx: Ctx) -> Any:
    """Imitates: app/controllers/admin/groups_controller.rb#create (BasicGroupSerializer)"""
    ctx.require_admin()
    attrs = ctx.params.get("group")
    if not isinstance(attrs, dict):
        raise param_missing("group")
    attrs = dict(attrs)
    usernames = as_list(attrs.pop("usernames", None))
    owners = as_list(attrs.pop("owner_usernames", None))
    forum = ctx.forum
    group = forum.create_group(**attrs)
    members = [u for u in (forum.find_user(str(n)) for n in usernames) if u]
    owner_users = [u for u in (forum.find_user(str(n)) for n in owners) if u]
    forum.add_members(group, members)
    forum.add_members(group, owner_users, owners=True)
    forum.emit("group_created", {"group": payloads.basic_group(forum, group, None)})
    created = payloads.basic_group(forum, group, ctx.actor)
    del created["display_name"]  # Admin::GroupsController#create answers without it
    return {"basic_group": created}


def update(ctx: Ctx, key: str) -> Any:
    """Imitates: app/controllers/groups_controller.rb#update (success_json)"""
    group = _group_by_id(ctx, as_int(key, "id"))
    actor = _ensure_can_edit(ctx, group)
    attrs = ctx.params.get("group")
    if not isinstance(attrs, dict):
        raise param_missing("group")
    attrs = dict(attrs)
    forum = ctx.forum
    new_name = attrs.pop("name", None)
    if new_name and new_name != group.name:
        if group.automatic or not actor.admin:
            raise invalid_access()
        from worker.sandbox.state import name_errors

        errors = name_errors("Name", str(new_name), 3, forum.settings["max_username_length"])
        other = forum.find_group(str(new_name))
        if not errors and other is not None and other.id != group.id:
            errors.append("Name has already been taken")
        if errors:
            raise unprocessable(*errors)
        group.name = str(new_name)
    if group.automatic:
        allowed = {
            "visibility_level",
            "mentionable_level",
            "messageable_level",
            "default_notification_level",
            "bio_raw",
        }
        attrs = {k: v for k, v in attrs.items() if k in allowed}
    usernames = as_list(attrs.pop("usernames", None))
    owners = as_list(attrs.pop("owner_usernames", None))
    apply_group_attrs(group, attrs)
    forum.add_members(group, [u for u in (forum.find_user(str(n)) for n in usernames) if u])
    forum.add_members(
        group, [u for u in (forum.find_user(str(n)) for n in owners) if u], owners=True
    )
    forum.emit("group_updated", {"group": payloads.basic_group(forum, group, None)})
    return {"success": "OK"}


def destroy(ctx: Ctx, group_id: int) -> Any:
    """Imitates: app/controllers/admin/groups_controller.rb#destroy (success_json)"""
    ctx.require_admin()
    group = _group_by_id(ctx, group_id)
    if group.automatic:
        raise invalid_access()
    forum = ctx.forum
    body = {"group": payloads.basic_group(forum, group, None)}
    for category in forum.categories.values():
        category.permissions.pop(group.id, None)
        if group.id in category.moderating_group_ids:
            category.moderating_group_ids.remove(group.id)
    del forum.groups[group.id]
    forum.emit("group_destroyed", body)
    return {"success": "OK"}


def members(ctx: Ctx, key: str) -> Any:
    """Imitates: app/controllers/groups_controller.rb#members (GroupUserSerializer, meta)"""
    forum = ctx.forum
    group = _group(ctx, key)
    if not payloads.forum_can_see_members(forum, group, ctx.actor):
        raise invalid_access()
    limit = as_int(ctx.params.get("limit") or 50, "limit")
    offset = as_int(ctx.params.get("offset") or 0, "offset")
    if limit < 0 or limit > 1000:
        raise invalid_parameters("limit")
    if offset < 0:
        raise invalid_parameters("offset")
    ids = forum.group_member_ids(group)
    users = [forum.users[uid] for uid in ids if uid in forum.users and uid > 0]
    ascending = bool(ctx.params.get("asc"))
    users.sort(key=lambda u: u.username.lower(), reverse=not ascending)
    # owners first, as Discourse orders "NOT group_users.owner"
    users.sort(key=lambda u: u.id not in group.owners)

    def entry(user: User) -> dict[str, Any]:
        added = group.members.get(user.id) or user.created_at
        return {
            "id": user.id,
            "username": user.username,
            "name": user.name,
            "avatar_template": payloads.avatar_template(user),
            "title": user.title,
            "last_posted_at": _iso(user.last_posted_at),
            "last_seen_at": _iso(user.last_seen_at),
            "added_at": _iso(added),
            "timezone": user.timezone,
        }

    return {
        "members": [entry(u) for u in users[offset : offset + limit]],
        "owners": [entry(u) for u in users if u.id in group.owners],
        "meta": {"total": len(users), "limit": limit, "offset": offset},
    }


def _iso(moment: Any) -> str | None:
    from worker.sandbox.timeutil import iso

    return iso(moment)


def _member_already_exist(ctx: Ctx, names: list[str]) -> str:
    """The refusal in the site's language. English is Discourse's text; the Chinese one
    is the sandbox's own wording, there to keep clients from parsing the English."""
    joined = ", ".join(names)
    if str(ctx.forum.settings["default_locale"]).startswith("zh"):
        return f"以下用户已经是该群组的成员：{joined}"
    if len(names) == 1:
        return f"'{names[0]}' is already a member of this group."
    return f"The following users are already members of this group: {joined}"


def add_members(ctx: Ctx, key: str) -> Any:
    """Imitates: app/controllers/groups_controller.rb#add_members (users_from_params: unknown
    names dropped, 400 invalid_parameters when none exists; 422 when every one is in)."""
    group = _group_by_id(ctx, as_int(key, "id"))
    if group.automatic:
        raise invalid_access()
    _ensure_can_edit(ctx, group)
    users = _users_from_params(ctx, ctx.params)
    if len(users) > ADD_MEMBERS_LIMIT:
        raise unprocessable(
            f"You cannot add more than {ADD_MEMBERS_LIMIT} users at once to a group."
        )
    already = sorted(u.username for u in users if u.id in group.members)
    if already and len(already) == len(users):
        # render_json_error(I18n.t("groups.errors.member_already_exist", ...)): no error_type
        raise ApiError(422, [_member_already_exist(ctx, already)])
    forum = ctx.forum
    new_users = [u for u in users if u.id not in group.members]
    forum.add_members(group, new_users)
    for user in new_users:
        forum.emit(
            "user_added_to_group", {"group_user": payloads.webhook_group_user(group, user.id)}
        )
    return {"success": "OK", "usernames": [u.username for u in users], "emails": []}


def remove_members(ctx: Ctx, key: str) -> Any:
    """Imitates: app/controllers/groups_controller.rb#remove_member."""
    group = _group_by_id(ctx, as_int(key, "id"))
    if group.automatic:
        raise invalid_access()
    _ensure_can_edit(ctx, group)
    users = _users_from_params(ctx, ctx.params)
    removed, skipped = [], []
    for user in users:
        if user.id in group.members:
            body = {"group_user": payloads.webhook_group_user(group, user.id)}
            group.members.pop(user.id)
            group.member_row_ids.pop(user.id, None)
            group.owners.discard(user.id)
            removed.append(user.username)
            ctx.forum.emit("user_removed_from_group", body)
            # chat plugin.rb, on(:user_removed_from_group): Chat::AutoLeaveChannels
            ctx.forum.chat_auto_leave(user_id=user.id)
        else:
            skipped.append(user.username)
    return {"success": "OK", "usernames": removed, "skipped_usernames": skipped}


def add_owners(ctx: Ctx, key: str) -> Any:
    """Imitates: app/controllers/groups_controller.rb#add_owners (success_json with usernames)
    Also served as PUT /admin/groups/{id}/owners, the older admin/groups_controller.rb#add_owners.
    """
    group = _group_by_id(ctx, as_int(key, "id"))
    if group.automatic:
        raise invalid_access()
    _ensure_can_edit(ctx, group)
    params = ctx.wrapped("group")
    users = _users_from_params(ctx, params)
    ctx.forum.add_members(group, users, owners=True)
    return {"success": "OK", "usernames": [u.username for u in users]}


def remove_owners(ctx: Ctx, key: str) -> Any:
    """Imitates: app/controllers/admin/groups_controller.rb#remove_owner (success_json)
    Simplifies: also answers DELETE /groups/{id}/owners.json, which Discourse does not route.
    """
    group = _group_by_id(ctx, as_int(key, "id"))
    _ensure_can_edit(ctx, group)
    params = ctx.wrapped("group")
    for user in _users_from_params(ctx, params):
        group.owners.discard(user.id)
    return {"success": "OK"}


ROUTES = [
    ("/groups.json", ["GET"], index),
    ("/groups/<key>.json", ["GET"], show),
    ("/groups/by-id/<key>.json", ["GET"], show),
    ("/groups/<key>.json", ["PUT"], update),
    ("/admin/groups.json", ["POST"], create),
    ("/admin/groups/<int:group_id>.json", ["DELETE"], destroy),
    ("/groups/<key>/members.json", ["GET"], members),
    ("/groups/<key>/members.json", ["PUT"], add_members),
    ("/groups/<key>/members.json", ["DELETE"], remove_members),
    ("/groups/<key>/owners.json", ["PUT"], add_owners),
    ("/admin/groups/<key>/owners.json", ["PUT"], add_owners),
    ("/admin/groups/<key>/owners.json", ["DELETE"], remove_owners),
    ("/groups/<key>/owners.json", ["DELETE"], remove_owners),
]
