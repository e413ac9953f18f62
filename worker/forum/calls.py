"""One Protocol per forum call Diamond makes, with the client's own signature.

A step (or a read) names the calls it makes by composing these:

    class GateForum(AdminGetUser, ApproveUser, AddGroupMembers, Protocol): ...

``worker.forum.client.ForumClient`` fits every one (mypy checks it where the actors hand
their client to a step), and a step's test fake needs only the calls its Protocol lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, Protocol


class AddGroupMembers(Protocol):
    def add_group_members(
        self,
        group_id: int,
        usernames: Iterable[str],
        *,
        group_name: str | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]: ...


class AddGroupOwners(Protocol):
    def add_group_owners(
        self, group_id: int, usernames: Iterable[str], *, reason: str | None = None
    ) -> dict[str, Any]: ...


class AdminGetUser(Protocol):
    def admin_get_user(self, user_id: int) -> dict[str, Any]: ...


class ApiUsername(Protocol):
    @property
    def api_username(self) -> str: ...  # read-only on the client


class ApproveUser(Protocol):
    def approve_user(self, user_id: int, *, reason: str | None = None) -> dict[str, Any]: ...


class CreateCategory(Protocol):
    def create_category(
        self,
        name: str,
        *,
        slug: str | None = None,
        color: str = "0088CC",
        text_color: str = "FFFFFF",
        parent_category_id: int | None = None,
        permissions: dict[str, int] | None = None,
        moderating_group_ids: list[int] | None = None,
        description: str | None = None,
        reason: str | None = None,
        **attrs: Any,
    ) -> dict[str, Any]: ...


class CreateCategoryChannel(Protocol):
    def create_category_channel(
        self,
        category_id: int,
        *,
        name: str | None = None,
        description: str | None = None,
        slug: str | None = None,
        auto_join_users: bool = True,
        threading_enabled: bool = False,
        reason: str | None = None,
    ) -> dict[str, Any]: ...


class CreateGroup(Protocol):
    def create_group(
        self, name: str, full_name: str | None = None, *, reason: str | None = None, **attrs: Any
    ) -> dict[str, Any]: ...


class CreatePost(Protocol):
    def create_post(
        self,
        topic_id: int,
        raw: str,
        *,
        reply_to_post_number: int | None = None,
        created_at: datetime | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]: ...


class CreateTopic(Protocol):
    def create_topic(
        self,
        title: str,
        raw: str,
        category_id: int,
        *,
        created_at: datetime | None = None,
        tags: list[str] | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]: ...


class DeleteUser(Protocol):
    def delete_user(
        self,
        user_id: int,
        *,
        block_email: bool = False,
        block_ip: bool = False,
        block_urls: bool = False,
        delete_posts: bool = False,
        context: str | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]: ...


class GetGroup(Protocol):
    def get_group(self, name: str) -> dict[str, Any]: ...


class GetPost(Protocol):
    def get_post(self, post_id: int) -> dict[str, Any]: ...


class GetTopic(Protocol):
    def get_topic(self, topic_id: int) -> dict[str, Any]: ...


class GetUser(Protocol):
    def get_user(self, username: str) -> dict[str, Any]: ...


class IterCategoryTopics(Protocol):
    def iter_category_topics(
        self, category_id: int, *, slug_path: str | None = None
    ) -> Iterator[dict[str, Any]]: ...


class IterReviewables(Protocol):
    def iter_reviewables(
        self, type: str = "ReviewableUser", status: str = "pending"
    ) -> Iterator[dict[str, Any]]: ...


class IterTopicPosts(Protocol):
    def iter_topic_posts(self, topic_id: int) -> Iterator[dict[str, Any]]: ...


class ListCategories(Protocol):
    def list_categories(self) -> list[dict[str, Any]]: ...


class ListGroups(Protocol):
    def list_groups(self) -> list[dict[str, Any]]: ...


class ListUserFields(Protocol):
    def list_user_fields(self) -> list[dict[str, Any]]: ...


class ListWebhooks(Protocol):
    def list_webhooks(self) -> list[dict[str, Any]]: ...


class PerformReviewable(Protocol):
    def perform_reviewable(
        self,
        reviewable_id: int,
        action: str,
        version: int,
        *,
        reason: str | None = None,
        reject_reason: str | None = None,
        send_email: bool | None = None,
    ) -> dict[str, Any]: ...


class RemoveGroupMembers(Protocol):
    def remove_group_members(
        self, group_id: int, usernames: Iterable[str], *, reason: str | None = None
    ) -> dict[str, Any]: ...


class SendChatMessage(Protocol):
    def send_chat_message(
        self,
        channel_id: int,
        message: str,
        *,
        in_reply_to_id: int | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]: ...


class SendPrivateMessage(Protocol):
    def send_private_message(
        self, recipients: list[str], title: str, raw: str, *, reason: str | None = None
    ) -> dict[str, Any]: ...


class UpdatePost(Protocol):
    def update_post(
        self, post_id: int, raw: str, edit_reason: str | None = None, *, reason: str | None = None
    ) -> dict[str, Any]: ...


class UpdateWebhook(Protocol):
    def update_webhook(
        self, webhook_id: int, *, reason: str | None = None, **attrs: Any
    ) -> dict[str, Any]: ...


class IterAdminUsers(Protocol):
    def iter_admin_users(
        self, flag: str, *, show_emails: bool = False, filter: str | None = None
    ) -> Iterator[dict[str, Any]]: ...


class IterChatChannels(Protocol):
    def iter_chat_channels(self, *, page_size: int = 25) -> Iterator[dict[str, Any]]: ...


class IterGroupMembers(Protocol):
    def iter_group_members(self, name: str, *, limit: int = 500) -> Iterator[dict[str, Any]]: ...
