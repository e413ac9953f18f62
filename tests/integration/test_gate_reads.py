"""A sign-up costs the reads nothing else carries: one admin read of the applicant per
sign-up event, no profile read of a referrer the roster state knows as a member, and no
second read of an applicant an earlier read (or the signed body) already gave.

Correctness stays first: a referrer the state does not know as a member (removed by hand,
or a name nobody has) is read, and decided on what the read says."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis

from tests.support.scenario import Persona, confirm_email, seed_referrers, sign_up
from tests.support.steps import field_ids, step_ctx
from tests.support.world import membership_world
from worker.pipeline.jobs import load_actors
from worker.pipeline.routes import body_hints, routes_for
from worker.reads import forum_view
from worker.reads.obligations import user_ids_of
from worker.reads.parse import USER_HINTS, Hints, applicant_of
from worker.state import roster as roster_state
from worker.state.membership import MembershipStore
from worker.steps import gate

pytestmark = pytest.mark.integration
START = datetime(2026, 11, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
PROFILE = "GET /u/{username}.json"
ADMIN_USER = "GET /admin/users/{id}.json"
LISTING = "GET /groups.json"
MEMBERS_READ = "GET /groups/{name}/members.json"
CAPTURES = Path("/work/shared/discourse/webhooks")


def _persona(name: str, referrer: str, kind: str = "good", **kw: Any) -> Persona:
    kw.setdefault("city", "北京")  # a required field
    kw.setdefault("application", "字" * 250)
    return Persona(name, f"{name}@example.com", kind, referrer=referrer, **kw)


def _load_roster_state(world: Any) -> None:
    """The state as the scheduled runs leave it: the groups gating asks about, listed."""
    rules = world.rules
    for group in (rules.community.groups.members, rules.community.groups.camp):
        forum_view.cached_group_members(world.client, world.redis, group, now=world.now)
    for group in rules.community.staff_groups:
        forum_view.cached_group_members(world.client, world.redis, group, now=world.now)


def _gate(world: Any, uid: int, event: str, **kw: Any) -> gate.GatingResult:
    """Gate ``user_id`` on ``event`` with the hints its signed body gives (the inviter)."""
    ctx = step_ctx(world.client, world.redis, world.rules, now=world.now, live=True)
    hints = Hints.from_route(body_hints(_body(world, event, uid), USER_HINTS))
    return gate.run(ctx, uid, event=event, hints=hints, strikes_of=lambda _u: 0, **kw)


def _calls(world: Any) -> dict[str, int]:
    return dict(world.client.call_counts)


def _delta(before: dict[str, int], after: dict[str, int], key: str) -> int:
    return after.get(key, 0) - before.get(key, 0)


def _body(world: Any, event: str, user_id: int) -> dict[str, Any]:
    """The sandbox's signed ``event`` body of ``user_id``, as the route passes it on."""
    world.sandbox.wait_idle()
    for delivery in reversed(world.sandbox.deliveries(event)):
        obj = delivery.json()["user"]
        if obj.get("id") == user_id:
            return dict(obj)
    raise AssertionError(f"no {event} delivery of user {user_id}")


# --- the referrer ------------------------------------------------------------------------


def test_a_sign_up_naming_a_member_referrer_reads_no_profile(redis_client: redis.Redis) -> None:
    with membership_world(redis_client, START) as world:
        (mentor,) = seed_referrers(world.people, 1)
        _load_roster_state(world)
        uid = sign_up(world.people, _persona("newbie01", mentor), field_ids(world.people))
        before = _calls(world)

        result = _gate(world, uid, "user_confirmed_email")

        assert result.decision is not None and result.decision.outcome == "approve"
        assert result.decision.referrer == mentor and result.decision.referrer_exists
        assert _delta(before, _calls(world), PROFILE) == 0  # the roster state knew them
        inputs = MembershipStore(redis_client).gating_inputs(uid) or {}
        assert inputs["referrer"]["username"] == mentor
        assert world.rules.community.groups.members in inputs["referrer"]["groups"]


def test_a_referrer_removed_from_the_members_by_hand_is_no_longer_a_member(
    redis_client: redis.Redis,
) -> None:
    with membership_world(redis_client, START) as world:
        (mentor,) = seed_referrers(world.people, 1)
        _load_roster_state(world)
        members = world.client.get_group(world.rules.community.groups.members)
        mentor_id = int(world.client.get_user(mentor)["id"])
        world.client.remove_group_members(int(members["id"]), [mentor])  # an admin, by hand
        roster_state.on_group_user(
            redis_client, "user_removed_from_group", int(members["id"]), mentor_id
        )
        uid = sign_up(world.people, _persona("newbie02", mentor), field_ids(world.people))
        before = _calls(world)

        result = _gate(world, uid, "user_confirmed_email")

        assert result.decision is not None and result.decision.outcome != "approve"
        assert "referrer_not_member" in {h.code for h in result.decision.hits}
        assert _delta(before, _calls(world), PROFILE) == 1  # not a member per the state: read


def test_an_unknown_referrer_name_is_read_and_named_missing(redis_client: redis.Redis) -> None:
    with membership_world(redis_client, START) as world:
        seed_referrers(world.people, 1)
        _load_roster_state(world)
        uid = sign_up(world.people, _persona("newbie03", "nobody_here"), field_ids(world.people))
        before = _calls(world)

        result = _gate(world, uid, "user_confirmed_email")

        assert result.decision is not None and result.decision.outcome != "approve"
        assert [h.code for h in result.decision.hits if h.check == "referral"] == [
            "referrer_missing"
        ]
        assert _delta(before, _calls(world), PROFILE) == 1


def test_the_roster_state_is_loaded_once_for_every_later_sign_up(
    redis_client: redis.Redis,
) -> None:
    with membership_world(redis_client, START) as world:
        (mentor,) = seed_referrers(world.people, 1)
        ids = field_ids(world.people)
        first = sign_up(world.people, _persona("newbie04", mentor), ids)
        second = sign_up(world.people, _persona("newbie06", mentor), ids)
        before = _calls(world)

        one = _gate(world, uid=first, event="user_confirmed_email")
        loaded = _calls(world)  # the groups the state lacked: read once
        two = _gate(world, uid=second, event="user_confirmed_email")

        assert [r.decision.outcome for r in (one, two) if r.decision] == ["approve", "approve"]
        assert _delta(before, _calls(world), PROFILE) == 0
        assert _delta(before, loaded, LISTING) == 1 and _delta(before, loaded, MEMBERS_READ) > 0
        reads = {k: v for k, v in _calls(world).items() if k.startswith("GET ")}
        assert reads == {k: v for k, v in loaded.items() if k.startswith("GET ")} | {
            ADMIN_USER: loaded[ADMIN_USER] + 1  # the second sign-up's own read, no other
        }


# --- the applicant -----------------------------------------------------------------------


def test_an_email_sign_up_is_read_once_from_creation_to_decision(
    redis_client: redis.Redis,
) -> None:
    with membership_world(redis_client, START) as world:
        (mentor,) = seed_referrers(world.people, 1)
        _load_roster_state(world)
        p = _persona("newbie05", mentor)
        uid = sign_up(world.people, p, field_ids(world.people), confirm=False)
        before = _calls(world)

        created = _gate(world, uid, "user_created")
        assert created.waiting
        confirm_email(world.people, p.username)
        confirmed = _gate(world, uid, "user_confirmed_email")

        assert confirmed.decision is not None and confirmed.decision.outcome == "approve"
        assert _delta(before, _calls(world), ADMIN_USER) == 1


def test_events_after_a_decision_read_the_applicant_no_more(redis_client: redis.Redis) -> None:
    with membership_world(redis_client, START) as world:
        (mentor,) = seed_referrers(world.people, 1)
        _load_roster_state(world)
        p = _persona("held02", mentor, "unpaid", payment="no")
        uid = sign_up(world.people, p, field_ids(world.people))
        before = _calls(world)
        first = _gate(world, uid, "user_created")
        assert first.decision is not None and first.decision.outcome == "hold"

        # The confirmation event of the same sign-up comes after the decision.
        again = _gate(world, uid, "user_confirmed_email")

        assert again.decision is None
        assert _delta(before, _calls(world), ADMIN_USER) == 1


def test_a_reviewers_approval_enters_the_camp_from_the_signed_body(
    redis_client: redis.Redis,
) -> None:
    with membership_world(redis_client, START) as world:
        (mentor,) = seed_referrers(world.people, 1)
        _load_roster_state(world)
        p = _persona("held03", mentor, "unpaid", payment="no", city="上海")
        uid = sign_up(world.people, p, field_ids(world.people))
        first = _gate(world, uid, "user_confirmed_email")
        assert first.decision is not None and first.decision.outcome == "hold"
        world.people.approve_user(uid)  # a reviewer decides on the forum
        before = _calls(world)

        entered = _gate(world, uid, "user_approved", body=_body(world, "user_approved", uid))

        store = MembershipStore(redis_client)
        assert entered.report is not None and store.is_camper("held03")
        assert store.camper_extra("held03")[0] == "上海"  # the body's fields
        assert _delta(before, _calls(world), ADMIN_USER) == 0


def test_the_approval_event_of_a_held_invitee_reads_them_no_more(
    redis_client: redis.Redis,
) -> None:
    with membership_world(redis_client, START) as world:
        (mentor,) = seed_referrers(world.people, 1)
        _load_roster_state(world)
        p = _persona("invitee1", mentor, "unpaid", payment="no", invited_by=mentor)
        uid = sign_up(world.people, p, field_ids(world.people))
        before = _calls(world)
        first = _gate(world, uid, "user_created")
        assert first.decision is not None and first.decision.outcome == "hold"
        assert first.decision.already_approved  # redeeming the invite approved them

        again = _gate(world, uid, "user_approved", body=_body(world, "user_approved", uid))

        assert again.decision is None and again.report is None  # staff decide
        assert _delta(before, _calls(world), ADMIN_USER) == 1


def test_the_captured_approval_body_carries_the_applicant() -> None:
    raw = (CAPTURES / "user__user_approved__2026.9.0-latest-body.json").read_text()
    body = json.loads(raw)["user"]
    ids = {"city": 3, "referrer": 1}
    applicant = gate.applicant_of_body(body, ids, "user_approved")

    assert applicant is not None
    assert (applicant.user_id, applicant.username) == (56, "liushuai")
    assert applicant.approved and applicant.active
    assert applicant.groups == {"trust_level_0", "trust_level_1"}
    assert applicant.fields == {}  # every field of this old account is null
    assert applicant == applicant_of({**body, "approved": True, "active": True}, ids)


def test_the_user_routes_pass_the_captured_bodys_applicant_on_to_the_gate() -> None:
    from worker.jobs import membership

    load_actors()
    raw = (CAPTURES / "user__user_approved__2026.9.0-latest-body.json").read_text()
    (route,) = [r for r in routes_for("user_approved") if r.actor == membership.on_user.actor_name]
    kwargs = route.extract(json.loads(raw)["user"])

    assert kwargs["user_id"] == 56 and kwargs["event"] == "user_approved"
    applicant = gate.applicant_of_body(kwargs["body"], {}, kwargs["event"])
    assert applicant is not None and applicant.username == "liushuai"


def test_a_created_body_without_user_fields_is_no_applicant() -> None:
    raw = (CAPTURES / "user__user_created__2025.12.0-latest-body.json").read_text()
    assert gate.applicant_of_body(json.loads(raw)["user"], {}, "user_created") is None


# --- the weekly audit's silences ---------------------------------------------------------


def test_user_ids_of_listed_members_come_from_the_roster_state(redis_client: redis.Redis) -> None:
    with membership_world(redis_client, START) as world:
        (mentor,) = seed_referrers(world.people, 1)
        _load_roster_state(world)
        before = _calls(world)

        ids = user_ids_of(world.client, [mentor], redis_client)

        assert ids == {mentor: int(world.people.get_user(mentor)["id"])}
        assert _delta(before, _calls(world), PROFILE) == 0


# --- what is kept of an application once it is decided -------------------------------------


@pytest.mark.parametrize(
    ("kind", "application", "outcome"),
    [
        ("good", "字" * 250, "approve"),
        ("spam", "字" * 250 + "需要代写请加微信 vx: abcdef123", "reject"),
    ],
)
def test_a_decided_application_keeps_no_answers_of_the_applicant(
    redis_client: redis.Redis, kind: str, application: str, outcome: str
) -> None:
    """The application's answers (its text, the payment proof) serve the same sign-up's
    later events only until the decision is carried out; what stays is whom the id stands
    for, which is all a later event of the decided sign-up asks."""
    with membership_world(redis_client, START) as world:
        (mentor,) = seed_referrers(world.people, 1)
        _load_roster_state(world)
        p = _persona("decided01", mentor, kind, application=application)
        uid = sign_up(world.people, p, field_ids(world.people))

        result = _gate(world, uid, "user_confirmed_email")

        assert result.decision is not None and result.decision.outcome == outcome
        kept = MembershipStore(redis_client).applicant_facts(uid)
        assert kept is not None and kept.username == "decided01"
        assert dict(kept.fields) == {}
        if outcome == "approve":  # Diamond's own approval comes back as an event
            before = _calls(world)
            again = _gate(world, uid, "user_approved")
            assert again.decision is None  # nothing to decide again
            assert _delta(before, _calls(world), ADMIN_USER) == 0
        else:  # the rejected account is deleted; its name is what a late event is told by
            assert MembershipStore(redis_client).was_removed(kept.username)


def test_a_held_application_keeps_its_answers_for_the_review(redis_client: redis.Redis) -> None:
    with membership_world(redis_client, START) as world:
        (mentor,) = seed_referrers(world.people, 1)
        _load_roster_state(world)
        p = _persona("held03", mentor, "unpaid", payment="no")
        uid = sign_up(world.people, p, field_ids(world.people))

        result = _gate(world, uid, "user_created")

        assert result.decision is not None and result.decision.outcome == "hold"
        kept = MembershipStore(redis_client).applicant_facts(uid)
        assert kept is not None and kept.fields  # the review's later events still need them
