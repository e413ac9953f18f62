"""CreateChatChannel through the one door: a squad's category gets one channel whose members
are exactly the squad, once per key, found again after a lost record, never in shadow mode.

The squad formation code does not emit the action yet (it is being moved; the hook is added
after the rebuild), so these tests apply the squad's actions directly."""

from __future__ import annotations

import pytest

from tests.support.world import RULES
from worker import actions as a
from worker.apply import DONE_PREFIX, Applier
from worker.forum.client import ForumClient
from worker.forum.errors import NotFound

pytestmark = pytest.mark.integration

SQUAD = ("ann", "bob", "cyd")


@pytest.fixture
def client(sandbox) -> ForumClient:
    forum = sandbox.forum
    for name in (*SQUAD, "out"):
        forum.create_user(username=name, email=f"{name}@example.org", approved=True, emit=False)
    return ForumClient(sandbox.url, sandbox.api_key, "system", timeout=(2, 10))


def _squad_plan() -> list[a.Action]:
    return [
        a.CreateGroup(key="group:sq-1", reason="squad 1 formed", name="sq-1"),
        a.CreateCategory(
            key="category:sq-1",
            reason="squad 1 formed",
            name="Squad 1",
            slug="sq-1",
            permissions=(("sq-1", 1),),
        ),
        a.AddToGroup(key="members:sq-1", reason="squad 1 formed", group="sq-1", usernames=SQUAD),
        a.CreateChatChannel(key="chat:sq-1", reason="squad 1 formed", category_slug="sq-1"),
    ]


def _channels(sandbox) -> list:
    return list(sandbox.forum.chat_channels.values())


def _members(sandbox, channel) -> set[str]:
    forum = sandbox.forum
    return {forum.users[uid].username for uid in channel.memberships if uid > 0}


def test_a_formed_squad_gets_one_channel_with_exactly_its_members(
    sandbox, client, redis_client
) -> None:
    report = Applier(client, redis_client, live=True).apply(_squad_plan())
    result = report.results["chat:sq-1"]
    assert result["existed"] is False
    (channel,) = _channels(sandbox)
    assert channel.id == result["id"]
    assert channel.auto_join_users is True
    assert _members(sandbox, channel) == set(SQUAD)

    again = Applier(client, redis_client, live=True).apply(_squad_plan())
    assert [x.key for x in again.already_done] == [x.key for x in _squad_plan()]
    assert len(_channels(sandbox)) == 1


def test_a_lost_record_finds_the_channel_instead_of_making_a_second(
    sandbox, client, redis_client
) -> None:
    Applier(client, redis_client, live=True).apply(_squad_plan())
    redis_client.delete(DONE_PREFIX + "chat:sq-1")  # crashed between create and record
    report = Applier(client, redis_client, live=True).apply(_squad_plan())
    assert report.results["chat:sq-1"]["existed"] is True
    assert len(_channels(sandbox)) == 1


def test_shadow_mode_creates_no_channel(sandbox, client, redis_client) -> None:
    report = Applier(client, redis_client, live=False, rules=RULES).apply(_squad_plan())
    assert "chat:sq-1" in [x.key for x in report.shadowed]
    assert _channels(sandbox) == []


def test_a_channel_for_a_category_that_does_not_exist_is_not_recorded_done(
    client, redis_client
) -> None:
    action = a.CreateChatChannel(key="chat:none", reason="x", category_slug="no-such-category")
    applier = Applier(client, redis_client, live=True)
    with pytest.raises(NotFound):
        applier.apply([action])
    assert not applier.is_done("chat:none")
