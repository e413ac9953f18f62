"""The pure diff, the safety share and the rendering, table-driven and named after behaviours."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import pytest
from pydantic import SecretStr

from worker.config_sync.desired import (
    BadgeSpec,
    CategorySpec,
    ChatWebhookSpec,
    Desired,
    GroupSpec,
    SafetyOptions,
    Section,
    UserFieldSpec,
    WebhookSpec,
    chat_payload_url,
)
from worker.config_sync.diff import diff
from worker.config_sync.ownership import mark, read_mark
from worker.config_sync.plan import Existing, ForumState, Kind, Plan
from worker.config_sync.render import render_plan
from worker.config_sync.safety import UnsafePlan, check_safety, refusals, unsafe_reasons

SECRET = "hook-secret-7f3a9c"
RECEIVER = "https://diamond.example.org/webhooks"
EVENTS = {"post_created": 201, "user_created": 304, "user_approved": 305, "topic_created": 101}
_ids = itertools.count(100)


# --- builders -------------------------------------------------------------------------------


def group(name: str, **fields: Any) -> GroupSpec:
    return GroupSpec(name=name, full_name=fields.pop("full_name", name.title()), **fields)


def category(slug: str, **fields: Any) -> CategorySpec:
    return CategorySpec(slug=slug, name=fields.pop("name", slug.title()), **fields)


def badge(key: str, **fields: Any) -> BadgeSpec:
    defaults = {"name": key.title(), "badge_type_id": "bronze", "description": f"{key} badge"}
    return BadgeSpec(key=key, **{**defaults, **fields})


def user_field(key: str, **fields: Any) -> UserFieldSpec:
    defaults = {"name": key.title(), "field_type": "text", "description": f"your {key}"}
    return UserFieldSpec(key=key, **{**defaults, **fields})


def hook(**fields: Any) -> WebhookSpec:
    defaults = {"payload_url": RECEIVER, "secret": SecretStr(SECRET), "events": tuple(EVENTS)}
    return WebhookSpec(**{**defaults, **fields})


def desired(**sections: Any) -> Desired:
    def section(name: str) -> Section:
        value = sections.get(name, ())
        return value if isinstance(value, Section) else Section(tuple(value))

    return Desired(
        safety=sections.get("safety", SafetyOptions()),
        site_settings=sections.get("site_settings", {}),
        user_fields=section("user_fields"),
        groups=section("groups"),
        categories=section("categories"),
        badges=section("badges"),
        webhook=sections.get("webhook"),
        webhook_prune=sections.get("webhook_prune", False),
    )


def owned(spec: Any, *, id: int | None = None, **overrides: Any) -> Existing:
    """What the forum holds after Diamond created ``spec`` (optionally edited by hand)."""
    fields = {**spec.managed(), **overrides}
    natural = fields["slug"] if isinstance(spec, CategorySpec) else fields["name"]
    return Existing(id=id or next(_ids), natural_key=natural, owner_key=spec.key, fields=fields)


def unowned(spec: Any, *, id: int | None = None, system: bool = False, **overrides) -> Existing:
    made = owned(spec, id=id, **overrides)
    return Existing(made.id, made.natural_key, None, made.fields, system=system)


def forum_hook(spec: WebhookSpec, *, id: int | None = None, **overrides: Any) -> Existing:
    fields = {**spec.managed(), **overrides}
    return Existing(
        id=id or next(_ids), natural_key=fields["payload_url"], owner_key=None, fields=fields
    )


def forum(**resources: Any) -> ForumState:
    resources.setdefault("event_types", EVENTS)
    return ForumState(**{k: tuple(v) if isinstance(v, list) else v for k, v in resources.items()})


def summary(plan: Plan) -> list[str]:
    """One line per change or conflict: ``update group members: full_name``."""
    lines = []
    for change in plan.changes:
        names = ",".join(sorted(change.fields)) if change.kind is Kind.UPDATE else ""
        verb = "adopt" if change.adopt else change.kind.value
        lines.append(f"{verb} {change.resource} {change.key}" + (f": {names}" if names else ""))
    lines += [f"conflict {c.resource} {c.key}" for c in plan.conflicts]
    return lines


# --- the diff table ---------------------------------------------------------------------------

CAMP = group("camp", visibility_level="members", messageable_level="nobody", bio="camp")
MEMBERS = group("members", full_name="正式成员 Members", bio="members")
PARENT = category("squads", permissions={"members": "full"})
CHILD = category("squad-1", parent="squads", permissions={"members": "create_post"})

DIFF_CASES = [
    pytest.param(
        desired(groups=[CAMP, MEMBERS]),
        forum(),
        ["create group camp", "create group members"],
        id="creates every configured group on a fresh forum",
    ),
    pytest.param(
        desired(groups=[CAMP, MEMBERS]),
        forum(groups=[owned(CAMP), owned(MEMBERS)]),
        [],
        id="plans nothing when the forum already matches",
    ),
    pytest.param(
        desired(groups=[MEMBERS]),
        forum(groups=[unowned(MEMBERS, full_name="Hand made")]),
        ["conflict group members"],
        id="does not touch an unowned group",
    ),
    pytest.param(
        desired(groups=[group("members", full_name="正式成员 Members", bio="members", adopt=True)]),
        forum(groups=[unowned(MEMBERS, full_name="Hand made")]),
        ["adopt group members: full_name,owner"],
        id="adopts a hand-made group only when told to",
    ),
    pytest.param(
        desired(groups=[MEMBERS]),
        forum(groups=[owned(MEMBERS, full_name="Members")]),
        ["update group members: full_name"],
        id="renames full name without recreating",
    ),
    pytest.param(
        desired(groups=[group("staff")]),
        forum(groups=[unowned(group("staff"), system=True)]),
        ["conflict group staff"],
        id="never manages a built-in Discourse group",
    ),
    pytest.param(
        desired(groups=[MEMBERS]),
        forum(groups=[owned(MEMBERS, title="Hand-set title", primary_group=True)]),
        [],
        id="ignores fields the config does not mention",
    ),
    pytest.param(
        desired(groups=[CAMP]),
        forum(groups=[owned(CAMP, messageable_level=99)]),
        ["update group camp: messageable_level"],
        id="restores a level someone changed by hand",
    ),
    pytest.param(
        desired(groups=[CAMP]),
        forum(groups=[owned(CAMP), owned(MEMBERS)]),
        [],
        id="keeps an owned group no longer configured when prune is off",
    ),
    pytest.param(
        desired(groups=Section((CAMP,), prune=True)),
        forum(groups=[owned(CAMP), owned(MEMBERS)]),
        ["delete group members"],
        id="deletes an owned group no longer configured when prune is on",
    ),
    pytest.param(
        desired(groups=Section((CAMP,), prune=True)),
        forum(groups=[owned(CAMP), unowned(MEMBERS)]),
        [],
        id="never deletes an unowned group even with prune on",
    ),
    pytest.param(
        desired(groups=[MEMBERS]),
        forum(groups=[owned(MEMBERS, id=1), owned(MEMBERS, id=2, name="members2")]),
        ["conflict group members"],
        id="reports a copied marker instead of guessing",
    ),
    pytest.param(
        desired(groups=[group("members2", bio="members")]),
        forum(groups=[owned(group("members2"), id=5, name="old"), unowned(group("members2"))]),
        ["conflict group members2"],
        id="does not rename onto a name someone else holds",
    ),
    pytest.param(
        desired(user_fields=[user_field("referrer", name="推荐人 Referrer")]),
        forum(user_fields=[owned(user_field("referrer", name="Referrer"))]),
        ["update user_field referrer: name"],
        id="renames a user field in place by its key",
    ),
    pytest.param(
        desired(
            user_fields=[user_field("lead", field_type="dropdown", options=["yes", "no", "later"])]
        ),
        forum(
            user_fields=[owned(user_field("lead", field_type="dropdown", options=["yes", "no"]))]
        ),
        ["update user_field lead: options"],
        id="updates dropdown options",
    ),
    pytest.param(
        desired(user_fields=[user_field("city", description="你的城市")]),
        forum(user_fields=[owned(user_field("city", description="你的城市  "))]),
        [],
        id="trailing spaces the forum adds are not drift",
    ),
    pytest.param(
        desired(categories=[CHILD, PARENT]),
        forum(),
        ["create category squads", "create category squad-1"],
        id="creates parent category before child",
    ),
    pytest.param(
        desired(categories=Section((), prune=True), groups=Section((), prune=True)),
        forum(categories=[owned(PARENT), owned(CHILD)], groups=[owned(MEMBERS)]),
        ["delete category squad-1", "delete category squads", "delete group members"],
        id="deletes child category before parent and categories before groups",
    ),
    pytest.param(
        desired(categories=[category("digests", permissions={"members": "full", "camp": 3})]),
        forum(categories=[owned(category("digests", permissions={"members": "full"}))]),
        ["update category digests: permissions"],
        id="compares category permissions as a whole",
    ),
    pytest.param(
        desired(categories=[category("digests", moderating_groups=["leaders", "reviewers"])]),
        forum(categories=[owned(category("digests", moderating_groups=["reviewers", "leaders"]))]),
        [],
        id="moderating groups in another order are not drift",
    ),
    pytest.param(
        desired(badges=[badge("streak", description="8 weeks")]),
        forum(badges=[owned(badge("streak", description="4 weeks"))]),
        ["update badge streak: description"],
        id="updates a badge description in place",
    ),
    pytest.param(
        desired(badges=[badge("streak", name="八周全勤")]),
        forum(badges=[unowned(badge("x", name="八周全勤"), system=True)]),
        ["conflict badge streak"],
        id="never takes over a system badge",
    ),
    pytest.param(
        desired(site_settings={"must_approve_users": True, "min_post_length": 10}),
        forum(site_settings={"must_approve_users": "true", "min_post_length": 10}),
        [],
        id="site settings stored as text match their typed values",
    ),
    pytest.param(
        desired(site_settings={"must_approve_users": True}),
        forum(site_settings={"must_approve_users": False}),
        ["update site_setting must_approve_users: value"],
        id="enforces a site setting",
    ),
    pytest.param(
        desired(site_settings={"no_such_setting": 1}),
        forum(site_settings={"must_approve_users": False}),
        ["conflict site_setting no_such_setting"],
        id="reports an unknown site setting instead of writing it",
    ),
    pytest.param(
        desired(webhook=hook()),
        forum(webhooks=[forum_hook(hook(payload_url="https://elsewhere.example/hook"))]),
        ["create webhook receiver"],
        id="creates the webhook when none points at the receiver",
    ),
    pytest.param(
        desired(webhook=hook()),
        forum(webhooks=[forum_hook(hook(), events=("post_created",))]),
        ["update webhook receiver: events"],
        id="subscribes the existing webhook to missing events",
    ),
    pytest.param(
        desired(webhook=hook()),
        forum(webhooks=[forum_hook(hook(), secret=None)]),
        [],
        id="a secret the forum does not reveal is not drift",
    ),
    pytest.param(
        desired(webhook=hook()),
        forum(webhooks=[forum_hook(hook(), secret=SecretStr("old-secret"))]),
        ["update webhook receiver: secret"],
        id="rotates the webhook secret",
    ),
    pytest.param(
        desired(webhook=hook(), webhook_prune=True),
        forum(webhooks=[forum_hook(hook(), id=7), forum_hook(hook(), id=9)]),
        ["delete webhook receiver#9"],
        id="prunes a duplicate webhook to the receiver, keeping the oldest",
    ),
    pytest.param(
        desired(webhook=hook(events=("post_created", "chat_message_created"))),
        forum(webhooks=[forum_hook(hook(events=("post_created",)))]),
        ["conflict webhook receiver"],
        id="reports events the forum does not have instead of updating forever",
    ),
]


@pytest.mark.parametrize(("want", "have", "expected"), DIFF_CASES)
def test_diff(want: Desired, have: ForumState, expected: list[str]) -> None:
    assert summary(diff(want, have)) == expected


def test_update_carries_old_and_new_values_field_by_field() -> None:
    plan = diff(desired(groups=[MEMBERS]), forum(groups=[owned(MEMBERS, full_name="Members")]))
    (change,) = plan.changes
    assert change.fields == {"full_name": ("Members", "正式成员 Members")}
    assert change.desired["bio"] == "members"  # the whole target goes to the API


def test_diff_is_pure_and_repeatable() -> None:
    want = desired(groups=[CAMP, MEMBERS], categories=[CHILD, PARENT], webhook=hook())
    have = forum(groups=[owned(CAMP, full_name="x")])
    assert diff(want, have) == diff(want, have)


# --- safety -------------------------------------------------------------------------------------


def _badges(n: int) -> list[BadgeSpec]:
    return [badge(f"b{i}") for i in range(n)]


SAFETY_CASES = [
    pytest.param(
        desired(badges=Section(tuple(_badges(3)), prune=True)),
        forum(badges=[owned(b) for b in _badges(5)]),
        ["badge"],
        id="refuses to delete 40% of badges",
    ),
    pytest.param(
        desired(badges=Section(tuple(_badges(4)), prune=True)),
        forum(badges=[owned(b) for b in _badges(5)]),
        [],
        id="allows deleting a single badge",
    ),
    pytest.param(
        desired(groups=[group(f"g{i}", full_name="new") for i in range(5)]),
        forum(groups=[owned(group(f"g{i}", full_name="old")) for i in range(5)]),
        ["group"],
        id="refuses to change every group at once",
    ),
    pytest.param(
        desired(groups=[group(f"g{i}") for i in range(10)]),
        forum(groups=[owned(group("g0"))]),
        [],
        id="creating never counts against the share",
    ),
    pytest.param(
        desired(groups=[group(f"g{i}", adopt=True) for i in range(4)]),
        forum(groups=[unowned(group(f"g{i}", full_name="hand")) for i in range(4)]),
        [],
        id="adopting hand-made groups does not count against the share",
    ),
    pytest.param(
        desired(site_settings={f"s{i}": True for i in range(5)}),
        forum(site_settings={f"s{i}": False for i in range(5)}),
        [],
        id="site settings do not count against the share",
    ),
]


@pytest.mark.parametrize(("want", "have", "refused"), SAFETY_CASES)
def test_safety(want: Desired, have: ForumState, refused: list[str]) -> None:
    assert [r.resource for r in refusals(diff(want, have), want.safety)] == refused


def test_refusal_names_the_numbers_and_force_overrides_it() -> None:
    want = desired(badges=Section(tuple(_badges(3)), prune=True))
    plan = diff(want, forum(badges=[owned(b) for b in _badges(5)]))
    with pytest.raises(UnsafePlan) as refused:
        check_safety(plan, want.safety)
    assert refused.value.reasons == [
        "would update or delete 2 of 5 badges Diamond owns (40% > 30%)"
    ]
    check_safety(plan, want.safety, force=True)  # does not raise


def test_share_is_configurable() -> None:
    want = desired(
        badges=Section(tuple(_badges(3)), prune=True),
        safety=SafetyOptions(max_change_share=0.5),
    )
    assert (
        unsafe_reasons(diff(want, forum(badges=[owned(b) for b in _badges(5)])), want.safety) == []
    )


# --- rendering ----------------------------------------------------------------------------------


def test_masks_the_webhook_secret() -> None:
    plans = [
        diff(desired(webhook=hook()), forum()),
        diff(
            desired(webhook=hook()), forum(webhooks=[forum_hook(hook(), secret=SecretStr("old"))])
        ),
    ]
    for plan in plans:
        text = render_plan(plan) + repr(plan)
        assert SECRET not in text
        assert "old" not in render_plan(plan)
        assert "secret: ***" in render_plan(plan)


def test_masks_secret_looking_site_settings() -> None:
    plan = diff(
        desired(site_settings={"discourse_connect_secret": "s3cr3t-value"}),
        forum(site_settings={"discourse_connect_secret": "previous-value"}),
    )
    text = render_plan(plan)
    assert "s3cr3t-value" not in text and "previous-value" not in text
    assert "discourse_connect_secret: *** → ***" in text


def test_renders_field_by_field_with_level_names() -> None:
    plan = diff(desired(groups=[CAMP]), forum(groups=[owned(CAMP, messageable_level=99)]))
    assert render_plan(plan).splitlines() == [
        "Groups / 群组",
        f"  ~ update camp (id {plan.changes[0].id})",
        "      messageable_level: 99 (everyone) → 0 (nobody)",
        "Plan: 0 to create, 1 to update, 0 to delete.",
    ]


def test_renders_conflicts_and_no_change() -> None:
    text = render_plan(diff(desired(groups=[MEMBERS]), forum(groups=[unowned(MEMBERS)])))
    assert "! group members: 'members' exists" in text
    assert "No changes" in text


# --- ownership marker ---------------------------------------------------------------------------

MARK_CASES = [
    pytest.param("正式成员", "members", ("正式成员", "members"), id="reads back what it marks"),
    pytest.param("", "camp", ("", "camp"), id="marks an empty description"),
    pytest.param(
        "<p>Staff only &amp; reviewers [diamond:audit-log]</p>",
        None,
        ("Staff only & reviewers", "audit-log"),
        id="reads a marker in cooked HTML",
    ),
    pytest.param(
        "Hand made [diamond] group",
        None,
        ("Hand made [diamond] group", None),
        id="text without a marker at the end is not Diamond's",
    ),
]


@pytest.mark.parametrize(("text", "key", "expected"), MARK_CASES)
def test_marker(text: str, key: str | None, expected: tuple[str, str | None]) -> None:
    forum_text = mark(text, key) if key else text
    assert read_mark(forum_text, cooked=key is None) == expected


# --- the chat webhook ---------------------------------------------------------------------------

CHAT_EVENTS = ("chat_message_created", "chat_message_edited")


def chat_hook(categories: tuple[str, ...] = ("checkins",)) -> ChatWebhookSpec:
    return ChatWebhookSpec(
        payload_url=chat_payload_url(RECEIVER),
        secret=SecretStr(SECRET),
        events=CHAT_EVENTS,
        categories=categories,
    )


def _chat_desired(spec: ChatWebhookSpec) -> Desired:
    return dataclasses.replace(desired(webhook=hook()), chat_webhook=spec)


def _chat_forum(*hooks: Existing, categories: list[Existing] | None = None) -> ForumState:
    events = {**{e: i for i, e in enumerate(EVENTS, 1)}, "chat_message_created": 1801}
    events["chat_message_edited"] = 1802
    return forum(
        webhooks=[forum_hook(hook()), *hooks], categories=categories or [], event_types=events
    )


def test_the_chat_webhook_is_planned_beside_the_receivers_not_as_its_duplicate() -> None:
    plan = diff(_chat_desired(chat_hook()), _chat_forum())
    assert summary(plan) == ["create webhook chat"]
    assert plan.changes[0].desired["payload_url"] == RECEIVER + "?hook=chat"
    assert "duplicate" not in " ".join(plan.notices)
    assert "+ create chat" in render_plan(plan) and "secret: ***" in render_plan(plan)


def test_a_squad_formed_since_the_last_sync_joins_the_chat_webhooks_categories() -> None:
    squad = Existing(
        id=77,
        natural_key="sq-2611-1",
        owner_key=None,
        fields={
            "slug": "sq-2611-1",
            "description": "2611期 第1组 [diamond-squad-category sq-2611-1]",
        },
    )
    by_hand = Existing(id=78, natural_key="lounge", owner_key=None, fields={"slug": "lounge"})
    have = _chat_forum(forum_hook(chat_hook()), categories=[squad, by_hand])
    plan = diff(_chat_desired(chat_hook()), have)
    assert summary(plan) == ["update webhook chat: categories"]
    assert plan.changes[0].fields["categories"] == (("checkins",), ("checkins", "sq-2611-1"))


def test_a_forum_without_the_chat_events_gets_no_chat_webhook_but_a_conflict() -> None:
    have = forum(webhooks=[forum_hook(hook())])
    plan = diff(_chat_desired(chat_hook()), have)
    assert summary(plan) == ["conflict webhook chat"]
