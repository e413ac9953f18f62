"""Discourse's per-post limits Diamond keeps to (the defaults of config/site_settings.yml).

Discourse lets staff past both (lib/validators/post_validator.rb#max_mention_validator
returns early for staff; lib/post_creator.rb#valid? checks recipients only for non-staff),
and Diamond's API user is an admin. Diamond keeps to them anyway: a post that pings more
than ten people reads as spam, and the limits hold if the forum ever runs Diamond as a
non-staff user.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

# max_mentions_per_post (default 10): @mentions one post may carry.
MAX_MENTIONS_PER_POST = 10
# max_allowed_message_recipients (default 30): usernames one PM may be sent to.
MAX_MESSAGE_RECIPIENTS = 30
# max_mentions_per_chat_message (default 5, plugins/chat/config/settings.yml): above it a
# chat message notifies nobody, staff's too (plugins/chat/app/jobs/regular/chat/
# notify_mentioned.rb returns early when the parsed mentions exceed it).
MAX_MENTIONS_PER_CHAT_MESSAGE = 5
# chat_maximum_message_length (default 6000, plugins/chat/config/settings.yml): longer
# chat messages are refused.
MAX_CHAT_MESSAGE_LENGTH = 6000

T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> list[tuple[T, ...]]:
    """``items`` in order, in runs of at most ``size``."""
    return [tuple(items[i : i + size]) for i in range(0, len(items), size)]
