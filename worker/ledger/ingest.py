"""From Discourse JSON (webhook payloads, API reads) to ledger entries.

A post's length is counted from its ``raw`` when Discourse sends it (webhooks,
``GET /posts/{id}.json``, ``GET /posts.json``); topic streams carry only the
``cooked`` HTML, so then the quotes, code and images are taken out of the HTML
and the rest counted the same way.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterable, Mapping
from typing import Any

from worker.engine.facts import Squad, parse_time
from worker.engine.obligations import (
    Version,
    WeekPost,
    leave_request_from_post,
    thread_title,
    weeks_named,
)
from worker.engine.textlen import QuoteRef, count_units, quoted_posts
from worker.engine.weeks import Week, article_week, week_of, week_times
from worker.rules.models import Rules
from worker.state.ledger import Ledger, TopicInfo

_ASIDE_QUOTE = re.compile(
    r'<aside[^>]*class="[^"]*\bquote\b[^"]*"[^>]*>(?:(?!<aside).)*?</aside>', re.DOTALL
)
_BLOCKQUOTE = re.compile(r"<blockquote[^>]*>(?:(?!<blockquote).)*?</blockquote>", re.DOTALL)
_PRE = re.compile(r"<pre[^>]*>.*?</pre>", re.DOTALL)
_CODE = re.compile(r"<code[^>]*>.*?</code>", re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_ATTR = re.compile(r'data-(username|post|topic)="([^"]*)"')
_ASIDE_OPEN = re.compile(r'<aside[^>]*class="[^"]*\bquote\b[^"]*"[^>]*>')


def cooked_length(cooked: str) -> tuple[int, tuple[QuoteRef, ...]]:
    """Units and quoted posts of a post's cooked HTML (quotes, code and images excluded)."""
    quotes = []
    for opening in _ASIDE_OPEN.finditer(cooked or ""):
        attrs = dict(_ATTR.findall(opening.group(0)))
        if attrs.get("post", "").isdigit() and attrs.get("topic", "").isdigit():
            quotes.append(
                QuoteRef(attrs.get("username", ""), int(attrs["topic"]), int(attrs["post"]))
            )
    text = cooked or ""
    for pattern in (_ASIDE_QUOTE, _BLOCKQUOTE):
        while True:  # innermost first, until no nested quote is left
            stripped = pattern.sub(" ", text)
            if stripped == text:
                break
            text = stripped
    text = _CODE.sub(" ", _PRE.sub(" ", text))
    text = html.unescape(_TAG.sub(" ", text))
    return count_units(text), tuple(quotes)


def post_length(post: Mapping[str, Any]) -> tuple[int, tuple[QuoteRef, ...]]:
    raw = post.get("raw")
    if isinstance(raw, str):
        return count_units(raw), tuple(quoted_posts(raw))
    return cooked_length(str(post.get("cooked") or ""))


def week_post(
    post: Mapping[str, Any], *, version_at: dt.datetime | None = None, in_own_topic: bool = False
) -> WeekPost:
    """A ledger post with one version: the post as it stands, from ``version_at``
    (an edit's time) or from its creation."""
    created = parse_time(str(post["created_at"]))
    units, quotes = post_length(post)
    reply_to = post.get("reply_to_post_number")
    return WeekPost(
        id=int(post["id"]),
        topic_id=int(post["topic_id"]),
        post_number=int(post["post_number"]),
        username=str(post.get("username") or ""),
        created_at=created,
        versions=(Version(max(created, version_at or created), units, quotes),),
        reply_to_post_number=int(reply_to) if reply_to else None,
        in_own_topic=in_own_topic,
    )


def is_deleted(post: Mapping[str, Any]) -> bool:
    return bool(post.get("deleted_at")) or bool(post.get("user_deleted"))


def topic_tags(topic: Mapping[str, Any]) -> set[str]:
    tags = set()
    for tag in topic.get("tags") or ():
        tags.add(str(tag.get("name")) if isinstance(tag, Mapping) else str(tag))
    return tags


def classify_topic(
    rules: Rules,
    topic: Mapping[str, Any],
    squads_by_category: Mapping[int, Squad],
    leave_category_id: int | None,
) -> TopicInfo:
    """What a topic is to the ledger, from its JSON (``/t/{id}.json`` or a topic list row)."""
    category_id = topic.get("category_id")
    created = parse_time(str(topic["created_at"]))
    if leave_category_id is not None and category_id == leave_category_id:
        return TopicInfo("leave")
    squad = squads_by_category.get(category_id) if isinstance(category_id, int) else None
    if squad is None:
        return TopicInfo("other")
    obligations = rules.obligations
    if obligations.article.mode == "thread":
        # Threads open on Monday; one opened late (or early) still carries its week's title.
        title = str(topic.get("title") or topic.get("fancy_title") or "")
        guess = week_of(created, rules.tz)
        for week in (guess, guess.next(), guess.previous()):
            if title == thread_title(rules, week, squad):
                return TopicInfo("thread", week, squad.slug)
        return TopicInfo("other")
    tag = obligations.article.tag
    if tag and tag not in topic_tags(topic):
        return TopicInfo("other")
    return TopicInfo("article", article_week(obligations, created, rules.tz), squad.slug)


def ingest_post(
    ledger: Ledger,
    rules: Rules,
    post: Mapping[str, Any],
    topic: TopicInfo,
    *,
    version_at: dt.datetime | None = None,
) -> str:
    """Record (or forget) one post; returns what happened, for logs and tests."""
    post_id = int(post["id"])
    if is_deleted(post):
        return "removed" if ledger.remove_post(post_id) else "ignored"
    if topic.kind == "thread" and topic.week and topic.squad:
        if int(post["post_number"]) == 1:
            return "ignored"  # the thread's opening post is Diamond's
        ledger.upsert_post(topic.week, topic.squad, week_post(post, version_at=version_at))
        return "recorded"
    if topic.kind == "article" and topic.week and topic.squad:
        # Thread mode: a topic of its own, posted while its week had no thread.
        own = rules.obligations.article.mode == "thread"
        ledger.upsert_post(
            topic.week, topic.squad, week_post(post, version_at=version_at, in_own_topic=own)
        )
        return "recorded"
    if topic.kind == "leave":
        created = parse_time(str(post["created_at"]))
        raw = str(post.get("raw") or post.get("cooked") or "")
        request = leave_request_from_post(
            rules.obligations, rules.tz, str(post.get("username") or ""), created, weeks_named(raw)
        )
        ledger.record_leave(post_id, request.username, created, request.weeks)
        return "leave"
    return "ignored"


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


def leave_weeks_from_field(value: str | None) -> tuple[Week, ...]:
    """Weeks listed in a leave user field ("2026-W47, 2026-W48")."""
    return weeks_named(value or "")
