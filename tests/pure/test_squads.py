"""Squads: balanced splits, city classes, leaders, late graduates, shrinking, idempotent plans."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from worker.engine.facts import Roster, Squad
from worker.engine.squads import (
    Graduate,
    SquadPlan,
    balanced_sizes,
    choose_leader,
    leader_group_name,
    plan_squads,
    read_squad_bio,
    roster_errors,
    squad_actions,
    squad_bio,
)
from worker.rules import Rules, load_rules

RULES = load_rules(Path(__file__).resolve().parents[2] / "rules")  # target 10, min 8, max 12
COHORT = "2611"
CITIES = ["北京", "上海", "广州", "", "成都"]


def squads_rules(rules: Rules = RULES, **changes: Any) -> Rules:
    s = rules.squads
    for name, value in changes.items():
        current = getattr(s, name)
        if isinstance(value, dict):
            value = current.model_copy(update=value)
        s = s.model_copy(update={name: value})
    return rules.model_copy(update={"squads": s})


NO_CITY = squads_rules(grouping={"key_field": None})


def graduates(n: int, *, seed: int = 1, cities: list[str] | None = None) -> list[Graduate]:
    rnd = random.Random(seed)
    return [
        Graduate(
            f"u{i:03d}",
            class_key=rnd.choice(cities) if cities else None,
            volunteer=rnd.random() < 0.1,
            activity=rnd.randint(0, 20),
        )
        for i in range(n)
    ]


def roster_of(plan: SquadPlan, base: Roster | None = None) -> Roster:
    """The roster as the forum would show it after applying ``plan``."""
    keep = [s for s in (base.squads if base else ()) if s.cohort != plan.cohort]
    return Roster((*keep, *(p.squad for p in plan.squads)))


# --- sizes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "sizes"),
    [
        (1, [1]),
        (9, [9]),
        (10, [10]),
        (11, [11]),
        (16, [8, 8]),
        (25, [9, 8, 8]),
        (77, [10] * 5 + [9] * 3),
        (200, [10] * 20),
    ],
)
def test_balanced_sizes(n: int, sizes: list[int]) -> None:
    assert balanced_sizes(n, RULES.squads.size) == sizes


@pytest.mark.parametrize("n", range(8, 301))
def test_sizes_fit_min_max_differ_by_one_and_add_up(n: int) -> None:
    size = RULES.squads.size
    sizes = balanced_sizes(n, size)
    assert sum(sizes) == n
    assert max(sizes) - min(sizes) <= 1
    if n not in (13, 14, 15):  # no split of 13-15 fits 8..12: never over max, then
        assert all(size.min <= s <= size.max for s in sizes), sizes
    assert max(sizes) <= size.max


def test_fewer_than_min_members_make_one_small_squad() -> None:
    assert balanced_sizes(5, RULES.squads.size) == [5]
    assert balanced_sizes(0, RULES.squads.size) == []


# --- whole cohorts -----------------------------------------------------------------------

COHORT_CASES = [(n, cities) for n in (1, 9, 10, 11, 77, 200) for cities in (None, CITIES)]


@pytest.mark.parametrize(
    ("n", "cities"), COHORT_CASES, ids=[f"{n}-{'city' if c else 'nocity'}" for n, c in COHORT_CASES]
)
def test_cohort_split_loses_and_duplicates_nobody(n: int, cities: list[str] | None) -> None:
    rules = RULES if cities else NO_CITY
    grads = graduates(n, cities=cities)
    plan = plan_squads(rules, COHORT, grads, Roster())
    placed = [u for p in plan.squads for u in p.squad.members]
    assert sorted(placed) == sorted(g.username for g in grads)  # nobody lost or twice
    assert len({p.slug for p in plan.squads}) == len(plan.squads)
    by_class: dict[str | None, list[int]] = {}
    for p in plan.squads:
        by_class.setdefault(p.squad.class_key, []).append(len(p.squad.members))
        assert p.squad.leader is None or p.squad.leader in p.squad.members
        assert len(p.squad.members) <= rules.squads.size.max
    for sizes in by_class.values():
        assert max(sizes) - min(sizes) <= 1
    assert roster_errors(roster_of(plan), COHORT) == []


def test_77_without_cities_make_eight_balanced_squads() -> None:
    plan = plan_squads(NO_CITY, COHORT, graduates(77), Roster())
    assert sorted(len(p.squad.members) for p in plan.squads) == [9, 9, 9, 10, 10, 10, 10, 10]
    assert [p.slug for p in plan.squads] == [f"sq-2611-{i}" for i in range(1, 9)]
    assert plan.squads[0].squad.full_name == "2611期 第1组"
    assert all(p.squad.class_slug is None for p in plan.squads)


def test_cities_form_classes_of_at_most_class_size() -> None:
    plan = plan_squads(RULES, COHORT, graduates(200, cities=CITIES), Roster())
    classes = Counter[str]()
    keys: dict[str, set[str | None]] = {}
    for p in plan.squads:
        assert p.squad.class_slug is not None
        classes[p.squad.class_slug] += len(p.squad.members)
        keys.setdefault(p.squad.class_slug, set()).add(p.squad.class_key)
        assert p.class_leader is not None
    assert all(total <= RULES.squads.grouping.class_size for total in classes.values())
    assert all(len(k) == 1 for k in keys.values())  # a class is one city
    assert {k for ks in keys.values() for k in ks} == {"北京", "上海", "广州", "成都", "其他"}


def test_a_city_too_small_for_a_squad_joins_the_other_class() -> None:
    grads = [Graduate(f"bj{i}", "北京") for i in range(10)] + [Graduate("lonely", "拉萨")]
    plan = plan_squads(RULES, COHORT, grads, Roster())
    lonely = next(p for p in plan.squads if "lonely" in p.squad.members)
    assert lonely.squad.class_key == "其他"


def test_city_names_group_case_and_space_insensitively() -> None:
    grads = [Graduate(f"a{i}", " Paris") for i in range(5)] + [
        Graduate(f"b{i}", "paris") for i in range(5)
    ]
    plan = plan_squads(RULES, COHORT, grads, Roster())
    assert len(plan.squads) == 1 and plan.squads[0].squad.class_key == "Paris"


def test_the_split_does_not_depend_on_input_order() -> None:
    grads = graduates(77, cities=CITIES)
    shuffled = grads[:]
    random.Random(5).shuffle(shuffled)
    assert plan_squads(RULES, COHORT, grads, Roster()) == plan_squads(
        RULES, COHORT, shuffled, Roster()
    )


# --- leaders -----------------------------------------------------------------------------


LEADER_CASES = [
    (
        "a volunteer leads even if less active",
        [Graduate("a", volunteer=True, activity=1), Graduate("b", activity=9)],
        ("a", "volunteers"),
    ),
    (
        "the most active volunteer among several",
        [Graduate("a", volunteer=True, activity=1), Graduate("b", volunteer=True, activity=5)],
        ("b", "volunteers"),
    ),
    (
        "without volunteers the most active",
        [Graduate("a", activity=1), Graduate("b", activity=9)],
        ("b", "most_active"),
    ),
    (
        "a tie goes to the first username",
        [Graduate("zed", activity=4), Graduate("amy", activity=4)],
        ("amy", "most_active"),
    ),
    ("nobody active: staff choose", [Graduate("a"), Graduate("b")], (None, None)),
]


@pytest.mark.parametrize(
    ("behaviour", "members", "expected"), LEADER_CASES, ids=[c[0] for c in LEADER_CASES]
)
def test_leader_choice(behaviour: str, members: list[Graduate], expected: tuple) -> None:
    assert choose_leader(RULES, members) == expected


def test_order_without_volunteers_ignores_volunteering() -> None:
    rules = squads_rules(leader={"order": ("most_active", "staff")})
    members = [Graduate("a", volunteer=True, activity=1), Graduate("b", activity=9)]
    assert choose_leader(rules, members) == ("b", "most_active")


def test_volunteers_are_spread_one_per_squad() -> None:
    grads = [Graduate(f"v{i}", volunteer=True) for i in range(3)] + [
        Graduate(f"m{i:02d}", activity=i) for i in range(27)
    ]
    plan = plan_squads(NO_CITY, COHORT, grads, Roster())
    assert len(plan.squads) == 3
    assert sorted(p.squad.leader for p in plan.squads) == ["v0", "v1", "v2"]
    assert {p.leader_source for p in plan.squads} == {"volunteers"}


def test_squads_without_candidates_are_noted_for_staff() -> None:
    plan = plan_squads(NO_CITY, COHORT, [Graduate(f"x{i}") for i in range(10)], Roster())
    assert plan.squads[0].squad.leader is None
    assert any("staff to choose" in n for n in plan.notes)


# --- re-runs, late graduates, shrinking ---------------------------------------------------


def test_planning_again_after_applying_changes_nothing() -> None:
    grads = graduates(77, cities=CITIES)
    plan = plan_squads(RULES, COHORT, grads, Roster())
    again = plan_squads(RULES, COHORT, grads, roster_of(plan))
    assert not again.changed
    assert squad_actions(RULES, again, audit_category_id=3) == []


def test_interrupted_first_run_with_empty_groups_is_formed_the_same_way() -> None:
    grads = graduates(30)
    plan = plan_squads(NO_CITY, COHORT, grads, Roster())
    empty = Roster(
        tuple(
            replace(p.squad, members=(), leader=None, group_id=i) for i, p in enumerate(plan.squads)
        )
    )
    again = plan_squads(NO_CITY, COHORT, grads, empty)
    assert [p.squad.members for p in again.squads] == [p.squad.members for p in plan.squads]
    assert not any(p.new for p in again.squads)  # the groups are reused


def test_a_late_graduate_joins_the_smallest_squad_of_their_class() -> None:
    grads = [Graduate(f"bj{i:02d}", "北京") for i in range(19)] + [
        Graduate(f"sh{i:02d}", "上海") for i in range(17)
    ]
    plan = plan_squads(RULES, COHORT, grads, Roster())
    late = Graduate("late_sh", "上海")
    second = plan_squads(RULES, COHORT, [*grads, late], roster_of(plan))
    (target,) = [p for p in second.squads if p.added]
    assert target.added == ("late_sh",)
    assert target.squad.class_key == "上海"
    sh_sizes = [len(p.squad.members) for p in plan.squads if p.squad.class_key == "上海"]
    assert len(target.squad.members) == min(sh_sizes) + 1
    assert roster_errors(roster_of(second), COHORT) == []


def test_a_late_graduate_from_an_unknown_city_joins_the_other_class() -> None:
    grads = [Graduate(f"bj{i:02d}", "北京") for i in range(10)] + [
        Graduate(f"o{i:02d}", "") for i in range(9)
    ]
    plan = plan_squads(RULES, COHORT, grads, Roster())
    second = plan_squads(RULES, COHORT, [*grads, Graduate("new", "拉萨")], roster_of(plan))
    (target,) = [p for p in second.squads if p.added]
    assert target.squad.class_key == "其他"


def test_late_graduates_open_a_new_squad_when_all_are_full() -> None:
    grads = [Graduate(f"u{i:02d}", activity=1) for i in range(12)]
    plan = plan_squads(NO_CITY, COHORT, grads, Roster())
    assert [len(p.squad.members) for p in plan.squads] == [12]
    second = plan_squads(NO_CITY, COHORT, [*grads, Graduate("late", activity=3)], roster_of(plan))
    (new,) = [p for p in second.squads if p.new]
    assert new.squad.members == ("late",) and new.slug == "sq-2611-2"
    assert new.squad.leader == "late"


def shrunk(plan: SquadPlan, slug: str, keep: int) -> Roster:
    squads = []
    for p in plan.squads:
        s = p.squad
        if s.slug == slug:
            s = replace(s, members=s.members[:keep], leader=s.members[0])
        squads.append(s)
    return Roster(tuple(squads))


def test_merge_moves_a_shrunk_squad_into_its_class() -> None:
    rules = squads_rules(on_shrink="merge", grouping={"key_field": None})
    grads = graduates(30)
    plan = plan_squads(rules, COHORT, grads, Roster())  # 10, 10, 10
    roster = shrunk(plan, "sq-2611-3", 4)
    remaining = [g for g in grads if g.username in roster.members]
    merged = plan_squads(rules, COHORT, remaining, roster)
    gone = merged.squad("sq-2611-3")
    assert gone is not None and gone.squad.members == () and len(gone.removed) == 4
    assert sorted(len(p.squad.members) for p in merged.squads) == [0, 12, 12]
    assert roster_errors(roster_of(merged), COHORT) == []
    assert any("merged" in n for n in merged.notes)


def test_merge_is_skipped_when_the_others_have_no_room() -> None:
    rules = squads_rules(on_shrink="merge", grouping={"key_field": None})
    grads = graduates(24)  # 12, 12
    plan = plan_squads(rules, COHORT, grads, Roster())
    roster = shrunk(plan, "sq-2611-2", 5)
    merged = plan_squads(rules, COHORT, [g for g in grads if g.username in roster.members], roster)
    assert not merged.changed and any("no room" in n for n in merged.notes)


def test_refill_gives_late_graduates_to_the_shrunk_squad_first() -> None:
    grads = graduates(30)
    plan = plan_squads(NO_CITY, COHORT, grads, Roster())
    roster = shrunk(plan, "sq-2611-2", 6)
    late = [Graduate("late1"), Graduate("late2")]
    remaining = [g for g in grads if g.username in roster.members]
    refilled = plan_squads(NO_CITY, COHORT, [*remaining, *late], roster)
    target = refilled.squad("sq-2611-2")
    assert target is not None and target.added == ("late1", "late2")


def test_a_squad_whose_leader_left_gets_a_new_one() -> None:
    grads = [Graduate(f"u{i}", activity=i) for i in range(10)]
    plan = plan_squads(NO_CITY, COHORT, grads, Roster())
    (p,) = plan.squads
    assert p.squad.leader == "u9"
    left = Roster((replace(p.squad, members=tuple(u for u in p.squad.members if u != "u9")),))
    again = plan_squads(NO_CITY, COHORT, grads[:9], left)
    assert again.squads[0].squad.leader == "u8" and again.leader_changes == ("sq-2611-1",)
    kinds = [x.kind for x in squad_actions(NO_CITY, again, audit_category_id=None)]
    assert "AddGroupOwners" in kinds and "CreateGroup" not in kinds


def test_other_cohorts_are_left_alone() -> None:
    old = Squad("sq-2610-1", "2610期 第1组", "2610", ("u000",), leader="u000")
    plan = plan_squads(NO_CITY, COHORT, graduates(10), Roster((old,)))
    assert all(p.new for p in plan.squads) and "u000" in plan.squads[0].squad.members


# --- writes ---------------------------------------------------------------------------


def test_a_new_squad_gets_groups_a_private_category_its_chat_an_owner_and_messages() -> None:
    grads = [Graduate(f"u{i}", activity=i) for i in range(10)]
    plan = plan_squads(NO_CITY, COHORT, grads, Roster())
    acts = squad_actions(NO_CITY, plan, audit_category_id=3)
    kinds = Counter(x.kind for x in acts)
    assert kinds == Counter(
        CreateTopic=1,
        CreateGroup=2,
        CreateCategory=1,
        AddToGroup=3,
        CreateChatChannel=1,
        AddGroupOwners=1,
        SendPrivateMessage=11,
        AddChatWebhookCategories=1,
    )
    assert acts[0].kind == "CreateTopic" and acts[0].affects_members is False
    # Last: the new squad's chat joins the chat webhook's filter once the rest is done.
    assert acts[-1].kind == "AddChatWebhookCategories"
    assert acts[-1].category_slugs == ("sq-2611-1",)
    group, lead_group, category = (x for x in acts if x.kind in ("CreateGroup", "CreateCategory"))
    assert group.name == "sq-2611-1" and group.full_name == "2611期 第1组"
    assert read_squad_bio(group.bio_raw) == {
        "cohort": "2611",
        "class": None,
        "key": None,
        "class_leader": None,
    }
    assert lead_group.name == "sq-2611-1-lead"
    assert dict(category.permissions) == {"sq-2611-1": 1, "staff": 1}
    assert category.moderating_groups == ("sq-2611-1-lead",)
    owner = next(x for x in acts if x.kind == "AddGroupOwners")
    assert owner.usernames == ("u9",)
    leaders = [x for x in acts if x.kind == "AddToGroup" and x.group == "leaders"]
    assert [x.usernames for x in leaders] == [("u9",)]
    keys = [x.key for x in acts]
    assert len(keys) == len(set(keys))


def _one_squad(private_category: bool, *, late: bool) -> list[Any]:
    """The actions of a squad of ten formed now, or (``late``) of one late graduate joining
    it once formed."""
    rules = squads_rules(NO_CITY, private_category=private_category)
    grads = [Graduate(f"u{i}", activity=i) for i in range(10)]
    plan = plan_squads(rules, COHORT, grads, Roster())
    if late:
        plan = plan_squads(rules, COHORT, [*grads, Graduate("late")], roster_of(plan))
    return squad_actions(rules, plan, audit_category_id=3)


@pytest.mark.parametrize(
    ("private_category", "late", "channels"),
    [
        (True, False, [("squad-chat:sq-2611-1", "sq-2611-1")]),  # new squad, own category
        (False, False, []),  # no category of its own: no channel for it
        (True, True, []),  # formed before: a late graduate joins the channel by auto-join
    ],
)
def test_a_new_squad_with_its_own_category_gets_a_chat_channel(
    private_category: bool, late: bool, channels: list[tuple[str, str]]
) -> None:
    acts = _one_squad(private_category, late=late)
    chat = [x for x in acts if x.kind == "CreateChatChannel"]
    assert [(x.key, x.category_slug) for x in chat] == channels
    if chat:  # after its category and its members: they join as the channel is made
        kinds = [x.kind for x in acts]
        assert kinds.index("CreateCategory") < kinds.index("CreateChatChannel")
        last_add = max(
            i for i, x in enumerate(acts) if x.kind == "AddToGroup" and x.group == "sq-2611-1"
        )
        assert last_add < kinds.index("CreateChatChannel")
        assert chat[0].auto_join_users


def test_bio_round_trips_chinese_class_keys() -> None:
    squad = Squad("sq-2611-1", "2611期 第1组", "2611", (), class_slug="cl-2611-1", class_key="北京")
    assert read_squad_bio(squad_bio(RULES, squad, "amy")) == {
        "cohort": "2611",
        "class": "cl-2611-1",
        "key": "北京",
        "class_leader": "amy",
    }
    assert read_squad_bio("a plain bio") is None
    assert read_squad_bio("[diamond-squad {not json}]") is None


def test_leader_group_name_stays_a_valid_group_name() -> None:
    assert leader_group_name(RULES, "sq-2611-3") == "sq-2611-3-lead"
    assert len(leader_group_name(RULES, "a" * 20)) == 20
