"""The one door: actions run once per key, shadow mode acts on no one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from worker import actions as a
from worker.apply import Applier
from worker.forum.errors import ForumUnavailable
from worker.state import keys


class RecordingClient:
    """Stands in for ForumClient: records writes, can fail on a chosen call."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[tuple[str, tuple]] = []
        self.fail_on = fail_on

    def _record(self, name: str, *args: object) -> dict:
        if self.fail_on == name:
            self.fail_on = None
            raise ForumUnavailable("boom", status=502)
        self.calls.append((name, args))
        return {"ok": name}

    def approve_user(self, user_id, reason=""):
        return self._record("approve_user", user_id)

    def send_private_message(self, recipients, title, raw, reason=""):
        return self._record("send_private_message", tuple(recipients), title)

    def list_private_messages(self, username):  # read when a PM's outcome is unknown
        self.calls.append(("list_private_messages", (username,)))
        return []

    def get_group(self, name):
        return {"group": {"id": {"camp": 41}[name], "name": name}}

    def add_group_members(self, group_id, usernames, group_name=None, reason=""):
        return self._record("add_group_members", group_id, tuple(usernames))

    def silence_user(self, user_id, until, reason, message=None):
        return self._record("silence_user", user_id, until)

    def create_post(self, topic_id, raw, reply_to_post_number=None, created_at=None, reason=""):
        return self._record("create_post", topic_id)


def plan() -> list[a.Action]:
    return [
        a.ApproveUser(key="approve:7", reason="application passed", user_id=7, username="alice"),
        a.AddToGroup(key="camp:7", reason="joins camp", group="camp", usernames=("alice",)),
        a.SendPrivateMessage(
            key="welcome:7", reason="camp tasks", recipients=("alice",), title="欢迎", raw="任务"
        ),
        a.CreatePost(
            key="audit-log:7", reason="audit log", topic_id=3, raw="approved", affects_members=False
        ),
    ]


@pytest.mark.integration
def test_live_actions_run_once_even_when_applied_twice(redis_client):
    client = RecordingClient()
    first = Applier(client, redis_client, live=True).apply(plan())
    second = Applier(client, redis_client, live=True).apply(plan())
    assert [c[0] for c in client.calls] == [
        "approve_user",
        "add_group_members",
        "send_private_message",
        "create_post",
    ]
    assert client.calls[1] == ("add_group_members", (41, ("alice",)))
    assert len(first.done) == 4 and not first.already_done
    assert not second.done and len(second.already_done) == 4


@pytest.mark.integration
def test_shadow_mode_acts_on_no_member_but_still_writes_the_audit_log(redis_client):
    from tests.support.obligations import shipped_rules

    client = RecordingClient()
    report = Applier(client, redis_client, live=False, rules=shipped_rules()).apply(plan())
    assert [c[0] for c in client.calls] == ["create_post"]
    assert [x.key for x in report.shadowed] == ["approve:7", "camp:7", "welcome:7"]


@pytest.mark.integration
def test_failure_midway_is_retried_without_repeating_what_was_done(redis_client):
    client = RecordingClient(fail_on="send_private_message")
    with pytest.raises(ForumUnavailable):
        Applier(client, redis_client, live=True).apply(plan())
    Applier(client, redis_client, live=True).apply(plan())
    names = [c[0] for c in client.calls]
    # The 502 left the PM's outcome unknown: the retry looks for it before sending.
    assert names == [
        "approve_user",
        "add_group_members",
        "list_private_messages",
        "send_private_message",
        "create_post",
    ]


@pytest.mark.integration
def test_silence_passes_the_exact_until(redis_client):
    client = RecordingClient()
    until = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    Applier(client, redis_client, live=True).apply(
        [a.SilenceUser(key="s:1", reason="ladder step 4", user_id=1, username="bob", until=until)]
    )
    assert client.calls == [("silence_user", (1, until))]


@pytest.mark.integration
def test_adding_a_member_who_deleted_their_account_adds_the_rest_and_is_done(sandbox, redis_client):
    # A deleted account is no reason to retry or dead-letter: skipped with a log line.
    from worker.forum.client import ForumClient

    for name in ("ann", "bob"):
        sandbox.forum.create_user(username=name, email=f"{name}@example.org", approved=True)
    client = ForumClient(sandbox.url, sandbox.api_key, "system")
    group = client.create_group("squad-9")
    client.add_group_members(int(group["id"]), ["ann"])
    sandbox.forum.settings["default_locale"] = "zh_CN"  # the refusal is not in English

    first = a.AddToGroup(key="sq9:1", reason="squad", group="squad-9", usernames=("ann", "gone"))
    second = a.AddToGroup(
        key="sq9:2", reason="squad", group="squad-9", usernames=("ann", "bob", "gone")
    )
    report = Applier(client, redis_client, live=True).apply([first, second])

    assert report.done == [first, second]
    assert {m["username"] for m in client.iter_group_members("squad-9")} == {"ann", "bob"}


def _audit_topic(title: str = "2026年第3周审计:文章、点评与处罚", key: str = "audit:2026-W03"):
    return a.CreateTopic(
        key=key,
        reason="audit",
        category_id=1,
        title=title,
        raw="审计结果:成员 12 人,本周处罚 1 人。各小组的详细情况见下文。",
        affects_members=False,
    )


@pytest.mark.integration
def test_a_retry_that_finds_its_own_topic_under_the_title_counts_it_as_done(
    sandbox, redis_client
) -> None:
    from worker.forum.client import ForumClient

    client = ForumClient(sandbox.url, sandbox.api_key, "system", timeout=(2, 10))
    first = Applier(client, redis_client, live=True).apply([_audit_topic()])
    topic_id = first.results["audit:2026-W03"]["topic_id"]
    redis_client.flushdb()  # a crash between the write and its record
    before = len(sandbox.forum.topics)
    again = Applier(client, redis_client, live=True).apply([_audit_topic()])
    assert [act.key for act in again.done] == ["audit:2026-W03"]
    assert again.results["audit:2026-W03"] == {"topic_id": topic_id, "existed": True}
    assert len(sandbox.forum.topics) == before


@pytest.mark.integration
def test_a_title_someone_else_holds_gets_a_numbered_title_instead_of_failing_forever(
    sandbox, redis_client
) -> None:
    from worker.forum.client import ForumClient

    sandbox.forum.create_user(username="alice", email="alice@example.com", approved=True)
    member = ForumClient(sandbox.url, sandbox.api_key, "alice", timeout=(2, 10))
    member.create_topic(
        "2026年第3周审计:文章、点评与处罚", "一位成员碰巧用了同样的标题,内容完全不同。", 1
    )
    client = ForumClient(sandbox.url, sandbox.api_key, "system", timeout=(2, 10))
    report = Applier(client, redis_client, live=True).apply([_audit_topic()])
    topic = sandbox.forum.topics[report.results["audit:2026-W03"]["topic_id"]]
    assert topic.title == "2026年第3周审计:文章、点评与处罚 (2)"
    redis_client.flushdb()  # and a retry finds that one as its own
    again = Applier(client, redis_client, live=True).apply([_audit_topic()])
    assert again.results["audit:2026-W03"] == {"topic_id": topic.id, "existed": True}


@pytest.mark.integration
def test_a_group_change_is_followed_by_the_roster_state_not_read_again(redis_client):
    """The roster is state (``worker.state.roster``): after the Applier adds a member to a
    watched group, the state has them and its generation moved (a forum read begun before
    the change is not kept), so the next job reads no members from the forum."""
    import json

    from worker.state import roster as roster_state

    redis_client.hset(keys.ROSTER_GROUPS, "camp", json.dumps({"id": 41, "members": ["amy"]}))
    generation = int(redis_client.get(keys.ROSTER_GENERATION) or 0)
    add = a.AddToGroup(key="camp:8", reason="joins camp", group="camp", usernames=("bob",))
    Applier(RecordingClient(), redis_client, live=True).apply([add])
    state = roster_state.load(redis_client)
    assert state.groups["camp"].members == {"amy", "bob"}
    assert state.generation == generation + 1


@pytest.mark.integration
def test_a_new_category_drops_the_cached_category_ids(sandbox, redis_client):
    """A squad's new category is not in the cached ``{slug: id}``: the next lookup reads."""
    from worker.forum.client import ForumClient

    client = ForumClient(sandbox.url, sandbox.api_key, "system", timeout=(2, 10))
    redis_client.hset(keys.CATEGORY_IDS, mapping={"camp": 5})
    create = a.CreateCategory(key="squad-cat:sq-1", reason="a squad", name="1组", slug="sq-1")
    Applier(client, redis_client, live=True).apply([create])
    assert not redis_client.exists(keys.CATEGORY_IDS)
