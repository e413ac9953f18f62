"""Each fact is read from the forum once: what is cached, what the events already say,
and when a cached fact is dropped (Diamond's own changes, a 404 for a stale id)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.support.obligations import shipped_rules
from tests.support.sandbox_squad import admin_client, squad_on_forum
from tests.support.steps import step_ctx
from worker import actions as a
from worker.apply import GROUP_IDS_KEY, Applier
from worker.engine.camp import Camper
from worker.engine.facts import Roster
from worker.engine.obligations import thread_title
from worker.engine.weeks import week_of
from worker.forum.client import ForumClient
from worker.pipeline.routes import BadEvent, routes_for
from worker.reads import forum_view as roster_cache
from worker.reads.obligations import staff_usernames
from worker.state.ledger import Ledger
from worker.state.membership import MembershipStore
from worker.state.recognition import RecognitionStore
from worker.steps import gate, record_like, weekly_threads
from worker.steps.gate import member_fact

pytestmark = pytest.mark.integration

MEMBERS_READ = "GET /groups/{name}/members.json"
GROUP_READ = "GET /groups/{name}.json"
CATEGORY_LISTING = "GET /c/{slug}/{id}.json"


class NoForum:
    """A client for code that must not touch the forum: any call fails the test."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the forum was called: {name}")


def _users(sandbox: Any, *names: str) -> None:
    for name in names:
        sandbox.forum.create_user(username=name, email=f"{name}@example.org", approved=True)


def _group_id(answer: dict) -> int:
    return int(answer.get("basic_group", answer)["id"])


# --- group member lists ----------------------------------------------------------------


def test_group_members_are_read_once_and_follow_diamonds_own_changes(sandbox, redis_client):
    _users(sandbox, "cat", "dan")
    client = admin_client(sandbox)
    client.add_group_members(_group_id(client.create_group("mentors")), ["cat"])

    assert roster_cache.cached_group_members(client, redis_client, "mentors") == {"cat"}
    assert roster_cache.cached_group_members(client, redis_client, "mentors") == {"cat"}
    assert client.call_counts[MEMBERS_READ] == 1

    Applier(client, redis_client, live=True).apply(
        [a.AddToGroup(key="t:add-dan", reason="test", group="mentors", usernames=("dan",))]
    )
    assert roster_cache.cached_group_members(client, redis_client, "mentors") == {"cat", "dan"}
    assert client.call_counts[MEMBERS_READ] == 1  # the state followed the Applier: no re-read


def test_a_group_that_does_not_exist_has_no_members(sandbox, redis_client):
    client = admin_client(sandbox)
    assert roster_cache.cached_group_members(client, redis_client, "nobody-here") == frozenset()


def test_a_group_list_read_overtaken_by_a_diamond_change_is_never_served(redis_client):
    class SlowForum:
        reads = 0

        def list_groups(self):
            return [{"id": 5, "name": "camp", "user_count": 1}]

        def iter_group_members(self, group: str):
            SlowForum.reads += 1
            roster_cache.forget_roster(redis_client)  # Diamond changes a group meanwhile
            return iter([{"username": "stale"}])

    forum = SlowForum()
    assert roster_cache.cached_group_members(forum, redis_client, "camp") == {"stale"}
    roster_cache.cached_group_members(forum, redis_client, "camp")
    assert SlowForum.reads == 2  # the list read before the change was not used again


def test_staff_are_read_once_for_every_week_a_badge_run_looks_at(sandbox, redis_client):
    rules = shipped_rules()
    client = admin_client(sandbox)
    first = staff_usernames(client, redis_client, rules)
    reads = client.call_counts[MEMBERS_READ]
    for _week in range(8):
        assert staff_usernames(client, redis_client, rules) == first
    assert client.call_counts[MEMBERS_READ] == reads


# --- group ids ---------------------------------------------------------------------------


def test_a_group_id_is_looked_up_once_for_every_later_job(sandbox, redis_client):
    _users(sandbox, "eve", "fay")
    client = admin_client(sandbox)
    client.create_group("readers")
    for n, name in enumerate(("eve", "fay")):
        Applier(client, redis_client, live=True).apply(
            [a.AddToGroup(key=f"t:{n}", reason="test", group="readers", usernames=(name,))]
        )
    assert client.call_counts[GROUP_READ] == 1
    members = {m["username"] for m in client.iter_group_members("readers")}
    assert members == {"eve", "fay"}


def test_a_group_made_again_under_the_same_name_is_found_by_its_new_id(sandbox, redis_client):
    _users(sandbox, "gil", "hal")
    client = admin_client(sandbox)
    old = _group_id(client.create_group("writers"))
    Applier(client, redis_client, live=True).apply(
        [a.AddToGroup(key="t:gil", reason="test", group="writers", usernames=("gil",))]
    )
    client.delete_group(old)
    new = _group_id(client.create_group("writers"))
    assert new != old and int(redis_client.hget(GROUP_IDS_KEY, "writers")) == old

    Applier(client, redis_client, live=True).apply(
        [a.AddToGroup(key="t:hal", reason="test", group="writers", usernames=("hal",))]
    )
    assert {m["username"] for m in client.iter_group_members("writers")} == {"hal"}
    assert int(redis_client.hget(GROUP_IDS_KEY, "writers")) == new


# --- likes -------------------------------------------------------------------------------


def _like_route():
    from worker.pipeline.jobs import load_actors

    load_actors()
    (route,) = [r for r in routes_for("post_liked") if not r.actor.startswith("probe.")]
    return route


def test_a_like_event_names_the_liker_so_no_user_is_read(redis_client):
    like = {"post": {"id": 31}, "user": {"id": 7, "username": "ivy"}}
    kwargs = _like_route().extract(like)
    assert kwargs == {"post_id": 31, "user_id": 7, "username": "ivy"}

    at = dt.datetime(2026, 11, 16, 9, tzinfo=dt.UTC)
    ctx = step_ctx(NoForum(), redis_client, shipped_rules(), now=at)
    assert record_like.run(ctx, **kwargs) is True
    assert [
        (f.post_id, f.user)
        for f in RecognitionStore(redis_client).likes_between(
            at - dt.timedelta(hours=1), at + dt.timedelta(hours=1)
        )
    ] == [(31, "ivy")]


@pytest.mark.parametrize("user", [{"id": 7}, {"id": 7, "username": ""}, {"id": 7, "username": 5}])
def test_a_like_event_without_the_likers_name_is_rejected(user):
    with pytest.raises(BadEvent, match=r"user\.username"):
        _like_route().extract({"post": {"id": 31}, "user": user})


# --- applicants and referrers --------------------------------------------------------------


def test_the_approval_event_of_someone_already_in_the_camp_reads_nothing(redis_client):
    MembershipStore(redis_client).start_camp(
        Camper(42, "jay", dt.datetime(2026, 11, 2, tzinfo=dt.UTC)), city=None, volunteer=False
    )
    result = gate.run(
        step_ctx(NoForum(), redis_client, shipped_rules(), now=dt.datetime.now(dt.UTC), live=True),
        42,
    )
    assert result.username == "jay" and result.decision is None


def test_a_referrer_is_known_from_one_read_of_their_profile(sandbox, redis_client):
    rules = shipped_rules()
    _users(sandbox, "kim")
    client = admin_client(sandbox)
    client.add_group_members(
        _group_id(client.create_group(rules.community.groups.members)), ["kim"]
    )

    reader = admin_client(sandbox)
    fact = member_fact(reader, "kim", rules)

    assert fact is not None and fact.username == "kim"
    assert rules.community.groups.members in fact.groups and not fact.staff
    assert dict(reader.call_counts) == {"GET /u/{username}.json": 1}
    assert member_fact(client, "nobody", rules) is None


# --- weekly threads ------------------------------------------------------------------------


def test_weekly_threads_are_opened_without_listing_the_squad_categories(sandbox, redis_client):
    rules, client, roster = _squad(sandbox)
    week = week_of(dt.datetime.now(dt.UTC), rules.tz)
    threads = weekly_threads.run(step_ctx(client, redis_client, rules), week, roster=roster)
    assert set(threads) == {"sq-5"}
    assert client.call_counts[CATEGORY_LISTING] == 0


def test_a_thread_opened_by_a_run_that_stopped_before_recording_it_is_found_not_reopened(
    sandbox, redis_client
):
    rules, client, roster = _squad(sandbox)
    week = week_of(dt.datetime.now(dt.UTC), rules.tz)
    first = weekly_threads.run(step_ctx(client, redis_client, rules), week, roster=roster)["sq-5"]
    redis_client.delete(*redis_client.keys(b"diamond:ledger:*"))  # the record was lost

    again = weekly_threads.run(step_ctx(client, redis_client, rules), week, roster=roster)

    assert again == {"sq-5": first}
    assert Ledger(redis_client).threads(week) == {"sq-5": first}
    title = thread_title(rules, week, roster.squads[0])
    listing = client.iter_category_topics(roster.squads[0].category_id)
    assert [t["id"] for t in listing if t["title"] == title] == [first]  # no second thread


def _squad(sandbox: Any) -> tuple[Any, ForumClient, Roster]:
    client = admin_client(sandbox)
    squad = squad_on_forum(sandbox, client, "sq-5", ("lea", "max"), "2026年11月期 第5写作小组")
    return shipped_rules(), client, Roster((squad,))


# --- the roster ages with the story's clock ----------------------------------------------

ROSTER_READ_AT = dt.datetime(2026, 3, 16, 9, 0, tzinfo=dt.UTC)


def test_a_run_two_simulated_hours_after_the_last_roster_read_reads_the_forum_again(
    sandbox, redis_client
):
    from worker.clock import set_simulated_now

    client = admin_client(sandbox)
    squad_on_forum(sandbox, client, "sq-1", ("cat", "dan"), "第一小组的名字很长很长")
    rules = shipped_rules()
    set_simulated_now(redis_client, ROSTER_READ_AT)
    roster_cache.cached_roster(client, redis_client, rules)
    reads = client.call_counts[MEMBERS_READ]

    set_simulated_now(redis_client, ROSTER_READ_AT + dt.timedelta(seconds=30))
    roster_cache.cached_roster(client, redis_client, rules)
    assert client.call_counts[MEMBERS_READ] == reads  # the same run: one read

    # The next scheduled run, two hours later on the clock the story runs on, though only
    # milliseconds of real time passed: a live forum would read again, so must the bench.
    set_simulated_now(redis_client, ROSTER_READ_AT + dt.timedelta(hours=2))
    roster_cache.cached_roster(client, redis_client, rules)
    assert client.call_counts["GET /groups.json"] >= 2


def test_group_members_two_simulated_hours_later_are_reconciled_by_one_listing(
    sandbox, redis_client
):
    from worker.clock import set_simulated_now

    _users(sandbox, "cat")
    client = admin_client(sandbox)
    client.add_group_members(_group_id(client.create_group("mentors")), ["cat"])
    set_simulated_now(redis_client, ROSTER_READ_AT)
    roster_cache.cached_group_members(client, redis_client, "mentors")
    calls = sum(client.call_counts.values())

    set_simulated_now(redis_client, ROSTER_READ_AT + dt.timedelta(hours=2))
    assert roster_cache.cached_group_members(client, redis_client, "mentors") == {"cat"}
    assert sum(client.call_counts.values()) > calls  # the next run looks at the forum...
    assert client.call_counts[MEMBERS_READ] == 1  # ...in the listing: the same count
