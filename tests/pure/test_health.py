"""The health report as data: stages and flows, contributors, completion, dying-group signs."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from tests.support.recognition_world import WEEK, World, at, shipped_rules, weeks_back
from worker.engine.health import (
    GONE,
    NEW,
    AdScreen,
    HealthFacts,
    build_report,
    flows,
    judge,
    stage_of,
)
from worker.rules.models import AtLeast, AtMost, ScreenList
from worker.state.chat import ChatMessage

RULES = shipped_rules()  # lookback 4 weeks, unanswered after 48 h, isolation 2 weeks
F = frozenset


# ───────────── stages and flows ─────────────


def test_a_later_stage_wins_when_someone_is_in_two_groups() -> None:
    assert stage_of({"camp": F({"ann"}), "members": F({"ann", "bob"})}) == {
        "ann": "members",
        "bob": "members",
    }


def test_flows_between_two_snapshots() -> None:
    before = {"pending": F({"p1", "p2"}), "camp": F({"c1", "c2", "c3"}), "members": F({"m1"})}
    after = {
        "pending": F({"p3"}),  # p3 is new
        "camp": F({"p1", "c3"}),  # p1 approved, c3 still in camp
        "members": F({"m1", "c1"}),  # c1 passed
        "alumni": F({"c2"}),  # c2 failed camp
    }  # p2 rejected: gone
    assert flows(before, after) == {
        ("camp", "alumni"): 1,
        ("camp", "members"): 1,
        (NEW, "pending"): 1,
        ("pending", "camp"): 1,
        ("pending", GONE): 1,
    }


# ───────────── thresholds ─────────────


@pytest.mark.parametrize(
    ("value", "status"),
    [(0.9, "healthy"), (0.8, "healthy"), (0.6, "watch"), (0.5, "watch"), (0.49, "alert")],
)
def test_higher_is_better_bands(value: float, status: str) -> None:
    assert judge("x", value, AtLeast(healthy=0.8, critical=0.5)).status == status


@pytest.mark.parametrize(
    ("value", "status"),
    [(0.1, "healthy"), (0.2, "healthy"), (0.3, "watch"), (0.4, "watch"), (0.41, "alert")],
)
def test_lower_is_better_bands(value: float, status: str) -> None:
    assert judge("x", value, AtMost(healthy=0.2, critical=0.4)).status == status


def test_no_denominator_is_na_not_healthy() -> None:
    assert judge("x", None, AtMost(healthy=0.2, critical=0.4)).status == "na"


# ───────────── ad-like posts ─────────────

SCREEN = AdScreen(
    [
        ScreenList(
            name="spam",
            applies_to=("application",),
            keywords=("加微信",),
            patterns=(r"\bvx[:：]?\s*\w{5,}",),
            reason="r",
        ),
        ScreenList(name="mail", applies_to=("email_domain",), keywords=("example",), reason="r"),
    ],
    link_only_max_units=5,
)


@pytest.mark.parametrize(
    ("raw", "signal"),
    [
        ("课程优惠,加微信领取", "screen:spam"),
        ("contact VX: abcdef123", "screen:spam"),
        ("https://shop.example/deal", "link-only"),
        ("看看 https://shop.example/deal", "link-only"),  # 2 units of text and a link
        ("这篇文章讲得很好,推荐大家读一读原文 https://blog.example/post", None),
        ("an example of plain prose without links", None),  # email-domain lists do not apply
    ],
)
def test_ad_like_posts(raw: str, signal: str | None) -> None:
    assert SCREEN.signal(raw) == signal


def test_shipped_screening_lists_flag_ads() -> None:
    assert AdScreen.from_rules(RULES).signal("代写论文 加微信") is not None


# ───────────── the report ─────────────


def community_world() -> tuple[World, dict]:
    """Two squads over four weeks; red does everything, blue slips in the last week."""
    w = World()
    red = w.squad("red", "ann", "ari", "amy")
    blue = w.squad("blue", "bob", "bea", "ben")
    for week in weeks_back(4):
        for squad in (red, blue):
            status = "missed" if squad is blue and week == WEEK else "met"
            arts = w.week_of_articles(week, squad, status)
            # everyone replies to the previous member's article: bonds inside squads
            for i, member in enumerate(squad.members):
                w.reply(member, arts[i - 1], at(week, 3, 9 + i))
    w.result(WEEK, "ben", "excused")
    stages = {
        "pending": F({"p1"}),
        "camp": F({"cam"}),
        "members": F(red.members + blue.members + ("lurk",)),
        "alumni": F({"old"}),
    }
    return w, stages


def report_for(w: World, stages: dict, **extra):
    facts = HealthFacts(
        recognition=w.facts(),
        stages=stages,
        staff=F({"system", "admin"}),
        **extra,
    )
    return build_report(RULES, facts, WEEK)


def test_members_by_stage_and_the_lookback_weeks() -> None:
    w, stages = community_world()
    report = report_for(w, stages)
    assert report.stages == {"pending": 1, "camp": 1, "members": 7, "alumni": 1}
    assert report.weeks == tuple(weeks_back(4))
    assert report.flows == {}  # no earlier snapshot


def test_camp_pass_rate_comes_from_the_flows() -> None:
    w, stages = community_world()
    before = dict(stages) | {"camp": F({"cam", "c1", "c2"})}
    after = dict(stages) | {"members": stages["members"] | {"c1"}, "alumni": F({"old", "c2"})}
    report = report_for(w, after, previous_stages=before)
    assert report.indicator("camp_pass_rate").value == pytest.approx(0.5)


def test_completion_rate_per_squad_and_week_leaves_excused_out() -> None:
    w, stages = community_world()
    report = report_for(w, stages)
    assert [sw.rate for sw in report.completion["red"]] == [1.0] * 4
    blue = report.completion["blue"]
    assert [sw.rate for sw in blue[:3]] == [1.0] * 3
    assert (blue[-1].met, blue[-1].excused, blue[-1].missed, blue[-1].rate) == (0, 1, 2, 0.0)


def test_isolated_members_are_listed_by_squad() -> None:
    w, stages = community_world()
    report = report_for(w, stages)
    # 'lurk' (no squad) and 'cam' (camp) never interacted
    assert report.graph.current.isolated == {"": ("cam", "lurk")}
    assert report.graph.current.members == 8
    assert report.graph.current.cross_squad_edges == 0


def test_value_contributors_count_and_share_per_week() -> None:
    w, stages = community_world()
    red_art = next(p for p in reversed(w.posts) if p.username == "ari" and p.post_number == 1)
    w.reply("bob", red_art, at(WEEK, 4))  # bob reviews an article he did not owe, across squads
    report = report_for(w, stages)
    now = report.contributors[-1]
    # ben was excused this week, so the review he still wrote was beyond his duty too
    assert (now.count, now.members) == (2, 8)
    assert now.share == pytest.approx(2 / 8)
    assert now.kinds == {"connector": 1, "reviewer_beyond_duty": 2}
    assert report.contributor_names == {
        "ben": {"reviewer_beyond_duty"},
        "bob": {"connector", "reviewer_beyond_duty"},
    }
    assert [c.count for c in report.contributors[:-1]] == [0, 0, 0]
    assert report.indicator("contributor_share").status == "healthy"  # 0.25 >= 0.2


def test_contributor_share_between_the_lines_is_watch() -> None:
    w, stages = community_world()
    red_art = next(p for p in reversed(w.posts) if p.username == "ari" and p.post_number == 1)
    w.reply("amy", red_art, at(WEEK, 4), units=5)  # too short to be a review
    w.reply("bob", red_art, at(WEEK, 4))
    w.results[WEEK]["ben"] = w.results[WEEK]["bob"]  # not excused: his review was owed
    report = report_for(w, stages)
    assert report.contributors[-1].count == 1
    assert report.indicator("contributor_share").status == "watch"  # 0.125: between 0.1 and 0.2


def test_a_group_that_only_listens_to_staff_raises_an_alert() -> None:
    w, stages = community_world()
    for i in range(60):
        w.topic("admin", at(WEEK, 1, 0, i))  # a lecture series
    report = report_for(w, stages)
    staff = report.indicator("staff_post_share")
    assert staff.status == "alert" and staff.value > 0.6
    assert staff in report.alerts and report.verdict == "alert"


def test_leaders_posts_count_with_staff() -> None:
    w, stages = community_world()
    report = report_for(w, stages)
    now = report.activity[-1]
    # each week: 6 articles + 6 replies; the leaders are ann and bob (first members)
    assert (now.posts, now.staff_posts) == (12, 4)


def test_ad_like_posts_share() -> None:
    w, stages = community_world()
    ad = w.topic("spammer", at(WEEK, 2))
    report = report_for(w, stages, ad_posts={ad.id: "link-only"})
    assert report.activity[-1].ad_posts == 1
    assert report.indicator("ad_post_share").value == pytest.approx(1 / 13)
    assert report.indicator("ad_post_share").status == "alert"


def test_unanswered_topics_are_judged_after_the_waiting_time() -> None:
    w, stages = community_world()
    asked = w.topic("amy", at(WEEK, 0, 9))  # Monday: 48 h later is Wednesday
    w.reply("amy", asked, at(WEEK, 0, 10))  # the author's own reply is no answer
    too_recent = w.topic("amy", at(WEEK, 6, 9))  # Sunday: judged next week
    answered = w.topic("ari", at(WEEK, 0, 9))
    w.reply("ann", answered, at(WEEK, 1))
    report = report_for(w, stages)
    now = report.activity[-1]
    # judged this week: the 6 articles (all answered), 'asked' and 'answered';
    # the Sunday topic turns 48 h old next week
    assert (now.topics, now.unanswered) == (8, 1)
    assert too_recent.topic_id not in (p.topic_id for p in w.posts if p.post_number > 1)
    assert report.indicator("unanswered_share").value == pytest.approx(now.unanswered / now.topics)


def test_falling_weekly_actives_raise_an_alert() -> None:
    w, stages = community_world()
    for week in weeks_back(4)[:-1]:
        for i in range(20):
            w.topic(f"extra{i}", at(week, 1))  # 20 more actives in earlier weeks
    report = report_for(w, stages)
    ratio = report.indicator("actives_ratio")
    assert [a.actives for a in report.activity] == [26, 26, 26, 6]
    assert ratio.value == pytest.approx(6 / 26) and ratio.status == "alert"


def test_article_review_and_penalised_rates() -> None:
    w, stages = community_world()
    w.result(WEEK, "bob", "missed", None, (), struck=True)
    report = report_for(w, stages)
    # judged this week (excused ben left out): 3 red + bob + bea
    assert report.indicator("article_rate").value == pytest.approx(4 / 5)
    assert report.indicator("penalised_share").value == pytest.approx(1 / 5)
    assert report.indicator("review_rate").value == pytest.approx(8 / 8)


def test_squad_part_for_a_leader() -> None:
    w, stages = community_world()
    part = report_for(w, stages).squad_part("blue")
    assert part.squad.leader == "bob"
    assert [sw.week for sw in part.completion] == weeks_back(4)
    assert part.partners == {"bea": 2, "ben": 2}
    assert part.isolated == ()


def test_members_with_no_post_this_week_are_silent() -> None:
    w, stages = community_world()
    report = report_for(w, stages)
    # 8 measured (7 members + camp, minus nobody on staff): cam and lurk never posted
    assert report.indicator("silent_share").value == pytest.approx(2 / 8)


def _chat(user: str, when, *, units: int = 12, deleted: bool = False) -> ChatMessage:
    return ChatMessage(
        message_id=hash((user, when, units)) & 0xFFFFFF,
        channel_id=107,
        category_id=7,
        user_id=1,
        username=user,
        created_at=when,
        units=units,
        deleted=deleted,
    )


@pytest.mark.parametrize(
    ("chat", "silent"),
    [
        ([], 2),  # cam and lurk posted nothing
        ([("lurk", {})], 1),  # a chat message of min_units (5) or more: lurk has spoken
        ([("lurk", {}), ("cam", {})], 0),
        ([("lurk", {"units": 5})], 1),  # exactly min_units counts
        ([("lurk", {"units": 4})], 2),  # shorter ("好的", "👍"): still silent
        ([("lurk", {"deleted": True})], 2),  # trashed
        ([("lurk", {"when": at(WEEK, 0) - timedelta(days=1)})], 2),  # last week's
        ([("old", {})], 2),  # not in the community (alumni): changes nothing
    ],
)
def test_a_member_who_wrote_in_chat_this_week_is_not_silent(chat, silent) -> None:
    w, stages = community_world()
    messages = [_chat(user, **({"when": at(WEEK, 2, 10)} | kw)) for user, kw in chat]
    report = report_for(w, stages, chat=tuple(messages))
    assert report.indicator("silent_share").value == pytest.approx(silent / 8)


def test_report_of_an_empty_forum_has_no_errors_and_is_not_applicable() -> None:
    report = report_for(World(), {})
    assert report.stages == {"pending": 0, "camp": 0, "members": 0, "alumni": 0}
    assert report.verdict == "na" and not report.measured
    assert all(i.value is None for i in report.indicators)


def test_old_posts_outside_the_lookback_do_not_count() -> None:
    w, stages = community_world()
    w.topic("admin", at(WEEK, 0) - timedelta(weeks=10))
    report = report_for(w, stages)
    assert report.activity[0].staff_posts == 4


# ───────────── n/a, and when the report starts ─────────────


def one_squad_world() -> tuple[World, dict]:
    """One squad that owes its weeks; two camp weeks before it existed."""
    w = World()
    red = w.squad("red", "ann", "ari", "amy")
    camp_weeks, squad_weeks = weeks_back(4)[:2], weeks_back(4)[2:]
    for week in camp_weeks:  # camp: introductions, nobody replies to anyone
        for member in red.members:
            w.topic(member, at(week, 1))
    for week in squad_weeks:
        arts = w.week_of_articles(week, red)
        for i, member in enumerate(red.members):
            w.reply(member, arts[i - 1], at(week, 3, 9 + i))
    return w, {"members": F(red.members)}


def test_cross_squad_replies_are_not_applicable_with_one_squad() -> None:
    w, stages = one_squad_world()
    report = report_for(w, stages)
    cross = report.indicator("cross_squad_reply_rate")
    assert (cross.value, cross.status) == (None, "na")
    assert cross not in report.alerts


def test_a_measure_with_no_denominator_is_na_and_does_not_count_toward_the_verdict() -> None:
    w, stages = one_squad_world()
    report = report_for(w, stages)  # no camp flows: no camp pass rate
    assert report.indicator("camp_pass_rate").status == "na"
    applicable = report.indicator("article_rate")
    only = dataclasses.replace(report, indicators=(report.indicator("camp_pass_rate"), applicable))
    assert only.verdict == "healthy"


def test_trend_tables_leave_out_weeks_no_squad_owed_anything() -> None:
    w, stages = one_squad_world()
    report = report_for(w, stages)
    measured = weeks_back(4)[2:]
    assert report.weeks == tuple(measured)
    assert [g.week for g in report.graph.weeks] == measured
    assert [a.week for a in report.activity] == measured
    assert [c.week for c in report.contributors] == measured
    assert [sw.week for sw in report.completion["red"]] == measured
    # camp weeks' posts do not skew the actives trend
    assert report.indicator("actives_ratio").value == pytest.approx(1.0)


def test_a_week_before_any_squad_owes_anything_is_not_measured() -> None:
    w, stages = one_squad_world()
    facts = HealthFacts(recognition=w.facts(), stages=stages, staff=F({"admin"}))
    report = build_report(RULES, facts, weeks_back(4)[1])  # the camp's last week
    assert not report.measured
    assert report.verdict == "na" and not report.alerts
    assert all(i.status == "na" for i in report.indicators)


def test_members_not_obliged_yet_owe_nothing() -> None:
    w, stages = one_squad_world()
    first = weeks_back(4)[2]
    for name in w.results[first]:  # the squad formed during that week
        w.result(first, name, "excused", obliged=False)
    report = report_for(w, stages)
    assert report.weeks == (WEEK,)
    assert report.owing == {WEEK: frozenset({"red"})}


def test_a_leaders_part_lists_their_members_without_the_leader() -> None:
    w, stages = community_world()
    part = report_for(w, stages).squad_part("blue")
    assert part.partners == {"bea": 2, "ben": 2}


def test_a_leaders_part_covers_only_weeks_their_squad_owed() -> None:
    w, stages = one_squad_world()
    blue = w.squad("blue", "bob", "bea")
    arts = w.week_of_articles(WEEK, blue)
    w.reply("bea", arts[0], at(WEEK, 4))
    report = report_for(w, stages | {"members": stages["members"] | F(blue.members)})
    assert [sw.week for sw in report.squad_part("blue").completion] == [WEEK]
    assert len(report.squad_part("red").completion) == 2
