"""Squad formation with a small fake forum (``form_squads.SquadForum``) and the real Redis:
the cohort's graduates are placed, the plan is recorded before the first write so a
retry finishes the same split, and a roster a human must sort out stops the step."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.obligations import shipped_rules
from worker.engine.facts import Squad
from worker.engine.squads import Graduate, PlannedSquad, SquadPlan, squad_bio
from worker.errors import NeedsHuman
from worker.state.membership import MembershipStore
from worker.steps import StepContext, form_squads

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
COHORT = "2026-11"
GRADUATES = [f"grad{i:02d}" for i in range(12)]


class Crash(Exception):
    """The worker died mid-run."""


class FakeForum:
    """Just what ``form_squads.SquadForum`` names; groups and categories kept in dicts,
    every write in ``writes``."""

    def __init__(self, members: list[str], *, crash_on_add: bool = False) -> None:
        self.crash_on_add = crash_on_add  # the first member add fails (a worker crash)
        # The community's own groups (plugin_config/), no squad marker in their bio.
        self.groups: dict[str, dict[str, Any]] = {
            name: {"id": i + 1, "name": name} for i, name in enumerate(("members", "leaders"))
        }
        self.members: dict[str, list[dict[str, Any]]] = {
            "members": [{"username": m} for m in members]
        }
        self.categories: list[dict[str, Any]] = [{"slug": "audit-log", "id": 9}]
        self.channels: list[dict[str, Any]] = []  # chat channels (of squad categories)
        self.writes: list[tuple[str, Any]] = []

    def list_categories(self) -> list[dict[str, Any]]:
        return list(self.categories)

    def list_groups(self) -> list[dict[str, Any]]:
        return list(self.groups.values())

    def iter_group_members(self, name: str) -> Any:
        return iter(self.members.get(name, ()))

    def get_group(self, name: str) -> dict[str, Any]:
        if name not in self.groups:
            from worker.forum.errors import NotFound

            raise NotFound(name)
        return self.groups[name]

    def create_group(self, name: str, full_name: str | None = None, **kw: Any) -> Any:
        self.writes.append(("group", name))
        self.groups[name] = {"id": 100 + len(self.groups), "name": name, **kw}
        self.groups[name]["full_name"] = full_name or name
        return self.groups[name]

    def create_category(self, name: str, **kw: Any) -> Any:
        self.writes.append(("category", kw.get("slug")))
        self.categories.append({"slug": kw.get("slug"), "id": 200 + len(self.categories)})
        return self.categories[-1]

    def add_group_members(self, group_id: int, usernames: list[str], **kw: Any) -> Any:
        if self.crash_on_add:
            self.crash_on_add = False
            raise Crash
        name = next(n for n, g in self.groups.items() if g["id"] == group_id)
        self.writes.append(("add", name, tuple(usernames)))
        self.members.setdefault(name, []).extend({"username": u} for u in usernames)

    def add_group_owners(self, group_id: int, usernames: list[str], **kw: Any) -> Any:
        self.writes.append(("owner", group_id, tuple(usernames)))

    def send_private_message(self, recipients: list[str], title: str, raw: str, **kw: Any) -> Any:
        self.writes.append(("pm", tuple(recipients)))
        return {"topic_id": 1, "id": 1}

    def create_topic(self, title: str, raw: str, category_id: int, **kw: Any) -> Any:
        self.writes.append(("topic", category_id))
        return {"topic_id": 2, "id": 2}

    def iter_chat_channels(self) -> Any:
        return iter(self.channels)

    def list_webhooks(self) -> list[dict[str, Any]]:
        return []  # no chat webhook: AddChatWebhookCategories changes nothing

    def update_webhook(self, webhook_id: int, **kw: Any) -> Any:
        raise AssertionError("no webhook to update")

    def create_category_channel(self, category_id: int, **kw: Any) -> Any:
        self.writes.append(("chat", category_id))
        self.channels.append(
            {
                "id": 300 + len(self.channels),
                "chatable_type": "Category",
                "chatable_id": category_id,
            }
        )
        return self.channels[-1]


def graduate_all(redis_client: Any) -> None:
    store = MembershipStore(redis_client)
    for name in GRADUATES:
        store.queue_graduate(COHORT, Graduate(name, activity=3))


def form(redis_client: Any, forum: FakeForum) -> form_squads.Formation:
    return form_squads.run(StepContext(forum, redis_client, shipped_rules(), NOW, True), COHORT)


def placed(forum: FakeForum) -> set[str]:
    squads = {g for g in forum.groups if "lead" not in g and g != "members"}
    return {m["username"] for s in squads for m in forum.members.get(s, ())}


def test_every_graduate_still_a_member_is_placed_in_a_new_squad(redis_client) -> None:
    graduate_all(redis_client)
    forum = FakeForum(GRADUATES[:-1])  # the last one left the community since the camp
    formation = form(redis_client, forum)
    assert formation.plan.squads and all(p.new for p in formation.plan.squads)
    assert placed(forum) == set(GRADUATES[:-1])
    assert any(w[0] == "category" for w in forum.writes)  # each squad's own category
    assert MembershipStore(redis_client).formation(COHORT) is None  # formed: nothing pending


def test_a_formation_retried_after_a_crash_finishes_the_recorded_plan(redis_client) -> None:
    graduate_all(redis_client)
    forum = FakeForum(GRADUATES, crash_on_add=True)
    with pytest.raises(Crash):
        form(redis_client, forum)
    recorded = MembershipStore(redis_client).formation(COHORT)
    assert recorded is not None and forum.groups  # planned and recorded before writing
    created = [w for w in forum.writes if w[0] == "group"]
    again = form(redis_client, forum)
    assert again.plan == recorded  # the same split, not a new plan around half-made squads
    assert [w for w in forum.writes if w[0] == "group"] == created  # none created twice
    assert placed(forum) == set(GRADUATES)


def test_a_member_in_two_squads_of_the_cohort_needs_a_human_and_nothing_is_written(
    redis_client,
) -> None:
    graduate_all(redis_client)
    forum = FakeForum(GRADUATES)
    rules = shipped_rules()
    for slug in ("sq-a", "sq-b"):
        squad = Squad(slug, slug, COHORT, ("grad00",))
        forum.groups[slug] = {"id": len(slug) + len(forum.groups), "name": slug}
        forum.groups[slug]["bio_raw"] = squad_bio(rules, squad, None)
        forum.members[slug] = [{"username": "grad00"}]
    with pytest.raises(NeedsHuman):
        form(redis_client, forum)
    assert forum.writes == []


class LookedAtDuringRunA(FakeForum):
    """Run B's forum: while B looks at the members (planning), run A records its own plan
    (``run_a``), as a second worker running the same job at once would."""

    def __init__(self, members: list[str], run_a: Any) -> None:
        super().__init__(members)
        self.run_a = run_a

    def iter_group_members(self, name: str) -> Any:
        if self.run_a is not None:
            self.run_a, run_a = None, self.run_a
            run_a()
        return super().iter_group_members(name)


def test_two_squad_formations_at_once_carry_out_one_split(redis_client) -> None:
    """Run B planned while run A recorded its plan (B's plan, made from what it saw,
    differs): B carries out A's split, not its own."""
    graduate_all(redis_client)
    store = MembershipStore(redis_client)
    squad = Squad("sq-a", "2026-11 第1组", COHORT, ("grad00", "grad01", "grad02"), "grad00")
    run_a = SquadPlan(COHORT, (PlannedSquad(squad, "most_active", added=squad.members, new=True),))
    forum = LookedAtDuringRunA(GRADUATES, lambda: store.record_formation(run_a))
    formation = form(redis_client, forum)
    assert formation.plan == run_a
    assert placed(forum) == {"grad00", "grad01", "grad02"}  # A's split, not B's of all 12
    assert store.formation(COHORT) is None  # formed
