"""The catch-up for chat: messages whose deliveries were lost, read back from each channel.

Discourse does not retry a failed delivery, so a chat message may never reach the
receiver. The catch-up lists the channels (``GET /chat/api/channels``: 50 a call) and reads
back only the Diamond channels with a gap: one call each (``GET
/chat/api/channels/{id}/messages`` after the id it last read through, up to 500 messages,
Chat::MessagesQuery's most), recorded as if delivered; a longer gap goes on at the next
scan. So a scan costs the channel list plus at most one call per channel.

A gap is detected without reading messages:

- the channel's last message (``last_message.id``, Chat::LastMessageSerializer) is newer
  than the highest id the ChatStore recorded for it: the latest deliveries were lost;
- or the scan is ``suspicious`` (the post scan found posts the webhooks had missed: the
  receiver was down or failing) and the channel has messages after the id the catch-up
  last read through: deliveries may be missing in the middle.

A channel never read is read from its start (the first 500 messages, then on).

What it cannot see: a message lost in the middle of a channel's traffic while the receiver
was otherwise fine, an edit or a trashing whose delivery was lost (the last id does not
change), replies inside threads (they move the thread's last message, not the channel's;
Diamond's channels are made without threading), and a channel whose last message was
trashed (it shows an earlier last message) until its next message.

A Diamond channel is a category channel of a category carrying Diamond's marker
(``[diamond:<slug>]`` from plugin_config, ``[diamond-squad-category ...]`` for a squad's):
the webhook is filtered to those categories, so other channels would always look gapped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from worker.forum.errors import NotFound
from worker.pipeline.chat_body import parse_chat_message
from worker.pipeline.routes import BadEvent
from worker.state.chat import ChatStore

log = logging.getLogger(__name__)

DIAMOND_MARK = "[diamond"  # both markers start so
PAGE_SIZE = 500
CHANNELS_PAGE = 50  # Chat::ChannelFetcher::MAX_PUBLIC_CHANNEL_RESULTS


class ChatHistoryForum(Protocol):
    def iter_chat_channels(self, *, page_size: int = 25) -> Iterable[dict[str, Any]]: ...
    def channel_messages_after(
        self, channel_id: int, after_message_id: int = 0, *, page_size: int = 500
    ) -> tuple[list[dict[str, Any]], bool]: ...


@dataclass
class ChatCatchup:
    channels: int = 0  # Diamond's channels listed
    gapped: int = 0  # of them, with messages not recorded
    reads: int = 0  # history calls made (one per gapped channel)
    recorded: int = 0  # messages recorded from history


def is_diamond_channel(channel: Mapping[str, Any]) -> bool:
    if channel.get("chatable_type") != "Category":
        return False
    category = channel.get("chatable") or {}
    text = f"{category.get('description_text') or ''} {category.get('description') or ''}"
    return DIAMOND_MARK in text


def last_message_id(channel: Mapping[str, Any]) -> int:
    last = channel.get("last_message") or {}
    value = last.get("id") if isinstance(last, Mapping) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def catch_up_chat(
    client: ChatHistoryForum, store: ChatStore, *, suspicious: bool = False
) -> ChatCatchup:
    """Read back what the chat webhook lost, one call per gapped Diamond channel."""
    report = ChatCatchup()
    try:
        listed = client.iter_chat_channels(page_size=CHANNELS_PAGE)
        channels = [c for c in listed if is_diamond_channel(c)]
    except NotFound:  # chat is off on this forum: nothing to catch up
        return report
    report.channels = len(channels)
    seen, read = store.last_seen_all(), store.read_through_all()
    for channel in channels:
        channel_id = int(channel["id"])
        last = last_message_id(channel)
        after = read.get(channel_id, 0)
        lost_latest = last > seen.get(channel_id, 0)
        if not (lost_latest or (suspicious and last > after)):
            continue
        report.gapped += 1
        report.reads += 1
        messages, more = client.channel_messages_after(channel_id, after, page_size=PAGE_SIZE)
        for message in messages:
            try:
                facts = parse_chat_message({"message": message, "channel": channel})
            except BadEvent as exc:
                log.warning("chat catch-up: skipped a message of channel %s: %s", channel_id, exc)
                continue
            # As the message stands now (its last edit, trashed or not): an "edited" record
            # overwrites what a delivery said earlier, which history is newer than.
            event = "chat_message_trashed" if facts.get("deleted_at") else "chat_message_edited"
            store.record(event, facts)
            report.recorded += 1
        if messages:
            store.set_read_through(channel_id, max(int(m["id"]) for m in messages))
        if more:
            log.info("chat catch-up: channel %s has more; the next scan goes on", channel_id)
    return report
