"""Chat: category channels, their memberships and messages (Discourse's chat plugin).

Routes from ``plugins/chat/config/routes.rb`` (mounted at ``/chat``). Every view first does
what ``Chat::ApiController`` (a ``Chat::BaseController``) does: 404 while ``chat_enabled`` is
off (``requires_plugin``), 403 for anonymous visitors, 403 for users outside
``chat_allowed_groups`` (``Guardian#can_chat?``; staff may always chat). Service outcomes
map to answers as each controller's ``on_*`` blocks say; a failed contract is
``400 {"failed": "FAILED", "errors": [...]}``, any other failure ``422 {"failed": "FAILED"}``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from worker.sandbox.app import Ctx, Reply
from worker.sandbox.errors import ApiError, invalid_access, not_found, param_missing
from worker.sandbox.models import User
from worker.sandbox.params import as_bool
from worker.sandbox.payloads import chat as payloads
from worker.sandbox.state_chat import ChatChannel, ChatMessage

MAX_PAGE_SIZE = 500  # Chat::MessagesQuery::MAX_PAGE_SIZE
AROUND_LIMIT = 25  # PAST_MESSAGE_LIMIT, FUTURE_MESSAGE_LIMIT
MEMBERSHIPS_LIMIT = 50  # ChannelsMembershipsController::INDEX_LIMIT
CHANNELS_LIMIT = 25
CHANNELS_MAX = 50  # Chat::ChannelFetcher::MAX_PUBLIC_CHANNEL_RESULTS caps ``limit``
# ChannelsController#auto_join_limiter: 1 per 3 minutes, staff included.
AUTO_JOIN_LIMIT_SECONDS = 180


def _failed(status: int, *errors: str) -> Reply:
    body: dict[str, Any] = {"failed": "FAILED"}
    if errors:
        body["errors"] = list(errors)
    return Reply(body, status)


def _chat_user(ctx: Ctx) -> User:
    """Chat::BaseController's before_actions."""
    if not ctx.forum.settings["chat_enabled"]:
        raise not_found()  # requires_plugin: the plugin is off
    user = ctx.require_login()
    if not ctx.forum.can_chat(user):
        raise invalid_access()
    return user


def _int_param(ctx: Ctx, name: str) -> int | None:
    value = ctx.params.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _channel_to_join(ctx: Ctx, user: User, channel_id: int) -> ChatChannel:
    """ChannelsController#channel_from_params: 404, then ensure_can_join_chat_channel!."""
    channel = ctx.forum.chat_channel_or_404(channel_id)
    if not ctx.forum.can_join_chat_channel(user, channel):
        raise invalid_access()
    return channel


def _message_in(ctx: Ctx, channel_id: int, message_id: int) -> ChatMessage:
    ctx.forum.chat_channel_or_404(channel_id)
    msg = ctx.forum.chat_messages.get(message_id)
    if msg is None or msg.channel_id != channel_id:
        raise not_found()
    return msg


# ── channels ────────────────────────────────────────────────────────────────
def channels_index(ctx: Ctx) -> Any:
    """Imitates: plugins/chat/app/controllers/chat/api/channels_controller.rb#index
    (Chat::ChannelSerializer, root "channels"), at most Chat::ChannelFetcher's 50 a page.
    Simplifies: category channels only."""
    user = _chat_user(ctx)
    forum = ctx.forum
    limit = min(_int_param(ctx, "limit") or CHANNELS_LIMIT, CHANNELS_MAX)
    offset = _int_param(ctx, "offset") or 0
    wanted = str(ctx.params.get("filter") or "").lower()
    visible = [
        c
        for c in sorted(forum.chat_channels.values(), key=lambda c: c.id)
        if c.deleted_at is None
        and forum.can_preview_chat_channel(user, c)
        and (not wanted or wanted in payloads.channel_title(forum, c).lower() or wanted in c.slug)
    ]
    page = visible[offset : offset + limit]
    return {
        "channels": [payloads.channel(forum, c, user, c.memberships.get(user.id)) for c in page],
        "meta": {
            "load_more_url": f"/chat/api/channels?filter={wanted}&limit={limit}"
            f"&offset={offset + limit}&status="
        },
    }


def channels_create(ctx: Ctx) -> Any:
    """Imitates: plugins/chat/app/controllers/chat/api/channels_controller.rb#create
    (Chat::CreateCategoryChannel, Chat::ChannelSerializer root "channel")."""
    user = _chat_user(ctx)
    forum = ctx.forum
    attrs = ctx.params.get("channel")
    if not isinstance(attrs, dict) or not attrs:
        raise param_missing("channel")
    if not forum.settings["enable_public_channels"]:
        return _failed(422)  # policy public_channels_enabled: on_failure
    if not user.staff:  # policy can_create_channel (Guardian#can_create_chat_channel?)
        raise invalid_access()
    category_id = attrs.get("chatable_id")
    try:
        category_id = int(category_id) if category_id not in (None, "") else None
    except (TypeError, ValueError):
        category_id = None
    if category_id is None:
        return _failed(400, "Category can't be blank")
    category = forum.categories.get(category_id)
    if category is None:
        raise not_found()  # on_model_not_found(:category)
    channel = forum.create_category_channel(
        category=category,
        creator=user,
        name=attrs.get("name"),
        slug=attrs.get("slug"),
        description=attrs.get("description"),
        auto_join_users=as_bool(attrs.get("auto_join_users")),
        threading_enabled=as_bool(attrs.get("threading_enabled")),
    )
    return {"channel": payloads.channel(forum, channel, user, channel.memberships.get(user.id))}


def channels_show(ctx: Ctx, channel_id: int) -> Any:
    """Imitates: plugins/chat/app/controllers/chat/api/channels_controller.rb#show
    (Chat::ChannelSerializer root "channel")."""
    user = _chat_user(ctx)
    channel = _channel_to_join(ctx, user, channel_id)
    member = channel.memberships.get(user.id)
    return {"channel": payloads.channel(ctx.forum, channel, user, member)}


def channels_update(ctx: Ctx, channel_id: int) -> Any:
    """Imitates: plugins/chat/app/controllers/chat/api/channels_controller.rb#update
    (Chat::UpdateChannel, Chat::ChannelSerializer root "channel"): staff only; turning
    ``auto_join_users`` on is limited to once in 3 minutes per channel, staff included."""
    user = _chat_user(ctx)
    forum = ctx.forum
    channel = _channel_to_join(ctx, user, channel_id)
    attrs = ctx.params.get("channel")
    if not isinstance(attrs, dict) or not attrs:
        raise param_missing("channel")
    if as_bool(attrs.get("auto_join_users")):
        key = (user.id, channel.id)
        now = forum.now()
        last = forum.chat_auto_join_edits.get(key)
        if last is not None and now - last < timedelta(seconds=AUTO_JOIN_LIMIT_SECONDS):
            wait = int((last + timedelta(seconds=AUTO_JOIN_LIMIT_SECONDS) - now).total_seconds())
            raise ApiError(
                429,
                body={
                    "errors": [
                        "You’ve performed this action too many times. "
                        f"Please wait {max(1, wait)} seconds before trying again."
                    ],
                    "error_type": "rate_limit",
                    "extras": {"wait_seconds": max(1, wait), "time_left": f"{wait} seconds"},
                },
                headers={"Retry-After": str(max(1, wait))},
            )
        forum.chat_auto_join_edits[key] = now
    if not user.staff:  # policy check_channel_permission (can_edit_chat_channel?)
        raise invalid_access()
    if "name" in attrs:
        channel.name = str(attrs["name"] or "").strip() or None
    if "description" in attrs:
        channel.description = str(attrs["description"] or "").strip() or None
    if attrs.get("slug"):
        channel.slug = str(attrs["slug"])
    if "threading_enabled" in attrs:
        channel.threading_enabled = as_bool(attrs["threading_enabled"])
    if "allow_channel_wide_mentions" in attrs:
        channel.allow_channel_wide_mentions = as_bool(attrs["allow_channel_wide_mentions"])
    if "auto_join_users" in attrs:
        channel.auto_join_users = as_bool(attrs["auto_join_users"])
        if channel.auto_join_users:
            forum.chat_auto_join(channel_id=channel.id)
    member = channel.memberships.get(user.id)
    return {"channel": payloads.channel(forum, channel, user, member)}


# ── memberships ─────────────────────────────────────────────────────────────
def memberships_index(ctx: Ctx, channel_id: int) -> Any:
    """Imitates: plugins/chat/app/controllers/chat/api/channels_memberships_controller.rb#index
    (Chat::UserChannelMembershipSerializer root "memberships"). Simplifies
    Chat::ChannelMembershipsQuery: following members that are active and not staged, by
    username; ``username`` filters by prefix."""
    user = _chat_user(ctx)
    forum = ctx.forum
    channel = _channel_to_join(ctx, user, channel_id)
    offset = max(0, _int_param(ctx, "offset") or 0)
    limit = _int_param(ctx, "limit") or MEMBERSHIPS_LIMIT
    limit = max(1, min(limit, MEMBERSHIPS_LIMIT))
    prefix = str(ctx.params.get("username") or "").lower()
    rows = []
    for member in channel.memberships.values():
        person = forum.users.get(member.user_id)
        if person is None or person.id < 1 or not person.active or person.staged:
            continue
        if not member.following or (prefix and not person.username.lower().startswith(prefix)):
            continue
        rows.append((person, member))
    rows.sort(key=lambda r: r[0].username.lower())
    page = rows[offset : offset + limit]
    total = len([m for m in channel.memberships if m > 0])
    return {
        "memberships": [payloads.membership(channel, m, user=p) for p, m in page],
        "meta": {
            "total_rows": total,
            "load_more_url": f"/chat/api/channels/{channel.id}/memberships"
            f"?offset={offset + limit}&limit={limit}&username={prefix}",
        },
    }


# ── messages ────────────────────────────────────────────────────────────────
def messages_index(ctx: Ctx, channel_id: int) -> Any:
    """Imitates: plugins/chat/app/controllers/chat/api/channel_messages_controller.rb#index
    (Chat::ListChannelMessages, Chat::MessagesQuery, Chat::MessagesSerializer). With
    ``target_message_id`` and ``direction=future``: the messages after it, oldest first (the
    catch-up read); trashed ones only for chat moderators. Simplifies: no target_date."""
    user = _chat_user(ctx)
    forum = ctx.forum
    channel = forum.chat_channel_or_404(channel_id)
    if not forum.can_preview_chat_channel(user, channel):
        raise invalid_access()
    page_size = ctx.params.get("page_size")
    direction = ctx.params.get("direction")
    errors = []
    if page_size not in (None, ""):
        try:
            size = int(page_size)
        except (TypeError, ValueError):
            size = -1
        if not 1 <= size <= MAX_PAGE_SIZE:
            errors.append(f"Page size must be less than or equal to {MAX_PAGE_SIZE}")
    else:
        size = MAX_PAGE_SIZE
    if direction not in (None, "", "past", "future"):
        errors.append("Direction is not included in the list")
    if errors:
        return _failed(400, *errors)
    direction = direction or None
    target = _int_param(ctx, "target_message_id")
    member = channel.memberships.get(user.id)
    if as_bool(ctx.params.get("fetch_from_last_read")):
        target = member.last_read_message_id if member else None
    messages = forum.visible_chat_messages(channel, user)
    listed: list[ChatMessage]
    if target is not None:
        target_msg = forum.chat_messages.get(target)
        if target_msg is None or target_msg.channel_id != channel.id:
            raise not_found()  # policy target_message_exists
    more_past = more_future = False
    if target is not None and direction is None:
        assert target_msg is not None  # checked above
        past = [m for m in messages if (m.created_at, m.id) < (target_msg.created_at, target)]
        future = [m for m in messages if (m.created_at, m.id) > (target_msg.created_at, target)]
        past, future = past[-AROUND_LIMIT:], future[:AROUND_LIMIT]
        more_past, more_future = len(past) == AROUND_LIMIT, len(future) == AROUND_LIMIT
        listed = [*past, target_msg, *future]  # found with_deleted, as MessagesQuery does
    else:
        if target is not None:
            messages = [
                m for m in messages if (m.id > target if direction == "future" else m.id < target)
            ]
        if direction == "future":
            listed = messages[:size]
            more_future = len(listed) == size
        else:
            listed = messages[-size:]
            more_past = len(listed) == size
    return {
        "messages": [payloads.message(forum, m, user) for m in listed],
        "tracking": {},
        "meta": {
            "target_message_id": target,
            "can_load_more_future": more_future,
            "can_load_more_past": more_past,
        },
    }


def messages_create(ctx: Ctx, chat_channel_id: int) -> Any:
    """Imitates: plugins/chat/app/controllers/chat/api/channel_messages_controller.rb#create
    (Chat::MessageRateLimiter, then Chat::CreateMessage): members only (404 otherwise);
    ``in_reply_to_id`` opens or continues a thread."""
    user = _chat_user(ctx)
    forum = ctx.forum
    forum.chat_flood_check(user)
    if user.silenced(forum.now()):
        raise invalid_access()  # policy no_silenced_user
    channel = forum.chat_channel_or_404(chat_channel_id)
    text = ctx.params.get("message")
    if not isinstance(text, str) or not text.strip():
        return _failed(400, "Message can't be blank")
    msg = forum.create_chat_message(
        channel=channel,
        user=user,
        message=text,
        in_reply_to_id=_int_param(ctx, "in_reply_to_id"),
        thread_id=_int_param(ctx, "thread_id"),
    )
    return {"success": "OK", "message_id": msg.id}


def messages_update(ctx: Ctx, channel_id: int, message_id: int) -> Any:
    """Imitates: plugins/chat/app/controllers/chat/api/channel_messages_controller.rb#update
    (Chat::UpdateMessage): only the author edits; anyone else gets the service's failure."""
    user = _chat_user(ctx)
    msg = _message_in(ctx, channel_id, message_id)
    if msg.deleted_at is not None:
        raise not_found()
    if msg.user_id != user.id or user.silenced(ctx.forum.now()):
        return _failed(422)
    text = ctx.params.get("message")
    if not isinstance(text, str) or not text.strip():
        return _failed(400, "Message can't be blank")
    ctx.forum.edit_chat_message(msg, by=user, message=text)
    return {"success": "OK", "message_id": msg.id}


def messages_destroy(ctx: Ctx, channel_id: int, message_id: int) -> Any:
    """Imitates: plugins/chat/app/controllers/chat/api/channel_messages_controller.rb#destroy
    (Chat::TrashMessage)."""
    user = _chat_user(ctx)
    msg = _message_in(ctx, channel_id, message_id)
    ctx.forum.trash_chat_message(msg, by=user)
    return {"success": "OK"}


def messages_restore(ctx: Ctx, channel_id: int, message_id: int) -> Any:
    """Imitates: plugins/chat/app/controllers/chat/api/channel_messages_controller.rb#restore
    (Chat::RestoreMessage)."""
    user = _chat_user(ctx)
    msg = _message_in(ctx, channel_id, message_id)
    ctx.forum.restore_chat_message(msg, by=user)
    return {"success": "OK"}


ROUTES = [
    ("/chat/api/channels", ["GET"], channels_index),
    ("/chat/api/channels", ["POST"], channels_create),
    ("/chat/api/channels/<int:channel_id>", ["GET"], channels_show),
    ("/chat/api/channels/<int:channel_id>", ["PUT"], channels_update),
    ("/chat/api/channels/<int:channel_id>/memberships", ["GET"], memberships_index),
    ("/chat/api/channels/<int:channel_id>/messages", ["GET"], messages_index),
    ("/chat/api/channels/<int:channel_id>/messages/<int:message_id>", ["PUT"], messages_update),
    (
        "/chat/api/channels/<int:channel_id>/messages/<int:message_id>",
        ["DELETE"],
        messages_destroy,
    ),
    (
        "/chat/api/channels/<int:channel_id>/messages/<int:message_id>/restore",
        ["PUT"],
        messages_restore,
    ),
    ("/chat/<int:chat_channel_id>", ["POST"], messages_create),
]
