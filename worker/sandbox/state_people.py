"""Forum operations on people and structure: users, groups, categories."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Any

from worker.sandbox import cooking
from worker.sandbox.errors import ApiError, unprocessable
from worker.sandbox.models import (
    AUTO_GROUPS,
    FULL,
    SYSTEM_USER_ID,
    Category,
    Group,
    Reviewable,
    User,
)

_GROUP_NAME_CHARS = re.compile(r"^[A-Za-z0-9_.-]+$")


class PeopleOps:
    """Mixed into ``Forum``: creating and removing users, groups and categories."""

    # ── users ──────────────────────────────────────────────────────────────
    def validate_username(self, username: str) -> list[str]:
        return name_errors(
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
            domains = [
                d.strip().lower() for d in self.settings["auto_approve_email_domains"].split("|")
            ]
            if email.rsplit("@", 1)[-1].lower() in [d for d in domains if d]:
                is_approved = True
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
            if not active:
                user.email_token = secrets.token_hex(16)
            self.users[user.id] = user
            if active:
                self._create_reviewable(user)
            if emit:
                from worker.sandbox import payloads

                self.emit("user_created", {"user": payloads.webhook_user(self, user, created=True)})
            return user

    def ensure_user_reviewable(self, user: User) -> None:
        """``Admin::UsersController#approve``: ``ReviewableUser.find_by(target: user) ||
        Jobs::CreateUserReviewable``, whatever must_approve_users says."""
        with self.lock:
            if not any(
                r.type == "ReviewableUser" and r.target_id == user.id
                for r in self.reviewables.values()
            ):
                self._create_reviewable(user, force=True)

    def _create_reviewable(self, user: User, *, force: bool = False) -> None:
        """``User#create_reviewable`` / ``Jobs::CreateUserReviewable``: an active, unapproved
        account waits in the review queue when must_approve_users is on. Discourse runs it
        when the account becomes active (``EmailToken.confirm``), not at creation."""
        if (not self.settings["must_approve_users"] and not force) or user.approved:
            return
        if self.pending_reviewable(user) is not None:
            return
        reviewable = Reviewable(
            id=self.next_id("reviewable"),
            type="ReviewableUser",
            target_id=user.id,
            created_at=self.now(),
            payload={"username": user.username, "name": user.name, "email": user.email},
        )
        self.reviewables[reviewable.id] = reviewable

    def activate_user(self, user: User) -> bool:
        """``EmailToken.confirm`` (app/models/email_token.rb): the account becomes active, its
        reviewable is created, ``user_confirmed_email`` is emitted. False if already active."""
        with self.lock:
            if user.active:
                return False
            user.active = True
            user.email_token = None
            self._create_reviewable(user)
            from worker.sandbox import payloads

            self.emit("user_confirmed_email", {"user": payloads.webhook_user(self, user)})
            return True

    def user_by_email_token(self, token: str) -> User | None:
        with self.lock:
            for user in self.users.values():
                if user.email_token and secrets.compare_digest(user.email_token, token):
                    return user
            return None

    def email_token_of(self, username: str) -> str | None:
        """Sandbox-only (tests, demo): the activation token Discourse would email the user,
        i.e. what the link in the activation email carries."""
        with self.lock:
            user = self.find_user(username)
            return user.email_token if user is not None else None

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
            from worker.sandbox import payloads

            self.emit("user_approved", {"user": payloads.webhook_user(self, user)})

    def destroy_user(self, user: User, *, delete_posts: bool = False) -> None:
        with self.lock:
            own_posts = [
                p for p in self.posts.values() if p.user_id == user.id and not p.deleted_at
            ]
            if own_posts and not delete_posts:
                # I18n user.cannot_delete_has_posts; its English text is not in the
                # reference copies, so the sandbox words it itself with the same values.
                noun = "post" if len(own_posts) == 1 else "posts"
                raise ApiError(
                    403,
                    body={
                        "deleted": False,
                        "message": (
                            f"User {user.username} has {len(own_posts)} {noun} in a public "
                            "topic and cannot be deleted."
                        ),
                    },
                )
            from worker.sandbox import payloads

            body = {"user": payloads.webhook_user(self, user)}
            for post in own_posts:
                self.delete_post(post, by=self.users[SYSTEM_USER_ID], emit=False)
            for group in self.groups.values():
                group.members.pop(user.id, None)
                group.owners.discard(user.id)
            for channel in self.chat_channels.values():
                channel.memberships.pop(user.id, None)
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
            errors = name_errors("Name", name, 3, self.settings["max_username_length"])
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
                if user.id not in group.members:
                    group.member_row_ids[user.id] = self.next_id("group_user")
                group.members.setdefault(user.id, now)
                if owners:
                    group.owners.add(user.id)
            # chat plugin.rb, on(:user_added_to_group): Chat::AutoJoinChannels for the user
            if self.chat_channels:
                for user in users:
                    self.chat_auto_join(user_id=user.id)

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
            from worker.sandbox import payloads

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


def name_errors(label: str, name: str, min_len: int, max_len: int) -> list[str]:
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
    from worker.sandbox.params import as_bool

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
