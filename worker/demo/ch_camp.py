"""Chapters 3–4: the 7-day probation camp, the extension, and the squads.

Campers are whoever Diamond put in the camp group. The diligent introduce
themselves, check in every day and answer fellow campers; the slow ones do too
little in the first week and catch up during the extension Diamond grants; the
absent ones never show up. Founding members welcome each newcomer first. The
daily camp check (a periodic job) decides at the end of each camp; once every
first-week camp is decided, Diamond forms the cohort's squads, and late
graduates join them after their extension.
"""

from __future__ import annotations

import functools
from collections import Counter

from worker.demo.context import Demo
from worker.demo.people import Applicant, review_text

INTRO_TIME = (21, 40)
WELCOME_TIME = (22, 30)
CHECKIN_HOUR = 12
REPLY_TIME = (20, 0)
FIRST_CHECKINS = range(1, 7)  # days 1–6: six of the seven camp days
SLOW_FIRST_CHECKINS = (1, 2)
EXTENSION_CHECKINS = range(8, 13)  # days 8–12, in the extension


def schedule_camp(demo: Demo) -> None:
    days = demo.rules.camp.duration_days
    ext_days = demo.rules.camp.extension.days
    first_verdict = demo.day(days, 10)  # after the 09:00 check of the day the camps end
    second_verdict = demo.day(days + ext_days, 10)

    def header() -> None:
        demo.progress.phase(
            f"Probation camp: {days} days from {demo.fmt(demo.day(0))[:10]} "
            "(introduction, daily check-ins, answering fellow campers)"
        )
        demo.note_unavailable("camp", "camp")
        demo.facts["campers"] = sorted(demo.view.group_members(demo.rules.community.groups.camp))
        demo.progress.result(f"{len(demo.facts['campers'])} campers")

    demo.agenda.at(demo.day(0, *INTRO_TIME), "camp", header, order=0)
    demo.agenda.at(demo.day(0, *INTRO_TIME), "introductions", lambda: _introductions(demo))
    demo.agenda.at(demo.day(0, *WELCOME_TIME), "welcomes", lambda: _welcomes(demo))
    demo.agenda.at(demo.day(1, *REPLY_TIME), "camp replies", lambda: _replies(demo, "diligent"))
    for n in FIRST_CHECKINS:
        demo.agenda.at(
            demo.day(n, CHECKIN_HOUR), "check-ins", functools.partial(_checkins, demo, n)
        )
    demo.agenda.at(first_verdict, "camp verdicts", lambda: _first_verdicts(demo))
    # The extension: the slow catch up, the absent stay away.
    demo.agenda.at(demo.day(days + 1, *REPLY_TIME), "camp replies", lambda: _replies(demo, "slow"))
    for n in EXTENSION_CHECKINS:
        demo.agenda.at(
            demo.day(n, CHECKIN_HOUR), "check-ins", functools.partial(_checkins, demo, n)
        )
    demo.agenda.at(second_verdict, "extension verdicts", lambda: _second_verdicts(demo))


def _campers(demo: Demo, habit: str | None = None) -> list[Applicant]:
    current = demo.view.group_members(demo.rules.community.groups.camp)
    people = [demo.cast.applicant(name) for name in sorted(current)]
    return [p for p in people if p is not None and (habit is None or p.camp == habit)]


def _introductions(demo: Demo) -> None:
    category = demo.view.category_id(demo.rules.camp.tasks.introduction.category)
    intros: dict[str, int] = demo.facts.setdefault("intro_topics", {})
    if category is None:
        return
    for person in _campers(demo):
        if person.camp == "absent":
            continue
        title = f"自我介绍 · {person.name} · 第一次来到社区"  # titles need 15+ characters
        answer = demo.members.new_topic(
            person.username, category, title, person.application, what="introduction"
        )
        if answer:
            intros[person.username] = int(answer["topic_id"])


def _welcomes(demo: Demo) -> None:
    """Founders answer each introduction first (the welcomer badge counts first replies)."""
    welcomers = [f.username for f in demo.cast.founders if f.welcomer] or [
        demo.cast.founders[-1].username
    ]
    for i, (camper, topic) in enumerate(sorted(demo.facts.get("intro_topics", {}).items())):
        founder = welcomers[i % len(welcomers)]
        demo.members.reply(
            founder, topic, f"欢迎 @{camper}!很高兴你加入,试用营这一周有问题随时问我。",
            to_post_number=1, what="welcome",
        )  # fmt: skip


def _replies(demo: Demo, habit: str) -> None:
    """Each camper answers the introductions of the next three fellow campers."""
    intros: dict[str, int] = demo.facts.get("intro_topics", {})
    names = sorted(intros)
    needed = demo.rules.camp.tasks.replies.min_replies
    for person in _campers(demo, habit):
        if person.username not in intros:
            continue
        i = names.index(person.username)
        others = [names[(i + k) % len(names)] for k in range(1, needed + 1)]
        for other in dict.fromkeys(o for o in others if o != person.username):
            demo.members.reply(
                person.username, intros[other],
                f"你好 @{other}," + review_text(demo.rng, 30), to_post_number=1,
                what="camp reply",
            )  # fmt: skip


def _checkins(demo: Demo, day: int) -> None:
    category = demo.view.category_id(demo.rules.camp.tasks.checkins.category)
    if category is None:
        return
    topics: dict[str, int] = demo.facts.setdefault("checkin_topics", {})
    for person in _campers(demo):
        active = (person.camp == "diligent" and day in FIRST_CHECKINS) or (
            person.camp == "slow" and (day in SLOW_FIRST_CHECKINS or day in EXTENSION_CHECKINS)
        )
        if not active:
            continue
        raw = f"第 {day} 天打卡:今天读了三十页书,整理了读书笔记,写了五百字的草稿。"
        if person.username in topics:
            demo.members.reply(person.username, topics[person.username], raw, what="check-in")
        else:
            title = f"打卡记录 · {person.name} 的试用营每日打卡"
            answer = demo.members.new_topic(person.username, category, title, raw, what="check-in")
            if answer:
                topics[person.username] = int(answer["topic_id"])


def camp_standing(demo: Demo, names: list[str]) -> Counter[str]:
    groups = demo.rules.community.groups
    camp = demo.view.group_members(groups.camp)
    members = demo.view.group_members(groups.members)
    out: Counter[str] = Counter()
    for name in names:
        out["passed" if name in members else "still in camp" if name in camp else "left"] += 1
    return out


def _first_verdicts(demo: Demo) -> None:
    campers = demo.facts.get("campers", [])
    standing = camp_standing(demo, campers)
    members = demo.view.group_members(demo.rules.community.groups.members)
    demo.facts["passed_first"] = sorted(c for c in campers if c in members)
    demo.progress.result(
        f"camp ended ({demo.fmt(demo.sim.now)[:10]}): {standing['passed']} passed, "
        f"{standing['still in camp']} extended, {standing['left']} left"
    )
    squads_header(demo)


def squads_header(demo: Demo) -> None:
    demo.progress.phase("Squads: the cohort is split into squads of about ten, with leaders")
    demo.note_unavailable("squads", "squads")
    squads = demo.view.squads()
    names = demo.view.squad_full_names()
    if not squads:
        demo.progress.warn("no squads were formed")
        return
    for slug, members in squads.items():
        leaders = demo.view.squad_owners(slug)
        demo.progress.result(
            f"{names.get(slug, slug)} ({slug}): {len(members)} members, leader "
            + (", ".join(f"@{u}" for u in sorted(leaders)) or "—")
        )
    demo.facts["squads_formed"] = {k: sorted(v) for k, v in squads.items()}


def _second_verdicts(demo: Demo) -> None:
    extended = [p.username for p in demo.cast.applicants if p.camp in ("slow", "absent")]
    known = set(demo.facts.get("campers", []))
    standing = camp_standing(demo, [n for n in extended if n in known])
    members = demo.view.group_members(demo.rules.community.groups.members)
    first = set(demo.facts.get("passed_first", []))
    demo.facts["passed_late"] = sorted(c for c in known if c in members and c not in first)
    squads = demo.view.squads()
    placed = [n for n in extended if any(n in m for m in squads.values())]
    demo.progress.result(
        f"extension ended ({demo.fmt(demo.sim.now)[:10]}): {standing['passed']} passed late"
        f" and joined squads ({len(placed)} placed), {standing['left']} removed"
    )
