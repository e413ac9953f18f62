"""A camp check tells the campers who passed in PMs shared by up to 30, not a PM each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.steps import step_ctx
from tests.support.world import RULES
from worker.engine.camp import Camper, CampPost
from worker.forum.client import ForumClient
from worker.state.membership import MembershipStore
from worker.steps import camp_check

pytestmark = pytest.mark.integration
NOW = datetime(2026, 3, 30, 1, tzinfo=UTC)


def _passing_campers(sandbox, redis_client, names: list[str]) -> None:
    """Campers whose camp ended with every task done (their posts as the ledger keeps them)."""
    store = MembershipStore(redis_client)
    tasks = RULES.camp.tasks
    started = NOW - timedelta(days=RULES.camp.duration_days + 1)
    ids = iter(range(10_000, 100_000))
    for i, name in enumerate(names):
        user = sandbox.forum.create_user(username=name, email=f"{name}@example.org", approved=True)
        store.start_camp(Camper(user.id, name, started), city=None, volunteer=False)
        posts = [
            CampPost(
                next(ids), started + timedelta(hours=2), 200, tasks.introduction.category, True
            )
        ]
        posts += [
            CampPost(next(ids), started + timedelta(days=d, hours=3), 50, tasks.checkins.category)
            for d in range(tasks.checkins.min_days)
        ]
        posts += [
            CampPost(
                next(ids),
                started + timedelta(days=1, hours=h),
                80,
                "general",
                reply_to=names[(i + h) % len(names)],  # a different fellow each time
            )
            for h in range(1, tasks.replies.min_replies + 1)
        ]
        for post in posts:
            store.record_camp_post(name, post)


def _pm_writes(sandbox) -> list[tuple[str, ...]]:
    with sandbox.forum.lock:
        return [
            tuple(sorted(sandbox.forum.users[u].username for u in t.allowed_user_ids))
            for t in sandbox.forum.topics.values()
            if t.archetype == "private_message"
        ]


def test_thirty_five_passes_are_two_shared_pms_not_thirty_five(sandbox, redis_client) -> None:
    names = [f"camper{i:02d}" for i in range(35)]
    client = ForumClient(sandbox.url, sandbox.api_key, "system")
    groups = RULES.community.groups
    for group in (groups.members, groups.camp, groups.alumni):
        client.create_group(group)
    _passing_campers(sandbox, redis_client, names)
    sandbox.app.request_log.clear()

    checks = camp_check.run(step_ctx(client, redis_client, RULES, now=NOW, live=True))

    assert {c.verdict.verdict for c in checks} == {"pass"} and len(checks) == 35
    posts = [p for m, p, _s in sandbox.app.request_log if m == "POST" and p == "/posts.json"]
    assert len(posts) == 2, "one PM per camper is back"
    shared = _pm_writes(sandbox)
    assert sorted(len(r) - 1 for r in shared) == [5, 30]  # recipients besides the sender
    assert sorted(u for r in shared for u in r if u != "system") == names
