"""The one door under faults and duplicate jobs: every write is claimed before it is made,
and a write whose outcome is unknown is looked for on the forum before it is repeated."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import redis

from worker import actions as a
from worker.apply import Applier
from worker.forum.client import NO_READ_RETRY, ForumClient
from worker.forum.errors import ForumRejected, ForumUnavailable
from worker.pipeline.idempotency import ActionBusy

pytestmark = pytest.mark.integration


def _client(sandbox: Any) -> ForumClient:
    return ForumClient(
        sandbox.url, sandbox.api_key, "system", timeout=(2, 10), read_retry=NO_READ_RETRY
    )


def _pms_to(sandbox: Any, username: str) -> list[str]:
    forum = sandbox.forum
    with forum.lock:
        uid = forum.find_user(username).id
        return [
            t.title
            for t in forum.topics.values()
            if t.archetype == "private_message" and uid in t.allowed_user_ids
        ]


def _welcome(n: int = 1) -> a.SendPrivateMessage:
    return a.SendPrivateMessage(
        key=f"welcome:{n}",
        reason="camp tasks",
        recipients=("ann",),
        title="欢迎来到新手营",
        raw="这是你在新手营的任务清单,请在七天之内完成。",
    )


def _reads(client: ForumClient) -> int:
    return sum(n for label, n in client.call_counts.items() if label.startswith("GET"))


class Slow:
    """The client, but every write takes a while (a concurrent run can overlap it)."""

    def __init__(self, client: ForumClient, seconds: float) -> None:
        self._client, self._seconds = client, seconds

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not name.startswith(("send_", "create_")):
            return attr

        def slow(*args: Any, **kwargs: Any) -> Any:
            time.sleep(self._seconds)
            return attr(*args, **kwargs)

        return slow


@pytest.fixture
def ann(sandbox: Any) -> str:
    sandbox.forum.create_user(username="ann", email="ann@example.org", approved=True)
    return "ann"


def test_two_runs_of_one_job_at_the_same_time_send_one_pm(
    sandbox: Any, redis_client: redis.Redis, ann: str
) -> None:
    client = Slow(_client(sandbox), 0.3)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def run() -> None:
        start.wait()
        try:
            report = Applier(client, redis_client, live=True).apply([_welcome()])
            outcomes.append("done" if report.done else "already")
        except ActionBusy:
            outcomes.append("busy")  # dramatiq retries it after the lease: then "already"

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(_pms_to(sandbox, ann)) == 1
    assert sorted(outcomes) in (["busy", "done"], ["already", "done"])
    again = Applier(client, redis_client, live=True).apply([_welcome()])
    assert again.already_done and len(_pms_to(sandbox, ann)) == 1


class Dies:
    """The client, but the run dies during its write (the claim is looked at then)."""

    def __init__(self, client: ForumClient, redis_client: redis.Redis) -> None:
        self._client, self._redis = client, redis_client
        self.claim_ttls: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def send_private_message(self, *args: Any, **kwargs: Any) -> Any:
        for claim in self._redis.scan_iter("*:claim"):
            self.claim_ttls.append(int(self._redis.ttl(claim)))
        raise SystemExit("the worker was killed")


def test_a_claim_is_held_no_longer_than_the_appliers_lease(
    sandbox: Any, redis_client: redis.Redis, ann: str
) -> None:
    dying = Dies(_client(sandbox), redis_client)
    with pytest.raises(SystemExit):
        Applier(dying, redis_client, live=True, claim_lease_seconds=5).apply([_welcome()])  # type: ignore[arg-type]
    assert dying.claim_ttls and all(0 < ttl <= 5 for ttl in dying.claim_ttls)


def test_a_pm_whose_answer_was_lost_is_found_on_the_forum_not_sent_again(
    sandbox: Any, redis_client: redis.Redis, ann: str
) -> None:
    client = _client(sandbox)
    sandbox.add_fault("POST /posts.json:lost=1")
    with pytest.raises(ForumUnavailable):
        Applier(client, redis_client, live=True).apply([_welcome()])
    assert len(_pms_to(sandbox, ann)) == 1  # the forum did send it
    sandbox.clear_faults()
    report = Applier(client, redis_client, live=True).apply([_welcome()])  # the job's retry
    assert [act.key for act in report.done] == ["welcome:1"]
    assert len(_pms_to(sandbox, ann)) == 1
    assert report.results["welcome:1"].get("existed") is True


def test_a_pm_that_never_reached_the_forum_is_sent_on_the_retry(
    sandbox: Any, redis_client: redis.Redis, ann: str
) -> None:
    client = _client(sandbox)
    sandbox.add_fault("POST /posts.json:502=1")
    with pytest.raises(ForumUnavailable):
        Applier(client, redis_client, live=True).apply([_welcome()])
    sandbox.clear_faults()
    Applier(client, redis_client, live=True).apply([_welcome()])
    assert len(_pms_to(sandbox, ann)) == 1


def test_the_forum_is_read_for_a_write_only_when_its_outcome_is_unknown(
    sandbox: Any, redis_client: redis.Redis, ann: str
) -> None:
    client = _client(sandbox)
    Applier(client, redis_client, live=True).apply([_welcome(1), _welcome(2)])
    assert _reads(client) == 0  # a clean run reads nothing to send a PM


def test_a_reply_whose_answer_was_lost_is_not_posted_twice(
    sandbox: Any, redis_client: redis.Redis
) -> None:
    client = _client(sandbox)
    topic = client.create_topic(
        "Squad seven: the thread of week forty-eight",
        "Post your article of the week here and review the two next to yours.",
        1,
    )
    reply = a.CreatePost(
        key="reminder:1",
        reason="reminder",
        topic_id=int(topic["topic_id"]),
        raw="A reminder: articles are due on Sunday evening.",
    )
    sandbox.add_fault("POST /posts.json:lost=1")
    with pytest.raises(ForumUnavailable):
        Applier(client, redis_client, live=True).apply([reply])
    sandbox.clear_faults()
    Applier(client, redis_client, live=True).apply([reply])
    posts = sandbox.forum.topics[int(topic["topic_id"])].post_ids
    assert len(posts) == 2  # the first post and one reply


def test_two_squad_formations_at_once_create_the_group_once(
    sandbox: Any, redis_client: redis.Redis
) -> None:
    client = _client(sandbox)
    made = client.create_group("squad-7")  # the other formation made it just before ours
    create = a.CreateGroup(key="group:squad-7", reason="squad", name="squad-7")
    report = Applier(client, redis_client, live=True).apply([create])
    assert report.results["group:squad-7"] == {
        "id": int(made.get("basic_group", made)["id"]),
        "existed": True,
    }
    with sandbox.forum.lock:
        assert [g.name for g in sandbox.forum.groups.values()].count("squad-7") == 1


def test_a_group_refused_for_another_reason_fails_not_done(
    sandbox: Any, redis_client: redis.Redis
) -> None:
    """Discourse refuses a group named like a user; no such group: the refusal stands."""
    sandbox.forum.create_user(username="squad-8", email="s8@example.org", approved=True)
    create = a.CreateGroup(key="group:squad-8", reason="squad", name="squad-8")
    applier = Applier(_client(sandbox), redis_client, live=True)
    with pytest.raises(ForumRejected):
        applier.apply([create])
    assert not applier.is_done("group:squad-8")


# --- chat: a message carries no marker; the channel's latest messages are read instead --

REMINDER_TEXT = (
    "@bob @cat 本周文章周日 20:00 截止,还没交的同学请抓紧。\n\n"
    "**本周点名**\n- ann ✅\n- bob ⏳\n- cat ⏳\n\n回复这里:/t/week-48/12\n"
)


@pytest.fixture
def channel(sandbox: Any) -> int:
    """A squad's channel; Diamond's API user made it, so it is a member."""
    forum = sandbox.forum
    for name in ("bob", "cat"):
        forum.create_user(username=name, email=f"{name}@example.org", approved=True, emit=False)
    client = _client(sandbox)
    made = client.create_category("Squad seven of November", slug="sq-7")
    category_id = int(made.get("category", made)["id"])
    return int(client.create_category_channel(category_id)["id"])


def _chat_reminder(channel_id: int, key: str = "remind-chat:sq-7:w48:fri") -> a.SendChatMessage:
    return a.SendChatMessage(
        key=key, reason="article reminder", channel_id=channel_id, message=REMINDER_TEXT
    )


def _channel_texts(sandbox: Any, channel_id: int) -> list[str]:
    with sandbox.forum.lock:
        return [
            m.message
            for m in sorted(sandbox.forum.chat_messages.values(), key=lambda m: m.id)
            if m.channel_id == channel_id and m.deleted_at is None
        ]


def test_a_chat_reminder_whose_answer_was_lost_is_not_sent_twice(
    sandbox: Any, redis_client: redis.Redis, channel: int
) -> None:
    client = _client(sandbox)
    sandbox.add_fault("POST /chat/*:lost=1")
    with pytest.raises(ForumUnavailable):
        Applier(client, redis_client, live=True).apply([_chat_reminder(channel)])
    assert len(_channel_texts(sandbox, channel)) == 1  # the forum did post it
    sandbox.clear_faults()
    before = _reads(client)
    report = Applier(client, redis_client, live=True).apply([_chat_reminder(channel)])  # retry
    assert [act.key for act in report.done] == ["remind-chat:sq-7:w48:fri"]
    assert _channel_texts(sandbox, channel) == [REMINDER_TEXT.strip()]
    assert report.results["remind-chat:sq-7:w48:fri"].get("existed") is True
    assert _reads(client) - before == 1  # one read of the channel's latest messages
    again = Applier(client, redis_client, live=True).apply([_chat_reminder(channel)])
    assert again.already_done and len(_channel_texts(sandbox, channel)) == 1


def test_a_chat_reminder_that_never_reached_the_forum_is_sent_on_the_retry(
    sandbox: Any, redis_client: redis.Redis, channel: int
) -> None:
    client = _client(sandbox)
    sandbox.add_fault("POST /chat/*:502=1")
    with pytest.raises(ForumUnavailable):
        Applier(client, redis_client, live=True).apply([_chat_reminder(channel)])
    assert _channel_texts(sandbox, channel) == []
    sandbox.clear_faults()
    Applier(client, redis_client, live=True).apply([_chat_reminder(channel)])
    assert _channel_texts(sandbox, channel) == [REMINDER_TEXT.strip()]


def test_the_same_words_from_a_member_do_not_count_as_diamonds_message(
    sandbox: Any, redis_client: redis.Redis, channel: int
) -> None:
    """Only a message by Diamond's API user is taken for the lost one (bob quoting the
    reminder word for word, after the failed attempt, is not it)."""
    client = _client(sandbox)
    sandbox.add_fault("POST /chat/*:502=1")
    with pytest.raises(ForumUnavailable):
        Applier(client, redis_client, live=True).apply([_chat_reminder(channel)])
    sandbox.clear_faults()
    forum = sandbox.forum
    with forum.lock:
        bob = forum.find_user("bob")
        forum.create_chat_message(
            channel=forum.chat_channels[channel], user=bob, message=REMINDER_TEXT
        )
    Applier(client, redis_client, live=True).apply([_chat_reminder(channel)])
    with forum.lock:
        system = forum.find_user("system")
        own = [
            m
            for m in forum.chat_messages.values()
            if m.channel_id == channel and m.user_id == system.id
        ]
    assert len(own) == 1


def test_a_clean_chat_write_reads_nothing(
    sandbox: Any, redis_client: redis.Redis, channel: int
) -> None:
    client = _client(sandbox)
    before = _reads(client)
    Applier(client, redis_client, live=True).apply(
        [_chat_reminder(channel, "remind-chat:1"), _chat_reminder(channel, "remind-chat:2")]
    )
    assert _reads(client) == before


def test_an_earlier_reminder_with_the_same_words_is_not_taken_for_the_lost_one(
    sandbox: Any, redis_client: redis.Redis, channel: int
) -> None:
    """Friday's and Sunday's reminders can read the same (nobody posted in between): when
    Sunday's attempt failed before reaching the forum, Friday's message is not it."""
    client = _client(sandbox)
    Applier(client, redis_client, live=True).apply([_chat_reminder(channel, "remind-chat:fri")])
    sandbox.add_fault("POST /chat/*:502=1")
    with pytest.raises(ForumUnavailable):
        Applier(client, redis_client, live=True).apply([_chat_reminder(channel, "remind-chat:sun")])
    sandbox.clear_faults()
    report = Applier(client, redis_client, live=True).apply(
        [_chat_reminder(channel, "remind-chat:sun")]
    )
    assert report.results["remind-chat:sun"].get("existed") is None
    assert len(_channel_texts(sandbox, channel)) == 2


def test_a_lost_chat_reminder_is_found_though_discourse_cleaned_its_spaces(
    sandbox: Any, redis_client: redis.Redis, channel: int
) -> None:
    """Discourse keeps a chat message as TextCleaner leaves it (U+3000 → " ", ends
    stripped): the lookup compares the texts in that form, not byte for byte."""
    client = _client(sandbox)
    spaced = a.SendChatMessage(
        key="remind-chat:spaced",
        reason="article reminder",
        channel_id=channel,
        message="\u3000@bob\u3000本周文章周日截止。\n",
    )
    sandbox.add_fault("POST /chat/*:lost=1")
    with pytest.raises(ForumUnavailable):
        Applier(client, redis_client, live=True).apply([spaced])
    sandbox.clear_faults()
    report = Applier(client, redis_client, live=True).apply([spaced])
    assert report.results["remind-chat:spaced"].get("existed") is True
    assert _channel_texts(sandbox, channel) == ["@bob 本周文章周日截止。"]
