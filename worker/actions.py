"""The vocabulary of writes Diamond makes to the forum, as plain data.

Engines return lists of these; ``worker.apply`` executes them through the one
client. Every action carries ``key``, an idempotency key naming *this* decision
(e.g. ``"camp-welcome:alice"``), so a job run twice acts once, and ``reason``,
the line logged with the write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    key: str
    reason: str
    # False for writes that touch no member (e.g. a report in the staff audit log):
    # those still happen in shadow mode.
    affects_members: bool = True

    @property
    def kind(self) -> str:
        return type(self).__name__


@dataclass(frozen=True, slots=True, kw_only=True)
class ApproveUser(Action):
    user_id: int
    username: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RejectUser(Action):
    """Reject a pending applicant through the review queue (Discourse emails them
    ``reject_reason``) and delete the account; ``block`` also blocks the email and IP."""

    user_id: int
    username: str
    block: bool = False
    reject_reason: str = ""  # for the applicant, in their language


@dataclass(frozen=True, slots=True, kw_only=True)
class SendPrivateMessage(Action):
    """A PM; with ``thread`` (e.g. ``leader:{squad}:{week}``) the first PM of that thread
    opens a PM topic titled ``thread_title`` (``thread_intro`` above the message), and
    each later one is a reply in it, under ``title`` as a heading."""

    recipients: tuple[str, ...]
    title: str
    raw: str
    thread: str = ""
    thread_title: str = ""
    thread_intro: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class AddToGroup(Action):
    group: str  # Discourse group name
    usernames: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoveFromGroup(Action):
    group: str
    usernames: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class AddGroupOwners(Action):
    group: str
    usernames: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SilenceUser(Action):
    user_id: int
    username: str
    until: datetime
    message: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateTopic(Action):
    category_id: int
    title: str
    raw: str
    tags: tuple[str, ...] = ()
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CreatePost(Action):
    topic_id: int
    raw: str
    reply_to_post_number: int | None = None
    created_at: datetime | None = None
    # Who the post is meant to reach by its @mentions (e.g. a reminder in a squad's
    # thread): what a PM's ``recipients`` says for a PM. Not sent; the text mentions them.
    notifies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SendChatMessage(Action):
    """A message in a chat channel (``POST /chat/{channel_id}``), e.g. a reminder in a
    squad's channel; Diamond's API user is a member of the channels it created."""

    channel_id: int
    message: str
    # Who the message is meant to reach by its @mentions (as ``CreatePost.notifies``).
    notifies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class EditPost(Action):
    """Replace the text of one of Diamond's own posts (``PUT /posts/{id}.json``)."""

    post_id: int
    raw: str


@dataclass(frozen=True, slots=True, kw_only=True)
class GrantBadge(Action):
    username: str
    badge_name: str
    # The post that earned it, as a relative path ``/t/{topic}/{post_number}``: Discourse
    # takes an absolute reason URL only on its own public host, and Diamond may reach the
    # forum by an internal address (a compose service name, an IP).
    reason_path: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RevokeBadge(Action):
    username: str
    badge_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateGroup(Action):
    """Create a group unless one with this ``name`` exists (then nothing is changed)."""

    name: str  # Discourse group name (ASCII slug)
    full_name: str = ""
    bio_raw: str = ""
    visibility_level: int = 0  # 0 public, 1 logged on, 2 members, 3 staff, 4 owners
    members_visibility_level: int = 0
    messageable_level: int = 0
    mentionable_level: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateCategory(Action):
    """Create a category unless one with this ``slug`` exists (then nothing is changed).

    ``permissions`` are (group name, 1 full | 2 create_post | 3 readonly); only those
    groups (and admins) can see it. ``moderating_groups`` are group names (the site
    setting ``enable_category_group_moderation`` must be on).
    """

    name: str
    slug: str
    permissions: tuple[tuple[str, int], ...] = ()
    moderating_groups: tuple[str, ...] = ()
    description: str = ""
    color: str = "0088CC"
    text_color: str = "FFFFFF"


@dataclass(frozen=True, slots=True, kw_only=True)
class AddChatWebhookCategories(Action):
    """Add categories (by slug) to the category filter of Diamond's chat webhook (the one
    whose payload URL carries ``?hook=chat``, made by ``diamond apply``), so a new squad's
    chat is delivered at once, not from the next apply on. Nothing without a chat webhook
    (chat then comes by the catch-up); categories already there stay."""

    category_slugs: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateChatChannel(Action):
    """A chat channel for the category ``category_slug`` unless it has one (then nothing is
    changed). With ``auto_join_users`` Discourse keeps the channel's members in step with the
    groups that may post in the category (a squad's group), except members not seen for 30
    days (they join on their next visit) and read-only groups."""

    category_slug: str
    name: str = ""  # empty: the channel is titled by its category
    description: str = ""
    auto_join_users: bool = True
