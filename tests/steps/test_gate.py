"""The gating step with a 20-line fake forum (``GateForum``) and the real Redis: approve,
hold, reject, each decided by the engine and carried out through the Applier."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.obligations import shipped_rules
from worker.reads.parse import Hints
from worker.state.membership import MembershipStore
from worker.steps import StepContext, gate

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
FIELDS = ("referrer", "application", "city", "payment", "accept_rules", "volunteer_leader")
GOOD = "我想加入这个社区，每周写一篇文章，并认真点评两位伙伴的文章。" * 8


class FakeForum:
    """Just what ``gate.GateForum`` names; every write is kept in ``writes``."""

    def __init__(self, fields: dict[str, str], referrer_groups: tuple[str, ...]) -> None:
        self.user = {
            "id": 7,
            "username": "newcomer",
            "active": True,
            "approved": False,
            "created_at": "2026-11-30T09:00:00Z",
            "groups": [],
            "user_fields": {str(i + 1): fields.get(k) for i, k in enumerate(FIELDS)},
        }
        self.referrer = {
            "id": 2,
            "username": "mentor01",
            "groups": [{"name": g} for g in referrer_groups],
        }
        self.writes: list[tuple[str, Any]] = []

    def admin_get_user(self, user_id: int) -> dict[str, Any]:
        return self.user

    def get_user(self, username: str) -> dict[str, Any]:
        return self.referrer

    def iter_admin_users(self, flag: str, **params: Any) -> Any:
        return iter(())

    def list_user_fields(self) -> list[dict[str, Any]]:
        return [
            {"id": i + 1, "name": k, "description": f"[diamond:{k}]"} for i, k in enumerate(FIELDS)
        ]

    def list_categories(self) -> list[dict[str, Any]]:
        return [{"slug": "audit-log", "id": 9}]

    def list_groups(self) -> list[dict[str, Any]]:
        return []  # no group listed: the roster state cannot vouch, the referrer is read

    def iter_group_members(self, name: str) -> Any:
        return iter(())

    def get_group(self, name: str) -> dict[str, Any]:
        return {"id": len(name)}

    def approve_user(self, user_id: int, **kw: Any) -> Any:
        self.writes.append(("approve", user_id))

    def add_group_members(self, group_id: int, usernames: list[str], **kw: Any) -> Any:
        self.writes.append(("add", kw.get("group_name")))

    def send_private_message(self, recipients: list[str], title: str, raw: str, **kw: Any) -> Any:
        self.writes.append(("pm", tuple(recipients)))

    def create_topic(self, title: str, raw: str, category_id: int, **kw: Any) -> Any:
        self.writes.append(("topic", category_id))
        return {"topic_id": 1, "id": 1}

    def iter_reviewables(self, *args: Any, **kw: Any) -> Any:
        return iter(())

    def delete_user(self, user_id: int, **kw: Any) -> Any:
        self.writes.append(("delete", user_id))


def fields(**changes: str) -> dict[str, str]:
    values = {
        "referrer": "mentor01",
        "application": GOOD,
        "city": "北京",
        "payment": "PAY-12345678",
        "accept_rules": "true",
        "volunteer_leader": "暂不 Not now",
    }
    return {**values, **changes}


def decide(redis_client: Any, forum: FakeForum) -> gate.GatingResult:
    ctx = StepContext(forum, redis_client, shipped_rules(), NOW, live=True)
    return gate.run(ctx, 7, hints=Hints(email="new@example.org", inviter_known=True))


def test_a_good_application_is_approved_and_enters_the_camp(redis_client) -> None:
    forum = FakeForum(fields(), ("members",))
    result = decide(redis_client, forum)
    assert result.decision is not None and result.decision.outcome == "approve"
    assert ("approve", 7) in forum.writes and ("add", "camp") in forum.writes
    camper = MembershipStore(redis_client).camper("newcomer")
    assert camper is not None and camper.started_at == NOW
    assert MembershipStore(redis_client).camper_extra("newcomer") == ("北京", False)


def test_an_unpaid_application_is_held_and_nothing_is_approved(redis_client) -> None:
    forum = FakeForum(fields(payment="no thanks"), ("members",))
    result = decide(redis_client, forum)
    assert result.decision is not None and result.decision.outcome == "hold"
    assert not [w for w in forum.writes if w[0] in ("approve", "add")]
    assert MembershipStore(redis_client).decision(7) == "hold"


@pytest.mark.parametrize("groups", [(), ("camp",)], ids=["no member", "a camper"])
def test_a_referrer_who_cannot_refer_gets_the_application_rejected(redis_client, groups) -> None:
    forum = FakeForum(fields(), groups)
    result = decide(redis_client, forum)
    assert result.decision is not None and result.decision.outcome == "reject"
    assert ("delete", 7) in forum.writes  # no review-queue item: the account goes
    assert "newcomer" in MembershipStore(redis_client).removed()
