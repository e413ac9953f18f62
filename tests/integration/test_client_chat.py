"""ForumClient's chat calls against a running sandbox: category channels, their members,
history since an id (the catch-up read), and messages sent to a channel."""

from __future__ import annotations

from datetime import timedelta

import pytest

from worker.forum.client import ForumClient
from worker.forum.errors import ForumRejected, NotFound

pytestmark = pytest.mark.integration


@pytest.fixture
def client(sandbox) -> ForumClient:
    return ForumClient(sandbox.url, sandbox.api_key, "system", timeout=(2, 10))


@pytest.fixture
def squad_category(sandbox) -> int:
    forum = sandbox.forum
    people = [
        forum.create_user(username=name, email=f"{name}@example.org", approved=True, emit=False)
        for name in ("ann", "bob", "cyd")
    ]
    group = forum.create_group(name="squad_1")
    forum.add_members(group, people[:2])
    category = forum.create_category(name="Squad 1", permissions={"squad_1": 1})
    return category.id


def test_a_category_channel_is_created_once_and_holds_the_squad(client, squad_category) -> None:
    channel = client.create_category_channel(squad_category, reason="squad 1 formed")
    assert channel["chatable_id"] == squad_category
    assert [c["id"] for c in client.iter_chat_channels()] == [channel["id"]]
    members = {m["user"]["username"] for m in client.iter_channel_memberships(channel["id"])}
    assert members == {"ann", "bob"}  # Diamond's system user is a member too, never listed
    with pytest.raises(ForumRejected) as refused:
        client.create_category_channel(squad_category)
    assert refused.value.status == 400


def test_memberships_are_read_page_by_page(client, sandbox, squad_category) -> None:
    forum = sandbox.forum
    group = forum.find_group("squad_1")
    extra = [
        forum.create_user(username=f"m{n:02d}", email=f"m{n}@example.org", emit=False)
        for n in range(60)
    ]
    forum.add_members(group, extra)
    channel = client.create_category_channel(squad_category)
    names = [m["user"]["username"] for m in client.iter_channel_memberships(channel["id"])]
    assert len(names) == len(set(names)) == 62


def test_history_since_an_id_pages_forward_and_survives_a_purged_target(
    client, sandbox, squad_category
) -> None:
    channel = client.create_category_channel(squad_category)
    ann = client.as_user("ann")
    ids = [
        int(ann.send_chat_message(channel["id"], f"check-in {n}")["message_id"]) for n in range(7)
    ]
    since = list(client.iter_channel_messages_since(channel["id"], ids[1], page_size=2))
    assert [m["id"] for m in since] == ids[2:]
    assert [m["id"] for m in client.iter_channel_messages_since(channel["id"])] == ids

    forum = sandbox.forum
    forum.chat_messages[ids[0]].created_at -= timedelta(days=200)
    forum.chat_messages[ids[1]].created_at -= timedelta(days=200)
    assert forum.purge_old_chat_messages() == 2
    after_purge = list(client.iter_channel_messages_since(channel["id"], ids[1], page_size=2))
    assert [m["id"] for m in after_purge] == ids[2:]


def test_diamond_sends_to_a_channel_it_created_and_outsiders_cannot(
    client, sandbox, squad_category
) -> None:
    channel = client.create_category_channel(squad_category)
    sent = client.send_chat_message(channel["id"], "本周提醒：周日 21:00 截止", reason="reminder")
    assert sent["success"] == "OK"
    last = list(client.iter_channel_messages_since(channel["id"]))[-1]
    assert last["message"] == "本周提醒：周日 21:00 截止"
    with pytest.raises(ForumRejected):  # cyd sees nothing of the squad's category
        client.as_user("cyd").send_chat_message(channel["id"], "hi")
    with pytest.raises(NotFound):
        client.send_chat_message(99999, "nobody there")
