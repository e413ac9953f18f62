"""A post changed (created, edited, destroyed, recovered): every domain records it, from
one read of the post.

gather: the post from the signed ``post_created`` body when it carries every fact
(``worker.reads.parse.post_of_body``), else one ``GET /posts/{id}.json`` (NotFound → the
post is gone, handled as destroyed); the topic's facts from the cached forum view (kept
from the signed ``topic_created`` body by the receiver; else one ``GET /t/{id}.json`` per
topic, shared by every job; a first post whose topic is not known yet raises
``TopicPending`` when ``wait_for_topic``: the actor comes back later) → then, in order:
the camp's record of a camper's post (``record_camp_post``), the obligations ledger
(``record_ledger_post``: its topic classified once and kept, the week the post is filed
under, a leave answer through the Applier, the thread's roll call marked), recognition's
store. Each part is idempotent, so a retried job re-runs all of them safely.

``topic_edited`` (Discourse sends it *instead of* ``post_edited`` when an edit of a
topic's first post also changes the topic) is the first post's ``post_edited``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from worker.apply import ApplyReport
from worker.engine.facts import PostFact, parse_time
from worker.engine.health import AdScreen
from worker.engine.obligations import (
    LeavePost,
    WeekPost,
    grant_leave,
    plan_leave_answer,
)
from worker.engine.weeks import Week, week_of, week_times
from worker.forum import calls
from worker.forum.errors import NotFound
from worker.reads import forum_view
from worker.reads.parse import (
    camp_post,
    classify_topic,
    first_post_id,
    is_deleted,
    post_of_body,
    written_by,
)
from worker.rules.models import Rules
from worker.state.ledger import Ledger, TopicInfo
from worker.state.membership import MembershipStore, clear_missing_post, note_missing_post
from worker.state.recognition import RecognitionStore
from worker.steps import StepContext


class PostForum(
    calls.ApiUsername,
    calls.GetPost,
    calls.GetTopic,
    calls.ListCategories,
    calls.ListGroups,
    calls.CreatePost,
    calls.IterGroupMembers,
    Protocol,
):
    """The forum calls recording a post makes (the leave answer goes through the Applier)."""


Ctx = StepContext[PostForum]


def read_post(forum: PostForum, post_id: int) -> dict[str, Any] | None:
    """The post as it is now, or None when the forum no longer has it."""
    try:
        return forum.get_post(post_id)
    except NotFound:
        return None


class TopicPending(Exception):
    """A first post's topic is not known yet: its ``topic_created`` delivery (Discourse
    sends it in a job of its own) has not arrived. Come back later rather than read it."""

    def __init__(self, topic_id: int) -> None:
        super().__init__(f"topic {topic_id}: its topic_created body has not arrived yet")
        self.topic_id = topic_id


def run(
    ctx: Ctx,
    post_id: int,
    event: str,
    *,
    body: Mapping[str, Any] | None = None,
    author: str | None = None,
    wait_for_topic: bool = False,
) -> dict[str, Any]:
    """Read the post once (or take the signed body's) and feed every domain; returns each
    domain's outcome.

    Until this succeeds the post is a missing fact of its ``author`` (the webhook body's
    ``username``; None: unknown, which holds back every decision): noted when it fails,
    cleared once every domain has recorded it (``worker.state.membership``).
    ``wait_for_topic``: a new topic's first post whose topic facts Redis lacks raises
    ``TopicPending`` (nothing recorded yet) instead of reading the topic."""
    try:
        outcomes = _feed(ctx, post_id, event, body, wait_for_topic=wait_for_topic)
    except Exception:
        note_missing_post(ctx.redis, post_id, author)
        raise
    clear_missing_post(ctx.redis, post_id)  # the fact arrived
    return outcomes


def _feed(
    ctx: Ctx,
    post_id: int,
    event: str,
    body: Mapping[str, Any] | None,
    *,
    wait_for_topic: bool = False,
) -> dict[str, Any]:
    post = post_of_body(body) if event == "post_created" else None
    if post is None or post.get("id") != post_id:
        post = read_post(ctx.forum, post_id)
    if wait_for_topic and event == "post_created" and post is not None:
        topic_id = int(post["topic_id"])
        first = int(post.get("post_number") or 0) == 1
        if first and forum_view.kept_topic_facts(ctx.redis, topic_id) is None:
            raise TopicPending(topic_id)
    return {
        "membership": record_camp_post(ctx, post),
        "obligations": record_ledger_post(ctx, post_id, event, post),
        "recognition": record_recognition_post(ctx, post_id, event, post),
    }


def record_camp_post(ctx: Ctx, post: Mapping[str, Any] | None) -> bool:
    """Remember a camper's post (False: not a camper's, or None: not found).

    Idempotent: the post is stored by id, so a repeated event changes nothing. The topic
    is read again when the replied-to post is newer than what the view saw.
    """
    if post is None:
        return False
    store = MembershipStore(ctx.redis)
    username = str(post.get("username") or "")
    if not username or not store.is_camper(username):
        return False
    topic_id = int(post["topic_id"])
    topic = forum_view.topic_facts(ctx.forum, ctx.redis, topic_id)
    target = int(post.get("reply_to_post_number") or 1)
    if int(post["post_number"]) > 1 and target not in topic.authors:
        topic = forum_view.topic_facts(ctx.forum, ctx.redis, topic_id, fresh=True)
    category = forum_view.category_slug(ctx.forum, ctx.redis, topic.category_id)
    store.record_camp_post(username, camp_post(post, category, topic))
    return True


def run_topic_edit(ctx: Ctx, topic_id: int) -> dict[str, Any]:
    """The topic's first post re-read and fed to every domain as ``post_edited``."""
    try:
        topic = ctx.forum.get_topic(topic_id)
    except NotFound:
        return {}  # gone: its own topic_destroyed/post_destroyed events say so
    forum_view.keep_topic(ctx.redis, topic_id, topic)  # its title or category just changed
    post_id = first_post_id(topic)
    if post_id is None:
        return {}
    # Not ``run``: a topic edit names no author, and a failed one is caught up like any
    # other job; it must not hold back every decision as a post of unknown author would.
    return _feed(ctx, post_id, "post_edited", None)


# ─────────────────────────────── the obligations ledger ───────────────────────────────


def record_ledger_post(ctx: Ctx, post_id: int, event: str, post: Mapping[str, Any] | None) -> str:
    """Bring the ledger up to date with one post (created, edited, destroyed, recovered),
    already read (None: the forum no longer has it); returns what happened. Safe to repeat.

    A leave request is answered in its topic (once per post: the Applier's key)."""
    ledger = Ledger(ctx.redis)
    if event == "post_destroyed" or post is None:
        return "removed" if ledger.remove_post(post_id) else "ignored"
    if is_deleted(post):
        return "removed" if ledger.remove_post(post_id) else "ignored"
    info = topic_info(ctx, int(post["topic_id"]))
    if info.kind == "leave" and _by_diamond(ctx, post):
        return "ignored"  # Diamond's own answer in a leave topic is no request
    version_at = None
    if event == "post_edited" and post.get("updated_at"):
        version_at = parse_time(str(post["updated_at"]))
    early = info.kind == "article" and ctx.rules.obligations.article.mode == "thread"
    if early and _by_diamond(ctx, post):
        return "ignored"
    if info.kind == "thread" and info.week and info.squad:
        filed = _filed_week(ledger, ctx.rules, post, info.week, info.squad)
        if filed != info.week:
            info, early = TopicInfo("thread", filed, info.squad), True
    outcome = ledger.ingest_post(ctx.rules, post, info, version_at=version_at)
    if outcome == "recorded" and early:
        return "recorded-early"  # the post's job opens the week's missing thread
    # The first post's roll call is redone (``roll_calls``) unless the reminders carry it.
    edited = ctx.rules.obligations.article.roll_call != "reminders"
    if outcome == "recorded" and info.kind == "thread" and info.week and info.squad and edited:
        at = version_at or parse_time(str(post.get("created_at")))
        ledger.mark_roll_call(info.week, info.squad, at)
    if outcome == "leave":
        answer_leave(ctx, post)
    return outcome


def topic_info(ctx: Ctx, topic_id: int) -> TopicInfo:
    """The ledger's classification of a topic; one ``/t/{id}.json`` read the first time."""
    rules = ctx.rules
    ledger = Ledger(ctx.redis)
    known = ledger.topic(topic_id)
    if known is not None:
        return known
    # The topic's facts from the one forum view (shared with the camp and recognition).
    topic = forum_view.topic_facts(ctx.forum, ctx.redis, topic_id, need_created=True).as_json()
    squads = ledger.squads_of_category(topic.get("category_id"))
    if not squads and isinstance(topic.get("category_id"), int):
        # A squad formed since the last scheduled run: the ledger does not know its
        # category yet. The roster state does (formation drops it: read in full again); a
        # post event does not reconcile it with the forum, the scheduled runs do.
        roster = forum_view.cached_roster(ctx.forum, ctx.redis, rules, reconcile=False, now=ctx.now)
        ledger.record_squad_categories(
            {s.category_id: s.slug for s in roster.squads if s.category_id is not None}
        )
        ledger.remember_squad_names(roster)
        squads = ledger.squads_of_category(topic.get("category_id"))
    leave_id = (
        forum_view.category_ids(ctx.forum, ctx.redis).get(rules.obligations.leave.category)
        if rules.obligations.leave.enabled
        else None
    )
    info = classify_topic(rules, topic, squads, leave_id)
    if info.kind == "other" and rules.obligations.article.mode == "thread" and squads:
        # A topic of its own in a squad's category, opened while its week had no thread
        # (a squad formed mid-week, a thread run lost to an outage): its posts are that
        # week's, as they would have been in the thread.
        (squad,) = squads.values()
        week = week_of(parse_time(str(topic["created_at"])), rules.tz)
        if squad.slug not in ledger.threads(week):
            info = TopicInfo("article", week, squad.slug)
    if info.kind == "thread" and info.week and info.squad:
        ledger.record_thread(info.week, info.squad, topic_id)
    else:
        ledger.record_topic(topic_id, info)
    return info


def thread_post_week(
    rules: Rules, post: Mapping[str, Any], thread_week: Week, thread_posts: Iterable[WeekPost]
) -> Week:
    """The week a post in ``thread_week``'s thread counts for, when it was posted in a later
    week (which had no thread of its own yet: members write where they can).

    It stays with the thread's week while it can still count there: a review of one of that
    week's floors within its review window, or a late article of a member with nothing on
    time that week. Otherwise it belongs to the week it was posted in.
    """
    obligations, tz = rules.obligations, rules.tz
    created = parse_time(str(post["created_at"]))
    posted_in = week_of(created, tz)
    if posted_in <= thread_week:
        return thread_week
    times = week_times(obligations, thread_week, tz)
    topic_id = int(post["topic_id"])
    reply_to = int(post.get("reply_to_post_number") or 0)
    if reply_to > 1:
        floors = {p.post_number for p in thread_posts if p.topic_id == topic_id}
        return thread_week if created <= times.review_cap and reply_to in floors else posted_in
    author = str(post.get("username") or "")
    minimum = obligations.article.min_length
    on_time = any(
        p.username == author
        and p.reply_to_post_number in (None, 1)
        and (v := p.as_at(times.deadline)) is not None
        and v.units >= minimum
        for p in thread_posts
    )
    return thread_week if created <= times.late_until and not on_time else posted_in


def _filed_week(
    ledger: Ledger, rules: Rules, post: Mapping[str, Any], thread_week: Week, squad: str
) -> Week:
    """The week a post in ``thread_week``'s thread is filed under: a later week's while that
    week has no thread (``thread_post_week``); once filed, it stays (edits follow it)."""
    place = ledger.place_of(int(post["id"]))
    if place is not None and place[1] == squad:
        return place[0]
    posted_in = week_of(parse_time(str(post["created_at"])), rules.tz)
    if posted_in <= thread_week or squad in ledger.threads(posted_in):
        return thread_week
    return thread_post_week(rules, post, thread_week, ledger.posts(thread_week, squad))


def _by_diamond(ctx: Ctx, post: Mapping[str, Any]) -> bool:
    return written_by(post, str(getattr(ctx.forum, "api_username", "") or ""))


def answer_leave(ctx: Ctx, post: Mapping[str, Any]) -> ApplyReport | None:
    """Reply to a leave post with what was decided about it, as the audit will decide
    it (every leave post in the ledger); nothing when the ledger has not recorded it."""
    post_id = int(post["id"])
    source = f"post {post_id}"
    requests = Ledger(ctx.redis).leave_requests()
    request = next((r for r in requests if r.source == source), None)
    if request is None or not request.weeks:
        return None
    decision = grant_leave(ctx.rules.obligations, ctx.rules.tz, requests)
    where = LeavePost(post_id, int(post["topic_id"]), int(post.get("post_number") or 1))
    language = MembershipStore(ctx.redis).languages().get(request.username)
    action = plan_leave_answer(ctx.rules, request, decision, where, language)
    return ctx.apply([action])


# ───────────────────────────── recognition's part ─────────────────────────────

LIKE_ACTION = 2  # Discourse's post_action_type_id for a like


def _like_count(post: Mapping[str, Any]) -> int:
    if post.get("like_count") is not None:
        return int(post["like_count"])
    for action in post.get("actions_summary") or ():
        if action.get("id") == LIKE_ACTION:
            return int(action.get("count") or 0)
    return 0


def record_recognition_post(
    ctx: Ctx, post_id: int, event: str, post: Mapping[str, Any] | None
) -> str:
    """Bring the recognition store up to date with one post event, the post already read
    (None: the forum no longer has it); returns what happened. Safe to repeat. The topic's
    category, archetype and tags come from the one forum view (read once, then cached)."""
    store = RecognitionStore(ctx.redis)
    if event == "post_destroyed":
        store.remove_post(post_id)
        return "removed"
    if post is None:
        store.remove_post(post_id)
        return "gone"
    meta = forum_view.topic_facts(ctx.forum, ctx.redis, int(post["topic_id"]))
    merged = {
        **post,
        "category_id": post.get("category_id") or meta.category_id,
        "topic_archetype": "private_message" if meta.private_message else "regular",
        "tags": post.get("tags") or list(meta.tags),
        "topic_title": post.get("topic_title") or meta.title,
        "like_count": _like_count(post),
    }
    fact = PostFact.from_discourse(merged)
    if fact.deleted:
        store.remove_post(post_id)
        return "removed"
    raw = str(post.get("raw") or "")
    store.put_post(fact, AdScreen.from_rules(ctx.rules).signal(raw) if raw else None)
    return "stored"
