"""A squad on the sandbox forum: members, their group and private category."""

from __future__ import annotations

from typing import Any

from worker.engine.facts import Squad
from worker.forum.client import ForumClient


def admin_client(sandbox: Any) -> ForumClient:
    return ForumClient(sandbox.url, sandbox.api_key, "system", timeout=(2, 10))


def squad_on_forum(
    sandbox: Any, client: ForumClient, slug: str, members: tuple[str, ...], full_name: str
) -> Squad:
    """Users ``members`` (the first leads), group ``slug`` with them, category ``slug``.

    ``full_name`` of 15+ characters: audits may post a topic titled after it.
    """
    for name in members:
        sandbox.forum.create_user(username=name, email=f"{name}@example.org", approved=True)
    group = client.create_group(slug, full_name=full_name)
    group_id = int(group.get("basic_group", group)["id"])
    client.add_group_members(group_id, list(members))
    made = client.create_category(full_name, slug=slug, permissions={slug: 1})
    category_id = int(made.get("category", made)["id"])
    return Squad(slug, full_name, "2026-11", members, members[0], None, group_id, category_id)
