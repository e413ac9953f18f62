"""The interaction graph on small hand-checked graphs."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from worker.engine.facts import LikeFact, PostFact, Roster, Squad
from worker.engine.graph import (
    NO_SQUAD,
    Interaction,
    PostIndex,
    graph_trend,
    interactions,
    largest_component,
    week_bounds,
    week_range,
)
from worker.engine.textlen import QuoteRef
from worker.engine.weeks import Week, week_of

TZ = ZoneInfo("Asia/Shanghai")
WEEK = Week(2026, 47)  # Mon 2026-11-16 .. Sun 2026-11-22
MONDAY = datetime(2026, 11, 16, 10, tzinfo=TZ)


def post(
    pid: int,
    user: str,
    topic: int,
    number: int,
    *,
    reply_to: int | None = None,
    quotes: tuple[QuoteRef, ...] = (),
    at: datetime = MONDAY,
    deleted: bool = False,
) -> PostFact:
    return PostFact(
        id=pid,
        topic_id=topic,
        post_number=number,
        user_id=0,
        username=user,
        created_at=at,
        units=200,
        reply_to_post_number=reply_to,
        quotes=quotes,
        deleted=deleted,
    )


def pairs(items: list[Interaction]) -> list[tuple[str, str, str]]:
    return sorted((i.source, i.target, i.kind) for i in items)


# ───────────── weeks ─────────────


def test_a_moments_week_is_read_in_the_community_time_zone() -> None:
    # Sunday 16:30 UTC is Monday 00:30 in Shanghai: already the next week there.
    at = datetime(2026, 11, 22, 16, 30, tzinfo=ZoneInfo("UTC"))
    assert week_of(at, TZ) == Week(2026, 48)
    assert week_of(at, ZoneInfo("UTC")) == WEEK


def test_week_bounds_run_monday_to_monday_local() -> None:
    start, end = week_bounds(WEEK, TZ)
    assert start == datetime(2026, 11, 16, tzinfo=TZ)
    assert end - start == timedelta(days=7)


def test_week_ranges_cross_years() -> None:
    assert week_range(Week(2026, 2), 3) == (Week(2025, 52), Week(2026, 1), Week(2026, 2))
    assert week_range(Week(2027, 1), 2) == (Week(2026, 53), Week(2027, 1))


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("2026-47", "not an ISO week"),
        ("week 47", "not an ISO week"),
        ("2025-W53", "2025 has ISO weeks 1..52"),
    ],
)
def test_bad_week_names_are_refused_clearly(bad: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        Week.parse(bad)


def test_a_week_written_without_its_zero_is_the_same_week() -> None:
    # Weeks are values, not names compared as written: 2026-W7 is 2026-W07.
    assert Week.parse("2026-W7") == Week(2026, 7)
    assert str(Week.parse("2026-W7")) == "2026-W07"


# ───────────── interactions ─────────────


def test_self_replies_make_no_interaction() -> None:
    index = PostIndex([post(1, "ann", 10, 1), post(2, "ann", 10, 2, reply_to=1)])
    assert interactions(index, []) == []


def test_reply_without_target_answers_the_topic_author() -> None:
    index = PostIndex([post(1, "ann", 10, 1), post(2, "bob", 10, 2)])
    assert pairs(interactions(index, [])) == [("bob", "ann", "reply")]


def test_reply_to_an_article_is_a_review() -> None:
    index = PostIndex([post(1, "ann", 10, 1), post(2, "bob", 10, 2, reply_to=1)])
    assert pairs(interactions(index, [], articles={1})) == [("bob", "ann", "review")]


def test_quote_of_someone_else_is_an_interaction_but_not_a_self_quote() -> None:
    index = PostIndex(
        [
            post(1, "ann", 10, 1),
            post(2, "cat", 20, 1),
            post(3, "cat", 20, 2, quotes=(QuoteRef("ann", 10, 1), QuoteRef("cat", 20, 1))),
        ]
    )
    # post 3 replies to its own topic (cat): no edge; it quotes ann: one edge
    assert pairs(interactions(index, [])) == [("cat", "ann", "quote")]


def test_reply_and_quote_of_the_same_person_count_once() -> None:
    index = PostIndex(
        [post(1, "ann", 10, 1), post(2, "bob", 10, 2, reply_to=1, quotes=(QuoteRef("ann", 10, 1),))]
    )
    assert pairs(interactions(index, [])) == [("bob", "ann", "reply")]


def test_likes_join_liker_and_author_but_not_self_likes() -> None:
    index = PostIndex([post(1, "ann", 10, 1)])
    likes = [LikeFact(1, "bob", MONDAY), LikeFact(1, "ann", MONDAY), LikeFact(99, "bob", MONDAY)]
    assert pairs(interactions(index, likes)) == [("bob", "ann", "like")]


def test_deleted_posts_make_no_interaction() -> None:
    index = PostIndex([post(1, "ann", 10, 1), post(2, "bob", 10, 2, deleted=True)])
    assert interactions(index, []) == []


# ───────────── measures ─────────────


def edge(a: str, b: str, at: datetime = MONDAY, kind: str = "reply") -> Interaction:
    return Interaction(a, b, kind, at, 0)  # type: ignore[arg-type]


ROSTER = Roster(
    (
        Squad("red", "Red", "c", ("a", "b", "c")),
        Squad("blue", "Blue", "c", ("d", "e", "f")),
    )
)
MEMBERS = ("a", "b", "c", "d", "e", "f", "g")  # g has no squad


def test_hand_checked_week() -> None:
    # a-b, b-c (red triangle minus one side), c-d crosses squads, d->d self, e-d like.
    items = [
        edge("a", "b"),
        edge("b", "a"),  # same pair again: one edge
        edge("b", "c"),
        edge("c", "d"),
        edge("d", "d"),
        edge("e", "d", kind="like"),
        edge("a", "zed"),  # zed is not measured: ignored
    ]
    m = graph_trend(items, MEMBERS, ROSTER, WEEK, TZ, weeks=1).current
    assert m.members == 7
    assert m.edges == 4  # ab, bc, cd, de
    assert m.density == pytest.approx(4 / 21)
    assert m.avg_partners == pytest.approx(8 / 7)
    assert m.cross_squad_edges == 1 and m.cross_squad_share == pytest.approx(0.25)
    # replies between members: ab, ba, bc, cd (the like and the self-reply are not)
    assert m.post_interactions == 4 and m.cross_squad_reply_rate == pytest.approx(0.25)
    assert m.largest_component == 5 and m.largest_component_share == pytest.approx(5 / 7)
    assert m.isolated == {"blue": ("f",), NO_SQUAD: ("g",)}
    assert m.isolated_count == 2


def test_isolation_needs_two_quiet_weeks() -> None:
    last_week = MONDAY - timedelta(days=7)
    items = [edge("a", "b", at=last_week), edge("c", "d")]
    trend = graph_trend(items, ("a", "b", "c", "d"), ROSTER, WEEK, TZ, weeks=2)
    # a and b spoke last week: not isolated this week, though they made no edge now
    assert trend.current.isolated == {}
    assert trend.current.edges == 1
    # the week before, only a-b spoke (and nothing two weeks back): c and d were isolated
    assert trend.previous is not None
    assert trend.previous.isolated == {"blue": ("d",), "red": ("c",)}


def test_trend_is_week_over_week() -> None:
    last_week = MONDAY - timedelta(days=7)
    items = [edge("a", "b", at=last_week), edge("a", "b"), edge("c", "d"), edge("e", "f")]
    trend = graph_trend(items, MEMBERS, ROSTER, WEEK, TZ, weeks=2)
    assert [w.week for w in trend.weeks] == [WEEK.previous(), WEEK]
    assert [w.edges for w in trend.weeks] == [1, 3]
    assert trend.change("edges") == 2
    assert trend.edges == {("a", "b"), ("c", "d"), ("e", "f")}


def test_interactions_outside_the_weeks_are_ignored() -> None:
    items = [edge("a", "b", at=MONDAY + timedelta(days=7)), edge("c", "d", at=MONDAY)]
    m = graph_trend(items, MEMBERS, ROSTER, WEEK, TZ, weeks=1).current
    assert m.edges == 1


def test_week_edge_at_midnight_local_belongs_to_the_new_week() -> None:
    start, _ = week_bounds(WEEK, TZ)
    items = [edge("a", "b", at=start), edge("c", "d", at=start - timedelta(microseconds=1))]
    m = graph_trend(items, MEMBERS, ROSTER, WEEK, TZ, weeks=1).current
    assert m.edges == 1 and m.cross_squad_edges == 0


def test_empty_graph_measures_are_zero_not_errors() -> None:
    m = graph_trend([], MEMBERS, ROSTER, WEEK, TZ, weeks=1).current
    assert (m.edges, m.density, m.avg_partners, m.cross_squad_share) == (0, 0.0, 0.0, 0.0)
    assert m.largest_component == 1 and m.isolated_count == 7
    assert graph_trend([], (), ROSTER, WEEK, TZ, weeks=1).current.largest_component == 0


def test_largest_component_of_two_islands() -> None:
    assert largest_component([("a", "b"), ("b", "c"), ("x", "y")]) == 3
    assert largest_component([]) == 0


def test_interactions_since_leave_out_older_posts_and_likes() -> None:
    old, new = MONDAY - timedelta(days=1), MONDAY
    index = PostIndex(
        [
            post(1, "ann", 10, 1, at=old),
            post(2, "bob", 10, 2, at=old),
            post(3, "cat", 10, 3, at=new),
        ]
    )
    likes = [LikeFact(1, "dan", old), LikeFact(1, "eve", new)]
    assert pairs(interactions(index, likes, since=MONDAY)) == [
        ("cat", "ann", "reply"),
        ("eve", "ann", "like"),
    ]
