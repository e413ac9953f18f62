"""Squad chat as bonds: chat facts → interactions → the graph's edges and each squad's bonds."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest

from tests.support.recognition_world import TZ, WEEK, World, at, shipped_rules, weeks_back
from worker.engine.chat import chat_activity, chat_interactions, chat_usernames, thread_starters
from worker.engine.facts import Roster, Squad
from worker.engine.graph import Interaction, graph_trend, squad_bonds
from worker.engine.health import HealthFacts, build_report
from worker.state.chat import ChatMessage

RULES = shipped_rules()
F = frozenset
IDS = {"ann": 1, "ari": 2, "amy": 3, "bob": 4, "bea": 5, "ben": 6, "admin": 90, "system": -1}
_ids = itertools.count(1000)


def msg(
    user: str,
    when: datetime,
    *,
    units: int = 12,
    reply_to: ChatMessage | None = None,
    mentions: tuple[str, ...] = (),
    thread: int | None = None,
    deleted: bool = False,
    category: int = 7,
) -> ChatMessage:
    return ChatMessage(
        message_id=next(_ids),
        channel_id=category + 100,
        category_id=category,
        user_id=IDS[user],
        username=user,
        created_at=when,
        units=units,
        in_reply_to_id=reply_to.message_id if reply_to else None,
        in_reply_to_user_id=reply_to.user_id if reply_to else None,
        thread_id=thread,
        mentioned_user_ids=tuple(IDS[m] for m in mentions),
        deleted=deleted,
    )


def pairs(items: list[Interaction]) -> list[tuple[str, str]]:
    return [(i.source, i.target) for i in items]


# ───────────── chat messages → interactions ─────────────

T0 = at(WEEK, 1, 10)
HELLO = msg("ann", T0)


@pytest.mark.parametrize(
    ("later", "expected"),
    [
        ({"reply_to": HELLO}, [("ari", "ann")]),
        ({"mentions": ("ann",)}, [("ari", "ann")]),
        ({"mentions": ("ann", "amy")}, [("ari", "ann")]),  # amy never wrote: not resolved
        ({"reply_to": HELLO, "mentions": ("ann",)}, [("ari", "ann")]),  # one bond, not two
        ({"units": 4, "reply_to": HELLO}, []),  # shorter than min_units (5)
        ({"reply_to": HELLO, "deleted": True}, []),  # trashed
        ({}, []),  # a plain message turns to nobody
    ],
    ids=["reply", "mention", "unknown-id", "reply+mention", "short", "trashed", "plain"],
)
def test_a_chat_message_turns_to_the_people_it_answers(later: dict, expected: list) -> None:
    answer = msg("ari", T0 + timedelta(minutes=5), **later)
    assert pairs(chat_interactions([HELLO, answer], min_units=5)) == expected


def test_nobody_bonds_with_themselves_in_chat() -> None:
    again = msg("ann", T0 + timedelta(minutes=1), reply_to=HELLO, mentions=("ann",))
    assert chat_interactions([HELLO, again], min_units=5) == []


def test_a_message_in_a_thread_turns_to_the_threads_starter() -> None:
    # ari's reply to ann opened thread 77; amy writes in it later without replying to anyone
    opener = msg("ari", T0 + timedelta(minutes=1), reply_to=HELLO, thread=77)
    inside = msg("amy", T0 + timedelta(minutes=9), thread=77)
    messages = [HELLO, opener, inside]
    assert thread_starters(messages) == {77: IDS["ann"]}
    assert pairs(chat_interactions(messages, min_units=5)) == [("ari", "ann"), ("amy", "ann")]


def test_ids_resolve_from_authors_and_from_names_already_known() -> None:
    m = msg("ari", T0, mentions=("amy",))
    assert chat_interactions([m], min_units=5) == []
    assert pairs(chat_interactions([m], min_units=5, known={IDS["amy"]: "amy"})) == [("ari", "amy")]
    assert chat_usernames([m, HELLO]) == {IDS["ari"]: "ari", IDS["ann"]: "ann"}


def test_older_messages_help_resolve_but_are_not_counted() -> None:
    old = msg("amy", at(WEEK.previous(), 2))
    now = msg("ari", T0, mentions=("amy",))
    got = chat_interactions([old, now], min_units=5, since=at(WEEK, 0, 0))
    assert pairs(got) == [("ari", "amy")]


def test_chat_activity_counts_messages_per_member_and_week() -> None:
    weeks = weeks_back(2)
    messages = [
        msg("ann", at(weeks[0], 1)),
        msg("ann", at(weeks[1], 1)),
        msg("ann", at(weeks[1], 2)),
        msg("ari", at(weeks[1], 3), units=2),  # too short to count
        msg("amy", at(weeks[1], 3), deleted=True),
        msg("amy", at(WEEK.next(), 1)),  # after the weeks asked for
    ]
    got = chat_activity(messages, weeks, TZ, min_units=5)
    assert got == {weeks[0]: {"ann": 1}, weeks[1]: {"ann": 2}}


# ───────────── weights: chat bonds in the graph ─────────────

RED = Squad("red", "RED", "2026-11", ("ann", "ari", "amy"), "ann")
BLUE = Squad("blue", "BLUE", "2026-11", ("bob", "bea", "ben"), "bob")
ROSTER = Roster((RED, BLUE))
MEMBERS = F(RED.members + BLUE.members)


def chat(a: str, b: str, n: int = 1) -> list[Interaction]:
    return [Interaction(a, b, "chat", T0 + timedelta(minutes=i), i) for i in range(n)]


def reply(a: str, b: str) -> list[Interaction]:
    return [Interaction(a, b, "reply", T0, 1)]


@pytest.mark.parametrize(
    ("items", "weight", "edges"),
    [
        (chat("ann", "ari"), 0.5, 0),  # half a bond
        (chat("ann", "ari", 2), 0.5, 1),  # two exchanges weigh one reply
        (chat("ann", "ari") + chat("ari", "ann"), 0.5, 1),  # either direction
        (chat("ann", "ari", 10), 0.1, 1),  # floats: ten tenths make one
        (chat("ann", "ari", 9), 0.0, 0),  # weight 0: chat off
        (chat("ann", "ari"), 1.0, 1),
        (reply("ann", "ari"), 0.5, 1),  # forum kinds keep their weight of 1
        (chat("ann", "admin", 3), 1.0, 0),  # staff are not measured
    ],
)
def test_a_pair_is_bonded_once_its_week_weighs_one(items, weight: float, edges: int) -> None:
    trend = graph_trend(items, MEMBERS, ROSTER, WEEK, TZ, weeks=1, weights={"chat": weight})
    assert trend.current.edges == edges


def test_chat_is_not_counted_as_forum_replies() -> None:
    trend = graph_trend(chat("ann", "bob", 2), MEMBERS, ROSTER, WEEK, TZ, weeks=1)
    assert (trend.current.edges, trend.current.post_interactions) == (1, 0)


def test_squad_bonds_show_forum_and_chat_side_by_side() -> None:
    items = (
        reply("ann", "ari")  # forum only
        + chat("ari", "amy", 2)  # chat only
        + chat("ann", "amy")  # half a chat bond …
        + [Interaction("amy", "ann", "like", T0, 9)]  # … and a like: bonded in all
        + chat("bob", "ann", 5)  # across squads: no squad's inside bond
    )
    bonds = squad_bonds(items, MEMBERS, ROSTER, WEEK, TZ, {"chat": 0.5})
    red = bonds["red"]
    assert (red.members, red.forum, red.chat, red.combined) == (3, 2, 1, 3)
    assert (red.forum_cohesion, red.cohesion) == (pytest.approx(2 / 3), 1.0)
    assert (bonds["blue"].combined, bonds["blue"].cohesion) == (0, 0.0)


def test_last_weeks_chat_is_not_this_weeks_bond() -> None:
    old = [Interaction("ann", "ari", "chat", at(WEEK.previous(), 3), 1)] * 2
    assert squad_bonds(old, MEMBERS, ROSTER, WEEK, TZ, {"chat": 0.5})["red"].chat == 0


# ───────────── the report: one squad talks, the other does not ─────────────


def two_squads() -> tuple[World, dict]:
    """Both squads write and review the same way on the forum; only red also chats."""
    w = World()
    red = w.squad("red", "ann", "ari", "amy")
    blue = w.squad("blue", "bob", "bea", "ben")
    for week in weeks_back(4):
        for squad in (red, blue):
            arts = w.week_of_articles(week, squad)
            w.reply(squad.members[1], arts[0], at(week, 3, 9))  # one forum bond per squad
    stages = {"members": F(red.members + blue.members)}
    return w, stages


def red_chats() -> list[ChatMessage]:
    out = []
    for week in weeks_back(2):
        first = msg("ann", at(week, 0, 9))
        out.append(first)
        for day in range(1, 5):  # every day: amy answers ann, ari mentions amy
            out.append(msg("amy", at(week, day, 10), reply_to=first))
            out.append(msg("ari", at(week, day, 11), mentions=("amy",)))
            out.append(msg("admin", at(week, day, 12), mentions=("ann",)))  # staff: not counted
    return out


def report_of(chat_messages: list[ChatMessage]):
    w, stages = two_squads()
    facts = HealthFacts(
        recognition=w.facts(), stages=stages, staff=F({"admin"}), chat=chat_messages
    )
    return build_report(RULES, facts, WEEK)


def test_the_talking_squads_cohesion_rises_and_the_quiet_squads_does_not() -> None:
    quiet, talking = report_of([]), report_of(red_chats())
    for slug in ("red", "blue"):
        b = quiet.bonds[slug]
        assert (b.members, b.forum, b.chat, b.combined) == (3, 1, 0, 1)
    red, blue = talking.bonds["red"], talking.bonds["blue"]
    assert (red.forum, red.chat, red.combined) == (1, 2, 3)
    assert red.cohesion == 1.0 > quiet.bonds["red"].cohesion
    assert blue == quiet.bonds["blue"]
    # amy only talked in chat: she was isolated on the forum alone, she is not now
    assert "amy" in quiet.graph.current.isolated.get("red", ())
    assert "amy" not in talking.graph.current.isolated.get("red", ())
    assert talking.graph.current.isolated.get("blue") == quiet.graph.current.isolated.get("blue")
    assert (
        talking.indicator("partners_per_member").value
        > quiet.indicator("partners_per_member").value
    )
    # chat is not forum replies: the cross-squad reply rate is what it was
    assert talking.graph.current.post_interactions == quiet.graph.current.post_interactions


def test_every_rendering_shows_forum_and_chat_bonds_side_by_side() -> None:
    from worker.report import render_leader_part, render_post
    from worker.report.html import render_html
    from worker.report.text import render_text

    report = report_of(red_chats())
    text = render_text(RULES, report, "en")
    row = next(line for line in text.splitlines() if line.lstrip().startswith("RED"))
    assert row.split() == ["RED", "3", "1", "2", "3", "33%", "100%"]
    assert "Chat bonds" in text and "Forum bonds" in text
    assert "Chat bonds" in render_post(RULES, report, "en").body
    assert "聊天联系" in render_html(RULES, report, "zh")
    part = render_leader_part(RULES, report, "red", "en").body
    assert "Bonds in your squad this week" in part and "100%" in part
