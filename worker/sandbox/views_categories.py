"""Categories: list, show, create, update, delete, and a category's topic list."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from worker.sandbox import cooking, payloads
from worker.sandbox.app import Ctx, Reply
from worker.sandbox.errors import invalid_access, not_found, param_missing, unprocessable
from worker.sandbox.models import Category

if TYPE_CHECKING:
    from worker.sandbox.state import Forum
from worker.sandbox.params import as_bool, as_int, as_list
from worker.sandbox.state import UNCATEGORIZED_ID

TOPICS_PER_PAGE = 30


def _category(ctx: Ctx, category_id: int) -> Category:
    category = ctx.forum.categories.get(category_id)
    if category is None:
        raise not_found()
    return category


def _moderating_ids(ctx: Ctx) -> list[Any] | None:
    if "moderating_group_ids" not in ctx.params:
        return None
    if not ctx.forum.settings["enable_category_group_moderation"]:
        return None  # Discourse drops the param while the setting is off
    return as_list(ctx.params.get("moderating_group_ids"))


def _permissions(ctx: Ctx) -> dict[str, Any] | None:
    perms = ctx.params.get("permissions")
    if perms is None:
        return None
    if not isinstance(perms, dict):
        raise unprocessable("Permissions is invalid")
    return perms


def index(ctx: Ctx) -> Any:
    """Imitates: app/controllers/categories_controller.rb#index (CategoryListSerializer)"""
    forum = ctx.forum
    include_sub = as_bool(ctx.params.get("include_subcategories"))
    visible = [c for c in forum.categories.values() if forum.can_see_category(ctx.actor, c)]
    top = sorted(
        (c for c in visible if c.parent_category_id is None), key=lambda c: (c.position, c.id)
    )
    items = []
    for category in top:
        item = payloads.category_list_item(forum, category, ctx.actor)
        if include_sub:
            item["subcategory_list"] = [
                payloads.category_list_item(forum, child, ctx.actor)
                for child in sorted(visible, key=lambda c: (c.position, c.id))
                if child.parent_category_id == category.id
            ]
        items.append(item)
    return {
        "category_list": {
            "can_create_category": ctx.admin,
            "can_create_topic": ctx.actor is not None,
            "categories": items,
        }
    }


def show(ctx: Ctx, category_id: int) -> Any:
    """Imitates: app/controllers/categories_controller.rb#show (CategorySerializer)"""
    category = _category(ctx, category_id)
    if not ctx.forum.can_see_category(ctx.actor, category):
        raise invalid_access()
    return {"category": payloads.category(ctx.forum, category, ctx.actor)}


def find(ctx: Ctx) -> Any:
    """Imitates: app/controllers/categories_controller.rb#find (CategorySerializer when
    ``include_permissions`` is given at all, else SiteCategorySerializer). Simplified: by
    ``ids`` only (no ``slug_path``); SiteCategorySerializer as the shared core fields."""
    forum = ctx.forum
    raw = ctx.params.get("ids")
    wanted: set[int] = set()
    for value in raw if isinstance(raw, list) else [raw] if raw not in (None, "") else []:
        try:
            wanted.add(int(value))
        except (TypeError, ValueError):
            continue  # Category.where(id: "x") matches nothing
    found = [
        c
        for c in sorted(forum.categories.values(), key=lambda c: c.id)
        if c.id in wanted and forum.can_see_category(ctx.actor, c)
    ]
    if not found:
        raise not_found()  # raise Discourse::NotFound if categories.blank?
    if ctx.params.get("include_permissions") is not None:
        return {"categories": [payloads.category(forum, c, ctx.actor) for c in found]}
    return {"categories": [payloads.site_category(forum, c, ctx.actor) for c in found]}


def create(ctx: Ctx) -> Any:
    """Imitates: app/controllers/categories_controller.rb#create (CategorySerializer)"""
    actor = ctx.require_login()
    if not actor.admin:
        raise invalid_access()
    p = ctx.params
    if not p.get("name"):
        raise param_missing("name")
    parent = p.get("parent_category_id")
    category = ctx.forum.create_category(
        name=str(p["name"]),
        slug=p.get("slug") or None,
        color=p.get("color"),
        text_color=p.get("text_color"),
        parent_category_id=as_int(parent, "parent_category_id")
        if parent not in (None, "")
        else None,
        permissions=_permissions(ctx),
        moderating_group_ids=_moderating_ids(ctx),
        description=p.get("description"),
        creator=actor,
    )
    return {"category": payloads.category(ctx.forum, category, actor)}


def update(ctx: Ctx, category_id: int) -> Any:
    """Imitates: app/controllers/categories_controller.rb#update (CategorySerializer)"""
    actor = ctx.require_login()
    forum = ctx.forum
    category = _category(ctx, category_id)
    if not actor.admin:
        raise invalid_access()
    p = ctx.params
    if "name" in p:
        name = str(p["name"] or "").strip()
        if not name:
            raise unprocessable("Name can't be blank")
        clash = [
            c
            for c in forum.categories.values()
            if c.id != category.id
            and c.parent_category_id == category.parent_category_id
            and c.name.lower() == name.lower()
        ]
        if clash:
            raise unprocessable("Category Name has already been taken")
        category.name = name
    if p.get("slug"):
        category.slug = cooking.slugify(str(p["slug"])) or category.slug
    for key in ("color", "text_color"):
        if p.get(key):
            setattr(category, key, str(p[key]).lstrip("#"))
    if "parent_category_id" in p:
        parent = p["parent_category_id"]
        category.parent_category_id = (
            as_int(parent, "parent_category_id") if parent not in (None, "") else None
        )
        if category.parent_category_id == category.id:
            raise unprocessable("Parent category can't be the same as the category")
    if "description" in p:
        category.description = p["description"] or None
    permissions = _permissions(ctx)
    if permissions is not None:
        category.permissions = forum.resolve_permissions(permissions)
    moderating = _moderating_ids(ctx)
    if moderating is not None:
        category.moderating_group_ids = forum.resolve_group_ids(moderating)
    forum.emit("category_updated", {"category": payloads.webhook_category(forum, category)})
    # chat plugin.rb, on(:category_updated): its channel's members follow the permissions
    channel = forum.category_channel(category.id)
    if channel is not None:
        if channel.auto_join_users:
            forum.chat_auto_join(category_id=category.id)
        forum.chat_auto_leave(category_id=category.id)
    return {"success": "OK", "category": payloads.category(forum, category, actor)}


def destroy(ctx: Ctx, category_id: int) -> Any:
    """Imitates: app/controllers/categories_controller.rb#destroy (success_json)"""
    actor = ctx.require_login()
    forum = ctx.forum
    category = _category(ctx, category_id)
    has_topics = any(
        t.category_id == category.id and t.deleted_at is None and t.id != category.topic_id
        for t in forum.topics.values()
    )
    has_children = any(c.parent_category_id == category.id for c in forum.categories.values())
    if not actor.admin or category.id == UNCATEGORIZED_ID or has_topics or has_children:
        raise invalid_access()
    body = {"category": payloads.webhook_category(forum, category)}
    if category.topic_id in forum.topics:
        forum.topics[category.topic_id].deleted_at = forum.now()
    del forum.categories[category.id]
    forum.emit("category_destroyed", body)
    return {"success": "OK"}


def slug_path(forum: Forum, category: Category) -> str:
    """``Category#full_slug("/")`` without the id: parents' slugs first; a category
    without a slug is ``{id}-category`` (``slug_for_url``)."""
    parts: list[str] = []
    seen: set[int] = set()
    current: Category | None = category
    while current is not None and current.id not in seen:
        seen.add(current.id)
        parts.append(current.slug or f"{current.id}-category")
        parent = current.parent_category_id
        current = forum.categories.get(parent) if parent is not None else None
    return "/".join(reversed(parts))


def topic_list(ctx: Ctx, category_id: int, slug: str | None = None) -> Any:
    """Imitates: app/controllers/list_controller.rb#category_default (set_category),
    TopicListSerializer. A path whose slugs are not the category's full slug path (``/c/{id}``
    alone, a subcategory without its parent) is a 301 to the right one, as set_category does.
    Simplified: one sort order (pinned, then bumped)."""
    forum = ctx.forum
    category = forum.categories.get(category_id)
    if category is None or not forum.can_see_category(ctx.actor, category):
        raise not_found()  # ListController hides categories the user cannot see
    real = slug_path(forum, category)
    if unquote(slug or "") != unquote(real):
        asked = f"{slug}/{category.id}" if slug else str(category.id)
        path = unquote(ctx.request.path).replace(f"/c/{asked}", f"/c/{real}/{category.id}", 1)
        query = ctx.request.query_string.decode()
        location = forum.base_url.rstrip("/") + path + (f"?{query}" if query else "")
        return Reply(None, 301, {"Location": location})
    ids = {category.id} | {
        c.id
        for c in forum.categories.values()
        if c.parent_category_id == category.id and forum.can_see_category(ctx.actor, c)
    }
    topics = [
        t
        for t in forum.topics.values()
        if t.category_id in ids and t.deleted_at is None and t.archetype == "regular"
    ]
    topics.sort(
        key=lambda t: (t.pinned_at is None, -(t.bumped_at or t.created_at).timestamp(), -t.id)
    )
    page = max(0, as_int(ctx.params.get("page") or 0, "page"))
    chunk = topics[page * TOPICS_PER_PAGE : (page + 1) * TOPICS_PER_PAGE]
    topic_list_body: dict[str, Any] = {
        "can_create_topic": ctx.actor is not None
        and forum.category_permission(ctx.actor, category) == 1,
        "per_page": TOPICS_PER_PAGE,
        "topics": [payloads.topic_list_item(forum, t, ctx.actor) for t in chunk],
    }
    if len(topics) > (page + 1) * TOPICS_PER_PAGE:
        topic_list_body["more_topics_url"] = f"/c/{real}/{category.id}/l/latest?page={page + 1}"
    return {
        "users": payloads.topic_list_users(forum, chunk),
        "primary_groups": [],
        "topic_list": topic_list_body,
    }


ROUTES = [
    ("/categories.json", ["GET"], index),
    ("/categories.json", ["POST"], create),
    ("/categories/find.json", ["GET"], find),
    ("/categories/<int:category_id>.json", ["PUT"], update),
    ("/categories/<int:category_id>.json", ["DELETE"], destroy),
    ("/c/<int:category_id>/show.json", ["GET"], show),
    ("/c/<int:category_id>.json", ["GET"], topic_list),
    ("/c/<int:category_id>/l/latest.json", ["GET"], topic_list),
    ("/c/<slug>/<int:category_id>.json", ["GET"], topic_list),
    ("/c/<slug>/<int:category_id>/l/latest.json", ["GET"], topic_list),
    ("/c/<path:slug>/<int:category_id>.json", ["GET"], topic_list),
    ("/c/<path:slug>/<int:category_id>/l/latest.json", ["GET"], topic_list),
]
