"""A PM that asks for a reply names people who read the reply: the reviewers' group inbox."""

from __future__ import annotations

import pytest

from tests.support.obligations import shipped_rules
from worker import actions as a
from worker.engine.facts import MemberFact
from worker.engine.gating import Applicant, GatingFacts, evaluate_application, gating_actions
from worker.forum.client import ForumClient
from worker.forum.errors import ForumRejected


def _approved_with_referrer():
    rules = shipped_rules()
    referrer = MemberFact(user_id=2, username="mentor", groups=frozenset({"members"}))
    applicant = Applicant(
        user_id=10,
        username="newbie",
        email="newbie@example.com",
        fields={
            "referrer": "mentor",
            "application": "我是一名软件工程师,喜欢读书和写作。" * 20,
            "payment": "ORDER-1",
        },
    )
    facts = GatingFacts(applicant=applicant, referrer=referrer)
    decision = evaluate_application(rules, facts)
    assert decision.outcome == "approve"
    return rules, gating_actions(rules, facts, decision, audit_category_id=9, camp_ends="x")


def test_the_referrers_notice_goes_to_the_reviewers_too_so_a_reply_reaches_them() -> None:
    rules, actions = _approved_with_referrer()
    (notice,) = [x for x in actions if x.key.startswith("referrer-approved:")]
    assert isinstance(notice, a.SendPrivateMessage)
    assert notice.recipients == ("mentor", rules.community.groups.reviewers)
    assert "回复" in notice.raw and "审核" in notice.raw  # says who reads the reply


@pytest.mark.integration
def test_an_admin_cannot_message_a_group_nobody_may_message(sandbox) -> None:
    forum = sandbox.forum
    forum.create_user(username="boss", email="boss@example.org", approved=True, admin=True)
    forum.create_user(username="mentor", email="m@example.org", approved=True)
    forum.create_group(name="closed", messageable_level=0)
    forum.create_group(name="reviewers", messageable_level=2)  # mods_and_admins
    boss = ForumClient(sandbox.url, sandbox.api_key, "boss", timeout=(2, 10))

    with pytest.raises(ForumRejected):
        boss.send_private_message(["mentor", "closed"], "关于推荐的新成员 newbie", "你好" * 10)
    made = boss.send_private_message(
        ["mentor", "reviewers"], "关于推荐的新成员 newbie", "你好" * 10
    )
    assert made["topic_id"]
