"""The sandbox forum's in-memory state: every record, one lock, Discourse's rules.

Views and the Python API both go through ``Forum``. Hold ``forum.lock`` while
reading several records that must agree; the mutating methods take it themselves
(it is re-entrant).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from worker.sandbox.errors import invalid_access, not_found
from worker.sandbox.models import (
    AUTO_GROUPS,
    FULL,
    SYSTEM_USER_ID,
    UNCATEGORIZED_ID,
    Badge,
    Category,
    Group,
    Invite,
    Post,
    Reviewable,
    Topic,
    User,
    UserBadge,
    UserField,
    WebHook,
)
from worker.sandbox.site_settings import SPECS
from worker.sandbox.state_chat import ChatOps
from worker.sandbox.state_content import ContentOps
from worker.sandbox.state_people import (
    PeopleOps,
    UserInvalid,
    apply_group_attrs,
    name_errors,
)
from worker.sandbox.timeutil import system_now

EventSink = Callable[[str, dict[str, Any], "Forum", dict[str, Any]], None]


class Forum(PeopleOps, ContentOps, ChatOps):
    """Everything the sandbox knows. Thread-safe through ``lock``."""

    def __init__(
        self,
        *,
        api_key: str = "sandbox-key",
        base_url: str = "http://127.0.0.1",
        clock: Callable[[], datetime] = system_now,
    ) -> None:
        self.lock = threading.RLock()
        self.api_key = api_key
        self.base_url = base_url
        self.clock = clock
        self._ids: dict[str, Iterator[int]] = {}
        self.users: dict[int, User] = {}
        self.groups: dict[int, Group] = {}
        self.categories: dict[int, Category] = {}
        self.topics: dict[int, Topic] = {}
        self.posts: dict[int, Post] = {}
        self.badges: dict[int, Badge] = {}
        self.user_badges: dict[int, UserBadge] = {}
        self.user_fields: dict[int, UserField] = {}
        self.reviewables: dict[int, Reviewable] = {}
        self.webhooks: dict[int, WebHook] = {}
        self.invites: dict[str, Invite] = {}
        self.tags: dict[str, int] = {}
        self.settings: dict[str, Any] = {spec.name: spec.default for spec in SPECS}
        # extra API keys: key -> user id (acts as that user) or None (all users, like the master)
        self.user_api_keys: dict[str, int | None] = {}
        self.screened_emails: set[str] = set()  # blocked by "delete and block"
        # Emails Discourse would send that tests inspect (sandbox: recorded, never sent):
        # {"type": "signup_after_reject", "to": email, "username": ..., "reject_reason": ...}
        self.sent_emails: list[dict[str, Any]] = []
        # One entry per ``show_emails=true`` listing (StaffActionLogger#log_show_emails).
        self.show_emails_log: list[tuple[str, int]] = []
        self.event_sink: EventSink | None = None
        self._init_chat()
        self.on_setting_change: Callable[[str, Any], None] | None = None
        self._seed()

    # ── ids and time ────────────────────────────────────────────────────────
    def next_id(self, kind: str, start: int = 1) -> int:
        counter = self._ids.setdefault(kind, itertools.count(start))
        return next(counter)

    def now(self) -> datetime:
        return self.clock()

    @contextmanager
    def locked(self) -> Iterator[Forum]:
        with self.lock:
            yield self

    # ── seed ───────────────────────────────────────────────────────────────
    def _seed(self) -> None:
        now = self.now()
        self.users[SYSTEM_USER_ID] = User(
            id=SYSTEM_USER_ID,
            username="system",
            name="system",
            email="no_email",
            created_at=now,
            admin=True,
            moderator=True,
            trust_level=4,
            last_seen_at=now,
        )
        for name, group_id in AUTO_GROUPS.items():
            self.groups[group_id] = Group(
                id=group_id,
                name=name,
                created_at=now,
                automatic=True,
                visibility_level=1 if name.startswith("trust_level") else 0,
                members_visibility_level=0,
                mentionable_level=0,
                messageable_level=0,
            )
        self._ids["group"] = itertools.count(41)  # Discourse's custom groups start above 40
        self.categories[UNCATEGORIZED_ID] = Category(
            id=UNCATEGORIZED_ID,
            name="Uncategorized",
            slug="uncategorized",
            created_at=now,
            color="0088CC",
            description=None,
        )
        self._ids["category"] = itertools.count(2)

    def seed_admin(self, username: str = "admin", name: str = "Admin") -> User:
        """An approved admin (id 1), like the first account of a new forum."""
        with self.lock:
            existing = self.find_user(username)
            if existing:
                return existing
            return self.create_user(
                username=username,
                name=name,
                email=f"{username}@sandbox.invalid",
                approved=True,
                active=True,
                admin=True,
                trust_level=4,
                emit=False,
            )

    # ── lookups ────────────────────────────────────────────────────────────
    def find_user(self, username: str | None) -> User | None:
        if not username:
            return None
        wanted = username.lower()
        with self.lock:
            for user in self.users.values():
                if user.username.lower() == wanted:
                    return user
        return None

    def user_or_404(self, username: str) -> User:
        user = self.find_user(username)
        if user is None:
            raise not_found()
        return user

    def find_group(self, key: str | int) -> Group | None:
        with self.lock:
            if isinstance(key, int) or str(key).isdigit():
                group = self.groups.get(int(key))
                if group:
                    return group
            wanted = str(key).lower()
            for group in self.groups.values():
                if group.name.lower() == wanted:
                    return group
        return None

    def group_member_ids(self, group: Group) -> set[int]:
        """Members, computed for automatic groups as Discourse keeps them."""
        humans = [u for u in self.users.values() if u.id > 0 and not u.staged]
        name = group.name
        if not group.automatic:
            return set(group.members)
        if name == "everyone":
            return {u.id for u in humans}
        if name == "admins":
            return {u.id for u in humans if u.admin}
        if name == "moderators":
            return {u.id for u in humans if u.moderator}
        if name == "staff":
            return {u.id for u in humans if u.staff}
        level = int(name.rsplit("_", 1)[1])
        return {u.id for u in humans if u.trust_level >= level}

    def user_group_ids(self, user: User | None) -> set[int]:
        """Ids of every group the user is in, automatic ones included (O(groups))."""
        ids = {AUTO_GROUPS["everyone"]}
        if user is None:
            return ids
        system = user.id == SYSTEM_USER_ID
        for group in self.groups.values():
            if not group.automatic:
                if user.id in group.members:
                    ids.add(group.id)
            elif _in_automatic_group(group.name, user, system=system):
                ids.add(group.id)
        return ids

    def user_groups(self, user: User) -> list[Group]:
        ids = self.user_group_ids(user) - {AUTO_GROUPS["everyone"]}
        return sorted((self.groups[i] for i in ids if i in self.groups), key=lambda g: g.id)

    # ── categories and visibility ─────────────────────────────────────────
    def read_restricted(self, category: Category) -> bool:
        return bool(category.permissions) and AUTO_GROUPS["everyone"] not in category.permissions

    def category_permission(self, user: User | None, category: Category) -> int | None:
        """Best permission type the user has on the category (1 best), None if hidden."""
        if user is not None and user.admin:
            return FULL
        if not category.permissions:
            return FULL
        groups = self.user_group_ids(user)
        types = [perm for gid, perm in category.permissions.items() if gid in groups]
        if user is not None and self.is_category_moderator(user, category):
            types.append(FULL)
        return min(types) if types else None

    def is_category_moderator(self, user: User, category: Category) -> bool:
        if not self.settings["enable_category_group_moderation"]:
            return False
        groups = self.user_group_ids(user)
        return any(gid in groups for gid in category.moderating_group_ids)

    def can_see_category(self, user: User | None, category: Category) -> bool:
        return self.category_permission(user, category) is not None

    def can_see_topic(self, user: User | None, topic: Topic) -> bool:
        if topic.deleted_at is not None and not (user and user.staff):
            return False
        if topic.archetype == "private_message":
            if user is None:
                return False
            if user.admin or user.id in topic.allowed_user_ids:
                return True
            return bool(self.user_group_ids(user) & set(topic.allowed_group_ids))
        category = self.categories.get(topic.category_id or UNCATEGORIZED_ID)
        return category is not None and self.can_see_category(user, category)

    def topic_or_error(self, user: User | None, topic_id: int) -> Topic:
        topic = self.topics.get(topic_id)
        if topic is None or (topic.deleted_at is not None and not (user and user.staff)):
            raise not_found()
        if not self.can_see_topic(user, topic):
            raise invalid_access()
        return topic

    def post_or_error(self, user: User | None, post_id: int) -> Post:
        post = self.posts.get(post_id)
        if post is None or (post.deleted_at is not None and not (user and user.staff)):
            raise not_found()
        self.topic_or_error(user, post.topic_id)
        return post

    def category_slug_path(self, category: Category) -> str:
        return category.slug

    # ── events ─────────────────────────────────────────────────────────────
    def emit(self, event: str, body: dict[str, Any], **context: Any) -> None:
        """Hand a webhook event to the emitter (which filters by hook and delivers)."""
        if self.event_sink is not None:
            self.event_sink(event, body, self, context)


def _in_automatic_group(name: str, user: User, *, system: bool) -> bool:
    if user.staged and not system:
        return False
    if name == "everyone":
        return True
    if name == "admins":
        return user.admin
    if name == "moderators":
        return user.moderator
    if name == "staff":
        return user.staff
    return user.trust_level >= int(name.rsplit("_", 1)[1])


__all__ = [
    "SYSTEM_USER_ID",
    "UNCATEGORIZED_ID",
    "Forum",
    "UserInvalid",
    "apply_group_attrs",
    "name_errors",
]
