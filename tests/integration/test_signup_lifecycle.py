"""The sign-up lifecycle against a sandbox as strict as Discourse: email sign-ups wait
for their confirmation, the admin user view has no email and no inviter, invitees are
gated after Discourse approved them, rejected applicants are emailed the reason."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from dramatiq.message import Message

from tests.support.pipeline import live_worker
from tests.support.scenario import INTRO, Persona, confirm_email, seed_referrers, sign_up
from tests.support.steps import field_ids, step_ctx
from tests.support.world import World, membership_world
from worker import actions as a
from worker.apply import Applier
from worker.engine.gating import check_lines
from worker.forum.errors import NotActiveYet, NotFound
from worker.pipeline.routes import body_hints
from worker.reads.parse import USER_HINTS, Hints
from worker.state.membership import MembershipStore
from worker.steps import gate as gate_step

pytestmark = pytest.mark.integration
START = datetime(2026, 11, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def world(redis_client: redis.Redis) -> Iterator[World]:
    with membership_world(redis_client, START) as w:
        yield w


@pytest.fixture
def events(world: World) -> list[tuple[str, dict[str, Any]]]:
    """The user events the forum emits (``(event, user object)``), delivery unchanged."""
    forum = world.sandbox.forum
    seen: list[tuple[str, dict[str, Any]]] = []
    sink = forum.event_sink

    def record(event: str, body: dict[str, Any], f: Any, context: dict[str, Any]) -> None:
        if event.startswith("user_") and "user" in body:
            seen.append((event, dict(body["user"])))
        if sink is not None:
            sink(event, body, f, context)

    forum.event_sink = record
    return seen


def persona(name: str, mentor: str, **overrides: Any) -> Persona:
    values: dict[str, Any] = {
        "username": name,
        "email": f"{name}@example.com",
        "kind": "good",
        "referrer": mentor,
        "application": INTRO.format(name=name, city="北京"),
        "city": "北京",
    }
    values.update(overrides)
    return Persona(**values)


def gate(world: World, uid: int, event: str | None, body: dict[str, Any] | None = None) -> Any:
    """What the gating job does for ``event``, with the hints its route takes from ``body``."""
    hints = Hints.from_route(body_hints(body, USER_HINTS) if body else None)
    return gate_step.run(
        step_ctx(world.client, world.redis, world.rules, now=world.now, live=True),
        uid,
        strikes_of=lambda _u: 0,
        hints=hints,
        event=event,
    )


def last_body(events: list[tuple[str, dict[str, Any]]], event: str, uid: int) -> dict[str, Any]:
    return [body for name, body in events if name == event and body["id"] == uid][-1]


def camp_members(world: World) -> set[str]:
    return {m["username"] for m in world.client.iter_group_members("camp")}


# --- an email sign-up waits for its confirmation ------------------------------------------


def test_approving_an_inactive_applicant_is_not_yet_for_the_client_and_the_applier(
    world: World,
) -> None:
    (mentor,) = seed_referrers(world.people, 1)
    uid = sign_up(world.people, persona("waiter", mentor), field_ids(world.people), confirm=False)
    with pytest.raises(NotActiveYet):
        world.client.approve_user(uid)
    act = a.ApproveUser(key=f"t-approve:{uid}", reason="test", user_id=uid, username="waiter")
    applier = Applier(world.client, world.redis, live=True)
    with pytest.raises(NotActiveYet):
        applier.apply([act])
    assert not applier.is_done(act.key)  # not recorded as done: it happens later


def test_the_gating_job_waits_for_the_confirmation_then_approves(
    world: World, events: list[tuple[str, dict[str, Any]]], redis_url: str, tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from worker.jobs import membership as jobs

    live_worker(monkeypatch, world.sandbox, redis_url, tmp_path)
    (mentor,) = seed_referrers(world.people, 1)
    ids = field_ids(world.people)
    uid = sign_up(world.people, persona("waiter", mentor), ids, confirm=False)
    created = last_body(events, "user_created", uid)
    # The actor as dramatiq runs it (error mapping included): no exception, no dead letter.
    jobs.on_user.fn(user_id=uid, hints=body_hints(created, USER_HINTS), event="user_created")
    assert MembershipStore(world.redis).decision(uid) is None
    assert "waiter" not in camp_members(world)

    confirm_email(world.people, "waiter")
    confirmed = last_body(events, "user_confirmed_email", uid)
    jobs.on_user.fn(
        user_id=uid, hints=body_hints(confirmed, USER_HINTS), event="user_confirmed_email"
    )
    assert MembershipStore(world.redis).decision(uid) == "approve"
    assert world.client.admin_get_user(uid)["approved"] is True
    assert "waiter" in camp_members(world)


def test_catch_up_gates_a_user_who_confirms_after_a_later_user_was_scanned(
    world: World, redis_url: str, preserve_routes: None
) -> None:
    from worker.pipeline.broker import setup_broker
    from worker.pipeline.catchup import scan

    broker = setup_broker(redis_url)
    (mentor,) = seed_referrers(world.people, 1)
    ids = field_ids(world.people)
    early = sign_up(world.people, persona("early", mentor), ids, confirm=False)
    late = sign_up(world.people, persona("later", mentor), ids)  # signs up after, confirms first

    def scan_and_run() -> list[int]:
        """One scan; the membership jobs it enqueued run as the worker would run them."""
        world.redis.delete("diamond:membership.msgs", "diamond:membership")
        scan(world.client, world.redis, broker, api_username="system", dedup_ttl_seconds=60)
        fed = []
        for raw in world.redis.hvals("diamond:membership.msgs"):
            message = Message.decode(raw)
            if message.actor_name == "membership.on_user":
                kwargs = message.kwargs
                fed.append(kwargs["user_id"])
                gate(world, kwargs["user_id"], kwargs.get("event"))
        return fed

    assert scan_and_run() == [late]  # the early one is not pending yet (not confirmed)
    confirm_email(world.people, "early")
    assert scan_and_run() == [early]
    assert scan_and_run() == []  # decided: not fed (nor gated) again every few minutes
    store = MembershipStore(world.redis)
    assert (store.decision(early), store.decision(late)) == ("approve", "approve")


# --- the rules that need the email or the inviter fire ---------------------------------------


def test_same_email_and_email_domain_rules_fire_with_the_email_from_the_signed_body(
    world: World, events: list[tuple[str, dict[str, Any]]]
) -> None:
    (mentor,) = seed_referrers(world.people, 1)
    ids = field_ids(world.people)
    first = sign_up(world.people, persona("orig", mentor, email="orig.name@gmail.com"), ids)
    gate(world, first, "user_confirmed_email", last_body(events, "user_confirmed_email", first))
    second = sign_up(world.people, persona("again", mentor, email="origname+2@gmail.com"), ids)
    result = gate(
        world, second, "user_confirmed_email", last_body(events, "user_confirmed_email", second)
    )
    assert result.decision.outcome == "hold"
    assert [h.rule for h in result.decision.hits] == ["duplicates.same_email"]
    throwaway = sign_up(world.people, persona("tossed", mentor, email="t@mailinator.com"), ids)
    result = gate(
        world,
        throwaway,
        "user_confirmed_email",
        last_body(events, "user_confirmed_email", throwaway),
    )
    assert [h.check for h in result.decision.hits] == ["screening"]
    assert world.sandbox.forum.show_emails_log == []  # the bodies had the emails


def test_without_a_body_the_email_comes_from_one_narrowed_show_emails_listing(
    world: World,
) -> None:
    (mentor,) = seed_referrers(world.people, 1)
    uid = sign_up(
        world.people,
        persona("tossed", mentor, email="t@mailinator.com"),
        field_ids(world.people),
    )
    result = gate(world, uid, None)  # e.g. fed by the catch-up scan
    assert [h.check for h in result.decision.hits] == ["screening"]
    assert len(world.sandbox.forum.show_emails_log) == 1


def test_the_inviter_counts_as_the_referrer_read_from_the_public_profile(world: World) -> None:
    (mentor,) = seed_referrers(world.people, 1)
    p = persona("guest", "see invite", invited_by=mentor, email="guest@example.com")
    uid = sign_up(world.people, p, field_ids(world.people))
    result = gate(world, uid, None)  # no body: the inviter comes from GET /u/{username}.json
    assert (result.decision.outcome, result.decision.referrer) == ("approve", mentor)


# --- invitees -----------------------------------------------------------------------------------


def test_an_invitee_discourse_approved_is_gated_and_enters_the_camp(
    world: World, events: list[tuple[str, dict[str, Any]]]
) -> None:
    (mentor,) = seed_referrers(world.people, 1)
    p = persona("guest", "see invite", invited_by=mentor, email="guest@example.com")
    uid = sign_up(world.people, p, field_ids(world.people))
    assert world.client.admin_get_user(uid)["approved"] is True  # by the invite, not Diamond
    result = gate(world, uid, "user_approved", last_body(events, "user_approved", uid))
    assert result.decision.outcome == "approve" and result.decision.already_approved
    assert "guest" in camp_members(world)
    assert MembershipStore(world.redis).camper("guest") is not None
    again = gate(world, uid, "user_confirmed_email")  # the other events of the same sign-up
    assert again.decision is None and again.report is None


def test_an_invitee_who_fails_is_held_for_staff_with_the_reasons_and_not_deleted(
    world: World, events: list[tuple[str, dict[str, Any]]]
) -> None:
    (mentor,) = seed_referrers(world.people, 1)
    p = persona("pusher", "see invite", invited_by=mentor, email="pusher@example.com")
    p.application = "需要代写请加微信 vx: abcdef123"
    uid = sign_up(world.people, p, field_ids(world.people))
    result = gate(world, uid, "user_approved", last_body(events, "user_approved", uid))
    assert result.decision.outcome == "hold"
    assert {h.check for h in result.decision.hits} >= {"screening", "application"}
    assert world.client.admin_get_user(uid)["id"] == uid  # Discourse let them in: not deleted
    assert "pusher" not in camp_members(world)
    forum = world.sandbox.forum
    with forum.lock:
        audit = next(c.id for c in forum.categories.values() if c.slug == "audit-log")
        (topic,) = [
            t for t in forum.topics.values() if t.category_id == audit and "pusher" in t.title
        ]
        raw = next(p.raw for p in forum.posts.values() if p.topic_id == topic.id)
    for line in check_lines(world.rules, result.decision, "zh"):
        assert line in raw
    assert "兑换邀请时已被 Discourse 批准" in raw
    later = gate(world, uid, "user_created")  # held: not re-gated by other events
    assert later.decision is None


# --- rejection ----------------------------------------------------------------------------------


def test_a_rejected_applicant_gets_discourses_email_with_the_reason_in_their_language(
    world: World, events: list[tuple[str, dict[str, Any]]]
) -> None:
    (mentor,) = seed_referrers(world.people, 1)
    ids = field_ids(world.people)
    language = ids.get("language")
    p = persona("spammer", mentor)
    p.application += " DM me for crypto signals"
    uid = sign_up(world.people, p, ids)
    if language is not None:  # the applicant chose English on the sign-up form
        world.people.set_user_field("spammer", language, "en")
    result = gate(
        world, uid, "user_confirmed_email", last_body(events, "user_confirmed_email", uid)
    )
    assert result.decision.outcome == "reject"
    (mail,) = world.sandbox.forum.sent_emails
    assert (mail["type"], mail["to"], mail["username"]) == (
        "signup_after_reject",
        "spammer@example.com",
        "spammer",
    )
    assert "Unfortunately the application was not accepted" in mail["reject_reason"]
    assert "the application advertises or solicits" in mail["reject_reason"]
    with pytest.raises(NotFound):
        world.client.admin_get_user(uid)  # deleted
    forum = world.sandbox.forum
    with forum.lock:  # no PM: an unapproved applicant could never have read it
        pms = [t for t in forum.topics.values() if t.archetype == "private_message"]
        assert not [t for t in pms if "spammer" in t.title or uid in t.allowed_user_ids]


def test_parsed_hints_from_a_gating_body_are_json_safe_for_the_queue() -> None:
    hints = body_hints({"id": 1, "email": "a@b.c", "invited_by": None}, USER_HINTS)
    assert json.loads(json.dumps(hints)) == {"email": "a@b.c", "invited_by": None}
    assert Hints.from_route(hints) == Hints("a@b.c", None, inviter_known=True)
    assert Hints.from_route({}) == Hints()


def test_a_later_event_of_a_rejected_and_deleted_applicant_is_nothing_to_do(
    world: World, events: list[tuple[str, dict[str, Any]]]
) -> None:
    # user_created and user_confirmed_email jobs may both run after the confirmation: the
    # first rejects (and deletes), the second finds no account. Not a failed job.
    (mentor,) = seed_referrers(world.people, 1)
    p = persona("spammer", mentor)
    p.application += " DM me for crypto signals"
    uid = sign_up(world.people, p, field_ids(world.people))
    first = gate(world, uid, "user_created", last_body(events, "user_created", uid))
    assert first.decision is not None and first.decision.outcome == "reject"
    second = gate(world, uid, "user_confirmed_email")
    assert second.decision is None and second.report is None
