"""The roster is state, not a cache: read in full once, then kept current by Diamond's own
changes (the Applier), the forum's group_user events (an admin's hand changes) and a count
reconcile per scheduled run (a lost event), so a run hours after the last costs one group
listing, not ``1 + squads`` reads."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.support.obligations import shipped_rules
from tests.support.sandbox_squad import admin_client
from worker import actions as a
from worker.apply import Applier
from worker.clock import set_simulated_now
from worker.engine.facts import Squad
from worker.engine.squads import squad_bio
from worker.forum.client import ForumClient
from worker.pipeline.jobs import load_actors
from worker.pipeline.routes import routes_for
from worker.reads import forum_view
from worker.state import roster as roster_state

pytestmark = pytest.mark.integration

MEMBERS_READ = "GET /groups/{name}/members.json"
LISTING = "GET /groups.json"
T0 = dt.datetime(2026, 3, 16, 9, 0, tzinfo=dt.UTC)
GROUP_USER_EVENTS = ["user_added_to_group", "user_removed_from_group"]


def _squads(sandbox: Any, client: ForumClient, *members: tuple[str, ...]) -> list[int]:
    """Squad groups sq-1, sq-2... (with the squad marker in their bio) holding ``members``."""
    rules = shipped_rules()
    ids = []
    for n, names in enumerate(members, start=1):
        for name in names:
            sandbox.forum.create_user(username=name, email=f"{name}@example.org", approved=True)
        slug = f"sq-{n}"
        bio = squad_bio(rules, Squad(slug, f"第{n}组", "2026-11", ()), None)
        made = client.create_group(slug, full_name=f"第{n}组", bio_raw=bio)
        group_id = int(made.get("basic_group", made)["id"])
        client.add_group_members(group_id, list(names))
        ids.append(group_id)
    return ids


def _roster(client: ForumClient, redis_client: Any, when: dt.datetime) -> Any:
    set_simulated_now(redis_client, when)
    return forum_view.cached_roster(client, redis_client, shipped_rules())


def _deliver(sandbox: Any, event: str) -> None:
    """Hand the sandbox's last ``event`` delivery to its route's actor, as the receiver does."""
    from worker.jobs import membership

    sandbox.wait_idle()
    delivery = sandbox.deliveries(event)[-1]
    load_actors()
    (route,) = [r for r in routes_for(event) if r.actor == membership.on_group_event.actor_name]
    membership.on_group_event(**route.extract(delivery.json()[delivery.event_type]))


def test_a_run_hours_after_the_last_costs_one_group_listing_not_a_read_of_every_squad(
    sandbox, redis_client
):
    client = admin_client(sandbox)
    _squads(sandbox, client, ("cat", "dan"), ("eve", "fay"), ("gus", "hal"))
    first = _roster(client, redis_client, T0)
    # the first read is a full one: the squads, and the rules' staff groups (admins, staff)
    assert client.call_counts[MEMBERS_READ] == 3 + 2

    for hours in (2, 26, 50):  # the next runs: reminders, a daily catch-up, the audit
        assert _roster(client, redis_client, T0 + dt.timedelta(hours=hours)) == first
    assert client.call_counts[MEMBERS_READ] == 3 + 2  # no group read again
    assert client.call_counts[LISTING] == 4  # one listing per run (one page here)


def test_members_moved_by_hand_reach_the_roster_through_the_group_user_events(
    sandbox, redis_url, redis_client, monkeypatch, tmp_path
):
    from tests.support.pipeline import live_worker

    live_worker(monkeypatch, sandbox, redis_url, tmp_path)
    sandbox.add_webhook("http://127.0.0.1:9/", events=GROUP_USER_EVENTS)  # kept, not sent
    client = admin_client(sandbox)
    (sq1, sq2) = _squads(sandbox, client, ("cat", "dan"), ("eve", "fay"))
    _roster(client, redis_client, T0)
    reads = client.call_counts[MEMBERS_READ]

    # An admin moves dan (listed before: his user id is known) from sq-1 to sq-2 by hand.
    client.remove_group_members(sq1, ["dan"])
    _deliver(sandbox, "user_removed_from_group")
    client.add_group_members(sq2, ["dan"])
    _deliver(sandbox, "user_added_to_group")
    calls = sum(client.call_counts.values())
    roster = _roster(client, redis_client, T0 + dt.timedelta(minutes=10))
    assert roster.by_slug("sq-1").members == ("cat",)
    assert roster.by_slug("sq-2").members == ("dan", "eve", "fay")
    assert sum(client.call_counts.values()) == calls  # the events said it all: no read

    # Someone never listed (no user id known): that one group is read again, no other.
    sandbox.forum.create_user(username="ivy", email="ivy@example.org", approved=True)
    client.add_group_members(sq1, ["ivy"])
    _deliver(sandbox, "user_added_to_group")
    roster = _roster(client, redis_client, T0 + dt.timedelta(minutes=20))
    assert roster.by_slug("sq-1").members == ("cat", "ivy")
    assert client.call_counts[MEMBERS_READ] == reads + 1


def test_diamonds_own_change_echoed_by_its_event_changes_nothing_more(
    sandbox, redis_url, redis_client, monkeypatch, tmp_path
):
    from tests.support.pipeline import live_worker

    live_worker(monkeypatch, sandbox, redis_url, tmp_path)
    sandbox.add_webhook("http://127.0.0.1:9/", events=GROUP_USER_EVENTS)
    client = admin_client(sandbox)
    _squads(sandbox, client, ("cat", "dan"), ("eve",))
    _roster(client, redis_client, T0)
    set_simulated_now(redis_client, T0 + dt.timedelta(minutes=5))
    Applier(client, redis_client, live=True).apply(
        [a.RemoveFromGroup(key="t:rm", reason="ladder", group="sq-1", usernames=("dan",))]
    )
    generation = redis_client.get(forum_view.GENERATION_KEY)
    _deliver(sandbox, "user_removed_from_group")  # the echo of the Applier's own write
    assert redis_client.get(forum_view.GENERATION_KEY) == generation
    reads = client.call_counts[MEMBERS_READ]
    roster = _roster(client, redis_client, T0 + dt.timedelta(minutes=10))
    assert roster.by_slug("sq-1").members == ("cat",)
    assert client.call_counts[MEMBERS_READ] == reads


def test_a_lost_event_is_caught_by_the_count_reconcile_of_the_next_run(sandbox, redis_client):
    client = admin_client(sandbox)
    (sq1, _sq2) = _squads(sandbox, client, ("cat", "dan"), ("eve", "fay"))
    _roster(client, redis_client, T0)
    reads = client.call_counts[MEMBERS_READ]
    sandbox.forum.create_user(username="ivy", email="ivy@example.org", approved=True)
    client.add_group_members(sq1, ["ivy"])  # no webhook: the event is lost

    assert _roster(client, redis_client, T0 + dt.timedelta(minutes=5)).by_slug("sq-1").members == (
        "cat",
        "dan",
    )  # the same run: the state as it was
    roster = _roster(client, redis_client, T0 + dt.timedelta(hours=2))  # the next run
    assert roster.by_slug("sq-1").members == ("cat", "dan", "ivy")
    assert client.call_counts[MEMBERS_READ] == reads + 1  # only the group whose count moved


def test_a_group_edited_by_hand_is_read_again(
    sandbox, redis_url, redis_client, monkeypatch, tmp_path
):
    from tests.support.pipeline import live_worker

    live_worker(monkeypatch, sandbox, redis_url, tmp_path)
    sandbox.add_webhook("http://127.0.0.1:9/", events=["group_updated"])
    client = admin_client(sandbox)
    (sq1,) = _squads(sandbox, client, ("cat", "dan"))
    _roster(client, redis_client, T0)
    reads = client.call_counts[MEMBERS_READ]
    client.update_group(sq1, full_name="第一组改名了")
    _deliver(sandbox, "group_updated")
    roster = _roster(client, redis_client, T0 + dt.timedelta(minutes=5))
    assert roster.by_slug("sq-1").full_name == "第一组改名了"
    assert client.call_counts[MEMBERS_READ] == reads + 1


def test_a_squad_group_deleted_by_hand_leaves_the_roster(
    sandbox, redis_url, redis_client, monkeypatch, tmp_path
):
    from tests.support.pipeline import live_worker

    live_worker(monkeypatch, sandbox, redis_url, tmp_path)
    sandbox.add_webhook("http://127.0.0.1:9/", events=["group_destroyed"])
    client = admin_client(sandbox)
    (_sq1, sq2) = _squads(sandbox, client, ("cat",), ("dan",))
    _roster(client, redis_client, T0)
    reads = client.call_counts[MEMBERS_READ]
    client.delete_group(sq2)
    _deliver(sandbox, "group_destroyed")
    roster = _roster(client, redis_client, T0 + dt.timedelta(minutes=5))
    assert [s.slug for s in roster.squads] == ["sq-1"]
    assert client.call_counts[MEMBERS_READ] == reads  # the listing said it: sq-1 unchanged


def test_a_hand_change_travels_signed_through_the_receiver_to_the_roster(
    sandbox, redis_url, redis_client, monkeypatch, tmp_path
):
    """sandbox ──group_user webhook──▶ receiver (202) ──▶ membership queue ──▶ roster state."""
    import dramatiq

    from tests.support.pipeline import live_worker, serving, wait_for
    from worker.pipeline.receiver import ReceiverConfig, build_receiver

    secret = "roster-e2e-secret"
    live_worker(monkeypatch, sandbox, redis_url, tmp_path)
    client = admin_client(sandbox)
    (sq1, _sq2) = _squads(sandbox, client, ("cat", "dan"), ("eve",))
    _roster(client, redis_client, T0)
    app = build_receiver(ReceiverConfig(secret=secret, api_username="system"), redis_url)
    with serving(app) as base:
        sandbox.add_webhook(f"{base}/webhook", secret=secret, events=GROUP_USER_EVENTS)
        worker = dramatiq.Worker(dramatiq.get_broker(), queues={"membership"}, worker_timeout=50)
        worker.start()
        try:
            client.remove_group_members(sq1, ["dan"])  # an admin, by hand
            wait_for(
                lambda: _roster(client, redis_client, T0).by_slug("sq-1").members == ("cat",),
                what="dan gone from sq-1 in the roster state",
            )
        finally:
            worker.stop(timeout=5_000)
    assert [d.status for d in sandbox.deliveries("user_removed_from_group")] == [202]


def test_a_member_a_step_adds_to_a_squad_joins_at_the_steps_time(sandbox, redis_client):
    """The Applier a step gets dates the join at the step's ``now`` (a scheduled run's own
    time), not at whatever the clock says when the write lands."""
    from tests.support.steps import step_ctx

    client = admin_client(sandbox)
    _squads(sandbox, client, ("cat",))
    sandbox.forum.create_user(username="dan", email="dan@example.org", approved=True)
    _roster(client, redis_client, T0)
    set_simulated_now(redis_client, T0 + dt.timedelta(hours=5))  # the clock has moved on
    run_at = T0 + dt.timedelta(minutes=1)
    ctx = step_ctx(client, redis_client, shipped_rules(), now=run_at)
    ctx.apply([a.AddToGroup(key="t:add", reason="squad", group="sq-1", usernames=("dan",))])
    squads = roster_state.load(redis_client).squads
    assert squads is not None
    assert squads.by_slug("sq-1").members == ("cat", "dan")
    assert squads.by_slug("sq-1").joined["dan"] == run_at


def test_a_runs_first_reads_list_the_groups_once_for_the_squads_and_the_rules_groups(
    sandbox, redis_client
):
    """A scheduled run asks for the squads, then the staff and the community's groups (the
    reminders' and audit's staff, the report's stages): one listing serves them all, and a
    group the listing shows empty is not read."""
    from worker.reads.obligations import staff_usernames
    from worker.reads.recognition import current_stages

    client = admin_client(sandbox)
    _squads(sandbox, client, ("cat", "dan"))
    rules = shipped_rules()
    groups = rules.community.groups
    for name in (groups.camp, groups.members, groups.alumni, groups.leaders):
        client.create_group(name)
    camp = client.get_group(groups.camp)
    sandbox.forum.create_user(username="newt", email="newt@example.org", approved=True)
    client.add_group_members(int(camp.get("group", camp)["id"]), ["newt"])
    client.call_counts.clear()

    _roster(client, redis_client, T0)
    staff = staff_usernames(client, redis_client, rules)
    stages = current_stages(client, redis_client, rules)
    leaders = forum_view.cached_group_members(client, redis_client, groups.leaders)

    assert client.call_counts[LISTING] == 1
    assert stages["camp"] == {"newt"} and stages["members"] == frozenset()
    assert leaders == frozenset() and staff == {"admin"}
    # the squad, the staff groups (admins, staff) and the camp: the empty ones are not read
    assert client.call_counts[MEMBERS_READ] == 4
