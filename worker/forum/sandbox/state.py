"""The sandbox forum's in-memory state: every record, one lock, Discourse's rules.

Views and the Python API both go through ``Forum``. Hold ``forum.lock`` while
reading several records that must agree; the mutating methods take it themselves
(it is re-entrant).
"""

from __future__ import annotations

import itertools
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from worker.forum.sandbox import cooking
from worker.forum.sandbox.errors import ApiError, invalid_access, not_found, unprocessable
from worker.forum.sandbox.models import (
    AUTO_GROUPS,
    CREATE_POST,
    FULL,
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
from worker.forum.sandbox.site_settings import SPECS
from worker.forum.sandbox.timeutil import system_now

SYSTEM_USER_ID = -1
UNCATEGORIZED_ID = 1
EventSink = Callable[[str, dict[str, Any], "Forum", dict[str, Any]], None]

_GROUP_NAME_CHARS = re.compile(r"^[A-Za-z0-9_.-]+$")


class Forum:
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
        self.event_sink: EventSink | None = None
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
        if user is None:
            return {AUTO_GROUPS["everyone"]}
        ids = {AUTO_GROUPS["everyone"]}
        for group in self.groups.values():
            if group.automatic and group.name == "everyone":
                continue
            if user.id in self.group_member_ids(group):
                ids.add(group.id)
        if user.id == SYSTEM_USER_ID:
            ids |= {AUTO_GROUPS["admins"], AUTO_GROUPS["staff"], AUTO_GROUPS["moderators"]}
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

    # ── users ──────────────────────────────────────────────────────────────
    def validate_username(self, username: str) -> list[str]:
        return _name_errors(
            "Username",
            username,
            self.settings["min_username_length"],
            self.settings["max_username_length"],
        )

    def create_user(
        self,
        *,
        username: str,
        email: str,
        name: str | None = None,
        password: str | None = None,
        active: bool = True,
        approved: bool | None = None,
        admin: bool = False,
        moderator: bool = False,
        trust_level: int | None = None,
        user_fields: dict[str, Any] | None = None,
        invited_by: User | None = None,
        approved_by: User | None = None,
        created_at: datetime | None = None,
        emit: bool = True,
    ) -> User:
        """Create an account; raises ``UserInvalid`` with Discourse's per-field errors."""
        del password  # never stored: the sandbox has no logins, only API keys
        with self.lock:
            errors: dict[str, list[str]] = {}
            name_errors = self.validate_username(username)
            if name_errors:
                errors["username"] = [e.removeprefix("Username ") for e in name_errors]
            elif self.find_user(username):
                errors["username"] = ["must be unique"]
            if not email or "@" not in email:
                errors["primary_email"] = ["is invalid"]
            elif any(u.email.lower() == email.lower() for u in self.users.values()):
                errors["primary_email"] = ["has already been taken"]
            elif email.lower() in self.screened_emails:
                errors["primary_email"] = ["was blocked"]
            if errors:
                raise UserInvalid(errors)
            now = created_at or self.now()
            must_approve = self.settings["must_approve_users"]
            is_approved = bool(approved) if approved is not None else not must_approve
            if admin or moderator:
                is_approved = True
            user = User(
                id=self.next_id("user"),
                username=username,
                name=name or None,
                email=email,
                created_at=now,
                active=active,
                approved=is_approved,
                approved_by_id=(approved_by.id if approved_by else None) if is_approved else None,
                approved_at=now if is_approved and approved_by else None,
                admin=admin,
                moderator=moderator,
                trust_level=trust_level if trust_level is not None else 1 if active else 0,
                invited_by_id=invited_by.id if invited_by else None,
                last_seen_at=now if active else None,
            )
            for field_id, value in (user_fields or {}).items():
                if int(field_id) in self.user_fields:
                    user.user_fields[str(int(field_id))] = value
            self.users[user.id] = user
            if must_approve and not is_approved:
                reviewable = Reviewable(
                    id=self.next_id("reviewable"),
                    type="ReviewableUser",
                    target_id=user.id,
                    created_at=now,
                    payload={"username": user.username, "name": user.name, "email": user.email},
                )
                self.reviewables[reviewable.id] = reviewable
            if emit:
                from worker.forum.sandbox import payloads

                self.emit("user_created", {"user": payloads.webhook_user(self, user, created=True)})
            return user

    def pending_reviewable(self, user: User) -> Reviewable | None:
        for reviewable in self.reviewables.values():
            if (
                reviewable.type == "ReviewableUser"
                and reviewable.target_id == user.id
                and reviewable.status == 0
            ):
                return reviewable
        return None

    def approve_user(self, user: User, by: User) -> None:
        with self.lock:
            if user.approved:
                return
            user.approved = True
            user.approved_by_id = by.id
            user.approved_at = self.now()
            reviewable = self.pending_reviewable(user)
            if reviewable:
                reviewable.status = 1
                reviewable.version += 1
            from worker.forum.sandbox import payloads

            self.emit("user_approved", {"user": payloads.webhook_user(self, user)})

    def destroy_user(self, user: User, *, delete_posts: bool = False) -> None:
        with self.lock:
            own_posts = [
                p for p in self.posts.values() if p.user_id == user.id and not p.deleted_at
            ]
            if own_posts and not delete_posts:
                raise ApiError(
                    403,
                    body={
                        "deleted": False,
                        "message": (f"User has {len(own_posts)} posts. Delete all posts first."),
                    },
                )
            from worker.forum.sandbox import payloads

            body = {"user": payloads.webhook_user(self, user)}
            for post in own_posts:
                self.delete_post(post, by=self.users[SYSTEM_USER_ID], emit=False)
            for group in self.groups.values():
                group.members.pop(user.id, None)
                group.owners.discard(user.id)
            for ub_id in [k for k, ub in self.user_badges.items() if ub.user_id == user.id]:
                del self.user_badges[ub_id]
            for key in [k for k, uid in self.user_api_keys.items() if uid == user.id]:
                del self.user_api_keys[key]
            reviewable = self.pending_reviewable(user)
            if reviewable:
                reviewable.status = 4
                reviewable.version += 1
            del self.users[user.id]
            self.emit("user_destroyed", body)

    def create_api_key(self, username: str) -> str:
        """A per-user API key: requests with it act as that user (tests, demo members)."""
        with self.lock:
            user = self.user_or_404(username)
            key = secrets.token_hex(32)
            self.user_api_keys[key] = user.id
            return key

    # ── groups ─────────────────────────────────────────────────────────────
    def create_group(self, **attrs: Any) -> Group:
        with self.lock:
            name = str(attrs.pop("name", "") or "")
            errors = _name_errors("Name", name, 3, self.settings["max_username_length"])
            if not errors and self.find_group(name) is not None:
                errors.append("Name has already been taken")
            if not errors and self.find_user(name) is not None:
                errors.append("Name has already been taken")
            if errors:
                raise unprocessable(*errors)
            group = Group(id=self.next_id("group"), name=name, created_at=self.now())
            apply_group_attrs(group, attrs)
            self.groups[group.id] = group
            return group

    def add_members(self, group: Group, users: list[User], *, owners: bool = False) -> None:
        with self.lock:
            now = self.now()
            for user in users:
                group.members.setdefault(user.id, now)
                if owners:
                    group.owners.add(user.id)

    # ── categories ─────────────────────────────────────────────────────────
    def create_category(
        self,
        *,
        name: str,
        slug: str | None = None,
        color: str | None = None,
        text_color: str | None = None,
        parent_category_id: int | None = None,
        permissions: dict[str, int] | None = None,
        moderating_group_ids: list[int] | None = None,
        description: str | None = None,
        creator: User | None = None,
    ) -> Category:
        with self.lock:
            name = (name or "").strip()
            if not name:
                raise unprocessable("Name can't be blank")
            if len(name) > 50:
                raise unprocessable("Name is too long (maximum is 50 characters)")
            siblings = [
                c for c in self.categories.values() if c.parent_category_id == parent_category_id
            ]
            if any(c.name.lower() == name.lower() for c in siblings):
                raise unprocessable("Category Name has already been taken")
            if parent_category_id is not None:
                parent = self.categories.get(parent_category_id)
                if parent is None:
                    raise unprocessable("Parent category does not exist")
                if parent.parent_category_id is not None:
                    raise unprocessable("You can't have more than 2 levels of subcategories")
            category_id = self.next_id("category")
            wanted_slug = cooking.slugify(slug or name) or f"{category_id}-category"
            if any(
                c.slug == wanted_slug and c.parent_category_id == parent_category_id
                for c in self.categories.values()
            ):
                raise unprocessable("Slug is already in use")
            category = Category(
                id=category_id,
                name=name,
                slug=wanted_slug,
                created_at=self.now(),
                color=(color or "0088CC").lstrip("#"),
                text_color=(text_color or "FFFFFF").lstrip("#"),
                parent_category_id=parent_category_id,
                position=len(self.categories),
                description=description or None,
            )
            category.permissions = self.resolve_permissions(permissions)
            category.moderating_group_ids = self.resolve_group_ids(moderating_group_ids)
            self.categories[category.id] = category
            author = creator or self.users[SYSTEM_USER_ID]
            about = self._new_topic(
                title=f"About the {name} category",
                raw=description
                or f"(Replace this first paragraph with a brief description of {name}.)",
                user=author,
                category_id=category.id,
                created_at=category.created_at,
                tags=[],
            )
            category.topic_id = about.id
            from worker.forum.sandbox import payloads

            self.emit("category_created", {"category": payloads.webhook_category(self, category)})
            return category

    def resolve_permissions(self, permissions: dict[str, Any] | None) -> dict[int, int]:
        resolved: dict[int, int] = {}
        for group_key, perm in (permissions or {}).items():
            group = self.find_group(group_key)
            if group is None:
                raise unprocessable(f"Group {group_key} does not exist")
            perm_type = int(perm)
            if perm_type not in (1, 2, 3):
                raise unprocessable("Permission type is not included in the list")
            resolved[group.id] = perm_type
        if resolved == {AUTO_GROUPS["everyone"]: FULL}:
            return {}
        return resolved

    def resolve_group_ids(self, ids: list[Any] | None) -> list[int]:
        resolved = []
        for value in ids or []:
            group = self.groups.get(int(value))
            if group is None:
                raise unprocessable("Moderating groups is invalid")
            resolved.append(group.id)
        return resolved

    # ── topics and posts ──────────────────────────────────────────────────
    def tag_id(self, name: str) -> int:
        if name not in self.tags:
            self.tags[name] = self.next_id("tag")
        return self.tags[name]

    def _new_topic(
        self,
        *,
        title: str,
        raw: str,
        user: User,
        category_id: int | None,
        created_at: datetime,
        tags: list[str],
        archetype: str = "regular",
        allowed_user_ids: list[int] | None = None,
        allowed_group_ids: list[int] | None = None,
    ) -> Topic:
        topic_id = self.next_id("topic")
        topic = Topic(
            id=topic_id,
            title=title,
            slug=cooking.slugify(title) or "topic",
            user_id=user.id,
            created_at=created_at,
            category_id=category_id,
            archetype=archetype,
            tags=tags,
            bumped_at=created_at,
            allowed_user_ids=allowed_user_ids or [],
            allowed_group_ids=allowed_group_ids or [],
        )
        for tag in tags:
            self.tag_id(tag)
        self.topics[topic.id] = topic
        self._new_post(topic, user, raw, created_at=created_at, reply_to_post_number=None)
        return topic

    def _new_post(
        self,
        topic: Topic,
        user: User,
        raw: str,
        *,
        created_at: datetime,
        reply_to_post_number: int | None,
    ) -> Post:
        topic.highest_post_number += 1
        post = Post(
            id=self.next_id("post"),
            topic_id=topic.id,
            post_number=topic.highest_post_number,
            user_id=user.id,
            raw=raw,
            cooked=cooking.cook(raw),
            created_at=created_at,
            updated_at=created_at,
            reply_to_post_number=reply_to_post_number,
            quote_count=len(cooking.quotes(raw)),
        )
        self.posts[post.id] = post
        topic.post_ids.append(post.id)
        topic.last_posted_at = max(topic.last_posted_at or created_at, created_at)
        topic.bumped_at = max(topic.bumped_at or created_at, created_at)
        topic.last_post_user_id = user.id
        user.last_posted_at = max(user.last_posted_at or created_at, created_at)
        return post

    def create_post(
        self,
        user: User,
        *,
        raw: str,
        title: str | None = None,
        topic_id: int | None = None,
        category_id: int | None = None,
        tags: list[str] | None = None,
        reply_to_post_number: int | None = None,
        archetype: str = "regular",
        target_usernames: list[str] | None = None,
        created_at: datetime | None = None,
    ) -> Post:
        """Create a topic (title given), a reply (topic_id) or a PM; emits webhooks."""
        from worker.forum.sandbox import payloads

        with self.lock:
            now = self.now()
            when = created_at or now
            if user.silenced(now):
                raise ApiError(
                    422,
                    body={
                        "action": "create_post",
                        "errors": ["You have been silenced and cannot create new posts."],
                    },
                )
            raw = raw or ""
            is_pm = archetype == "private_message"
            if topic_id is None:
                errors = []
                min_title = self.settings[
                    "min_personal_message_title_length" if is_pm else "min_topic_title_length"
                ]
                if not (title or "").strip():
                    errors.append("Title can't be blank")
                elif len(title.strip()) < min_title:
                    errors.append(f"Title must be at least {min_title} characters")
                min_body = self.settings[
                    "min_personal_message_post_length" if is_pm else "min_first_post_length"
                ]
                errors += _body_errors(raw, min_body)
                recipients: list[User] = []
                groups: list[Group] = []
                if is_pm:
                    for name in target_usernames or []:
                        target = self.find_user(name)
                        group = None if target else self.find_group(name)
                        if target:
                            recipients.append(target)
                        elif group and not group.automatic:
                            groups.append(group)
                        else:
                            errors.append(f"Sorry, we couldn't find '{name}'.")
                    if not recipients and not groups and not errors:
                        errors.append("You must choose a valid user.")
                if errors:
                    raise ApiError(422, body={"action": "create_post", "errors": errors})
                if is_pm:
                    allowed = [user.id] + [r.id for r in recipients if r.id != user.id]
                    topic = self._new_topic(
                        title=title.strip(),
                        raw=raw,
                        user=user,
                        category_id=None,
                        created_at=when,
                        tags=[],
                        archetype="private_message",
                        allowed_user_ids=allowed,
                        allowed_group_ids=[g.id for g in groups],
                    )
                else:
                    category = self.categories.get(category_id or UNCATEGORIZED_ID)
                    if category is None:
                        raise ApiError(
                            422, body={"action": "create_post", "errors": ["Category is invalid"]}
                        )
                    if self.category_permission(user, category) != FULL:
                        raise invalid_access()
                    if tags and not self.settings["tagging_enabled"]:
                        tags = []
                    topic = self._new_topic(
                        title=title.strip(),
                        raw=raw,
                        user=user,
                        category_id=category.id,
                        created_at=when,
                        tags=[t.strip().lower() for t in (tags or []) if t.strip()],
                    )
                post = self.posts[topic.post_ids[0]]
                self.emit(
                    "topic_created", {"topic": payloads.webhook_topic(self, topic)}, topic=topic
                )
                self.emit("post_created", {"post": payloads.webhook_post(self, post)}, topic=topic)
                return post
            topic = self.topics.get(topic_id)
            if topic is None or topic.deleted_at is not None:
                raise not_found()
            if not self.can_see_topic(user, topic):
                raise invalid_access()
            if topic.archetype != "private_message":
                category = self.categories[topic.category_id or UNCATEGORIZED_ID]
                perm = self.category_permission(user, category)
                if perm not in (FULL, CREATE_POST):
                    raise invalid_access()
            if topic.closed and not user.staff:
                raise ApiError(
                    422,
                    body={"action": "create_post", "errors": ["This topic is closed"]},
                )
            min_body = self.settings[
                "min_personal_message_post_length"
                if topic.archetype != "regular"
                else "min_post_length"
            ]
            errors = _body_errors(raw, min_body)
            if reply_to_post_number is not None and not any(
                self.posts[p].post_number == reply_to_post_number for p in topic.post_ids
            ):
                reply_to_post_number = None  # Discourse silently drops a bad reply target
            if errors:
                raise ApiError(422, body={"action": "create_post", "errors": errors})
            post = self._new_post(
                topic, user, raw, created_at=when, reply_to_post_number=reply_to_post_number
            )
            self.emit("post_created", {"post": payloads.webhook_post(self, post)}, topic=topic)
            return post

    def edit_post(self, post: Post, raw: str, *, by: User, edit_reason: str | None = None) -> Post:
        from worker.forum.sandbox import payloads

        with self.lock:
            topic = self.topics[post.topic_id]
            min_body = self.settings[
                "min_first_post_length" if post.post_number == 1 else "min_post_length"
            ]
            errors = _body_errors(raw, min_body)
            if errors:
                raise unprocessable(*errors)
            if raw != post.raw:
                post.raw = raw
                post.cooked = cooking.cook(raw)
                post.version += 1
                post.updated_at = self.now()
                post.edit_reason = edit_reason
                post.quote_count = len(cooking.quotes(raw))
                del by
                self.emit("post_edited", {"post": payloads.webhook_post(self, post)}, topic=topic)
            return post

    def delete_post(self, post: Post, *, by: User, emit: bool = True) -> None:
        from worker.forum.sandbox import payloads

        with self.lock:
            if post.deleted_at is not None:
                return
            topic = self.topics[post.topic_id]
            now = self.now()
            post.deleted_at = now
            if post.post_number == 1:
                topic.deleted_at = now
                topic.deleted_by_id = by.id
            if emit:
                self.emit(
                    "post_destroyed", {"post": payloads.webhook_post(self, post)}, topic=topic
                )
                if post.post_number == 1:
                    self.emit(
                        "topic_destroyed",
                        {"topic": payloads.webhook_topic(self, topic)},
                        topic=topic,
                    )

    def visible_posts(self, topic: Topic, viewer: User | None) -> list[Post]:
        posts = [self.posts[pid] for pid in topic.post_ids]
        if viewer is not None and viewer.staff:
            return posts
        return [p for p in posts if p.deleted_at is None]

    # ── badges ─────────────────────────────────────────────────────────────
    def grant_badge(
        self, badge: Badge, user: User, *, by: User, reason: str | None = None
    ) -> UserBadge:
        from worker.forum.sandbox import payloads

        with self.lock:
            if not badge.multiple_grant:
                for existing in self.user_badges.values():
                    if existing.badge_id == badge.id and existing.user_id == user.id:
                        return existing
            post_id = self.post_id_from_url(reason) if reason else None
            user_badge = UserBadge(
                id=self.next_id("user_badge"),
                badge_id=badge.id,
                user_id=user.id,
                granted_at=self.now(),
                granted_by_id=by.id,
                post_id=post_id,
                reason=reason,
            )
            self.user_badges[user_badge.id] = user_badge
            self.emit(
                "user_badge_granted",
                {"user_badge": payloads.webhook_user_badge(self, user_badge)},
            )
            return user_badge

    def post_id_from_url(self, url: str) -> int | None:
        """``/t/slug/12/3`` or ``.../t/12/3`` → id of post 3 of topic 12 (None: not a post)."""
        match = re.search(r"/t/(?:[^/]+/)?(\d+)(?:/(\d+))?/?$", url.split("?")[0])
        if not match:
            return None
        topic = self.topics.get(int(match.group(1)))
        if topic is None:
            return None
        number = int(match.group(2) or 1)
        for pid in topic.post_ids:
            if self.posts[pid].post_number == number:
                return pid
        return None

    # ── invites ────────────────────────────────────────────────────────────
    def create_invite(
        self, by: User, *, email: str | None = None, max_redemptions_allowed: int = 1
    ) -> Invite:
        with self.lock:
            invite = Invite(
                id=self.next_id("invite"),
                invite_key=secrets.token_hex(16),
                invited_by_id=by.id,
                created_at=self.now(),
                email=email,
                max_redemptions_allowed=max_redemptions_allowed,
            )
            self.invites[invite.invite_key] = invite
            return invite

    # ── webhooks ───────────────────────────────────────────────────────────
    def add_webhook(
        self,
        payload_url: str,
        *,
        secret: str = "",
        events: list[str] | None = None,
        wildcard: bool = False,
        active: bool = True,
        category_ids: list[int] | None = None,
    ) -> WebHook:
        """Register a hook from Python (tests, demo); the admin API does the same."""
        from worker.forum.sandbox.event_types import EVENT_ID

        with self.lock:
            hook = WebHook(
                id=self.next_id("web_hook"),
                payload_url=payload_url,
                secret=secret,
                wildcard_web_hook=wildcard or not events,
                active=active,
                event_type_ids=[EVENT_ID[name] for name in events or []],
                category_ids=list(category_ids or []),
            )
            self.webhooks[hook.id] = hook
            return hook


class UserInvalid(Exception):
    """``POST /users.json`` failures: per-field messages like ActiveRecord's."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(str(errors))
        self.errors = errors

    def full_messages(self) -> list[str]:
        labels = {"primary_email": "Primary email", "username": "Username"}
        return [
            f"{labels.get(field, field.capitalize())} {message}"
            for field, messages in self.errors.items()
            for message in messages
        ]


def _name_errors(label: str, name: str, min_len: int, max_len: int) -> list[str]:
    """Discourse's UsernameValidator (ASCII names, as with unicode_usernames off)."""
    if not name:
        return [f"{label} must be present"]
    errors = []
    if len(name) < min_len:
        errors.append(f"{label} must be at least {min_len} characters")
    if len(name) > max_len:
        errors.append(f"{label} must be no more than {max_len} characters")
    if not _GROUP_NAME_CHARS.match(name):
        errors.append(f"{label} must only include numbers, letters, dashes, dots, and underscores")
    elif not re.match(r"^[A-Za-z0-9_]", name):
        errors.append(f"{label} must begin with a letter, a number or an underscore")
    elif not re.search(r"[A-Za-z0-9]$", name):
        errors.append(f"{label} must end with a letter or a number")
    elif re.search(r"[-_.]{2,}", name):
        errors.append(f"{label} must not contain a sequence of 2 or more special chars (.-_)")
    return errors


def _body_errors(raw: str, minimum: int) -> list[str]:
    text = raw.strip()
    if not text:
        return ["Body can't be blank"]
    if len(text) < minimum:
        return [f"Body is too short (minimum is {minimum} characters)"]
    return []


_GROUP_INT_ATTRS = (
    "visibility_level",
    "members_visibility_level",
    "mentionable_level",
    "messageable_level",
    "default_notification_level",
    "grant_trust_level",
)
_GROUP_BOOL_ATTRS = (
    "public_admission",
    "public_exit",
    "allow_membership_requests",
    "primary_group",
)
_GROUP_STR_ATTRS = (
    "full_name",
    "bio_raw",
    "title",
    "flair_icon",
    "flair_bg_color",
    "flair_color",
    "membership_request_template",
    "automatic_membership_email_domains",
)


def apply_group_attrs(group: Group, attrs: dict[str, Any]) -> None:
    from worker.forum.sandbox.params import as_bool

    for key in _GROUP_INT_ATTRS:
        if key in attrs and attrs[key] not in (None, ""):
            try:
                value = int(attrs[key])
            except (TypeError, ValueError) as exc:
                raise unprocessable(f"{key.replace('_', ' ').capitalize()} is invalid") from exc
            if key.endswith("visibility_level") and not 0 <= value <= 4:
                raise unprocessable(
                    f"{key.replace('_', ' ').capitalize()} is not included in the list"
                )
            setattr(group, key, value)
    for key in _GROUP_BOOL_ATTRS:
        if key in attrs:
            setattr(group, key, as_bool(attrs[key]))
    for key in _GROUP_STR_ATTRS:
        if key in attrs:
            value = attrs[key]
            setattr(group, key, None if value in (None, "") else str(value))
