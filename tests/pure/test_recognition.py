"""Contribution detection, one table per kind, negative cases included; badge decisions."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.support.recognition_world import (
    BASE,
    WEEK,
    World,
    at,
    rules_with,
    shipped_rules,
    weeks_back,
)
from worker import actions as a
from worker.engine.recognition import (
    deadline_fn,
    detect,
    evaluate_badges,
    streak_length,
    value_contributors,
)
from worker.rules.models import (
    Connector,
    DigestCurator,
    FullAttendance,
    HomeworkReminder,
    ReviewerBeyondDuty,
    Streak,
    Welcomer,
)

RULES = shipped_rules()


def names(contributions) -> list[tuple[str, str]]:
    return sorted((c.username, c.other) for c in contributions)


# ───────────── reviewing beyond the obligation ─────────────


def review_world() -> tuple[World, dict]:
    w = World()
    red = w.squad("red", "ann", "bob", "cat", "dan")
    arts = w.week_of_articles(WEEK, red)  # ann owes bob & dan; bob owes ann & cat; ...
    return w, dict(zip(red.members, arts, strict=True))


EXTRA = ReviewerBeyondDuty(kind="reviewer_beyond_duty", min_length=100, weeks=1)


def test_review_of_an_article_not_owed_counts() -> None:
    w, art = review_world()
    w.reply("ann", art["cat"], at(WEEK, 3))  # ann owes bob and dan, not cat
    assert names(detect(RULES, w.facts(), EXTRA, WEEK)) == [("ann", "cat")]


def test_review_of_an_owed_neighbour_is_duty_not_extra() -> None:
    w, art = review_world()
    w.reply("ann", art["bob"], at(WEEK, 3))
    assert detect(RULES, w.facts(), EXTRA, WEEK) == []


def test_short_review_does_not_count() -> None:
    w, art = review_world()
    w.reply("ann", art["cat"], at(WEEK, 3), units=99)
    assert detect(RULES, w.facts(), EXTRA, WEEK) == []


def test_quoting_an_article_elsewhere_counts_as_a_review() -> None:
    w, art = review_world()
    other = w.topic("eve", at(WEEK, 1))
    w.reply("ann", other, at(WEEK, 3), quote=art["cat"])
    assert ("ann", "cat") in names(detect(RULES, w.facts(), EXTRA, WEEK))


def test_reply_to_a_post_that_is_not_an_article_is_not_a_review() -> None:
    w, _ = review_world()
    chat = w.topic("eve", at(WEEK, 1))
    w.reply("ann", chat, at(WEEK, 3))
    assert detect(RULES, w.facts(), EXTRA, WEEK) == []


def test_same_article_reviewed_twice_counts_once() -> None:
    w, art = review_world()
    w.reply("ann", art["cat"], at(WEEK, 3))
    w.reply("ann", art["cat"], at(WEEK, 4))
    assert len(detect(RULES, w.facts(), EXTRA, WEEK)) == 1


def test_extra_reviewer_badge_reason_is_the_review_that_reached_the_threshold() -> None:
    w = World()
    red = w.squad("red", *[f"m{i}" for i in range(8)])
    arts = w.week_of_articles(WEEK, red)
    reviews = [w.reply("m0", arts[i], at(WEEK, 3, i)) for i in (2, 3, 4, 5)]  # 4 extra
    rules = rules_with(
        {"slug": "extra", "criterion": {"kind": "reviewer_beyond_duty", "min_extra_reviews": 3}}
    )
    (decision,) = evaluate_badges(rules, w.facts(), WEEK, held={})
    assert decision.username == "m0" and decision.grant
    third = reviews[2]
    assert decision.reason_url == f"{BASE}/t/{third.topic_id}/{third.post_number}"
    assert len(decision.evidence) == 4


def test_extra_reviewer_below_threshold_gets_nothing() -> None:
    w = World()
    red = w.squad("red", *[f"m{i}" for i in range(8)])
    arts = w.week_of_articles(WEEK, red)
    w.reply("m0", arts[3], at(WEEK, 3))
    rules = rules_with(
        {"slug": "extra", "criterion": {"kind": "reviewer_beyond_duty", "min_extra_reviews": 2}}
    )
    assert evaluate_badges(rules, w.facts(), WEEK, held={}) == []


# ───────────── digest curating ─────────────

DIGEST = DigestCurator(
    kind="digest_curator", min_length=300, min_likes=3, min_replies=1, tag="digest", weeks=1
)


@pytest.mark.parametrize(
    ("likers", "replies", "units", "in_category", "tags", "counts"),
    [
        (["b", "c", "d"], 1, 400, True, (), True),  # liked by k others, discussed
        (["b", "c"], 1, 400, True, (), False),  # liked by fewer than k
        (["b", "c", "ann"], 1, 400, True, (), False),  # the author's own like is not counted
        (["b", "c", "d"], 0, 400, True, (), False),  # nobody answered it
        (["b", "c", "d"], 1, 200, True, (), False),  # too short
        (["b", "c", "d"], 1, 400, False, ("digest",), True),  # tagged outside the category
        (["b", "c", "d"], 1, 400, False, (), False),  # neither category nor tag
    ],
)
def test_digest_counts_when_liked_by_k_others_and_discussed(
    likers, replies, units, in_category, tags, counts
) -> None:
    w = World()
    digest = w.topic("ann", at(WEEK, 0), units=units, category=50 if in_category else 7, tags=tags)
    for name in likers:
        w.like(name, digest)
    for i in range(replies):
        w.reply(f"r{i}", digest, at(WEEK, 1))
    found = detect(RULES, w.facts(), DIGEST, WEEK)
    assert [c.post.id for c in found] == ([digest.id] if counts else [])


def test_digest_like_count_from_the_forum_is_used_when_likes_were_not_gathered() -> None:
    w = World()
    digest = w.topic("ann", at(WEEK, 0), units=400, category=50, like_count=5)
    w.reply("bob", digest, at(WEEK, 1))
    assert len(detect(RULES, w.facts(), DIGEST, WEEK)) == 1


# ───────────── homework reminders ─────────────

REMIND = HomeworkReminder(kind="homework_reminder", min_reminders=1, weeks=1)


def reminder_world(mate_posts_on: int = 5, status: str = "met") -> tuple[World, object]:
    w = World()
    red = w.squad("red", "ann", "bob", "cat")
    w.squad("blue", "xia", "yan")
    thread = w.topic("ann", at(WEEK, 0))
    bob_article = w.topic("bob", at(WEEK, mate_posts_on, 10))
    w.result(WEEK, "bob", status, bob_article if status != "excused" else None)
    w.result(WEEK, "ann", "met", thread)
    w.result(WEEK, "xia", "met", w.topic("xia", at(WEEK, 6, 9)))
    return w, red


def test_reminding_a_mate_who_has_not_posted_counts() -> None:
    w, _ = reminder_world()
    w.topic("ann", at(WEEK, 4), mentions=("bob",))  # Friday; bob posts Saturday
    assert names(detect(RULES, w.facts(), REMIND, WEEK)) == [("ann", "bob")]


def test_mentions_match_usernames_case_insensitively() -> None:
    w, _ = reminder_world()
    w.topic("ann", at(WEEK, 4), mentions=("Bob",))
    assert names(detect(RULES, w.facts(), REMIND, WEEK)) == [("ann", "bob")]


@pytest.mark.parametrize(
    ("who", "mentions", "day", "hour", "why"),
    [
        ("ann", ("bob",), 5, 11, "the mate had already posted"),
        ("ann", ("xia",), 4, 12, "not a squad mate"),
        ("ann", ("ann",), 4, 12, "mentioning oneself"),
        ("ann", ("bob",), 6, 22, "at the deadline (Sunday 22:00)"),
        ("xia", ("yan",), 4, 12, "the mate has no result that week"),
    ],
)
def test_reminders_that_do_not_count(who, mentions, day, hour, why) -> None:
    w, _ = reminder_world()
    w.topic(who, at(WEEK, day, hour), mentions=mentions)
    assert detect(RULES, w.facts(), REMIND, WEEK) == [], why


def test_reminding_an_excused_mate_does_not_count() -> None:
    w, _ = reminder_world(status="excused")
    w.topic("ann", at(WEEK, 4), mentions=("bob",))
    assert detect(RULES, w.facts(), REMIND, WEEK) == []


def test_reminders_wait_for_the_weeks_results() -> None:
    w, _ = reminder_world()
    later = WEEK.next()
    w.topic("ann", at(later, 2), mentions=("bob",))
    assert detect(RULES, w.facts(), REMIND, later) == []


def test_reminding_a_mate_who_never_posted_counts() -> None:
    w, _ = reminder_world(status="missed")
    w.results[WEEK]["bob"] = w.results[WEEK]["bob"].__class__("missed")
    w.topic("ann", at(WEEK, 4), mentions=("bob",))
    assert names(detect(RULES, w.facts(), REMIND, WEEK)) == [("ann", "bob")]


def test_deadline_is_read_in_the_community_time_zone() -> None:
    deadline = deadline_fn(RULES)(WEEK)
    assert deadline == at(WEEK, 6, 22)
    assert deadline.utcoffset() == timedelta(hours=8)


# ───────────── connecting ─────────────

CONNECT = Connector(kind="connector", min_other_squads=2, min_people=3, weeks=1)


def connect_world() -> World:
    w = World()
    for slug, people in (("red", "ann ari"), ("blue", "bob bea"), ("gold", "gus gil")):
        w.squad(slug, *people.split())
    return w


def test_replies_to_members_of_other_squads_count_once_per_person() -> None:
    w = connect_world()
    bob = w.topic("bob", at(WEEK, 0))
    ari = w.topic("ari", at(WEEK, 0))
    w.reply("ann", bob, at(WEEK, 1))
    w.reply("ann", bob, at(WEEK, 2))  # same person again
    w.reply("ann", ari, at(WEEK, 1))  # own squad: not connecting
    w.reply("bob", bob, at(WEEK, 3))  # self-reply
    assert names(detect(RULES, w.facts(), CONNECT, WEEK)) == [("ann", "bob")]


@pytest.mark.parametrize(
    ("targets", "earns"),
    [
        (("bob", "bea", "gus"), True),  # 3 people, 2 other squads
        (("bob", "bea"), False),  # 2 people: fewer than min_people
        (("bob", "bea", "ghost"), False),  # ghost has no squad: not a connection
    ],
)
def test_connector_badge_needs_people_and_squads(targets, earns) -> None:
    w = connect_world()
    for name in targets:
        w.reply("ann", w.topic(name, at(WEEK, 0)), at(WEEK, 1))
    rules = rules_with(
        {
            "slug": "conn",
            "criterion": {"kind": "connector", "min_other_squads": 2, "min_people": 3, "weeks": 1},
        }
    )
    decisions = evaluate_badges(rules, w.facts(), WEEK, held={})
    assert [d.username for d in decisions] == (["ann"] if earns else [])


def test_connector_needs_enough_other_squads() -> None:
    w = connect_world()
    w.squad("teal", "tia", "tom", "tod")
    for name in ("tia", "tom", "tod"):
        w.reply("ann", w.topic(name, at(WEEK, 0)), at(WEEK, 1))
    rules = rules_with(
        {
            "slug": "conn",
            "criterion": {"kind": "connector", "min_other_squads": 2, "min_people": 3, "weeks": 1},
        }
    )
    assert evaluate_badges(rules, w.facts(), WEEK, held={}) == []  # 3 people, 1 squad


# ───────────── welcoming ─────────────

WELCOME = Welcomer(kind="welcomer", min_campers_welcomed=1, weeks=1)


def test_first_reply_to_a_newcomers_introduction_is_a_welcome() -> None:
    w = World()
    intro = w.topic("newbie", at(WEEK, 0), category=51)
    w.reply("newbie", intro, at(WEEK, 0, 13))  # the author's own follow-up is no welcome
    w.reply("ann", intro, at(WEEK, 0, 14))
    w.reply("bob", intro, at(WEEK, 0, 15))  # second: not the welcome
    assert names(detect(RULES, w.facts(), WELCOME, WEEK)) == [("ann", "newbie")]


def test_replies_outside_the_introductions_category_are_not_welcomes() -> None:
    w = World()
    w.reply("ann", w.topic("newbie", at(WEEK, 0), category=7), at(WEEK, 1))
    assert detect(RULES, w.facts(), WELCOME, WEEK) == []


def test_introductions_by_people_who_are_not_newcomers_do_not_count() -> None:
    w = World()
    w.newcomers = frozenset({"newbie"})
    w.reply("ann", w.topic("veteran", at(WEEK, 0), category=51), at(WEEK, 1))
    assert detect(RULES, w.facts(), WELCOME, WEEK) == []


def test_a_welcome_belongs_to_the_week_it_was_posted() -> None:
    w = World()
    intro = w.topic("newbie", at(WEEK, 0) - timedelta(days=3), category=51)
    w.reply("ann", intro, at(WEEK, 0) - timedelta(days=2))
    assert detect(RULES, w.facts(), WELCOME, WEEK) == []


def test_welcomer_badge_counts_distinct_newcomers() -> None:
    w = World()
    for n in ("n1", "n2", "n3"):
        w.reply("ann", w.topic(n, at(WEEK, 0), category=51), at(WEEK, 1))
    w.reply("bob", w.topic("n4", at(WEEK, 0), category=51), at(WEEK, 1))
    rules = rules_with(
        {"slug": "wel", "criterion": {"kind": "welcomer", "min_campers_welcomed": 3}}
    )
    assert [d.username for d in evaluate_badges(rules, w.facts(), WEEK, held={})] == ["ann"]


# ───────────── streaks ─────────────


@pytest.mark.parametrize(
    ("history", "length"),
    [
        ("met met met", 3),
        ("met excused met", 2),  # excused neither counts nor breaks
        ("met missed met", 1),
        ("met - met", 1),  # a week without a result breaks the run
        ("met met missed", 0),
        ("excused excused", 0),
    ],
)
def test_streak_length(history: str, length: int) -> None:
    w = World()
    weeks = weeks_back(len(history.split()))
    for week, status in zip(weeks, history.split(), strict=True):
        if status != "-":
            w.result(week, "ann", status)
    assert streak_length(w.facts().results, "ann", WEEK)[0] == length


def test_streak_badge_reason_is_the_article_of_the_last_met_week() -> None:
    w = World()
    weeks = weeks_back(4)
    for week, status in zip(weeks, ["met", "met", "met", "excused"], strict=True):
        article = w.topic("ann", at(week, 2)) if status == "met" else None
        w.result(week, "ann", status, article)
    last_article = w.posts[-1]
    rules = rules_with({"slug": "streak", "criterion": {"kind": "streak", "weeks": 3}})
    (decision,) = evaluate_badges(rules, w.facts(), WEEK, held={})
    assert decision.reason_url.endswith(f"/t/{last_article.topic_id}/1")
    assert detect(RULES, w.facts(), Streak(kind="streak", weeks=4), WEEK) == []


# ───────────── full attendance ─────────────


def attendance_world(statuses: dict[str, list[str]]) -> World:
    w = World()
    w.squad("red", *statuses)
    for i, week in enumerate(weeks_back(3)):
        for member, history in statuses.items():
            status = history[i]
            article = w.topic(member, at(week, 2)) if status == "met" else None
            w.result(week, member, status, article)
    return w


FULL = FullAttendance(kind="full_attendance", weeks=3)


def test_full_attendance_gives_every_member_the_badge() -> None:
    w = attendance_world({"ann": ["met"] * 3, "bob": ["met"] * 3, "cat": ["met", "excused", "met"]})
    found = detect(RULES, w.facts(), FULL, WEEK)
    assert sorted(c.username for c in found) == ["ann", "bob", "cat"]
    own = {c.username: c.post.username for c in found}
    assert own == {"ann": "ann", "bob": "bob", "cat": "cat"}  # each member's own article


def test_one_missed_week_by_one_member_denies_the_whole_squad() -> None:
    w = attendance_world({"ann": ["met"] * 3, "bob": ["met", "missed", "met"]})
    assert detect(RULES, w.facts(), FULL, WEEK) == []


def test_a_squad_with_no_results_for_a_week_is_not_full() -> None:
    w = attendance_world({"ann": ["met"] * 3})
    del w.results[weeks_back(3)[0]]
    assert detect(RULES, w.facts(), FULL, WEEK) == []


# ───────────── badge decisions ─────────────

FULL_BADGE = {"slug": "full", "criterion": {"kind": "full_attendance", "weeks": 3}}


def test_badges_already_held_are_not_granted_again() -> None:
    w = attendance_world({"ann": ["met"] * 3, "bob": ["met"] * 3})
    rules = rules_with(FULL_BADGE)
    decisions = evaluate_badges(rules, w.facts(), WEEK, held={"full": {"ann"}})
    assert [(d.username, d.grant) for d in decisions] == [("bob", True)]


def test_revocable_badge_is_revoked_when_the_criterion_stops_holding() -> None:
    w = attendance_world({"ann": ["met", "met", "missed"], "bob": ["met"] * 3})
    rules = rules_with(FULL_BADGE | {"revocable": True})
    decisions = evaluate_badges(rules, w.facts(), WEEK, held={"full": {"ann", "bob"}})
    assert [(d.username, d.grant) for d in decisions] == [("ann", False), ("bob", False)]


def test_non_revocable_badge_stays() -> None:
    w = attendance_world({"ann": ["met", "met", "missed"]})
    rules = rules_with(FULL_BADGE)
    assert evaluate_badges(rules, w.facts(), WEEK, held={"full": {"ann"}}) == []


def test_nothing_is_revoked_for_a_week_without_results() -> None:
    w = attendance_world({"ann": ["met"] * 3})
    w.results.pop(WEEK)
    rules = rules_with(FULL_BADGE | {"revocable": True})
    assert evaluate_badges(rules, w.facts(), WEEK, held={"full": {"ann"}}) == []


def test_actions_grant_tell_and_explain_in_the_audit_log() -> None:
    from worker.engine.recognition import badge_actions

    w = attendance_world({"ann": ["met"] * 3, "bob": ["met"] * 3})
    rules = rules_with(FULL_BADGE)
    decisions = evaluate_badges(rules, w.facts(), WEEK, held={})
    acts = badge_actions(rules, decisions, WEEK, audit_category_id=52, languages={"bob": "en"})
    grants = [x for x in acts if isinstance(x, a.GrantBadge)]
    assert [(g.key, g.username, g.badge_name) for g in grants] == [
        ("badge:full:ann", "ann", "full"),
        ("badge:full:bob", "bob", "full"),
    ]
    # Relative: Discourse checks the reason with Discourse.route_for, which takes an absolute
    # URL only on the forum's own host, and Diamond may reach the forum by an internal one.
    assert all(re.fullmatch(r"/t/\d+/\d+", g.reason_path) for g in grants)
    pms = [x for x in acts if isinstance(x, a.SendPrivateMessage)]
    assert [p.recipients for p in pms] == [("ann",), ("bob",)]
    assert "恭喜" in pms[0].raw and "Congratulations" in pms[1].raw
    (audit,) = [x for x in acts if isinstance(x, a.CreateTopic)]
    assert audit.category_id == 52 and audit.affects_members is False
    assert audit.key == f"badge-audit:{WEEK}"
    assert BASE + grants[0].reason_path in audit.raw and "@bob" in audit.raw


def test_revocable_grants_are_keyed_by_week_so_they_can_come_back() -> None:
    from worker.engine.recognition import badge_actions

    w = attendance_world({"ann": ["met"] * 3})
    rules = rules_with(FULL_BADGE | {"revocable": True})
    decisions = evaluate_badges(rules, w.facts(), WEEK, held={})
    (grant,) = [
        x
        for x in badge_actions(rules, decisions, WEEK, audit_category_id=None)
        if isinstance(x, a.GrantBadge)
    ]
    assert grant.key == f"badge:full:ann:{WEEK}"


def test_no_audit_post_when_nothing_was_decided() -> None:
    from worker.engine.recognition import badge_actions

    assert badge_actions(RULES, [], WEEK, audit_category_id=52) == []


# ───────────── value contributors ─────────────


def test_value_contributors_of_one_week_name_their_kinds() -> None:
    w, art = review_world()
    w.reply("ann", art["cat"], at(WEEK, 3))  # extra review
    w.reply("bob", w.topic("newbie", at(WEEK, 0), category=51), at(WEEK, 1))  # welcome
    w.reply("cat", art["cat"], at(WEEK, 3))  # self-reply: nothing
    found = value_contributors(RULES, w.facts(), WEEK)
    assert found == {"ann": {"reviewer_beyond_duty"}, "bob": {"welcomer"}}


# ───────────── the obligations engine's results are read as they are ─────────────


def test_obligations_week_results_feed_streaks_and_extra_reviews() -> None:
    from worker.engine import obligations as ob

    w = World()
    w.squad("red", "ann", "bob", "cat")
    for week in weeks_back(3):
        arts = {m: w.topic(m, at(week, 2)) for m in ("ann", "bob", "cat")}
        for m, art in arts.items():
            ref = ob.PostRef(art.id, art.topic_id, art.post_number, art.created_at)
            owed_to = [n for n in arts if n != m][:1]  # each owes one review
            reviews = tuple(
                ob.ReviewResult(
                    m,
                    n,
                    ob.PostRef(arts[n].id, arts[n].topic_id, 1, arts[n].created_at),
                    art.created_at,
                    "on_time",
                )
                for n in owed_to
            )
            w.results[week][m] = ob.WeekResult(m, "red", week, "on_time", ref, reviews)
    # cat owes ann's article (first other), so reviewing bob's is beyond duty
    w.reply("cat", next(p for p in reversed(w.posts) if p.username == "bob"), at(WEEK, 3))
    facts = w.facts()
    assert streak_length(facts.results, "ann", WEEK)[0] == 3
    assert names(detect(RULES, facts, EXTRA, WEEK)) == [("cat", "bob")]
    assert len(detect(RULES, facts, FullAttendance(kind="full_attendance", weeks=3), WEEK)) == 3
