"""Strikes, expiry, the ladder once per step, the guard rail, and the audit plan's actions."""

from __future__ import annotations

import dataclasses

import pytest

from tests.support.obligations import SH, W47, Thread, at, rules_with, shipped_rules, squad
from worker import actions as a
from worker.engine.obligations import SquadWeek, evaluate_week
from worker.engine.penalties import guard_rail_trips, plan_audit, standing
from worker.engine.weeks import Week

FULL, REVIEW = 900, 150
NOW = at(24, 23)


W40 = Week(2026, 40)


def weeks(*strikes: int | None, first: Week = W40) -> dict[Week, int | None]:
    return {first.shift(i): s for i, s in enumerate(strikes)}


# ─────────────────────────── strikes and expiry ───────────────────────────


@pytest.mark.parametrize(
    ("history", "forgive", "active"),
    [
        pytest.param((2, 1), "all", 3, id="strikes add up"),
        pytest.param((2, 0, 0, 0), "all", 2, id="three clean weeks are not enough"),
        pytest.param((2, 1, 0, 0, 0, 0), "all", 0, id="four clean weeks in a row wipe all"),
        pytest.param((3, 0, 0, 0, 0), "one", 2, id="forgive one: four clean weeks take one"),
        pytest.param((3,) + (0,) * 8, "one", 1, id="forgive one: eight clean weeks take two"),
        pytest.param((2, 0, 0, 1, 0, 0, 0), "all", 3, id="a strike breaks the clean run"),
        pytest.param(
            (2, 0, 0, None, None, 0, 0), "all", 0, id="excused weeks do not break the run"
        ),
        pytest.param((2, None, None, None, None), "all", 2, id="excused weeks are not clean"),
    ],
)
def test_strike_expiry(history: tuple, forgive: str, active: int) -> None:
    rules = rules_with(penalties={"expiry": {"clean_weeks": 4, "forgive": forgive}})
    h = weeks(*history)
    assert standing(rules.obligations, "m", h, max(h)).active == active


def test_later_weeks_do_not_change_an_earlier_standing() -> None:
    h = weeks(2, 5, 5)
    assert standing(shipped_rules().obligations, "m", h, Week(2026, 40)).active == 2


# ─────────────────────────── ladder: each step once ───────────────────────────


@pytest.mark.parametrize(
    ("history", "crossed_per_week"),
    [
        pytest.param((2, 0, 0), [(0,), (), ()], id="step 1 fires once, not again while it holds"),
        pytest.param((1, 1, 2, 2, 2), [(), (0,), (1,), (2,), (3,)], id="climbing one by one"),
        pytest.param((4,), [(0, 1)], id="a jump crosses two steps at once"),
        pytest.param(
            (2, 0, 0, 0, 0, 2), [(0,), (), (), (), (), (0,)], id="after expiry a step re-arms"
        ),
    ],
)
def test_each_ladder_step_fires_in_the_week_it_is_reached(
    history: tuple, crossed_per_week: list
) -> None:
    obligations = shipped_rules().obligations  # steps at 2, 4, 6, 8
    h = weeks(*history)
    assert [standing(obligations, "m", h, w).crossed for w in sorted(h)] == crossed_per_week


# ─────────────────────────── the audit plan ───────────────────────────


def _week(
    n_members: int, writers: int, *, staff: frozenset[str] = frozenset(), joined_mid_week: int = 0
):
    """A squad where the first ``writers`` members write (and review everything on time);
    the last ``joined_mid_week`` members joined the squad on Wednesday of that week."""
    names = [f"m{i:02d}" for i in range(n_members)]
    t = Thread()
    posts = [t.post(u, at(17, 8 + i % 10), FULL) for i, u in enumerate(names[:writers])]
    for i, u in enumerate(names[:writers]):
        for target in (posts[(i - 1) % writers], posts[(i + 1) % writers]):
            if target.username != u:
                t.post(u, at(18, 9), REVIEW, reply_to=target.post_number)
    sq = squad(*names, leader=names[0])
    if joined_mid_week:
        sq = dataclasses.replace(sq, joined={u: at(18) for u in names[-joined_mid_week:]})
    rules = shipped_rules()
    results = evaluate_week(
        rules.obligations, SH, W47, [SquadWeek(sq, W47, tuple(t.posts), t.topic_id)], staff=staff
    )
    return rules, results, names


def test_guard_rail_boundary() -> None:
    assert not guard_rail_trips(3, 10, 0.3)  # exactly the maximum share: allowed
    assert guard_rail_trips(4, 10, 0.3)  # one more: halted
    assert not guard_rail_trips(0, 0, 0.3)


@pytest.mark.parametrize(
    ("writers", "halted"),
    [
        pytest.param(7, False, id="3 of 10 penalised (= 30%): the audit proceeds"),
        pytest.param(6, True, id="4 of 10 penalised (> 30%): the guard rail trips"),
    ],
)
def test_guard_rail_trips_at_the_boundary(writers: int, halted: bool) -> None:
    rules, results, _ = _week(10, writers)
    plan = plan_audit(rules, results, {}, now=NOW, audit_log_category_id=77, threads={"sq-3": 900})
    assert plan.halted is halted
    if halted:
        assert [x.key for x in plan.actions] == ["audit-halted:2026-W47"]
        assert not plan.actions[0].affects_members
        assert plan.strikes_to_record == {}
        assert "--confirm" in plan.actions[0].raw or "2026-W47" in plan.actions[0].raw
    else:
        assert any(x.key.startswith("ladder:") for x in plan.actions)
        assert plan.strikes_to_record["m09"] == 2


def test_confirmed_audit_applies_past_the_guard_rail() -> None:
    rules, results, _ = _week(10, 2)
    plan = plan_audit(rules, results, {}, now=NOW, audit_log_category_id=77, confirmed=True)
    assert not plan.halted
    assert len(plan.penalised) == 8
    assert plan.strikes_to_record["m05"] == 2


def test_staff_are_never_penalised_nor_counted() -> None:
    rules, results, _ = _week(4, 3, staff=frozenset({"m03"}))
    plan = plan_audit(rules, results, {}, now=NOW)
    assert plan.audited == 3 and plan.penalised == ()
    assert "m03" not in plan.strikes_to_record
    assert not [x for x in plan.actions if "m03" in x.key]


def test_ladder_actions_and_keys_for_a_member_who_wrote_nothing() -> None:
    rules, results, _ = _week(4, 3)
    plan = plan_audit(rules, results, {}, now=NOW, threads={"sq-3": 900})
    ladder = [x for x in plan.actions if x.key.startswith("ladder:")]
    assert [x.key for x in ladder] == ["ladder:m03:1:2026-W47:0"]
    pm = ladder[0]
    assert isinstance(pm, a.SendPrivateMessage) and pm.recipients == ("m03",)
    assert "2 个警告分" in pm.raw and "11月16日–22日 这一周未交文章" in pm.raw  # strikes and why


def test_rerunning_an_audit_plans_the_same_keys_and_next_week_nothing_new() -> None:
    rules, results, _ = _week(4, 3)
    first = plan_audit(rules, results, {}, now=NOW)
    again = plan_audit(rules, results, {"m03": {W47: 2}}, now=NOW)  # history already has W47
    assert [x.key for x in first.actions] == [x.key for x in again.actions]
    # the next week, with the same 2 strikes still active and nothing new: no ladder action
    history = {"m03": {W47: 2}}
    _, results48, _ = _week(4, 4)
    results48 = results48.__class__(W47.next(), results48.squads, results48.by_member)
    assert plan_audit(rules, results48, history, now=NOW).decisions == ()


def test_highest_step_sends_the_only_pm_and_lower_steps_other_actions_apply() -> None:
    rules, results, _ = _week(4, 3)
    history = {"m03": weeks(3, first=W47.shift(-1))}  # 3 + 2 = 5: crosses step 2 (4)
    plan = plan_audit(rules, results, history, now=NOW, user_ids={"m03": 13})
    kinds = [(x.kind, x.key) for x in plan.actions if x.key.startswith("ladder:")]
    assert kinds == [
        ("SendPrivateMessage", "ladder:m03:2:2026-W47:0"),  # second warning to the member
        ("SendPrivateMessage", "ladder:m03:2:2026-W47:1"),  # notice to the leader
    ]
    assert plan.actions[1].recipients == ("m00",)


@pytest.mark.parametrize(
    ("before", "expected_kinds"),
    [
        pytest.param(
            4, ["CreatePost", "SilenceUser"], id="step 3: public notice in the thread + silence"
        ),
        pytest.param(
            6,
            ["RemoveFromGroup", "AddToGroup", "SendPrivateMessage"],
            id="step 4: out of the squad, into alumni, told why",
        ),
    ],
)
def test_upper_ladder_steps(before: int, expected_kinds: list[str]) -> None:
    rules, results, _ = _week(4, 3)
    history = {"m03": {W47.previous(): before}}
    plan = plan_audit(rules, results, history, now=NOW, user_ids={"m03": 13}, threads={"sq-3": 9})
    ladder = [x for x in plan.actions if x.key.startswith("ladder:")]
    assert [x.kind for x in ladder] == expected_kinds
    for act in ladder:
        if isinstance(act, a.SilenceUser):
            assert act.user_id == 13 and (act.until - NOW).days == 3
        if isinstance(act, a.RemoveFromGroup):
            assert act.group == "sq-3" and act.usernames == ("m03",)
        if isinstance(act, a.AddToGroup):
            assert act.group == rules.community.groups.alumni
        if isinstance(act, a.CreatePost):
            assert act.topic_id == 9


def test_silence_without_a_known_user_id_is_noted_not_guessed() -> None:
    rules, results, _ = _week(4, 3)
    plan = plan_audit(rules, results, {"m03": {W47.previous(): 4}}, now=NOW)
    assert not [x for x in plan.actions if isinstance(x, a.SilenceUser)]
    assert any("user id unknown" in n for n in plan.notes)


def test_weekly_summary_names_the_missing_only_when_the_rule_says_so() -> None:
    for name_missing in (True, False):
        rules = rules_with(audit={"name_missing": name_missing})
        _, results, _ = _week(4, 3)
        plan = plan_audit(rules, results, {}, now=NOW, threads={"sq-3": 900})
        (summary,) = [x for x in plan.actions if x.key == "summary:sq-3:2026-W47"]
        assert isinstance(summary, a.CreatePost) and summary.topic_id == 900
        assert ("@m03" in summary.raw.split("未交")[1]) is name_missing
        assert "@m00" in summary.raw  # who wrote is always listed


def test_audit_summary_goes_to_the_staff_log_and_affects_no_member() -> None:
    rules, results, _ = _week(4, 3)
    plan = plan_audit(rules, results, {}, now=NOW, audit_log_category_id=77)
    (log_post,) = [x for x in plan.actions if x.key == "audit-summary:2026-W47"]
    assert isinstance(log_post, a.CreateTopic) and log_post.category_id == 77
    assert not log_post.affects_members


def test_exempt_members_are_not_counted_by_the_guard_rail() -> None:
    """The week squads are formed: newcomers owe nothing, so they neither trip nor dilute it."""
    rules, results, names = _week(10, 4, joined_mid_week=6)
    plan = plan_audit(rules, results, {}, now=NOW, audit_log_category_id=77, threads={"sq-3": 900})
    assert not plan.halted
    assert plan.audited == 4 and plan.penalised == ()
    assert not set(names[4:]) & set(plan.strikes_to_record)


def test_each_ladder_letter_is_in_its_readers_language_and_the_public_notice_in_the_default():
    rules, results, _ = _week(4, 3)
    history = {"m03": weeks(3, first=W47.shift(-1))}  # crosses step 2: letter + leader notice
    plan = plan_audit(rules, results, history, now=NOW, languages={"m03": "en"})
    letter, notice = [x for x in plan.actions if x.key.startswith("ladder:")]
    assert letter.recipients == ("m03",) and notice.recipients == ("m00",)
    assert "No article in the week of 16–22 Nov" in letter.raw  # the member's failings, in English
    assert letter.title == rules.render("ladder_second_warning", "en", week=47, member="m03").title
    assert notice.title == rules.render("ladder_leader_notice", "zh", week=47, member="m03").title
    assert "11月16日–22日 这一周未交文章" in notice.raw  # the leader reads Chinese

    public = plan_audit(
        rules,
        results,
        {"m03": weeks(4, first=W47.shift(-1))},
        now=NOW,
        user_ids={"m03": 13},
        threads={"sq-3": 900},
        languages={"m03": "en"},
    )
    post = next(x for x in public.actions if x.kind == "CreatePost" and "ladder" in x.key)
    assert "@m03" in post.raw and "let's help them" not in post.raw  # the default language
