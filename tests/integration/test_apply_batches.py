"""The Applier sends a run's membership changes of one group as one call, not one a person."""

from __future__ import annotations

import pytest

from worker import actions as a
from worker.apply import Applier
from worker.forum.client import ForumClient


def _people(sandbox, names):
    for name in names:
        sandbox.forum.create_user(username=name, email=f"{name}@example.org", approved=True)


def _member_writes(sandbox) -> list[tuple[str, str]]:
    return [
        (method, path)
        for method, path, _status in sandbox.app.request_log
        if path.endswith("/members.json") and method in ("PUT", "DELETE")
    ]


def _camp_run(names):
    """What a camp check decides for several campers: promote, leave the camp, a PM each."""
    out: list[a.Action] = []
    for name in names:
        out += [
            a.AddToGroup(key=f"promote:{name}", reason="passed", group="club", usernames=(name,)),
            a.RemoveFromGroup(
                key=f"leave:{name}", reason="passed", group="camp9", usernames=(name,)
            ),
            a.SendPrivateMessage(
                key=f"passed:{name}", reason="passed", recipients=(name,), title="通过", raw="欢迎"
            ),
        ]
    return out


@pytest.mark.integration
def test_membership_changes_of_one_run_go_out_as_one_call_per_group(sandbox, redis_client):
    names = [f"camper{i}" for i in range(6)]
    _people(sandbox, names)
    client = ForumClient(sandbox.url, sandbox.api_key, "system")
    client.create_group("club")
    camp = client.create_group("camp9")
    client.add_group_members(int(camp["id"]), names)
    sandbox.app.request_log.clear()

    report = Applier(client, redis_client, live=True).apply(_camp_run(names))

    assert len(report.done) == 3 * len(names)  # each action keeps its own record
    assert sorted(_member_writes(sandbox)) == sorted(
        [("PUT", f"/groups/{_id(client, 'club')}/members.json"),
         ("DELETE", f"/groups/{int(camp['id'])}/members.json")]
    )  # fmt: skip
    assert {m["username"] for m in client.iter_group_members("club")} == set(names)
    assert not list(client.iter_group_members("camp9"))
    again = Applier(client, redis_client, live=True).apply(_camp_run(names))
    assert not again.done and len(again.already_done) == 3 * len(names)


@pytest.mark.integration
def test_a_batch_skips_the_people_already_done_and_sends_the_rest(sandbox, redis_client):
    names = ["ann", "bob", "cid"]
    _people(sandbox, names)
    client = ForumClient(sandbox.url, sandbox.api_key, "system")
    client.create_group("club")
    applier = Applier(client, redis_client, live=True)
    applier.apply([a.AddToGroup(key="promote:ann", reason="r", group="club", usernames=("ann",))])
    sandbox.app.request_log.clear()

    acts = [
        a.AddToGroup(key=f"promote:{n}", reason="r", group="club", usernames=(n,)) for n in names
    ]
    report = Applier(client, redis_client, live=True).apply(acts)

    assert [x.key for x in report.already_done] == ["promote:ann"]
    assert [x.key for x in report.done] == ["promote:bob", "promote:cid"]
    puts = [e for e in sandbox.app.request_log if e[0] == "PUT"]
    assert len(puts) == 1


@pytest.mark.integration
def test_a_change_to_the_same_group_in_between_keeps_the_order(sandbox, redis_client):
    # Add, remove, add again of one person: merging the second add into the first would
    # leave them out of the group.
    _people(sandbox, ["ann"])
    client = ForumClient(sandbox.url, sandbox.api_key, "system")
    client.create_group("club")
    acts = [
        a.AddToGroup(key="k1", reason="r", group="club", usernames=("ann",)),
        a.RemoveFromGroup(key="k2", reason="r", group="club", usernames=("ann",)),
        a.AddToGroup(key="k3", reason="r", group="club", usernames=("ann",)),
    ]
    Applier(client, redis_client, live=True).apply(acts)
    assert {m["username"] for m in client.iter_group_members("club")} == {"ann"}


@pytest.mark.integration
def test_shadow_mode_batches_nothing_and_changes_no_group(sandbox, redis_client):
    from tests.support.world import ROOT
    from worker.rules import load_rules

    names = ["ann", "bob"]
    _people(sandbox, names)
    client = ForumClient(sandbox.url, sandbox.api_key, "system")
    client.create_group("club")
    sandbox.app.request_log.clear()
    acts = [a.AddToGroup(key=f"p:{n}", reason="r", group="club", usernames=(n,)) for n in names]
    report = Applier(client, redis_client, live=False, rules=load_rules(ROOT / "rules")).apply(acts)
    assert report.shadowed == acts and not report.done
    assert not _member_writes(sandbox)


def _id(client, name: str) -> int:
    answer = client.get_group(name)
    return int(answer.get("group", answer)["id"])


@pytest.mark.integration
def test_a_camp_check_moves_its_campers_with_one_call_per_group(sandbox, redis_client):
    from datetime import UTC, datetime, timedelta

    from tests.support.steps import step_ctx
    from tests.support.world import RULES
    from worker.engine.camp import Camper
    from worker.state.membership import MembershipStore
    from worker.steps import camp_check

    groups = RULES.community.groups
    names = [f"camper{i}" for i in range(4)]
    _people(sandbox, names)
    client = ForumClient(sandbox.url, sandbox.api_key, "system")
    for name in (groups.members, groups.camp, groups.alumni):
        if client_group(client, name) is None:
            client.create_group(name)
    client.add_group_members(_id(client, groups.camp), names)
    audit = client.create_category("Audit log", slug=RULES.community.categories.audit_log)
    now = datetime(2026, 3, 30, 1, tzinfo=UTC)
    store = MembershipStore(redis_client)
    for name in names:
        user = sandbox.forum.find_user(name)
        camp = RULES.camp
        started = now - timedelta(days=camp.duration_days + camp.extension.days + 1)
        store.start_camp(Camper(user.id, name, started, extensions=1), city=None, volunteer=False)
    sandbox.app.request_log.clear()

    checks = camp_check.run(step_ctx(client, redis_client, RULES, now=now, live=True))

    assert len(checks) == len(names)  # none did a task: every one leaves after the extension
    writes = _member_writes(sandbox)
    assert sorted(m for m, _p in writes) == ["DELETE", "PUT"]
    assert {m["username"] for m in client.iter_group_members(groups.alumni)} == set(names)
    logged = [
        t for t in sandbox.forum.topics.values() if t.category_id == int(audit["id"])
    ]  # the category's "About" topic and one entry for the whole run
    assert len(logged) == 2 and all(
        f"@{n}" in logged[-1].title + _first_raw(sandbox, logged[-1]) for n in names
    )


def client_group(client, name):
    from worker.forum.errors import NotFound

    try:
        return client.get_group(name)
    except NotFound:
        return None


@pytest.mark.integration
def test_the_same_key_twice_in_one_batch_is_done_once(sandbox, redis_client):
    # A leader who is also the class leader: two "leaders:{name}" adds in one formation.
    _people(sandbox, ["ann"])
    client = ForumClient(sandbox.url, sandbox.api_key, "system")
    client.create_group("club")
    twice = a.AddToGroup(key="leaders:ann", reason="r", group="club", usernames=("ann",))
    report = Applier(client, redis_client, live=True).apply([twice, twice])
    assert report.done == [twice] and report.already_done == [twice]


def _first_raw(sandbox, topic) -> str:
    return next(p.raw for p in sandbox.forum.posts.values() if p.topic_id == topic.id)
