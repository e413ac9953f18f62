"""The sandbox's chat (Discourse's core chat plugin): category channels, memberships,
messages, threads, and the rules that decide who is in a channel.

Follows ``plugins/chat/`` of Discourse (copies in the shared reference):
``app/services/chat/create_category_channel.rb`` (one channel per category and name; the
creator is its first member), ``app/services/chat/auto_join_channels.rb`` (who joins an
``auto_join_users`` channel), ``app/services/chat/auto_leave_channels.rb`` (who is removed
when they lose access), ``app/services/chat/create_message.rb`` (replies open a thread,
members only, bots join on their own) and ``plugin.rb`` (the events that trigger both and
the ``chat_message_*`` webhooks, body ``{message, channel}`` under ``chat_message``).
Mention notifications follow ``app/jobs/regular/chat/notify_mentioned.rb`` (searched in
discourse/discourse; not in the shared copies): a message whose mentions
(``lib/chat/parsed_mentions.rb#count``: every mention, repeats and unknown names too,
@here and @all once each) exceed ``max_mentions_per_chat_message`` notifies nobody.

Simplifies: no direct-message channels, reactions, uploads, drafts, archives or channel
statuses other than ``open``; every user has chat enabled in their preferences; mention
notifications are only recorded (``ChatMessage.notified_user_ids``), group mentions count
as mentions of nobody, @here reaches every following member as @all does; message
retention is applied by ``purge_old_chat_messages`` (Discourse's daily job), not on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from worker.sandbox import cooking
from worker.sandbox.errors import ApiError, invalid_access, not_found
from worker.sandbox.models import AUTO_GROUPS, CREATE_POST, FULL, Category, User

# AutoJoinChannels: only users seen within this many days are joined (``30.days.ago`` in
# the copy of auto_join_channels.rb; they join on their first visit, ``on(:user_seen)``).
AUTO_JOIN_LAST_SEEN_DAYS = 30
# CategoryGroup permission types that let a group's members join a read-restricted
# category's channel (ALLOWED_GROUP_PERMISSIONS): readonly groups are not joined.
JOINING_PERMISSIONS = (CREATE_POST, FULL)
# Chat::MessageRateLimiter: messages per 30 seconds.
FLOOD_WINDOW_SECONDS = 30
# TextCleaner.normalize_whitespaces: these spaces become " " in a chat message's text.
_ODD_SPACES = re.compile("[\u00a0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")


def clean_chat_text(message: str) -> str:
    """Chat::CreateMessage's contract: TextCleaner.clean(strip_whitespaces: true,
    strip_zero_width_spaces: true) (odd spaces to " ", U+200B gone, ends stripped)."""
    return _ODD_SPACES.sub(" ", message or "").replace("\u200b", "").strip()


@dataclass
class ChatMembership:
    """Chat::UserChatChannelMembership."""

    user_id: int
    created_at: datetime
    following: bool = True
    join_mode: str = "manual"  # manual | automatic
    last_read_message_id: int | None = None
    last_viewed_at: datetime | None = None


@dataclass
class ChatChannel:
    """Chat::CategoryChannel."""

    id: int
    chatable_id: int  # the category
    name: str | None
    slug: str
    created_at: datetime
    description: str | None = None
    auto_join_users: bool = False
    threading_enabled: bool = False
    allow_channel_wide_mentions: bool = True
    status: str = "open"
    deleted_at: datetime | None = None
    last_message_id: int | None = None
    memberships: dict[int, ChatMembership] = field(default_factory=dict)


@dataclass
class ChatThread:
    """Chat::Thread: opened by the first reply to a message."""

    id: int
    channel_id: int
    original_message_id: int
    original_message_user_id: int
    last_message_id: int | None = None
    replies_count: int = 0


@dataclass
class ChatMessage:
    """Chat::Message."""

    id: int
    channel_id: int
    user_id: int
    message: str
    cooked: str
    created_at: datetime
    updated_at: datetime
    in_reply_to_id: int | None = None
    thread_id: int | None = None
    deleted_at: datetime | None = None
    deleted_by_id: int | None = None
    revisions: int = 0
    # Chat::UserMention rows: every existing user mentioned, once each, in order.
    mentioned_user_ids: list[int] = field(default_factory=list)
    # Who got a mention notification (Jobs::Chat::NotifyMentioned).
    notified_user_ids: list[int] = field(default_factory=list)


class ChatOps:
    """Chat on the ``Forum`` (mixed in; the records live on the forum)."""

    chat_channels: dict[int, ChatChannel]
    chat_messages: dict[int, ChatMessage]
    chat_threads: dict[int, ChatThread]
    chat_flood: dict[int, list[datetime]]
    chat_auto_join_edits: dict[tuple[int, int], datetime]

    def _init_chat(self) -> None:
        self.chat_channels = {}
        self.chat_messages = {}
        self.chat_threads = {}
        self.chat_flood = {}  # user id -> times of their recent messages
        # (user id, channel id) -> when they last turned auto_join_users on
        self.chat_auto_join_edits = {}

    # ── who may chat ───────────────────────────────────────────────────────
    def chat_allowed_group_ids(self) -> set[int]:
        return {int(g) for g in str(self.settings["chat_allowed_groups"]).split("|") if g}

    def can_chat(self, user: User | None) -> bool:
        """Guardian#can_chat?: staff, or a member of a ``chat_allowed_groups`` group."""
        if user is None:
            return False
        if user.staff:
            return True
        return bool(self.user_group_ids(user) & self.chat_allowed_group_ids())

    def can_preview_chat_channel(self, user: User | None, channel: ChatChannel) -> bool:
        category = self.categories.get(channel.chatable_id)
        return category is not None and self.can_see_category(user, category)

    def can_join_chat_channel(self, user: User | None, channel: ChatChannel) -> bool:
        """Guardian#can_join_chat_channel?: sees the category and may post in it."""
        if user is None or not self.can_preview_chat_channel(user, channel):
            return False
        category = self.categories[channel.chatable_id]
        perm = self.category_permission(user, category)
        return perm is not None and perm in JOINING_PERMISSIONS

    def chat_channel_or_404(self, channel_id: int) -> ChatChannel:
        channel = self.chat_channels.get(channel_id)
        if channel is None or channel.deleted_at is not None:
            raise not_found()
        return channel

    def category_channel(self, category_id: int) -> ChatChannel | None:
        for channel in self.chat_channels.values():
            if channel.chatable_id == category_id and channel.deleted_at is None:
                return channel
        return None

    # ── channels ───────────────────────────────────────────────────────────
    def create_category_channel(
        self,
        *,
        category: Category,
        creator: User,
        name: str | None = None,
        slug: str | None = None,
        description: str | None = None,
        auto_join_users: bool = False,
        threading_enabled: bool = False,
    ) -> ChatChannel:
        """Chat::CreateCategoryChannel: the creator is the first member; then auto-join."""
        with self.lock:
            name = (name or "").strip() or None
            for other in self.chat_channels.values():
                if other.chatable_id == category.id and other.name == name:
                    raise ApiError(
                        400,
                        [
                            "You supplied invalid parameters to the request: "
                            "A channel already exists for this category and name"
                        ],
                        "invalid_parameters",
                    )
            if name is not None and len(name) > 255:  # max_topic_title_length
                raise ApiError(422, ["Name is too long (maximum is 255 characters)"])
            channel_id = self.next_id("chat_channel")
            now = self.now()
            channel = ChatChannel(
                id=channel_id,
                chatable_id=category.id,
                name=name,
                slug=cooking.slugify(slug or name or category.name) or f"{channel_id}-channel",
                created_at=now,
                description=description or None,
                auto_join_users=auto_join_users,
                threading_enabled=threading_enabled,
            )
            channel.memberships[creator.id] = ChatMembership(user_id=creator.id, created_at=now)
            self.chat_channels[channel.id] = channel
            if channel.auto_join_users:
                self.chat_auto_join(channel_id=channel.id)
            return channel

    def chat_auto_join(
        self,
        *,
        user_id: int | None = None,
        channel_id: int | None = None,
        category_id: int | None = None,
    ) -> dict[int, list[int]]:
        """Chat::AutoJoinChannels: adds everyone who may chat, was seen lately, is active,
        not staged, suspended or silenced, to the auto-join category channels they can post
        in (a read-restricted category: through a group with create_post or full; a public
        one: everyone). Returns {channel id: user ids joined}."""
        with self.lock:
            if not self.settings["chat_enabled"]:
                return {}
            now = self.now()
            seen_after = now - timedelta(days=AUTO_JOIN_LAST_SEEN_DAYS)
            allowed = self.chat_allowed_group_ids()
            everyone = AUTO_GROUPS["everyone"] in allowed
            limit = int(self.settings["max_chat_auto_joined_users"])
            chat_users = [
                u
                for u in self.users.values()
                if u.id > 0
                and u.active
                and not u.staged
                and not u.suspended(now)
                and not u.silenced(now)
                and u.last_seen_at is not None
                and u.last_seen_at > seen_after
                and (user_id is None or u.id == user_id)
                and (everyone or self.user_group_ids(u) & allowed)
            ]
            chat_users.sort(key=lambda u: u.last_seen_at or now, reverse=True)
            chat_users = chat_users[:limit]
            joined: dict[int, list[int]] = {}
            for channel in list(self.chat_channels.values()):
                if not channel.auto_join_users or channel.deleted_at is not None:
                    continue
                if channel_id is not None and channel.id != channel_id:
                    continue
                if category_id is not None and channel.chatable_id != category_id:
                    continue
                if len(channel.memberships) >= limit:
                    continue
                category = self.categories.get(channel.chatable_id)
                if category is None:
                    continue
                for user in chat_users:
                    if user.id in channel.memberships:
                        continue
                    if not self._may_auto_join(user, category):
                        continue
                    channel.memberships[user.id] = ChatMembership(
                        user_id=user.id, created_at=now, join_mode="automatic"
                    )
                    joined.setdefault(channel.id, []).append(user.id)
            return joined

    def _may_auto_join(self, user: User, category: Category) -> bool:
        if not self.read_restricted(category):
            return True
        groups = self.user_group_ids(user)
        # Only real group memberships count here (group_users), not admin rights.
        return any(
            gid in groups and perm in JOINING_PERMISSIONS
            for gid, perm in category.permissions.items()
        )

    def chat_auto_leave(
        self, *, user_id: int | None = None, category_id: int | None = None
    ) -> dict[int, list[int]]:
        """Chat::AutoLeaveChannels: drops memberships of users no longer in a chat group,
        and of non-staff who lost create_post/full on a read-restricted category's channel."""
        with self.lock:
            if not self.settings["chat_enabled"]:
                return {}
            allowed = self.chat_allowed_group_ids()
            everyone = AUTO_GROUPS["everyone"] in allowed
            removed: dict[int, list[int]] = {}
            for channel in self.chat_channels.values():
                if category_id is not None and channel.chatable_id != category_id:
                    continue
                category = self.categories.get(channel.chatable_id)
                for member_id in list(channel.memberships):
                    if user_id is not None and member_id != user_id:
                        continue
                    user = self.users.get(member_id)
                    if user is None or member_id < 1:
                        continue
                    groups = self.user_group_ids(user)
                    out = not everyone and not groups & allowed
                    if not out and category is not None and self.read_restricted(category):
                        out = not user.staff and not any(
                            gid in groups and perm in JOINING_PERMISSIONS
                            for gid, perm in category.permissions.items()
                        )
                    if out:
                        del channel.memberships[member_id]
                        removed.setdefault(channel.id, []).append(member_id)
            return removed

    def chat_user_seen(self, user: User, first_visit: bool) -> None:
        """``on(:user_seen)``: a user's first visit joins them to their channels."""
        if first_visit and self.chat_channels:
            self.chat_auto_join(user_id=user.id)

    # ── messages ───────────────────────────────────────────────────────────
    def chat_flood_check(self, user: User) -> None:
        """Chat::MessageRateLimiter: staff are exempt; others get N messages per 30 s
        (trust level 0 fewer); the one over the limit is refused with 429 and the user
        silenced for ``chat_auto_silence_duration`` minutes."""
        if user.staff:
            return
        key = (
            "chat_allowed_messages_for_trust_level_0"
            if user.trust_level == 0
            else "chat_allowed_messages_for_other_trust_levels"
        )
        allowed = int(self.settings[key])
        if allowed == 0:
            return
        now = self.now()
        window = timedelta(seconds=FLOOD_WINDOW_SECONDS)
        recent = [t for t in self.chat_flood.get(user.id, []) if now - t < window]
        if len(recent) >= allowed:
            minutes = int(self.settings["chat_auto_silence_duration"])
            if minutes:
                user.silenced_till = now + timedelta(minutes=minutes)
                user.silenced_at = now
                user.silence_reason = "Rate limit exceeded"
            wait = max(1, int((recent[0] + window - now).total_seconds()))
            raise ApiError(
                429,
                body={
                    "errors": [
                        "You’ve performed this action too many times. "
                        f"Please wait {wait} seconds before trying again."
                    ],
                    "error_type": "rate_limit",
                    "extras": {"wait_seconds": wait, "time_left": f"{wait} seconds"},
                },
                headers={"Retry-After": str(wait)},
            )
        recent.append(now)
        self.chat_flood[user.id] = recent

    def create_chat_message(
        self,
        *,
        channel: ChatChannel,
        user: User,
        message: str,
        in_reply_to_id: int | None = None,
        thread_id: int | None = None,
        created_at: datetime | None = None,
    ) -> ChatMessage:
        """Chat::CreateMessage (as the JSON API calls it: no forced threads)."""
        with self.lock:
            now = self.now()
            if user.silenced(now):
                raise invalid_access()
            if user.id < 0:  # a bot (system): joins the channel on its own
                channel.memberships.setdefault(
                    user.id, ChatMembership(user_id=user.id, created_at=now)
                )
            if user.id not in channel.memberships:
                raise not_found()
            if channel.status != "open" and not (user.staff and channel.status == "closed"):
                raise ApiError(422, ["This channel is not open"])
            reply = None
            if in_reply_to_id is not None:
                reply = self.chat_messages.get(in_reply_to_id)
                if reply is None or reply.channel_id != channel.id:
                    raise not_found()
            thread = None
            if thread_id is not None:
                thread = self.chat_threads.get(thread_id)
                if thread is None or thread.channel_id != channel.id:
                    raise ApiError(422, ["The thread is not valid for this channel"])
            text = clean_chat_text(message)
            minimum = int(self.settings["chat_minimum_message_length"])
            maximum = int(self.settings["chat_maximum_message_length"])
            if not text:
                raise ApiError(400, ["Message can't be blank"])
            if len(text) < minimum:
                raise ApiError(422, [f"Message is too short (minimum is {minimum} characters)"])
            if len(text) > maximum:
                raise ApiError(422, [f"Message is too long (maximum is {maximum} characters)"])
            if reply is not None:
                existing = self.chat_threads.get(reply.thread_id) if reply.thread_id else None
                if thread is not None and existing is not None and thread.id != existing.id:
                    raise ApiError(422, ["The thread does not match the parent message"])
                if existing is None and thread is None:
                    thread = ChatThread(
                        id=self.next_id("chat_thread"),
                        channel_id=channel.id,
                        original_message_id=reply.id,
                        original_message_user_id=reply.user_id,
                    )
                    self.chat_threads[thread.id] = thread
                    reply.thread_id = thread.id
                else:
                    thread = thread or existing
            at = created_at or now
            msg = ChatMessage(
                id=self.next_id("chat_message"),
                channel_id=channel.id,
                user_id=user.id,
                message=text,
                cooked=cooking.cook(text),
                created_at=at,
                updated_at=at,
                in_reply_to_id=reply.id if reply else None,
                thread_id=thread.id if thread else None,
                mentioned_user_ids=self._chat_mentions(text),
            )
            self.chat_messages[msg.id] = msg
            self._notify_chat_mentions(msg, channel, user)
            if thread is not None:
                thread.last_message_id = msg.id
                thread.replies_count += 1
            else:
                channel.last_message_id = msg.id
                channel.memberships[user.id].last_read_message_id = msg.id
            self._emit_chat("chat_message_created", msg, user)
            return msg

    def _chat_mentions(self, text: str) -> list[int]:
        """Chat::Message#upsert_user_mentions: every mentioned user that exists, once.
        (What the serializer lists is capped at max_mentions_per_chat_message there.)"""
        ids: list[int] = []
        for name in cooking.mention_list(text):
            user = self.find_user(name.rstrip("."))
            if user is not None and user.id not in ids:
                ids.append(user.id)
        return ids

    def _notify_chat_mentions(self, msg: ChatMessage, channel: ChatChannel, sender: User) -> None:
        """Jobs::Chat::NotifyMentioned: nobody when the mentions exceed the setting (staff's
        messages too); else each mentioned user who follows the channel, is not suspended
        and is not the sender, once per message (an edit notifies only who is new)."""
        parsed = cooking.mention_list(msg.message)
        wide = {"here", "all"} & set(parsed)
        count = len([name for name in parsed if name not in ("here", "all")]) + len(wide)
        if count > int(self.settings["max_mentions_per_chat_message"]):
            return
        targets = list(msg.mentioned_user_ids)
        if wide and channel.allow_channel_wide_mentions:
            targets += [uid for uid in channel.memberships if uid not in targets]
        now = self.now()
        for uid in targets:
            member = channel.memberships.get(uid)
            person = self.users.get(uid)
            if member is None or not member.following or person is None or uid == sender.id:
                continue
            if person.id < 1 or person.suspended(now) or uid in msg.notified_user_ids:
                continue
            msg.notified_user_ids.append(uid)

    def edit_chat_message(self, msg: ChatMessage, *, by: User, message: str) -> ChatMessage:
        """Chat::UpdateMessage: only the author edits (Guardian#can_edit_chat?)."""
        with self.lock:
            if msg.user_id != by.id or by.silenced(self.now()):
                raise invalid_access()
            text = clean_chat_text(message)
            if not text:
                raise ApiError(400, ["Message can't be blank"])
            if text != msg.message:
                msg.message = text
                msg.cooked = cooking.cook(text)
                msg.revisions += 1
                msg.mentioned_user_ids = self._chat_mentions(text)
                self._notify_chat_mentions(msg, self.chat_channels[msg.channel_id], by)
                msg.updated_at = self.now()
                self._emit_chat("chat_message_edited", msg, by)
            return msg

    def trash_chat_message(self, msg: ChatMessage, *, by: User) -> None:
        """Chat::TrashMessage: the author, or who moderates chat in the category."""
        with self.lock:
            channel = self.chat_channels[msg.channel_id]
            if not self._can_delete_chat(by, msg, channel):
                raise invalid_access()
            if msg.deleted_at is not None:
                raise not_found()
            msg.deleted_at = self.now()
            msg.deleted_by_id = by.id
            self._emit_chat("chat_message_trashed", msg, by)

    def restore_chat_message(self, msg: ChatMessage, *, by: User) -> None:
        """Chat::RestoreMessage."""
        with self.lock:
            channel = self.chat_channels[msg.channel_id]
            if msg.deleted_at is None:
                raise not_found()
            own = msg.user_id == by.id and msg.deleted_by_id == by.id
            if not (own or self._moderates_chat(by, channel)):
                raise invalid_access()
            msg.deleted_at = None
            msg.deleted_by_id = None
            self._emit_chat("chat_message_restored", msg, by)

    def _moderates_chat(self, user: User, channel: ChatChannel) -> bool:
        category = self.categories.get(channel.chatable_id)
        return user.staff or (category is not None and self.is_category_moderator(user, category))

    def _can_delete_chat(self, user: User, msg: ChatMessage, channel: ChatChannel) -> bool:
        if user.silenced(self.now()):
            return False
        return msg.user_id == user.id or self._moderates_chat(user, channel)

    def visible_chat_messages(self, channel: ChatChannel, viewer: User | None) -> list[ChatMessage]:
        """Messages of the channel in order; trashed ones only for chat moderators
        (MessagesQuery ``with_deleted``). Thread replies are listed only when threading is
        off (``include_thread_messages: !threading_enabled``)."""
        moderator = viewer is not None and self._moderates_chat(viewer, channel)
        out = []
        for msg in self.chat_messages.values():
            if msg.channel_id != channel.id:
                continue
            if msg.deleted_at is not None and not moderator:
                continue
            if channel.threading_enabled and msg.thread_id is not None:
                thread = self.chat_threads.get(msg.thread_id)
                if thread is not None and thread.original_message_id != msg.id:
                    continue
            out.append(msg)
        return sorted(out, key=lambda m: (m.created_at, m.id))

    def purge_old_chat_messages(self) -> int:
        """Jobs::Chat::PeriodicalUpdates' retention: channel messages older than
        ``chat_channel_retention_days`` (0: kept forever) are deleted for good."""
        with self.lock:
            days = int(self.settings["chat_channel_retention_days"])
            if days == 0:
                return 0
            cutoff = self.now() - timedelta(days=days)
            old = [m.id for m in self.chat_messages.values() if m.created_at < cutoff]
            for message_id in old:
                del self.chat_messages[message_id]
            return len(old)

    def _emit_chat(self, event: str, msg: ChatMessage, acting: User) -> None:
        """plugin.rb: ``{message, channel}`` serialized for the acting user, sent under
        ``chat_message``, filtered by the channel's category."""
        from worker.sandbox.payloads import chat as chat_payloads

        channel = self.chat_channels[msg.channel_id]
        body = {
            "chat_message": {
                "message": chat_payloads.message(self, msg, acting),
                "channel": chat_payloads.channel(
                    self, channel, acting, channel.memberships.get(acting.id)
                ),
            }
        }
        self.emit(event, body, category_id=channel.chatable_id, event_type="chat_message")
