"""Forum operations on content: topics, posts, badges, invites, webhooks."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Any

from worker.sandbox import cooking
from worker.sandbox.errors import ApiError, invalid_access, not_found, unprocessable
from worker.sandbox.models import (
    CREATE_POST,
    FULL,
    SYSTEM_USER_ID,
    UNCATEGORIZED_ID,
    Badge,
    Group,
    Invite,
    Post,
    Topic,
    User,
    UserBadge,
    WebHook,
)


class ContentOps:
    """Mixed into ``Forum``: posting, editing, deleting, badges, invites, hooks."""

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

    def _title_taken_by(
        self, user: User, title: str, category_id: int | None, topic_id: int | None = None
    ) -> Topic | None:
        """The listable topic already holding ``title``, if a new topic may not reuse it.

        Imitates app/models/topic.rb ``validates :title, unique_among:`` with
        ``Topic#duplicate_title_candidates`` and lib/validators/unique_among_validator.rb:
        case-insensitive; deleted topics and PMs hold no title (PMs are not checked at all);
        closed, archived and unlisted ones do. ``duplicate_topic_titles``: ``disallowed``
        (default) looks at the same category and every topic the author can see (staff see
        unlisted ones), ``allowed_across_categories`` at the same category only,
        ``allowed`` nowhere. Simplified: the title is compared as sent, stripped (Discourse
        cleans it with TextCleaner first).
        """
        setting = self.settings["duplicate_topic_titles"]
        if setting == "allowed":
            return None
        wanted = title.lower()
        category = category_id or UNCATEGORIZED_ID
        for topic in self.topics.values():
            if topic.deleted_at is not None or topic.archetype == "private_message":
                continue
            if topic.id == topic_id:  # the topic being retitled
                continue
            if topic.title.lower() != wanted:
                continue
            if (topic.category_id or UNCATEGORIZED_ID) == category:
                return topic
            visible = topic.visible or user.staff  # staff can see unlisted topics
            if setting == "disallowed" and visible and self.can_see_topic(user, topic):
                return topic
        return None

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
        from worker.sandbox import payloads

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
                title = title or ""
                if not title.strip():
                    errors.append("Title can't be blank")
                elif len(title.strip()) < min_title:
                    errors.append(f"Title must be at least {min_title} characters")
                elif not is_pm:
                    taken = self._title_taken_by(user, title.strip(), category_id)
                    if taken is not None:
                        url = f"{self.base_url}/t/{taken.slug}/{taken.id}"
                        errors.append(
                            "This title has already been used by "
                            f"<a href='{url}'>another topic</a>."
                        )
                min_body = self.settings[
                    "min_personal_message_post_length" if is_pm else "min_first_post_length"
                ]
                errors += _body_errors(raw, min_body)
                errors += _mention_errors(self.settings, user, raw, is_pm=is_pm)
                limit = self.settings["max_allowed_message_recipients"]
                if is_pm and not user.staff and len(target_usernames or []) > limit:
                    # lib/post_creator.rb#valid?: checked for non-staff senders only
                    raise ApiError(
                        422,
                        body={
                            "action": "create_post",
                            "errors": [
                                f"Sorry, you can send a message to at most {limit} recipients."
                            ],
                        },
                    )
                recipients: list[User] = []
                groups: list[Group] = []
                if is_pm:
                    for name in target_usernames or []:
                        target = self.find_user(name)
                        group = None if target else self.find_group(name)
                        if target:
                            recipients.append(target)
                        elif group and not group.automatic:
                            if not _may_message(user, group):
                                errors.append(CANT_SEND_PM)
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
            errors += _mention_errors(
                self.settings, user, raw, is_pm=topic.archetype == "private_message"
            )
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

    def edit_post(
        self,
        post: Post,
        raw: str,
        *,
        by: User,
        edit_reason: str | None = None,
        title: str | None = None,
    ) -> Post:
        """Edit a post (and, for a first post, its topic's title), as PostRevisor does.

        Webhooks as config/initializers/012-web_hook_events.rb sends them: an edit of a
        first post that changes its topic is ``topic_edited`` only, any other edit
        ``post_edited``; nothing when nothing changed.
        """
        from worker.sandbox import payloads

        with self.lock:
            topic = self.topics[post.topic_id]
            min_body = self.settings[
                "min_first_post_length" if post.post_number == 1 else "min_post_length"
            ]
            errors = _body_errors(raw, min_body)
            if raw != post.raw:  # PostRevisor validates the new text as a post's
                errors += _mention_errors(
                    self.settings, by, raw, is_pm=topic.archetype == "private_message"
                )
            new_title = (title or "").strip()
            retitle = post.post_number == 1 and bool(new_title) and new_title != topic.title
            if retitle and topic.archetype != "private_message":
                if len(new_title) < self.settings["min_topic_title_length"]:
                    errors.append(
                        f"Title must be at least {self.settings['min_topic_title_length']} "
                        "characters"
                    )
                else:
                    taken = self._title_taken_by(by, new_title, topic.category_id, topic.id)
                    if taken is not None:
                        url = f"{self.base_url}/t/{taken.slug}/{taken.id}"
                        errors.append(
                            "This title has already been used by "
                            f"<a href='{url}'>another topic</a>."
                        )
            if errors:
                raise unprocessable(*errors)
            if retitle:
                topic.title = new_title
                topic.slug = cooking.slugify(new_title) or "topic"
            if raw != post.raw:
                post.raw = raw
                post.cooked = cooking.cook(raw)
                post.version += 1
                post.updated_at = self.now()
                post.edit_reason = edit_reason
                post.quote_count = len(cooking.quotes(raw))
            elif not retitle:
                return post
            del by
            if retitle:
                self.emit(
                    "topic_edited", {"topic": payloads.webhook_topic(self, topic)}, topic=topic
                )
            else:
                self.emit("post_edited", {"post": payloads.webhook_post(self, post)}, topic=topic)
            return post

    def delete_post(self, post: Post, *, by: User, emit: bool = True) -> None:
        from worker.sandbox import payloads

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
        from worker.sandbox import payloads

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
        """``/t/slug/12/3`` or ``.../t/12/3`` → id of post 3 of topic 12 (None: not a post).

        Routes are tried in config/routes.rb's order: ``t/:topic_id/:post_number`` (digits)
        comes before ``t/:slug/:topic_id``, so ``/t/12/3`` is post 3 of topic 12."""
        path = url.split("?")[0].split("#")[0]
        match = re.search(r"/t/(\d+)(?:/(\d+))?/?$", path) or re.search(
            r"/t/[^/]+/(\d+)(?:/(\d+))?/?$", path
        )
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
        from worker.sandbox.event_types import EVENT_ID

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


def _mention_errors(settings: Any, user: User, raw: str, *, is_pm: bool) -> list[str]:
    """lib/validators/post_validator.rb#max_mention_validator: staff are not limited; a
    new user (trust level 0, outside PMs) may mention ``newuser_max_mentions_per_post``,
    anyone else ``max_mentions_per_post`` (Post#raw_mentions: each user once, not in quotes
    or code). The wording of the error is approximate."""
    if user.staff:
        return []
    newuser = user.trust_level == 0 and not is_pm
    limit = settings["newuser_max_mentions_per_post" if newuser else "max_mentions_per_post"]
    if len(cooking.mentions(raw)) <= limit:
        return []
    if limit == 0:
        return ["Sorry, you can't mention other users."]
    who = "new users" if newuser else "you"
    return [f"Sorry, {who} can only mention {limit} users in a post."]


def _body_errors(raw: str, minimum: int) -> list[str]:
    text = raw.strip()
    if not text:
        return ["Body can't be blank"]
    if len(text) < minimum:
        return [f"Body is too short (minimum is {minimum} characters)"]
    return []


# TopicCreator#check_can_send_permission! rolls back with :cant_send_pm
# (config/locales/server.en.yml).
CANT_SEND_PM = "Sorry, you cannot send a personal message to that user."
# Group::ALIAS_LEVELS: nobody 0, only_admins 1, mods_and_admins 2,
# members_mods_and_admins 3, owners_mods_and_admins 4, everyone 99.
_LEVELS_FOR_ADMINS = frozenset({1, 2, 3, 4, 99})
_LEVELS_FOR_MODERATORS = frozenset({2, 3, 4, 99})


def _may_message(user: User, group: Group) -> bool:
    """Imitates: lib/guardian.rb#can_send_private_message? for a group target: the system
    user may message any group, others only one ``Group.messageable(user)`` lists (by its
    messageable_level, and membership or ownership for levels 3 and 4)."""
    if user.id == SYSTEM_USER_ID:
        return True
    level = group.messageable_level
    if user.admin:
        return level in _LEVELS_FOR_ADMINS
    if user.moderator:
        return level in _LEVELS_FOR_MODERATORS
    return (
        level == 99
        or (level == 3 and user.id in group.members)
        or (level == 4 and user.id in group.owners)
    )
