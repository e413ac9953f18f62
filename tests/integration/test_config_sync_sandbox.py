"""plan/apply against the sandbox forum over HTTP, through the real ForumClient."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.config_sync import (
    RECEIVER,
    ROOT,
    SECRET,
    no_sleep,
    sandbox_client,
    shipped_desired,
)
from worker.config_sync.actual import read_actual
from worker.config_sync.apply import sync
from worker.config_sync.desired import Desired
from worker.config_sync.diff import diff
from worker.config_sync.plan import Kind
from worker.forum.client import ForumClient
from worker.sandbox import RunningSandbox, start_sandbox

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def shipped() -> Desired:
    return shipped_desired()


@pytest.fixture
def forum() -> Iterator[RunningSandbox]:
    with start_sandbox(port=0) as sandbox:
        yield sandbox


def _writes(client: ForumClient) -> int:
    return sum(n for label, n in client.call_counts.items() if not label.startswith("GET "))


def test_fresh_forum_apply_then_plan_shows_no_change(
    forum: RunningSandbox, shipped: Desired
) -> None:
    client = sandbox_client(forum)
    report = sync(client, shipped, sleep=no_sleep)
    assert report.converged, report.final_plan
    assert report.final_plan.conflicts == ()
    assert _writes(client) == len(report.done)

    plan = diff(shipped, read_actual(client, shipped))
    assert plan.changes == () and plan.conflicts == ()
    before = _writes(client)
    again = sync(client, shipped, sleep=no_sleep)
    assert again.done == [] and _writes(client) == before  # zero writes

    # the forum really has the shape: a private audit log, moderated check-ins, the hook
    with forum.forum.lock:
        categories = {c.slug: c for c in forum.forum.categories.values()}
        groups = {g.name: g for g in forum.forum.groups.values()}
        hooks = list(forum.forum.webhooks.values())
        settings = dict(forum.forum.settings)
    assert settings["must_approve_users"] is True
    assert set(categories["audit-log"].permissions) == {groups["staff"].id, groups["reviewers"].id}
    assert categories["checkins"].moderating_group_ids == [groups["leaders"].id]
    assert groups["alumni"].visibility_level == 3
    hook, chat = sorted(hooks, key=lambda h: h.payload_url)
    assert hook.payload_url == RECEIVER and hook.secret == SECRET
    assert not hook.category_ids, "a category filter would drop the user events"
    # The chat webhook: chat events only (plugins/chat/plugin.rb), Diamond's categories only.
    assert chat.payload_url == RECEIVER + "?hook=chat" and chat.secret == SECRET
    assert sorted(chat.event_type_ids) == [1801, 1802, 1803, 1804]
    assert set(chat.category_ids) == {
        c.id for slug, c in categories.items() if slug in {s.slug for s in shipped.categories.items}
    }


def test_hand_edit_of_a_group_shows_exactly_that_drift(
    forum: RunningSandbox, shipped: Desired
) -> None:
    client = sandbox_client(forum)
    assert sync(client, shipped, sleep=no_sleep).converged
    members = client.get_group("members")
    client.update_group(members["id"], full_name="Everyone!", messageable_level=99)

    plan = diff(shipped, read_actual(client, shipped))
    assert [(c.kind, c.resource, c.key, dict(c.fields)) for c in plan.changes] == [
        (
            Kind.UPDATE,
            "group",
            "members",
            {"full_name": ("Everyone!", "正式成员 Members"), "messageable_level": (99, 2)},
        )
    ]
    assert sync(client, shipped, sleep=no_sleep).converged
    assert diff(shipped, read_actual(client, shipped)).changes == ()


def test_a_badge_flag_turned_on_by_hand_is_turned_off_again(
    forum: RunningSandbox, shipped: Desired
) -> None:
    # Discourse skips a JSON false on badge update: the flag must go as "false" or the
    # plan would show the same change after every apply.
    client = sandbox_client(forum)
    assert sync(client, shipped, sleep=no_sleep).converged
    with forum.forum.lock:
        badge = next(b for b in forum.forum.badges.values() if not b.allow_title)
        badge.allow_title = True
    assert [c.resource for c in diff(shipped, read_actual(client, shipped)).changes] == ["badge"]
    assert sync(client, shipped, sleep=no_sleep).converged
    assert diff(shipped, read_actual(client, shipped)).changes == ()
    assert badge.allow_title is False


def test_faulty_forum_converges_by_repeated_apply(forum: RunningSandbox, shipped: Desired) -> None:
    forum.add_fault("POST *:500=0.25,429=0.15,wait=1")
    forum.add_fault("PUT *:500=0.25,429=0.15,wait=1")
    client = sandbox_client(forum)
    failures = 0
    for _ in range(10):  # each run is one `diamond apply --yes`
        report = sync(client, shipped, sleep=no_sleep, max_rounds=3)
        failures += len(report.failures)
        if report.converged:
            break
    assert report.converged and failures > 0  # faults happened and were outlived
    forum.clear_faults()
    state = read_actual(client, shipped)
    assert diff(shipped, state).changes == ()
    # nothing was created twice despite the retries
    names = [g.natural_key for g in state.groups]
    assert len(names) == len(set(names))
    assert len(state.webhooks) == 2  # the receiver's and the chat one
    assert len([b for b in state.badges if b.owner_key]) == len(shipped.badges.items)


def test_cli_apply_then_plan_against_the_sandbox(
    forum: RunningSandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from worker.cli import main

    monkeypatch.setenv("DIAMOND_FORUM_URL", forum.url)
    monkeypatch.setenv("DIAMOND_API_KEY", forum.api_key)
    monkeypatch.setenv("DIAMOND_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("DIAMOND_RECEIVER_URL", RECEIVER)
    monkeypatch.setenv("DIAMOND_REDIS_URL", "")
    monkeypatch.chdir(ROOT)
    assert main(["plan"]) == 2
    assert main(["apply", "--yes"]) == 0
    assert main(["plan"]) == 0
    out = capsys.readouterr().out
    assert "No changes" in out and SECRET not in out
