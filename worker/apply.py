"""The one door: executes engine actions through the forum client.

Each action is done at most once per idempotency key. Before acting, a run claims the
key (``SET NX`` with a lease, ``CLAIM_LEASE_SECONDS``): a second run of the same job at
the same time gets ``ActionBusy`` and is retried after the lease, when it finds the
record of the first run and skips the action; a run that crashed holding a claim is
retried once the lease has expired. A record is kept after success, so a job that is
retried, redelivered or fed a duplicate event skips what it already did.

Posts, topics and PMs are not idempotent on the forum's side, and a write may be saved by
Discourse while its answer is lost (a proxy's 502, a timeout). So their text carries an
invisible marker (an HTML comment naming the key's hash), a ``sent`` record is written
before the write, and a run that finds that record (the outcome of an earlier attempt is
unknown) looks for the marker on the forum before writing again. Those reads happen only
on that path. Topics are also found by their title, which Discourse keeps unique.

Chat messages cannot carry a marker: chat cooks without markdown-it's HTML rules
(Chat::Message::MARKDOWN_IT_RULES), so a comment would show as text. A chat write in doubt
is looked for among the channel's newest messages instead (one read): a message by
Diamond's API user with the same text (as Discourse keeps it: TextCleaner.clean), newer
than the last message Diamond knew it had written there when the attempt began (so an
earlier reminder that happens to say the same words does not count).

Shadow mode is decided here and nowhere else: actions that affect members are
reported, not executed; the writes that touch no member (staff posts in the audit
log, PMs to staff) still happen, wrapped in the rules' ``shadow_mode`` template so
that whoever reads them knows nothing was done to anyone, and recorded under a
prefix of their own, so a shadow run never uses up a key the live run needs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import redis

from worker import actions as a
from worker.forum.addresses import is_chat_webhook_url
from worker.forum.errors import ForumRejected, NotFound
from worker.forum.links import absolute_links
from worker.pipeline.idempotency import ActionBusy
from worker.rules.models import SHADOW_TEMPLATE, Rules
from worker.state import keys
from worker.state import roster as roster_state

if TYPE_CHECKING:
    from worker.forum.client import ForumClient

log = logging.getLogger(__name__)

DONE_PREFIX = keys.DONE_PREFIX
# Shadow mode's own record: the live run after it (or after the switch) still acts.
SHADOW_DONE_PREFIX = keys.SHADOW_DONE_PREFIX
DONE_TTL_SECONDS = 400 * 24 * 3600  # longer than any rule's look-back
# A claim outlives one write (the client's timeouts and read retries) but not a dead
# worker's redelivery by much: a crashed claim is retried after it.
CLAIM_LEASE_SECONDS = 90
CLAIM_RECHECK_MS = 1_000
SENT_TTL_SECONDS = 30 * 24 * 3600
# Writes that are not idempotent on the forum: marked, and looked for when in doubt.
MARKED_WRITES = frozenset({"SendPrivateMessage", "CreatePost", "CreateTopic"})
# Also looked for when in doubt, by their text (a chat message has no room for a marker).
LOOKED_FOR_WRITES = MARKED_WRITES | {"SendChatMessage"}
# The text people read of each write, where links are made absolute (never a badge's
# grant reason: Discourse wants that relative or on its own host).
_TEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "SendPrivateMessage": ("raw", "thread_intro"),
    "CreatePost": ("raw",),
    "CreateTopic": ("raw",),
    "EditPost": ("raw",),
    "SendChatMessage": ("message",),
    "SilenceUser": ("message",),
}
# How many of the newest candidates are read when looking for a marker.
LOOKUP_CANDIDATES = 5
# How many of a channel's newest messages one read brings when a chat write is in doubt
# (one call whatever the size, MessagesQuery allows 500; a squad's channel rarely gets
# this many between an attempt and its retry).
CHAT_LOOKUP_PAGE = 100
# Chat::CreateMessage keeps a message as TextCleaner.clean(strip_whitespaces: true,
# strip_zero_width_spaces: true) leaves it: these spaces become " ", U+200B goes, and the
# ends are stripped. Both sides are compared in that form.
_ODD_SPACES = re.compile("[\u00a0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
_MARKER = "<!-- diamond:{} -->"
# Raise a channel's newest own message id, never lower it (writes may finish out of order).
_RAISE = """
local old = redis.call('zscore', KEYS[1], ARGV[1])
if not old or tonumber(old) < tonumber(ARGV[2]) then
  redis.call('zadd', KEYS[1], ARGV[2], ARGV[1])
end
return 0
"""
# Release a claim only if it is still ours (it may have expired and been taken).
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def chat_text(message: str) -> str:
    """``message`` as Discourse's chat keeps it (see ``_ODD_SPACES``)."""
    return _ODD_SPACES.sub(" ", message).replace("\u200b", "").strip()


def marker(key: str) -> str:
    """The invisible mark a post written under ``key`` carries (readers never see it)."""
    return _MARKER.format(hashlib.sha256(key.encode()).hexdigest()[:16])


_CHAT_FLOOR = "chat-after:"


def _floor(sent: bytes | str) -> int:
    """The message id a chat write's ``sent`` record names (0: none, or an older record)."""
    raw = sent.decode() if isinstance(sent, bytes) else str(sent)
    number = raw.removeprefix(_CHAT_FLOOR)
    return int(number) if raw.startswith(_CHAT_FLOOR) and number.isdigit() else 0


def with_marker(action: a.Action) -> a.Action:
    if isinstance(action, a.CreateTopic | a.SendPrivateMessage | a.CreatePost):
        return dataclasses.replace(action, raw=f"{action.raw}\n\n{marker(action.key)}")
    return action


# Group name -> id, shared by every job: ids never change while the group exists, and
# a group deleted and made again (new id) answers 404, which drops the entry.
GROUP_IDS_KEY = keys.GROUP_IDS
# PM thread (SendPrivateMessage.thread) -> its topic id: later PMs of it are replies.
PM_THREAD_PREFIX = keys.pm_thread("")
PM_THREAD_TTL_SECONDS = 120 * 24 * 3600
# Writes that change who is in which squad (or a squad's category): the roster state
# (``worker.state.roster``) follows each, so no job reads the squads again for it.
ROSTER_CHANGES = frozenset(
    {"AddToGroup", "RemoveFromGroup", "AddGroupOwners", "CreateGroup", "CreateCategory"}
)


# Membership changes a run sends as one call per group (``PUT``/``DELETE
# /groups/{id}/members.json`` take many usernames: GroupsController#add_members allows up
# to ADD_MEMBERS_LIMIT = 1000 a call, #remove_member any number; the client chunks).
BATCHED_WRITES = (a.AddToGroup, a.RemoveFromGroup)


def _same_batch(actions: list[a.Action], start: int) -> list[int]:
    """Positions after ``start`` of the same kind of change to the same group that can join
    its batch: up to the first other write touching that group (an add, remove, add of one
    person must stay in that order)."""
    first = actions[start]
    group = getattr(first, "group", None)
    out: list[int] = []
    for j in range(start + 1, len(actions)):
        other = actions[j]
        touches = getattr(other, "group", None) == group or getattr(other, "name", None) == group
        if (
            type(other) is type(first)
            and touches
            and other.affects_members == first.affects_members
        ):
            out.append(j)
        elif touches:
            break
    return out


# A title another topic holds: how many numbered titles ("title (2)"...) to try.
TITLE_ATTEMPTS = 5
# Discourse's refusal links the holder: "This title has already been used by <a
# href='https://forum/t/slug/123'>another topic</a>." (topic_title_already_used)
_TITLE_HOLDER = re.compile(r"already been used by <a href='[^']*/t/[^/']*/(\d+)'")


def title_holder(exc: ForumRejected) -> int | None:
    """The topic id a 422 "title already used" names, or None for any other refusal."""
    if exc.status != 422:
        return None
    for text in [*(exc.errors or []), exc.message]:
        match = _TITLE_HOLDER.search(text or "")
        if match:
            return int(match[1])
    return None


@dataclass
class ApplyReport:
    done: list[a.Action] = field(default_factory=list)
    already_done: list[a.Action] = field(default_factory=list)
    shadowed: list[a.Action] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)  # key -> forum answer (ids etc.)

    def summary(self) -> str:
        return (
            f"{len(self.done)} done, {len(self.already_done)} already done, "
            f"{len(self.shadowed)} not acted on (shadow mode)"
        )


class Applier:
    """Executes actions in order through ``client``; stops at the first forum error.

    The error propagates (``RateLimited`` → the actor retries later); on the
    retry, the actions already done are skipped by their keys.
    """

    def __init__(
        self,
        client: ForumClient,
        redis_client: redis.Redis,
        *,
        live: bool,
        rules: Rules | None = None,
        now: datetime | None = None,
        claim_lease_seconds: int = CLAIM_LEASE_SECONDS,
    ) -> None:
        if not live and rules is None:
            raise TypeError("shadow mode needs the rules: its writes say so in their words")
        self.client = client
        self.redis = redis_client
        self.live = live
        self.rules = rules
        self.now = now  # the step's time: when the roster state says a member joined
        self.claim_lease_seconds = claim_lease_seconds  # a dead run's claim is taken over after
        self._done_prefix = DONE_PREFIX if live else SHADOW_DONE_PREFIX
        self._group_ids: dict[str, int] = {}
        self._badge_ids: dict[str, int] = {}
        # Categories by slug: those this Applier made (``_new_categories``, no chat channel
        # yet), and one listing when a slug is not among them.
        self._category_id_of: dict[str, int] = {}
        self._new_categories: set[int] = set()
        self._categories_listed = False

    def apply(self, actions: Iterable[a.Action]) -> ApplyReport:
        report = ApplyReport()
        todo = list(actions)
        batched: set[int] = set()  # positions already sent in an earlier action's batch
        for i, action in enumerate(todo):
            if i in batched:
                continue
            if not self.live and action.affects_members:
                log.info("shadow: would %s (%s) [%s]", action.kind, action.reason, action.key)
                report.shadowed.append(action)
                continue
            if isinstance(action, BATCHED_WRITES):
                later = _same_batch(todo, i)
                batched.update(later)
                self._apply_batch([action, *(todo[j] for j in later)], report)
                continue
            done_key = self._done_prefix + action.key
            if self.redis.exists(done_key):
                report.already_done.append(action)
                continue
            with self._claim(done_key) as claimed:
                if not claimed:  # finished by another run between our look and our claim
                    report.already_done.append(action)
                    continue
                result = self._write(action, done_key)
            log.info("%s: %s [%s]", action.kind, action.reason, action.key)
            report.done.append(action)
            report.results[action.key] = result
        return report

    def _apply_batch(self, batch: list[a.Action], report: ApplyReport) -> None:
        """Membership changes of one kind to one group: one call (the client chunks it by
        Discourse's 1,000 usernames); each action keeps its own claim and record."""
        with contextlib.ExitStack() as stack:
            pending: list[a.AddToGroup | a.RemoveFromGroup] = []
            keys: set[str] = set()
            for action in batch:
                assert isinstance(action, a.AddToGroup | a.RemoveFromGroup)  # what batches hold
                done_key = self._done_prefix + action.key
                if action.key in keys:  # the same decision twice in one run: once
                    report.already_done.append(action)
                    continue
                keys.add(action.key)
                if self.redis.exists(done_key) or not stack.enter_context(self._claim(done_key)):
                    report.already_done.append(action)
                    continue
                pending.append(action)
            if not pending:
                return
            first = pending[0]
            usernames = tuple(dict.fromkeys(u for x in pending for u in x.usernames))
            reason = first.reason if len(pending) == 1 else f"{first.reason} (+{len(pending) - 1})"
            merged = dataclasses.replace(first, usernames=usernames, reason=reason)
            result = self._execute(merged)
            roster_state.applied(self.redis, merged, self.now)  # the roster state follows
            for action in pending:
                done_key = self._done_prefix + action.key
                self._record(done_key, done_key + ":sent")
                log.info("%s: %s [%s]", action.kind, action.reason, action.key)
                report.done.append(action)
                report.results[action.key] = result

    @contextmanager
    def _claim(self, done_key: str) -> Iterator[bool]:
        """Hold the action's claim (or raise ``ActionBusy``); yields False if it is done."""
        claim_key = done_key + ":claim"
        token = uuid.uuid4().hex
        if not self.redis.set(claim_key, token, nx=True, ex=self.claim_lease_seconds):
            # Usually the other run is about to finish: look again soon, not after the
            # whole lease (which is only there for a run that died holding the claim).
            left = self.redis.pttl(claim_key)
            left = int(left) if left and left > 0 else CLAIM_RECHECK_MS
            raise ActionBusy(
                done_key, max(100, min(left, CLAIM_RECHECK_MS)), lease_left_ms=max(100, left)
            )
        try:
            yield not self.redis.exists(done_key)
        finally:
            self.redis.eval(_RELEASE, 1, claim_key, token)

    def _write(self, action: a.Action, done_key: str) -> Any:
        """Carry out one claimed action and record it done."""
        sent_key = done_key + ":sent"
        looked_for = action.kind in LOOKED_FOR_WRITES
        act = action if self.live else self.marked_for_shadow(action)
        act = self._with_public_links(act)
        if looked_for:
            act = with_marker(act)
            sent = self.redis.get(sent_key)
            if sent is not None:  # an earlier attempt's outcome is unknown
                found = self._find_written(act, sent)
                if found is not None:
                    log.info("%s found on the forum: not written again [%s]", act.kind, act.key)
                    self._written(act, found)
                    self._record(done_key, sent_key)
                    return found
            # What the lookup needs to tell this write from earlier ones (kept per attempt).
            self.redis.set(sent_key, self._sent_floor(act), ex=SENT_TTL_SECONDS)
        try:
            result = self._execute(act)
        except ForumRejected:
            self.redis.delete(sent_key)  # the forum answered no: nothing was written
            raise
        if action.kind in ROSTER_CHANGES:
            roster_state.applied(self.redis, action, self.now, result)  # the state follows
        self._written(act, result)
        self._record(done_key, sent_key)
        return result

    def _sent_floor(self, act: a.Action) -> str:
        """The ``sent`` record's value: for a chat message, the newest message id Diamond
        knew it had written in the channel before this attempt ("0": none known)."""
        if isinstance(act, a.SendChatMessage):
            score = self.redis.zscore(keys.CHAT_OWN_WRITTEN, str(act.channel_id))
            return f"{_CHAT_FLOOR}{int(score or 0)}"
        return "1"

    def _written(self, act: a.Action, result: Any) -> None:
        """Remember the id of a chat message Diamond wrote (the next lookup's floor)."""
        if isinstance(act, a.SendChatMessage) and isinstance(result, dict):
            message_id = result.get("message_id")
            if message_id is not None:
                self.redis.eval(
                    _RAISE, 1, keys.CHAT_OWN_WRITTEN, str(act.channel_id), int(message_id)
                )

    def _record(self, done_key: str, sent_key: str) -> None:
        with self.redis.pipeline() as pipe:
            pipe.set(done_key, "1", ex=DONE_TTL_SECONDS)
            pipe.delete(sent_key)
            pipe.execute()

    # --- writes whose outcome is unknown: look for them on the forum ------------------

    def _find_written(self, act: a.Action, sent: bytes | str) -> dict[str, Any] | None:
        try:
            if isinstance(act, a.SendPrivateMessage):
                return self._find_message(act)
            if isinstance(act, a.CreatePost):
                return self._find_reply(act)
            if isinstance(act, a.SendChatMessage):
                return self._find_chat_message(act, _floor(sent))
        except NotFound:  # no such list (a group recipient, a topic gone): not written
            return None
        return None  # topics: Discourse keeps titles unique, _do_CreateTopic finds its own

    def _has_marker(self, post_id: int, key: str) -> bool:
        return marker(key) in str(self.client.get_post(post_id).get("raw") or "")

    def _find_message(self, act: a.SendPrivateMessage) -> dict[str, Any] | None:
        """The PM, among the first recipient's newest messages with this title."""
        titles = {act.title}
        candidates = [
            t
            for t in self.client.list_private_messages(act.recipients[0])
            if t.get("title") in titles
        ]
        for topic in candidates[:LOOKUP_CANDIDATES]:
            stream = (self.client.get_topic(int(topic["id"])).get("post_stream") or {}).get(
                "stream"
            ) or []
            if stream and self._has_marker(int(stream[0]), act.key):
                return {"topic_id": int(topic["id"]), "post_id": int(stream[0]), "existed": True}
        return None

    def _find_reply(self, act: a.CreatePost) -> dict[str, Any] | None:
        """The reply, among the topic's newest posts by Diamond's API user."""
        own = str(getattr(self.client, "api_username", "")).lower()
        topic = self.client.get_topic(act.topic_id)
        stream = (topic.get("post_stream") or {}).get("stream") or []
        loaded = {int(p["id"]): p for p in (topic.get("post_stream") or {}).get("posts") or []}
        for post_id in list(reversed(stream))[:LOOKUP_CANDIDATES]:
            author = (loaded.get(int(post_id)) or {}).get("username")
            if author is not None and str(author).lower() != own:
                continue
            if self._has_marker(int(post_id), act.key):
                return {"topic_id": act.topic_id, "id": int(post_id), "existed": True}
        return None

    def _find_chat_message(self, act: a.SendChatMessage, floor: int) -> dict[str, Any] | None:
        """The message, among the channel's newest (one read): by Diamond's API user, newer
        than ``floor``, with the same text. A message a moderator has trashed since counts
        (staff see it, with ``deleted_at``): it was sent, and someone chose to remove it."""
        own = str(getattr(self.client, "api_username", "")).lower()
        text = chat_text(act.message)
        messages = self.client.latest_channel_messages(act.channel_id, page_size=CHAT_LOOKUP_PAGE)
        for message in reversed(messages):  # newest first
            author = str((message.get("user") or {}).get("username") or "").lower()
            message_id = int(message.get("id") or 0)
            if author != own or message_id <= floor:
                continue
            if chat_text(str(message.get("message") or "")) == text:
                return {"success": "OK", "message_id": message_id, "existed": True}
        return None

    def is_done(self, key: str) -> bool:
        """Whether the action with this idempotency key was carried out already (in this
        applier's mode: shadow and live keep separate records)."""
        return bool(self.redis.exists(self._done_prefix + key))

    def _with_public_links(self, action: a.Action) -> a.Action:
        """The action with the forum paths in its text absolute on the forum's public URL
        (the key stays: the same action is the same write)."""
        base = getattr(self.client, "public_url", "")
        if not base or not isinstance(base, str):
            return action
        fields = {
            name: absolute_links(getattr(action, name), base)
            for name in _TEXT_FIELDS.get(action.kind, ())
        }
        return dataclasses.replace(action, **fields) if fields else action  # type: ignore[arg-type]  # text fields only

    def marked_for_shadow(self, action: a.Action) -> a.Action:
        """The action with its text wrapped in ``shadow_mode`` (default language: staff
        read the audit log in it). Titles stay unique: the template adds words to them."""
        assert self.rules is not None  # __init__ makes sure of it
        if isinstance(action, a.CreateTopic | a.SendPrivateMessage):
            msg = self.rules.render(SHADOW_TEMPLATE, None, title=action.title, body=action.raw)
            return dataclasses.replace(action, title=msg.title, raw=msg.body)
        if isinstance(action, a.CreatePost):
            msg = self.rules.render(SHADOW_TEMPLATE, None, title="", body=action.raw)
            return dataclasses.replace(action, raw=msg.body)
        if isinstance(action, a.SendChatMessage):
            msg = self.rules.render(SHADOW_TEMPLATE, None, title="", body=action.message)
            return dataclasses.replace(action, message=msg.body)
        return action  # no text people read (groups, categories...)

    # --- one method per action kind -------------------------------------------------

    def _execute(self, action: a.Action) -> Any:
        handler = getattr(self, "_do_" + action.kind)
        return handler(action)

    def _do_ApproveUser(self, act: a.ApproveUser) -> Any:
        return self.client.approve_user(act.user_id, reason=act.reason)

    def _do_RejectUser(self, act: a.RejectUser) -> Any:
        """Reject the way Discourse does: the review queue's ``delete_user`` with a
        ``reject_reason`` emails it to the applicant (``signup_after_reject``)."""
        reviewable = self._pending_reviewable(act.user_id)
        if reviewable is not None:
            return self.client.perform_reviewable(
                int(reviewable["id"]),
                "delete_user_block" if act.block else "delete_user",
                int(reviewable.get("version") or 0),
                reason=act.reason,
                reject_reason=act.reject_reason or None,
                send_email=True,
            )
        # No pending ReviewableUser (must_approve_users off, or already reviewed): delete the
        # account. Discourse sends no rejection email this way, so the applicant learns nothing.
        log.warning(
            "reject %s: no pending review-queue item, deleting without a rejection email",
            act.username,
        )
        try:
            return self.client.delete_user(
                act.user_id, block_email=act.block, block_ip=act.block, reason=act.reason
            )
        except NotFound:
            return None  # already gone: the decision holds

    def _pending_reviewable(self, user_id: int) -> dict[str, Any] | None:
        for item in self.client.iter_reviewables("ReviewableUser", "pending"):
            if item.get("target_id") == user_id:
                return dict(item)
        return None

    def _do_SendPrivateMessage(self, act: a.SendPrivateMessage) -> Any:
        if not act.thread:
            return self.client.send_private_message(
                list(act.recipients), act.title, act.raw, reason=act.reason
            )
        key = keys.pm_thread(act.thread)
        message = f"**{act.title}**\n\n{act.raw}"
        known = self.redis.get(key)
        if known is not None:
            try:
                return self.client.create_post(int(known), message, reason=act.reason)
            except NotFound:
                log.info("PM thread %s is gone: opening it again [%s]", act.thread, act.key)
        opening = f"{act.thread_intro.strip()}\n\n{message}" if act.thread_intro else message
        answer = self.client.send_private_message(
            list(act.recipients), act.thread_title or act.title, opening, reason=act.reason
        )
        if isinstance(answer, dict) and answer.get("topic_id"):
            self.redis.set(key, int(answer["topic_id"]), ex=PM_THREAD_TTL_SECONDS)
        return answer

    def _do_AddToGroup(self, act: a.AddToGroup) -> Any:
        return self._on_group(
            act.group,
            lambda gid: self.client.add_group_members(
                gid, list(act.usernames), group_name=act.group, reason=act.reason
            ),
        )

    def _do_RemoveFromGroup(self, act: a.RemoveFromGroup) -> Any:
        try:
            return self._on_group(
                act.group,
                lambda gid: self.client.remove_group_members(
                    gid, list(act.usernames), reason=act.reason
                ),
            )
        except ForumRejected as exc:
            if exc.status == 422:
                return None  # not members any more: nothing to remove
            raise

    def _do_AddGroupOwners(self, act: a.AddGroupOwners) -> Any:
        return self._on_group(
            act.group,
            lambda gid: self.client.add_group_owners(gid, list(act.usernames), reason=act.reason),
        )

    def _do_SilenceUser(self, act: a.SilenceUser) -> Any:
        return self.client.silence_user(
            act.user_id, act.until, act.reason, message=act.message or None
        )

    def _do_CreateTopic(self, act: a.CreateTopic) -> Any:
        # Discourse refuses a title a listable topic already holds (Topic validates :title,
        # unique_among), for admins too. Diamond's titles are unique per key (``diamond
        # check``), so the holder is either this very topic, written before a crash kept
        # the record from being made (then it is done), or someone else's: then a numbered
        # title, the same on every retry, rather than a job that fails forever.
        for n in range(1, TITLE_ATTEMPTS + 1):
            title = act.title if n == 1 else f"{act.title} ({n})"
            try:
                return self.client.create_topic(
                    title,
                    act.raw,
                    act.category_id,
                    created_at=act.created_at,
                    tags=list(act.tags) or None,
                    reason=act.reason,
                )
            except ForumRejected as exc:
                holder = title_holder(exc)
                if holder is None:
                    raise
                if self._is_own_topic(holder, act.category_id):
                    log.info("%r exists already: topic %s [%s]", title, holder, act.key)
                    return {"topic_id": holder, "existed": True}
                if n == TITLE_ATTEMPTS:
                    raise
                log.warning(
                    "title %r is held by topic %s: trying another [%s]", title, holder, act.key
                )
        return None  # not reached: the last attempt returns or raises

    def _is_own_topic(self, topic_id: int, category_id: int) -> bool:
        """Whether Diamond's API user opened ``topic_id`` in ``category_id`` (one call)."""
        topic = self.client.get_topic(topic_id)
        creator = ((topic.get("details") or {}).get("created_by") or {}).get("username")
        own = str(getattr(self.client, "api_username", "")).lower()
        return topic.get("category_id") == category_id and str(creator).lower() == own

    def _do_CreatePost(self, act: a.CreatePost) -> Any:
        return self.client.create_post(
            act.topic_id,
            act.raw,
            reply_to_post_number=act.reply_to_post_number,
            created_at=act.created_at,
            reason=act.reason,
        )

    def _do_EditPost(self, act: a.EditPost) -> Any:
        return self.client.update_post(act.post_id, act.raw, reason=act.reason)

    def _do_GrantBadge(self, act: a.GrantBadge) -> Any:
        badge_id = self._badge_id(act.badge_name)
        return self.client.grant_badge(act.username, badge_id, act.reason_path)

    def _do_RevokeBadge(self, act: a.RevokeBadge) -> Any:
        badge_id = self._badge_id(act.badge_name)
        answer = self.client.user_badges(act.username)
        for grant in answer.get("user_badges", []):
            if grant.get("badge_id") == badge_id:
                self.client.revoke_user_badge(grant["id"])
        return None

    def _do_CreateGroup(self, act: a.CreateGroup) -> Any:
        # Create outright (no look first: one call per new squad group). A group with the
        # name already there (made before a crash kept the record from being written, or by
        # another formation) is refused with a 422, in the forum's language: whatever the
        # refusal says, the name is looked up once; found, it is ours and done.
        try:
            created = self.client.create_group(
                act.name,
                act.full_name or None,
                reason=act.reason,
                bio_raw=act.bio_raw,
                visibility_level=act.visibility_level,
                members_visibility_level=act.members_visibility_level,
                messageable_level=act.messageable_level,
                mentionable_level=act.mentionable_level,
            )
        except ForumRejected as exc:
            if exc.status != 422:
                raise
            try:
                group = self.client.get_group(act.name)
            except NotFound:
                raise exc from None  # refused for another reason (a username holds the name)
            group = group.get("group", group)
            self._remember_group(act.name, int(group["id"]))
            return {"id": int(group["id"]), "existed": True}
        self._remember_group(act.name, int(created["id"]))
        return {"id": int(created["id"]), "existed": False}

    def _do_CreateCategory(self, act: a.CreateCategory) -> Any:
        # Create outright, as groups are; a 422 (the slug or name in use: made before a
        # crash kept the record) lists the categories once to find it by its slug.
        try:
            created = self.client.create_category(
                act.name,
                slug=act.slug,
                color=act.color,
                text_color=act.text_color,
                permissions=dict(act.permissions) or None,
                moderating_group_ids=[self._group_id(g) for g in act.moderating_groups] or None,
                description=act.description or None,
                reason=act.reason,
            )
        except ForumRejected as exc:
            if exc.status != 422:
                raise
            found = self._category_ids(fresh=True).get(act.slug)
            if found is None:
                raise
            return {"id": found, "existed": True}
        category_id = int(created["id"])
        self._category_id_of[act.slug] = category_id
        self._new_categories.add(category_id)
        return {"id": category_id, "existed": False}

    def _category_ids(self, *, fresh: bool = False) -> dict[str, int]:
        """``{slug: id}``: the categories this Applier made, else one listing (kept for the
        rest of its run, so a plan's channels and webhook filter share it)."""
        if fresh or not self._categories_listed:
            listed = {
                str(c["slug"]): int(c["id"]) for c in self.client.list_categories() if c.get("slug")
            }
            self._category_id_of.update(listed)
            self._categories_listed = True
        return self._category_id_of

    def _category_id(self, slug: str) -> int | None:
        known = self._category_id_of.get(slug)
        return known if known is not None else self._category_ids().get(slug)

    def _do_SendChatMessage(self, act: a.SendChatMessage) -> Any:
        # No marker (chat would show it); ``_find_chat_message`` finds it by its text.
        return self.client.send_chat_message(act.channel_id, act.message, reason=act.reason)

    def _do_CreateChatChannel(self, act: a.CreateChatChannel) -> Any:
        # The category may have been created earlier in the same plan: found by its slug.
        category_id = self._category_id(act.category_slug)
        if category_id is None:
            raise NotFound(f"category {act.category_slug!r} does not exist (yet)")
        # Look before creating: a retry after a crash between create and record finds it,
        # and Discourse refuses a second channel of the same category and name (400). A
        # category this Applier has just made has no channel yet: nothing to look for.
        looked = [] if category_id in self._new_categories else self.client.iter_chat_channels()
        for channel in looked:
            if channel.get("chatable_type") != "Category":
                continue
            if channel.get("chatable_id") != category_id:
                continue
            if act.name and channel.get("title") != act.name:
                continue
            return {"id": int(channel["id"]), "category_id": category_id, "existed": True}
        created = self.client.create_category_channel(
            category_id,
            name=act.name or None,
            description=act.description or None,
            auto_join_users=act.auto_join_users,
            reason=act.reason,
        )
        return {"id": int(created["id"]), "category_id": category_id, "existed": False}

    def _do_AddChatWebhookCategories(self, act: a.AddChatWebhookCategories) -> Any:
        hook = next(
            (h for h in self.client.list_webhooks() if is_chat_webhook_url(h["payload_url"])),
            None,
        )
        if hook is None:
            return {"webhook": None}  # no chat webhook: the catch-up reads the chat back
        ids = self._category_id_of
        if any(slug not in ids for slug in act.category_slugs):
            ids = self._category_ids()
        missing = [slug for slug in act.category_slugs if slug not in ids]
        if missing:
            raise NotFound(f"categories {missing} do not exist (yet)")
        have = [int(i) for i in hook.get("category_ids") or ()]
        # An empty filter lets every category through: never widen it to that.
        want = sorted(set(have) | {ids[slug] for slug in act.category_slugs})
        if not have or want == sorted(have):
            return {"webhook": int(hook["id"]), "category_ids": have}
        self.client.update_webhook(int(hook["id"]), category_ids=want, reason=act.reason)
        return {"webhook": int(hook["id"]), "category_ids": want}

    # --- name → id lookups: groups cached in Redis, badges for one applier ----------

    def _group_id(self, name: str) -> int:
        if name not in self._group_ids:
            cached = self.redis.hget(GROUP_IDS_KEY, name)
            if cached is not None:
                self._group_ids[name] = int(cached)
            else:
                answer = self.client.get_group(name)
                self._remember_group(name, int(answer.get("group", answer)["id"]))
        return self._group_ids[name]

    def _remember_group(self, name: str, group_id: int) -> None:
        self._group_ids[name] = group_id
        self.redis.hset(GROUP_IDS_KEY, name, group_id)

    def _on_group(self, name: str, write: Callable[[int], Any]) -> Any:
        """``write(group id)``; a 404 means the id we knew is gone: look it up once more."""
        try:
            return write(self._group_id(name))
        except NotFound:
            self._group_ids.pop(name, None)
            self.redis.hdel(GROUP_IDS_KEY, name)
            return write(self._group_id(name))

    def _badge_id(self, name: str) -> int:
        if name not in self._badge_ids:
            answer = self.client.list_badges()
            badges = answer.get("badges", []) if isinstance(answer, dict) else answer
            self._badge_ids.update({b["name"]: int(b["id"]) for b in badges})
        if name not in self._badge_ids:
            raise NotFound(f"badge {name!r} does not exist; run `diamond apply --yes`")
        return self._badge_ids[name]
