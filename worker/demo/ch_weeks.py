"""Chapter 5: weeks of writing and reviewing, reminders, audits and the ladder.

Diamond opens each squad's weekly thread on Monday (a periodic job). Members
post their article as a floor of that thread on Tuesday and, on Wednesday,
review the articles next to theirs (the ring in posting order, as the rules
count it) by replying to them. Habits:

- diligent: article and both reviews, every week;
- misser: skips the article in one week (or two) of the four;
- dropout: writes the first week (or not even that), then disappears;
- digest writer: also reminds the squad mates on Monday (mentions) and writes a
  digest on Thursday that others like and answer;
- extra reviewer: reviews two articles more than owed each week;
- connector: answers people of other squads in the digest discussions.

Diamond's reminders (Friday, Sunday, Monday), the Sunday-night deadline and the
Tuesday audit with its penalty ladder all happen through the scheduler.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from worker.demo.context import Demo
from worker.demo.people import Applicant, article_text, review_text, zh_text
from worker.demo.view import PostView
from worker.engine.obligations import neighbour_indexes
from worker.engine.textlen import count_units

REMINDER_TIME = (0, 20, 0)  # (day offset from Monday, hour, minute)
ARTICLE_TIMES = ((1, 10, 0), (1, 15, 0), (1, 21, 0))
REVIEW_TIME = (2, 20, 0)
DIGEST_TIME = (3, 20, 0)
DIGEST_ANSWERS_TIME = (3, 21, 0)
CONNECTOR_TIME = (3, 22, 0)
FOUNDERS_TIME = (4, 12, 0)
WEEK_REPORT_TIME = (8, 23, 40)  # Tuesday after the week, after the 23:00 audit
LEAVE_IN_TIME = (0, 9, 30)  # Monday of week 1, asking for week 2
LEAVE_TOO_LATE = (6, 21, 30)  # Sunday of week 1, half an hour before its deadline


def schedule_weeks(demo: Demo) -> None:
    """``demo.weeks`` audited weeks; people go on writing in the week after the last one."""
    for week in range(1, demo.weeks + 2):
        monday = demo.week_monday(week)

        def at(
            offset: tuple[int, int, int],
            label: str,
            action: Any,
            order: int = 50,
            monday: datetime = monday,
        ) -> None:
            day, hour, minute = offset
            when = monday.replace(hour=hour, minute=minute)
            demo.agenda.at(when + _days(day), label, action, order=order)

        if week == 1:
            at((0, 0, 1), "weeks", lambda: _header(demo), order=0)
            # Leave: one member asks for next week in good time (granted), another asks
            # for this week on Sunday evening, inside the notice period (refused).
            at(LEAVE_IN_TIME, "leave in time", lambda: _ask_leave(demo, 2, 0))
            at(LEAVE_TOO_LATE, "leave too late", lambda: _ask_leave(demo, 1, 1))
        at(REMINDER_TIME, "homework reminders", lambda w=week: _reminders(demo, w))
        for slot, offset in enumerate(ARTICLE_TIMES):
            at(offset, "articles", lambda w=week, s=slot: _articles(demo, w, s))
        at(REVIEW_TIME, "reviews", lambda w=week: _reviews(demo, w))
        at(DIGEST_TIME, "digests", lambda w=week: _digests(demo, w))
        at(DIGEST_ANSWERS_TIME, "digest answers", lambda w=week: _digest_answers(demo, w))
        at(CONNECTOR_TIME, "connector", lambda w=week: _connect(demo, w))
        at(FOUNDERS_TIME, "founders", lambda w=week: _founders(demo, w))
        if week <= demo.weeks:
            at(WEEK_REPORT_TIME, "week report", lambda w=week: _week_report(demo, w))


def _days(n: int) -> Any:
    from datetime import timedelta

    return timedelta(days=n)


def _header(demo: Demo) -> None:
    demo.progress.phase(
        f"{demo.weeks} weeks of writing: an article a week (≥ "
        f"{demo.rules.obligations.article.min_length} 字), reviews of the neighbours above "
        "and below, reminders, the Sunday deadline, Tuesday audits and the penalty ladder"
    )
    demo.note_unavailable("weekly obligations", "obligations")


# ---------------------------------------------------------------------- who and where


def _squad_of(demo: Demo) -> dict[str, str]:
    return {m: slug for slug, members in demo.view.squads().items() for m in members}


def _thread(demo: Demo, squad: str, week: int) -> int | None:
    """This week's thread of a squad, as Diamond opened and recorded it.

    Not "the newest topic Diamond opened in the category": other topics of Diamond's
    (a weekly summary posted as its own topic) may be newer than the thread.
    """
    from worker.engine.weeks import Week
    from worker.state.ledger import Ledger

    iso = demo.week_monday(week).isocalendar()
    assert demo.stack.redis is not None  # the stack is running
    return Ledger(demo.stack.redis).threads(Week(iso.year, iso.week)).get(squad)


def _writes(person: Applicant, week: int) -> bool:
    return week not in person.missed_weeks


def _active(demo: Demo, squad_of: dict[str, str]) -> list[Applicant]:
    now = demo.sim.now
    people = [demo.cast.applicant(name) for name in sorted(squad_of)]
    return [p for p in people if p is not None and not demo.view.silenced(p.username, now)]


def _articles_in(demo: Demo, topic_id: int, members: set[str]) -> list[PostView]:
    """The thread's articles in posting order, as the rules count them."""
    minimum = demo.rules.obligations.article.min_length
    chosen: dict[str, PostView] = {}
    for post in sorted(demo.view.posts_of(topic_id), key=lambda p: (p.created_at, p.id)):
        if post.post_number == 1 or post.reply_to_post_number not in (None, 1):
            continue
        fresh = post.username in members and post.username not in chosen
        if fresh and count_units(post.raw) >= minimum:
            chosen[post.username] = post
    return list(chosen.values())


# ---------------------------------------------------------------------- what people do


def _basic_users(demo: Demo, usernames: list[str]) -> None:
    """Discourse's daily Promotion job makes a new user (trust level 0) basic (1) once
    they have entered 5 topics, read 30 posts and spent 10 minutes reading
    (tl1_requires_*): a week of camp does that. The sandbox does not promote by itself;
    a new user may @mention only 2 people a post (newuser_max_mentions_per_post)."""
    forum = demo.stack.sandbox.forum
    with forum.lock:
        for username in usernames:
            user = forum.find_user(username)
            if user is not None and user.trust_level < 1:
                user.trust_level = 1


def _reminders(demo: Demo, week: int) -> None:
    """The digest writer nudges the squad on Monday evening, naming everyone."""
    squad_of = _squad_of(demo)
    _basic_users(demo, sorted(squad_of))
    squads = demo.view.squads()
    for person in _active(demo, squad_of):
        if person.habit != "digest":
            continue
        squad = squad_of[person.username]
        topic = _thread(demo, squad, week)
        mates = sorted(squads[squad] - {person.username})
        if topic is None or not mates:
            continue
        mentions = " ".join(f"@{m}" for m in mates)
        demo.members.reply(
            person.username, topic,
            f"{mentions} 新的一周开始啦,本周文章周日 22 点截止,大家加油,写完记得点评上下楼!",
            what="homework reminder",
        )  # fmt: skip


def _articles(demo: Demo, week: int, slot: int) -> None:
    squad_of = _squad_of(demo)
    writers = [p for p in _active(demo, squad_of) if _writes(p, week)]
    for person in writers[slot :: len(ARTICLE_TIMES)]:
        topic = _thread(demo, squad_of[person.username], week)
        if topic is None:
            demo.members.refused["article (no weekly thread)"] += 1
            continue
        demo.members.reply(
            person.username, topic, f"## 第 {week} 周 · {person.name}\n\n"
            + article_text(demo.rng), what="article",
        )  # fmt: skip


def _reviews(demo: Demo, week: int) -> None:
    per_side = demo.rules.obligations.review.neighbours
    squads = demo.view.squads()
    now = demo.sim.now
    for squad, members in squads.items():
        topic = _thread(demo, squad, week)
        if topic is None:
            continue
        articles = _articles_in(demo, topic, members)
        ring = neighbour_indexes(len(articles), per_side)
        for i, targets in enumerate(ring):
            reviewer = demo.cast.applicant(articles[i].username)
            if reviewer is None or demo.view.silenced(reviewer.username, now):
                continue
            owed = [articles[j] for j in targets]
            extra: list[PostView] = []
            if reviewer.habit == "extra_reviewer":
                others = [a for k, a in enumerate(articles) if k != i and k not in targets]
                extra = others[:2]
            for article in owed + extra:
                demo.members.reply(
                    reviewer.username, topic,
                    f"@{article.username} " + review_text(demo.rng, 120),
                    to_post_number=article.post_number,
                    what="review" if article in owed else "extra review",
                )  # fmt: skip


def _digests(demo: Demo, week: int) -> None:
    category = demo.view.category_id(demo.rules.community.categories.digests)
    if category is None:
        return
    squad_of = _squad_of(demo)
    topics: dict[int, list[int]] = demo.facts.setdefault("digest_topics", {})
    for person in _active(demo, squad_of):
        if person.habit != "digest":
            continue
        raw = f"本周小组讨论精选 · 第 {week} 周\n\n" + zh_text(demo.rng, 340)
        answer = demo.members.new_topic(
            person.username, category, f"第 {week} 周精选 · {person.name} 整理", raw,
            what="digest",
        )  # fmt: skip
        if answer:
            topics.setdefault(week, []).append(int(answer["topic_id"]))


def _digest_answers(demo: Demo, week: int) -> None:
    """Members of several squads like each digest; one from each of three squads answers."""
    squad_of = _squad_of(demo)
    by_squad: dict[str, list[str]] = {}
    for name, squad in sorted(squad_of.items()):
        person = demo.cast.applicant(name)
        if person is not None and person.habit in ("diligent", "extra_reviewer"):
            by_squad.setdefault(squad, []).append(name)
    for topic in demo.facts.get("digest_topics", {}).get(week, []):
        posts = demo.view.posts_of(topic)
        if not posts:
            continue
        author = posts[0].username
        pool = [names[week % len(names)] for _s, names in sorted(by_squad.items()) if names]
        pool = [n for n in pool if n != author]
        for name in pool[:4]:
            demo.members.like(name, posts[0].id)
        for name in pool[:3]:
            demo.members.reply(
                name, topic, "谢谢整理!" + review_text(demo.rng, 40), to_post_number=1,
                what="digest answer",
            )  # fmt: skip


def _connect(demo: Demo, week: int) -> None:
    """The connector answers every participant of other squads in the week's digests."""
    squad_of = _squad_of(demo)
    for person in _active(demo, squad_of):
        if person.habit != "connector":
            continue
        mine = squad_of[person.username]
        for topic in demo.facts.get("digest_topics", {}).get(week, []):
            for post in demo.view.posts_of(topic):
                theirs = squad_of.get(post.username)
                if theirs and theirs != mine:
                    demo.members.reply(
                        person.username, topic,
                        f"@{post.username} 同意你的看法," + review_text(demo.rng, 30),
                        to_post_number=post.post_number, what="connector reply",
                    )  # fmt: skip


def _founders(demo: Demo, week: int) -> None:
    """The founding members read the week's digests: a like and a word for each author."""
    topics = demo.facts.get("digest_topics", {}).get(week, [])
    for i, founder in enumerate(f.username for f in demo.cast.founders):
        if not topics:
            return
        topic = topics[i % len(topics)]
        posts = demo.view.posts_of(topic)
        if not posts:
            continue
        demo.members.like(founder, posts[0].id)
        demo.members.reply(
            founder, topic, f"@{posts[0].username} 整理得真好," + review_text(demo.rng, 25),
            to_post_number=1, what="founder reply",
        )  # fmt: skip


def _ask_leave(demo: Demo, week: int, nth: int) -> None:
    """The ``nth`` diligent member (by name) asks for leave in ``week`` in the leave
    category; Diamond answers in the topic (granted, or refused with the rule)."""
    category = demo.view.category_id(demo.rules.obligations.leave.category)
    diligent = [p for p in _active(demo, _squad_of(demo)) if p.habit == "diligent"]
    if category is None or len(diligent) <= nth:
        return
    person = diligent[nth]
    iso = demo.week_monday(week).isocalendar()
    named = f"{iso.year}-W{iso.week:02d}"
    topic = demo.members.new_topic(
        person.username, category, f"请假申请 · {person.name} · {named} 这一周",
        f"各位好,我 {named} 这一周要出差,没法写文章和点评,想请一周假。谢谢组长和大家!",
        what="leave request",
    )  # fmt: skip
    if topic:
        demo.facts.setdefault("leave", []).append((person.username, named, topic["topic_id"]))


# ---------------------------------------------------------------------- results


def _week_report(demo: Demo, week: int) -> None:
    from worker.state.ledger import Ledger

    squads = demo.view.squads()
    members = sorted({m for ms in squads.values() for m in ms})
    written = 0
    for squad, names in squads.items():
        topic = _thread(demo, squad, week)
        if topic is not None:
            written += len(_articles_in(demo, topic, names))
    monday = demo.week_monday(week)
    week_name = f"{monday.isocalendar().year}-W{monday.isocalendar().week:02d}"
    assert demo.stack.redis is not None  # the stack is running
    histories = Ledger(demo.stack.redis).histories(members) if members else {}
    penalised: Counter[str] = Counter()
    # An audit records every judged member's week (0 included); a halted one records none.
    recorded = sum(1 for h in histories.values() if any(str(w) == week_name for w in h))
    for name, history in histories.items():
        for w, strikes in history.items():
            if str(w) == week_name and strikes:
                penalised[name] = int(strikes)
    now: datetime = demo.sim.now
    silenced = [m for m in members if demo.view.silenced(m, now)]
    alumni = demo.view.group_members(demo.rules.community.groups.alumni)
    demo.facts.setdefault("weeks", {})[week] = {
        "week": week_name,
        "articles": written,
        "members": len(members),
        "penalised": dict(penalised),
        "silenced": silenced,
        "recorded": recorded,
    }
    demo.progress.result(
        f"week {week} ({week_name}): {written}/{len(members)} articles · "
        + (
            f"audit: {len(penalised)} got strikes · "
            if recorded or not members
            else "audit: NOT RECORDED (halted?) · "
        )
        + f"{len(silenced)} silenced · "
        f"{len(alumni)} in alumni"
    )
