"""The answer to a leave post: what was decided about it, replied in its topic.

gather (the leave requests the ledger recorded, every one: a decision weighs them all;
the member's language) → engine (``worker.engine.obligations.grant_leave``,
``plan_leave_answer``) → Applier (one key per post: a repeated event answers once).
Nothing to record: the ledger already holds the request.

Run by the post recording once it has filed a leave post (``outcome == "leave"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, cast

import redis

from worker.apply import Applier, ApplyReport
from worker.engine.obligations import LeavePost, grant_leave, plan_leave_answer
from worker.rules.models import Rules
from worker.state.ledger import Ledger
from worker.state.membership import MembershipStore
from worker.steps import StepContext

if TYPE_CHECKING:
    from worker.forum.client import ForumClient


class LeaveForum(Protocol):
    """The one write of a leave answer (through the Applier)."""

    def create_post(self, topic_id: int, raw: str, **kw: Any) -> Any: ...


def run(ctx: StepContext[LeaveForum], post: Mapping[str, Any]) -> ApplyReport | None:
    """Reply to a leave post with what was decided about it, as the audit will decide
    it (every leave post in the ledger); nothing when the ledger has not recorded it."""
    return answer_leave(ctx.forum, ctx.redis, ctx.rules, post, live=ctx.live)


def answer_leave(
    client: LeaveForum,
    redis_client: redis.Redis,
    rules: Rules,
    post: Mapping[str, Any],
    *,
    live: bool,
) -> ApplyReport | None:
    """``run`` for a caller without a step context (the post recording: a leave answer
    needs no ``now``)."""
    post_id = int(post["id"])
    source = f"post {post_id}"
    requests = Ledger(redis_client).leave_requests()
    request = next((r for r in requests if r.source == source), None)
    if request is None or not request.weeks:
        return None
    decision = grant_leave(rules.obligations, rules.tz, requests)
    where = LeavePost(post_id, int(post["topic_id"]), int(post.get("post_number") or 1))
    language = MembershipStore(redis_client).languages().get(request.username)
    action = plan_leave_answer(rules, request, decision, where, language)
    forum = cast("ForumClient", client)  # the Applier writes through the whole client
    return Applier(forum, redis_client, live=live, rules=rules).apply([action])
