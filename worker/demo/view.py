"""What the demo sees of its sandbox forum: read straight from the forum's memory.

Members find their way around (which category, which weekly thread, whose
article is next to mine) the way they would by looking at the site; the
summary reads what Diamond did. Reading the sandbox's state directly costs no
API call, so it never shows up in Diamond's call counts. Every read takes the
forum's lock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from worker.config_sync.ownership import read_mark

if TYPE_CHECKING:
    from worker.sandbox.state import Forum

SQUAD_BIO_MARKER = "[diamond-squad "  # worker.engine.squads.BIO_MARKER, in a squad's bio


@dataclass(frozen=True)
class PostView:
    id: int
    topic_id: int
    post_number: int
    username: str
    raw: str
    created_at: datetime
    reply_to_post_number: int | None


class ForumView:
    def __init__(self, forum: Forum) -> None:
        self.forum = forum

    # ------------------------------------------------------------------ people

    def user(self, username: str) -> Any | None:
        with self.forum.lock:
            return self.forum.find_user(username)

    def exists(self, username: str) -> bool:
        return self.user(username) is not None

    def group_members(self, name: str) -> set[str]:
        with self.forum.lock:
            group = self.forum.find_group(name)
            if group is None:
                return set()
            return {
                self.forum.users[uid].username for uid in group.members if uid in self.forum.users
            }

    def groups_of(self, username: str) -> set[str]:
        with self.forum.lock:
            user = self.forum.find_user(username)
            if user is None:
                return set()
            return {g.name for g in self.forum.groups.values() if user.id in g.members}

    def silenced(self, username: str, now: datetime) -> bool:
        user = self.user(username)
        return bool(user and user.silenced_till and user.silenced_till > now)

    def pending_usernames(self) -> set[str]:
        with self.forum.lock:
            return {u.username for u in self.forum.users.values() if u.id > 0 and not u.approved}

    def user_field_ids(self) -> dict[str, int]:
        """Diamond's user fields by their key (the ``[diamond:<key>]`` marker)."""
        with self.forum.lock:
            out = {}
            for field in self.forum.user_fields.values():
                _text, key = read_mark(field.description)
                if key:
                    out[key] = field.id
            return out

    # ------------------------------------------------------------------ places

    def category_id(self, slug: str) -> int | None:
        with self.forum.lock:
            for category in self.forum.categories.values():
                if category.slug == slug:
                    return category.id
        return None

    def squads(self) -> dict[str, set[str]]:
        """Squad group name -> members, for the groups Diamond formed as squads."""
        with self.forum.lock:
            names = [
                g.name
                for g in self.forum.groups.values()
                if g.bio_raw and SQUAD_BIO_MARKER in g.bio_raw
            ]
        return {name: self.group_members(name) for name in sorted(names)}

    def squad_full_names(self) -> dict[str, str]:
        with self.forum.lock:
            return {
                g.name: g.full_name or g.name
                for g in self.forum.groups.values()
                if g.bio_raw and SQUAD_BIO_MARKER in g.bio_raw
            }

    def squad_owners(self, name: str) -> set[str]:
        with self.forum.lock:
            group = self.forum.find_group(name)
            if group is None:
                return set()
            return {self.forum.users[u].username for u in group.owners if u in self.forum.users}

    def topics_in(self, category_id: int, since: datetime | None = None) -> list[Any]:
        with self.forum.lock:
            return sorted(
                (
                    t
                    for t in self.forum.topics.values()
                    if t.category_id == category_id
                    and not t.deleted_at
                    and (since is None or t.created_at >= since)
                ),
                key=lambda t: t.id,
            )

    def posts_of(self, topic_id: int) -> list[PostView]:
        with self.forum.lock:
            topic = self.forum.topics.get(topic_id)
            if topic is None:
                return []
            out = []
            for post_id in topic.post_ids:
                post = self.forum.posts.get(post_id)
                if post is None or post.deleted_at:
                    continue
                user = self.forum.users.get(post.user_id)
                out.append(
                    PostView(
                        post.id,
                        post.topic_id,
                        post.post_number,
                        user.username if user else "?",
                        post.raw,
                        post.created_at,
                        post.reply_to_post_number,
                    )
                )
            return out

    def first_post_id(self, topic_id: int) -> int | None:
        posts = self.posts_of(topic_id)
        return posts[0].id if posts else None

    # ------------------------------------------------------------------ what Diamond wrote

    def private_messages_to(self, username: str) -> list[tuple[str, str]]:
        """(title, first post raw) of the PMs a user received."""
        with self.forum.lock:
            user = self.forum.find_user(username)
            if user is None:
                return []
            out = []
            for topic in self.forum.topics.values():
                if topic.archetype == "private_message" and user.id in topic.allowed_user_ids:
                    first = self.forum.posts.get(topic.post_ids[0]) if topic.post_ids else None
                    out.append((topic.title, first.raw if first else ""))
            return out

    def topics_by(self, username: str, category_id: int | None) -> list[Any]:
        with self.forum.lock:
            user = self.forum.find_user(username)
            if user is None or category_id is None:
                return []
            return [
                t
                for t in self.forum.topics.values()
                if t.category_id == category_id and t.user_id == user.id and not t.deleted_at
            ]

    def badges(self) -> dict[str, list[str]]:
        """Badge name -> usernames holding it (only badges someone holds)."""
        with self.forum.lock:
            out: dict[str, list[str]] = {}
            for grant in self.forum.user_badges.values():
                badge = self.forum.badges.get(grant.badge_id)
                user = self.forum.users.get(grant.user_id)
                if badge and user:
                    out.setdefault(badge.name, []).append(user.username)
            return {k: sorted(v) for k, v in sorted(out.items())}

    def usernames(self, names: Iterable[str]) -> list[str]:
        return [n for n in names if self.exists(n)]
