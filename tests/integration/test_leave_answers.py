"""A leave request is answered in its topic: the decision, the reason and the rule, once."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.support.obligations import shipped_rules
from tests.support.steps import step_ctx
from worker.engine.camp import Camper
from worker.forum.client import ForumClient
from worker.state.membership import MembershipStore
from worker.steps import record_post

pytestmark = pytest.mark.integration


def _forum(sandbox, redis_client, *, language: str | None = None):
    setup = ForumClient(sandbox.url, sandbox.api_key, "system", timeout=(2, 10))
    sandbox.forum.create_user(username="ann", email="ann@example.org", approved=True)
    made = setup.create_category("Leave", slug="leave", permissions={"everyone": 1})
    MembershipStore(redis_client).start_camp(
        Camper(1, "ann", dt.datetime.now(dt.UTC), language=language), city=None, volunteer=False
    )
    return setup, int(made.get("category", made)["id"])


def _replies(client: ForumClient, topic_id: int) -> list[dict]:
    return [p for p in client.iter_topic_posts(topic_id) if p["post_number"] > 1]


def test_a_late_leave_request_is_refused_in_its_topic_with_the_rule(sandbox, redis_client) -> None:
    setup, leave_id = _forum(sandbox, redis_client)
    # A week long past: asked far too late for its deadline.
    topic = setup.as_user("ann").create_topic(
        "请假:2026-W02 家里有事", "2026-W02 请假一周,家里有事,抱歉。", leave_id
    )
    client = ForumClient(sandbox.url, sandbox.api_key, "system", timeout=(2, 10))

    outcome = record_post.run(
        step_ctx(client, redis_client, shipped_rules()), topic["id"], "post_created"
    )

    assert outcome["obligations"] == "leave"
    (answer,) = _replies(setup, topic["topic_id"])
    raw = answer["raw"] if "raw" in answer else answer["cooked"]
    assert "@ann" in raw
    assert "2026-01-05 至 2026-01-11" in raw  # the week, as its dates
    assert "未批准" in raw
    assert "提前 24 小时" in raw  # the rule it broke
    assert answer["reply_to_post_number"] == 1


def test_a_leave_request_is_answered_once_in_the_members_language(sandbox, redis_client) -> None:
    setup, leave_id = _forum(sandbox, redis_client, language="en")
    topic = setup.as_user("ann").create_topic(
        "Leave for week 2027-W10", "Please excuse me in 2027-W10, I am travelling.", leave_id
    )
    client = ForumClient(sandbox.url, sandbox.api_key, "system", timeout=(2, 10))
    rules = shipped_rules()

    record_post.run(step_ctx(client, redis_client, rules), topic["id"], "post_created")
    record_post.run(
        step_ctx(client, redis_client, rules), topic["id"], "post_edited"
    )  # again: no answer
    (answer,) = _replies(setup, topic["topic_id"])
    # Diamond's own answer arrives as a post event too: it is not a leave request.
    assert record_post.run(step_ctx(client, redis_client, rules), answer["id"], "post_created")[
        "obligations"
    ] == ("ignored")
    assert len(_replies(setup, topic["topic_id"])) == 1

    raw = answer["raw"] if "raw" in answer else answer["cooked"]
    assert "granted" in raw.lower() and "2027-W10" not in raw  # dates, not ISO codes
    assert "2027-03-08" in raw
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in raw)  # no Chinese in an English answer
