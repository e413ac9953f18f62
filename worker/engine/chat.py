"""Squad chat as interactions and as activity: pure functions of chat message facts.

A chat message makes an interaction (kind ``chat``) from its author to:
- the author of the message it replies to;
- each person it mentions;
- the starter of the thread it is in (the author of the message the thread grew from).
One message gives at most one interaction per person (a reply that also mentions its
target is one bond, not two), none to its own author, and none at all when it is shorter
than ``min_units`` (length as people count it). Trashed messages are not counted.

Chat facts carry user ids for mentions and reply targets but a username only for the
author: ids are turned into usernames from the authors seen in the messages given (every
squad channel over the read window) plus ``known`` (ids the caller already holds); an id
nobody resolves (someone mentioned who never wrote in any squad channel) is left out.
Which of these people count (members, not staff nor the ``system`` user) is the graph's
business: it keeps interactions between measured members only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Protocol

from worker.engine.graph import Interaction, week_start
from worker.engine.weeks import Week


class ChatFact(Protocol):
    """One chat message as the engines read it (``worker.state.chat.ChatMessage`` has it)."""

    @property
    def message_id(self) -> int: ...
    @property
    def channel_id(self) -> int: ...
    @property
    def user_id(self) -> int | None: ...
    @property
    def username(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def units(self) -> int: ...
    @property
    def in_reply_to_id(self) -> int | None: ...
    @property
    def in_reply_to_user_id(self) -> int | None: ...
    @property
    def thread_id(self) -> int | None: ...
    @property
    def mentioned_user_ids(self) -> tuple[int, ...]: ...
    @property
    def deleted(self) -> bool: ...


def chat_usernames(
    messages: Iterable[ChatFact], known: Mapping[int, str] | None = None
) -> dict[int, str]:
    """user id → username from the messages' authors (a later message wins), over ``known``."""
    out = dict(known or {})
    for m in sorted(messages, key=lambda m: m.created_at):
        if m.user_id is not None and m.username:
            out[m.user_id] = m.username
    return out


def thread_starters(messages: Iterable[ChatFact]) -> dict[int, int]:
    """thread id → user id of the person whose message the thread grew from.

    Discourse opens a thread when someone replies to a message; the thread's first reply
    names that message's author (``in_reply_to``). A message recorded already inside the
    thread with no reply target (the original itself) names its own author.
    """
    firsts: dict[int, ChatFact] = {}
    for m in messages:
        if m.thread_id is None:
            continue
        best = firsts.get(m.thread_id)
        if best is None or (m.created_at, m.message_id) < (best.created_at, best.message_id):
            firsts[m.thread_id] = m
    out = {}
    for thread, first in firsts.items():
        starter = first.in_reply_to_user_id if first.in_reply_to_id else first.user_id
        if starter is not None:
            out[thread] = starter
    return out


def chat_url(base_url: str, channel_id: int, message_id: int) -> str:
    """A chat message's permalink (Discourse's ``/chat/c/:slug/:channel_id/:message_id``;
    ``-`` stands for the slug, which the chat app resolves from the id)."""
    return f"{base_url.rstrip('/')}/chat/c/-/{channel_id}/{message_id}"


def chat_interactions(
    messages: Sequence[ChatFact],
    *,
    min_units: int,
    known: Mapping[int, str] | None = None,
    since: datetime | None = None,
) -> list[Interaction]:
    """Every chat interaction between two different people in ``messages`` (see the module).

    ``messages`` should hold the threads' earlier messages too (read a margin before
    ``since``), so that a thread's starter and an author's username are found.
    """
    names = chat_usernames(messages, known)
    starters = thread_starters(messages)
    out: list[Interaction] = []
    for m in messages:
        if m.deleted or m.units < min_units or not m.username:
            continue
        if since is not None and m.created_at < since:
            continue
        targets: list[int] = []
        if m.in_reply_to_user_id is not None:
            targets.append(m.in_reply_to_user_id)
        targets.extend(m.mentioned_user_ids)
        if m.thread_id is not None and (starter := starters.get(m.thread_id)) is not None:
            targets.append(starter)
        seen: set[str] = {m.username}
        for user_id in targets:
            name = names.get(user_id)
            if name is None or name in seen:
                continue
            seen.add(name)
            out.append(Interaction(m.username, name, "chat", m.created_at, m.message_id))
    return out


def chat_activity(
    messages: Iterable[ChatFact],
    weeks: Sequence[Week],
    tz: tzinfo,
    *,
    min_units: int = 0,
) -> dict[Week, Counter[str]]:
    """Messages per member per week (``weeks`` contiguous, oldest first): the chat ledger.

    Counts live messages of at least ``min_units`` by their author's username; every week
    of ``weeks`` has an entry (empty when nobody wrote).
    """
    out: dict[Week, Counter[str]] = {w: Counter() for w in weeks}
    if not weeks:
        return out
    bounds = [(w, week_start(w, tz)) for w in weeks]
    end = week_start(weeks[-1].next(), tz)
    for m in messages:
        if m.deleted or m.units < min_units or not m.username or m.created_at >= end:
            continue
        slot = None
        for w, start in bounds:
            if m.created_at >= start:
                slot = w
        if slot is not None:
            out[slot][m.username] += 1
    return out
