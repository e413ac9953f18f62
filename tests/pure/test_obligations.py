"""Weekly obligations engine: neighbours, articles, reviews, edits, time boundaries, leave."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from tests.support.obligations import (
    SH,
    W47,
    Thread,
    at,
    pm_rules,
    rules_with,
    shipped_rules,
    squad,
)
from worker.engine.obligations import (
    LeaveRequest,
    SquadWeek,
    WeekPost,
    evaluate_squad_week,
    evaluate_week,
    grant_leave,
    leave_request_from_post,
    neighbour_indexes,
    plan_reminders,
    weeks_named,
)
from worker.engine.weeks import Week, end_of_day, week_times

FULL, REVIEW = 900, 150  # article and review lengths above the shipped minimums (800, 100)


def run(sq, thread: Thread, week: Week = W47, rules=None, **kw):
    rules = rules or shipped_rules()
    sw = SquadWeek(sq, week, tuple(thread.posts), thread_topic_id=thread.topic_id)
    result = evaluate_squad_week(rules.obligations, SH, sw, **kw)
    return result, {r.username: r for r in result.results}


# ─────────────────────────── neighbours ───────────────────────────


@pytest.mark.parametrize(
    ("articles", "expected"),
    [
        pytest.param(0, [], id="no articles: nobody owes anything"),
        pytest.param(1, [()], id="a lone article owes no review"),
        pytest.param(2, [(1,), (0,)], id="two articles review each other once"),
        pytest.param(3, [(2, 1), (0, 2), (1, 0)], id="three: previous and next, wrapping"),
        pytest.param(
            10,
            [((i - 1) % 10, (i + 1) % 10) for i in range(10)],
            id="ten: first and last wrap around to each other",
        ),
    ],
)
def test_neighbours(articles: int, expected: list[tuple[int, ...]]) -> None:
    assert neighbour_indexes(articles, 1) == expected


def test_two_neighbours_each_side_never_repeat_an_article() -> None:
    assert neighbour_indexes(3, 2) == [(2, 1), (0, 2), (1, 0)]
    assert neighbour_indexes(5, 2)[0] == (4, 1, 3, 2)


def test_ring_follows_posting_order_and_each_author_owes_prev_and_next() -> None:
    t = Thread()
    t.post("carol", at(17), FULL)  # posting order: carol, alice, bob
    t.post("alice", at(18), FULL)
    t.post("bob", at(19), FULL)
    sq = squad("alice", "bob", "carol")
    result, by = run(sq, t)
    assert [a for a, _ in result.articles] == ["carol", "alice", "bob"]
    assert [r.author for r in by["alice"].reviews] == ["carol", "bob"]
    assert [r.author for r in by["carol"].reviews] == ["bob", "alice"]


def test_members_without_an_article_are_outside_the_ring_and_owe_no_reviews() -> None:
    t = Thread()
    t.post("alice", at(18), FULL)
    t.post("bob", at(19), FULL)
    _, by = run(squad("alice", "bob", "dave"), t)
    assert by["dave"].article == "missing" and by["dave"].reviews == ()
    assert [r.author for r in by["alice"].reviews] == ["bob"]


# ─────────────────────────── a full week ───────────────────────────


def test_a_week_done_right_is_met_with_no_strikes() -> None:
    t = Thread()
    a = t.post("alice", at(17), FULL)
    b = t.post("bob", at(18), FULL)
    c = t.post("carol", at(19), FULL)
    for reviewer, targets in {"alice": (b, c), "bob": (a, c), "carol": (a, b)}.items():
        for target in targets:  # the day after the article: on time
            day = target.created_at.day + 1
            t.post(reviewer, at(day, 20), REVIEW, reply_to=target.post_number)
    result, by = run(squad("alice", "bob", "carol"), t)
    assert {r.outcome for r in by.values()} == {"met"}
    assert {r.strikes for r in by.values()} == {0}
    assert result.reviews_done == result.reviews_owed == 6


def test_missing_article_and_reviews_earn_the_rule_weights() -> None:
    t = Thread()
    t.post("alice", at(17), FULL)
    t.post("bob", at(18), FULL)
    t.post("carol", at(19), FULL)
    _, by = run(squad("alice", "bob", "carol", "dave"), t)
    # weights: missing_article 2, missing_review 1 each
    assert by["dave"].strikes == 2 and by["dave"].reasons == ("missing_article",)
    assert by["alice"].strikes == 2
    assert by["alice"].reasons == ("missing_review:carol", "missing_review:bob")
    assert by["alice"].outcome == "missed"


# ─────────────────────────── what counts as a review ───────────────────────────


@pytest.mark.parametrize(
    ("how", "counts"),
    [
        pytest.param({"reply_to": "target"}, True, id="a reply to the article post counts"),
        pytest.param({"quotes": "target"}, True, id="a floor quoting the article counts"),
        pytest.param({"reply_to": "other"}, False, id="a reply to another post does not count"),
        pytest.param({}, False, id="a floor that neither replies nor quotes does not count"),
    ],
)
def test_review_kinds(how: dict, counts: bool) -> None:
    t = Thread()
    a = t.post("alice", at(17), FULL)
    b = t.post("bob", at(18), FULL)
    kw = {}
    if how.get("reply_to"):
        kw["reply_to"] = a.post_number if how["reply_to"] == "target" else 1
    if how.get("quotes"):
        kw["quotes"] = (a.post_number,)
    t.post("bob", at(18, 20), REVIEW, **kw)
    _, by = run(squad("alice", "bob"), t)
    assert (by["bob"].reviews[0].status == "on_time") is counts
    del b


def test_a_review_that_is_mostly_quote_does_not_count() -> None:
    from worker.engine.textlen import count_units

    raw = (
        '[quote="alice, post:2, topic:900"]\n' + "这是一篇很长的文章" * 30 + "\n[/quote]\n\n写得好"
    )
    assert count_units(raw) == 3  # the quote is not counted: 3 of its own units
    t = Thread()
    a = t.post("alice", at(17), FULL)
    t.post("bob", at(18), FULL)
    t.post("bob", at(19), count_units(raw), reply_to=a.post_number, quotes=(a.post_number,))
    _, by = run(squad("alice", "bob"), t)
    assert by["bob"].reviews[0].status == "missing"


def test_a_review_needs_the_rule_minimum_of_its_own_words() -> None:
    t = Thread()
    a = t.post("alice", at(17), FULL)
    t.post("bob", at(18), FULL)
    t.post("bob", at(19), 99, reply_to=a.post_number)
    _, by = run(squad("alice", "bob"), t)
    assert by["bob"].reviews[0].status == "missing"


def test_a_long_reply_to_someones_article_is_a_review_not_an_article() -> None:
    t = Thread()
    a = t.post("alice", at(17), FULL)
    t.post("bob", at(18), FULL, reply_to=a.post_number)
    _, by = run(squad("alice", "bob"), t)
    assert by["bob"].article == "missing"


# ─────────────────────────── edits and deadlines ───────────────────────────


@pytest.mark.parametrize(
    ("edited_at", "expected"),
    [
        pytest.param(at(22, 21, 0), "on_time", id="stub edited to full before the deadline"),
        pytest.param(at(22, 22, 0), "on_time", id="edited exactly at the deadline"),
        pytest.param(at(23, 9, 0), "late", id="stub edited to full in the late window"),
        pytest.param(at(24, 9, 0), "missing", id="stub edited to full after the late window"),
    ],
)
def test_an_article_counts_as_it_stood_at_the_deadline(
    edited_at: dt.datetime, expected: str
) -> None:
    t = Thread()
    stub = t.post("alice", at(17), 30)
    t.edit(stub, edited_at, FULL)
    _, by = run(squad("alice"), t)
    assert by["alice"].article == expected


def test_an_article_shortened_after_the_deadline_still_counts_on_time() -> None:
    t = Thread()
    post = t.post("alice", at(17), FULL)
    t.edit(post, at(23, 10), 10)
    _, by = run(squad("alice"), t)
    assert by["alice"].article == "on_time"


@pytest.mark.parametrize(
    ("posted", "expected"),
    [
        pytest.param(at(22, 22, 0, 0), "on_time", id="article at the deadline 22:00:00"),
        pytest.param(at(22, 22, 0, 1), "late", id="article one second after the deadline"),
        pytest.param(at(23, 22, 0, 0), "late", id="article at the end of the late window"),
        pytest.param(at(23, 22, 0, 1), "missing", id="article after the late window"),
    ],
)
def test_article_deadline_boundaries(posted: dt.datetime, expected: str) -> None:
    t = Thread()
    t.post("alice", posted, FULL)
    _, by = run(squad("alice"), t)
    assert by["alice"].article == expected


@pytest.mark.parametrize(
    ("posted", "expected"),
    [
        pytest.param(at(19, 23, 59, 59), "on_time", id="review at 23:59:59 the day after: on time"),
        pytest.param(at(20, 0, 0, 0), "late", id="review at 00:00:00 two days after: late"),
        pytest.param(at(24, 22, 0, 0), "late", id="review at the window cap: late"),
        pytest.param(at(24, 22, 0, 1), "missing", id="review after the window cap: missing"),
    ],
)
def test_review_due_by_the_end_of_the_day_after_the_article_in_shanghai(
    posted: dt.datetime, expected: str
) -> None:
    t = Thread()
    a = t.post("alice", at(18, 23, 30), FULL)  # Wednesday 23:30 Shanghai = 15:30 UTC
    t.post("bob", at(18, 9), FULL)
    t.post("bob", posted.astimezone(dt.UTC), REVIEW, reply_to=a.post_number)
    _, by = run(squad("alice", "bob"), t)
    review = by["bob"].reviews[0]
    assert review.due == end_of_day(at(18, 23, 30), 1, SH)
    assert review.status == expected


def test_review_due_never_later_than_the_window_cap() -> None:
    t = Thread()
    a = t.post("alice", at(23, 21), FULL)  # late article, Monday 21:00
    t.post("bob", at(18), FULL)
    _, by = run(squad("alice", "bob"), t)
    cap = week_times(shipped_rules().obligations, W47, SH).review_cap
    assert by["bob"].reviews[0].due == cap  # end of Tuesday is after the cap (Tue 22:00)
    del a


def test_without_a_due_day_reviews_are_on_time_until_the_cap() -> None:
    rules = rules_with(review={"due_days_after_article": None})
    t = Thread()
    a = t.post("alice", at(17), FULL)
    t.post("bob", at(18), FULL)
    t.post("bob", at(24, 21), REVIEW, reply_to=a.post_number)
    _, by = run(squad("alice", "bob"), t, rules=rules)
    assert by["bob"].reviews[0].status == "on_time"


# ─────────────────────────── who is judged ───────────────────────────


def test_staff_results_are_computed_but_never_strike() -> None:
    t = Thread()
    _, by = run(squad("alice", "boss"), t, staff=frozenset({"boss"}))
    assert by["boss"].exempt and by["boss"].strikes == 0
    assert by["alice"].strikes == 2


def test_posts_of_non_members_are_not_articles() -> None:
    t = Thread()
    t.post("stranger", at(17), FULL)
    t.post("alice", at(18), FULL)
    result, _ = run(squad("alice"), t)
    assert [a for a, _ in result.articles] == ["alice"]


def test_as_of_reads_progress_so_far() -> None:
    t = Thread()
    t.post("alice", at(17), FULL)
    t.post("bob", at(21), FULL)
    _, by = run(squad("alice", "bob"), t, as_of=at(20))
    assert by["alice"].article == "on_time" and by["bob"].article == "missing"


def test_evaluate_week_collects_every_squad() -> None:
    rules = shipped_rules()
    t1, t2 = Thread(1), Thread(2)
    t1.post("alice", at(17), FULL)
    sw = [
        SquadWeek(squad("alice", slug="sq-1"), W47, tuple(t1.posts)),
        SquadWeek(squad("bob", slug="sq-2"), W47, tuple(t2.posts)),
    ]
    results = evaluate_week(rules.obligations, SH, W47, sw)
    assert results.by_member["alice"].outcome == "met"
    assert results.by_member["bob"].outcome == "missed"
    with pytest.raises(ValueError, match="not 2026-W47"):
        evaluate_week(rules.obligations, SH, W47, [SquadWeek(squad("x"), W47.next())])


# ─────────────────────────── topic mode ───────────────────────────


def _topic(user: str, when: dt.datetime, topic_id: int, units: int = FULL) -> WeekPost:
    return Thread(topic_id).post(user, when, units, post_number=1)


def test_topic_mode_articles_are_topics_and_reviews_are_replies_in_them() -> None:
    rules = rules_with(article={"mode": "topic"})
    a = _topic("alice", at(17), 501)
    b = _topic("bob", at(18), 502)
    r1 = Thread(501).post("bob", at(18, 20), REVIEW, post_number=2)
    sw = SquadWeek(squad("alice", "bob"), W47, (a, b, r1))
    _, by = run_sw(rules, sw)
    assert by["alice"].article == by["bob"].article == "on_time"
    assert by["bob"].reviews[0].status == "on_time"
    assert by["alice"].reviews[0].status == "missing"


def run_sw(rules, sw):
    result = evaluate_squad_week(rules.obligations, SH, sw)
    return result, {r.username: r for r in result.results}


def test_topic_mode_a_late_topic_counts_for_the_week_before_not_the_next() -> None:
    rules = rules_with(article={"mode": "topic"})
    late = _topic("alice", at(23, 9), 601)  # Monday of W48, in W47's late window
    on_time_bob = _topic("bob", at(23, 9), 602)
    w47_bob = _topic("bob", at(20), 603)
    sw47 = SquadWeek(squad("alice", "bob"), W47, (w47_bob,), next_posts=(late, on_time_bob))
    _, by47 = run_sw(rules, sw47)
    assert by47["alice"].article == "late"
    assert by47["bob"].article_post.topic_id == 603
    sw48 = SquadWeek(
        squad("alice", "bob"), W47.next(), (late, on_time_bob), previous_posts=(w47_bob,)
    )
    _, by48 = run_sw(rules, sw48)
    assert by48["alice"].article == "missing"  # that topic was W47's late article
    assert by48["bob"].article == "on_time"  # bob was on time in W47: this one is W48's


# ─────────────────────────── leave ───────────────────────────


def _grant(*requests: LeaveRequest, **leave):
    rules = rules_with(leave=leave) if leave else shipped_rules()
    return grant_leave(rules.obligations, SH, requests)


def test_leave_excuses_the_week_asked_with_notice() -> None:
    decision = _grant(LeaveRequest("alice", (W47,), at(20)))
    assert decision.excused(W47) == {"alice"}


@pytest.mark.parametrize(
    ("asked_at", "granted"),
    [
        pytest.param(at(21, 22, 0), True, id="exactly 24h before the deadline"),
        pytest.param(at(21, 22, 1), False, id="less than 24h before the deadline"),
    ],
)
def test_leave_needs_the_rule_notice(asked_at: dt.datetime, granted: bool) -> None:
    decision = _grant(LeaveRequest("alice", (W47,), asked_at))
    assert (W47 in decision.granted["alice"]) is granted


def test_leave_is_capped_in_a_row_and_per_year() -> None:
    weeks = tuple(W47.shift(i) for i in range(4))  # four weeks in a row, max 2
    decision = _grant(LeaveRequest("alice", weeks, at(1)))
    # the third is refused; the fourth starts a new run after a week of work
    assert sorted(decision.granted["alice"]) == [W47, W47.shift(1), W47.shift(3)]
    assert decision.refused["alice"] == ((W47.shift(2), "max_weeks_in_a_row"),)
    spread = tuple(Week(2026, n) for n in (2, 5, 8, 11))
    decision = _grant(LeaveRequest("bob", spread, None), max_weeks_per_year=3)
    assert len(decision.granted["bob"]) == 3
    assert decision.refused["bob"] == ((Week(2026, 11), "max_weeks_per_year"),)


def test_excused_members_neither_strike_nor_miss() -> None:
    t = Thread()
    _, by = run(squad("alice"), t, excused=frozenset({"alice"}))
    assert by["alice"].strikes == 0 and by["alice"].outcome == "excused"


def test_a_leave_post_asks_for_the_weeks_it_names_or_the_next_it_gives_notice_for() -> None:
    obligations = shipped_rules().obligations
    assert weeks_named("请假 2026-W47 和 2026W48,谢谢 2026-W99") == (W47, W47.next())
    named = leave_request_from_post(obligations, SH, "a", at(16), (W47.next(),))
    assert named.weeks == (W47.next(),)
    early = leave_request_from_post(obligations, SH, "a", at(21, 21), ())
    assert early.weeks == (W47,)
    too_late = leave_request_from_post(obligations, SH, "a", at(21, 23), ())
    assert too_late.weeks == (W47.next(),)


# ─────────────────────────── weeks ───────────────────────────


def test_weeks_parse_print_and_step_across_years() -> None:
    assert str(Week.parse("2026-W47")) == "2026-W47"
    assert Week.parse("2026W01").previous() == Week(2025, 52)
    assert Week(2026, 53).next() == Week(2027, 1)
    with pytest.raises(ValueError, match="2026-W47"):
        Week.parse("47")
    with pytest.raises(ValueError, match=r"weeks 1\.\.52"):
        Week(2025, 53)


def test_a_review_of_an_earlier_neighbour_is_due_the_day_after_ones_own_article() -> None:
    t = Thread()
    a = t.post("alice", at(16, 9), FULL)  # Monday
    t.post("bob", at(20, 9), FULL)  # Friday: now alice and bob are neighbours
    t.post("bob", at(21, 23, 59, 59), REVIEW, reply_to=a.post_number)  # Saturday night
    _, by = run(squad("alice", "bob"), t)
    assert by["bob"].reviews[0].due == end_of_day(at(20, 9), 1, SH)
    assert by["bob"].reviews[0].status == "on_time"


# ─────────────────────────── joining a squad (starts_after_camp) ───────────────────────────


def _with_joined(sq, **joined: dt.datetime):
    """The squad as the roster reads it: Discourse's ``added_at`` per member."""
    return dataclasses.replace(sq, joined=joined)


@pytest.mark.parametrize(
    ("joined", "starts_after_camp", "obliged"),
    [
        pytest.param(
            at(18),
            True,
            False,
            id="a member who joined their squad mid-week owes nothing that week",
        ),
        pytest.param(
            at(15, 20), True, True, id="a member who joined before the week starts owes the article"
        ),
        pytest.param(at(16, 0), True, True, id="joined at the week's first moment: owes it"),
        pytest.param(None, True, True, id="join time unknown: owes it"),
        pytest.param(at(18), False, True, id="rule off: owed from the joining week"),
    ],
)
def test_obligations_start_the_first_full_week_in_the_squad(
    joined: dt.datetime | None, starts_after_camp: bool, obliged: bool
) -> None:
    t = Thread()
    t.post("alice", at(17), FULL)
    sq = _with_joined(squad("alice", "bob"), **({"bob": joined} if joined else {}))
    rules = rules_with(starts_after_camp=starts_after_camp)
    result, by = run(sq, t, rules=rules)
    bob = by["bob"]
    if obliged:
        assert (bob.strikes, bob.outcome, bob.exempt) == (2, "missed", False)
        assert "bob" in result.missing_articles
    else:  # exempt: no strike, no reason to report, no broken streak, not named missing
        assert (bob.strikes, bob.reasons, bob.outcome, bob.exempt) == (0, (), "excused", True)
        assert "bob" not in result.missing_articles
    assert by["alice"].strikes == 0  # alice is alone in the ring: owes no review


def test_a_newcomers_voluntary_article_counts_and_joins_the_ring() -> None:
    t = Thread()
    a = t.post("alice", at(17), FULL)
    b = t.post("bob", at(19), FULL)
    t.post("alice", at(20), REVIEW, reply_to=b.post_number)
    t.post("bob", at(20), REVIEW, reply_to=a.post_number)
    result, by = run(_with_joined(squad("alice", "bob"), bob=at(18)), t)
    assert [x for x, _ in result.articles] == ["alice", "bob"]
    assert by["bob"].outcome == "met" and by["alice"].outcome == "met"


def test_reminders_do_not_nag_members_not_yet_obliged() -> None:
    rules = pm_rules()
    nudge = next(r for r in rules.obligations.reminders if r.about == "article")
    t = Thread()
    t.post("lead", at(17), FULL)
    sq = _with_joined(squad("lead", "alice", "bob", leader="lead"), bob=at(18))
    progress = evaluate_week(
        rules.obligations,
        SH,
        W47,
        [SquadWeek(sq, W47, tuple(t.posts), t.topic_id)],
        as_of=at(20, 20),
    )
    actions = plan_reminders(rules, nudge, progress)
    members = [x for x in actions if x.key.startswith("remind:")]
    assert [x.recipients for x in members] == [("alice",)]
    leader_list = next(x for x in actions if x.key.startswith("remind-leader:"))
    assert "@alice" in leader_list.raw and "@bob" not in leader_list.raw


def test_each_reminder_is_in_its_readers_language() -> None:
    rules = pm_rules()
    nudge = next(r for r in rules.obligations.reminders if r.about == "article")
    t = Thread()
    t.post("lead", at(17), FULL)
    sq = squad("lead", "alice", "bob", leader="lead")
    progress = evaluate_week(
        rules.obligations,
        SH,
        W47,
        [SquadWeek(sq, W47, tuple(t.posts), t.topic_id)],
        as_of=at(20, 20),
    )
    actions = plan_reminders(rules, nudge, progress, {"alice": "en", "lead": "en"})
    by_reader = {x.recipients: x.title for x in actions}
    assert by_reader[("alice",)] == "Your article for the week of 16–22 Nov"
    assert (
        by_reader[("bob",)]
        == rules.render(nudge.template, "zh", week=47, dates="11月16日–22日").title
    )
    leader = next(x for x in actions if x.key.startswith("remind-leader:"))
    assert (
        leader.title
        == rules.render(
            rules.obligations.messages.leader_reminder,
            "en",
            week=47,
            dates="16–22 Nov",
            squad=sq.full_name,
        ).title
    )
