"""What-if for the camp and squad formation, checked against the real flows under the
proposed rules on the same records (sandbox forum + real Redis); nothing is written."""

from __future__ import annotations

import datetime as dt

import pytest
import redis

from tests.support.obligations import SH, shipped_rules
from tests.support.pipeline import redis_contents
from tests.support.steps import step_ctx
from worker.engine.camp import Camper, CampPost
from worker.engine.squads import Graduate
from worker.forum.client import ForumClient
from worker.state.membership import MembershipStore
from worker.steps import camp_check, form_squads
from worker.whatif.membership import (
    judge_camp,
    read_camp_facts,
    read_squad_facts,
    render_camp,
    render_squads,
    split,
)

pytestmark = pytest.mark.integration

START = dt.datetime(2026, 3, 1, 10, tzinfo=SH)
CHECKIN_DAYS = {"c0": 7, "c1": 5, "c2": 4, "c3": 6, "c4": 5, "c5": 2}


def rules_with(section: str, **changes):
    base = shipped_rules()
    model = getattr(base, section)

    def merge(model, changes):
        update = {
            k: merge(getattr(model, k), v) if isinstance(v, dict) else v for k, v in changes.items()
        }
        return type(model).model_validate({**model.model_dump(), **update})

    return base.model_copy(update={section: merge(model, changes)})


def snapshot(client: redis.Redis) -> dict:
    return redis_contents(client)


def camp_world(redis_client: redis.Redis) -> None:
    store = MembershipStore(redis_client)
    names = list(CHECKIN_DAYS)
    ids = iter(range(1, 10_000))
    for i, name in enumerate(names):
        store.start_camp(Camper(100 + i, name, START), city=None, volunteer=False)
        store.record_camp_post(
            name, CampPost(next(ids), START + dt.timedelta(hours=1), 150, "introductions", True)
        )
        for day in range(CHECKIN_DAYS[name]):
            at = START + dt.timedelta(days=day, hours=2)
            store.record_camp_post(name, CampPost(next(ids), at, 10, "checkins", True))
        for other in names[i + 1 : i + 4] + names[: max(0, i - 2)][:3]:
            at = START + dt.timedelta(days=1, hours=3)
            store.record_camp_post(name, CampPost(next(ids), at, 30, "checkins", reply_to=other))


def test_the_camp_preview_is_what_the_daily_check_then_decides(
    sandbox, redis_client: redis.Redis
) -> None:
    camp_world(redis_client)
    current = shipped_rules()
    proposed = rules_with("camp", tasks={"checkins": {"min_days": 6}})
    now = START + dt.timedelta(days=8)  # the first camp period is over
    before = snapshot(redis_client)
    facts = read_camp_facts(redis_client)
    old, new = judge_camp(current, facts, now), judge_camp(proposed, facts, now)
    assert snapshot(redis_client) == before  # read only

    assert {n: o.first for n, o in old.items()} == {
        "c0": "pass", "c1": "pass", "c2": "extend", "c3": "pass", "c4": "pass", "c5": "extend"
    }  # fmt: skip
    assert {n for n, o in new.items() if o.first == "extend"} == {"c1", "c2", "c4", "c5"}
    text = "\n".join(render_camp(old, new))
    # The open task in the community's default language, with the figures of the new rules.
    assert (
        "@c1: pass → extended 1×, in camp until 2026-03-15 (在 #checkins 打卡:5 天 (至少 6 天))"
        in (text)
    )

    client = ForumClient(sandbox.url, sandbox.api_key, "system")
    real = camp_check.run(step_ctx(client, redis_client, proposed, now=now, live=False))
    assert {c.username: c.verdict.verdict for c in real} == {n: o.first for n, o in new.items()}


def test_the_squad_preview_is_the_split_the_formation_then_plans(
    sandbox, redis_client: redis.Redis
) -> None:
    forum = sandbox.forum
    members = forum.create_group(name="members")
    store = MembershipStore(redis_client)
    users = []
    for i in range(25):
        name = f"g{i:02d}"
        users.append(forum.create_user(username=name, email=f"{name}@example.org", approved=True))
        city = "beijing" if i < 14 else "shanghai"
        store.queue_graduate("2026-03", Graduate(name, city, volunteer=i in (3, 17), activity=i))
    forum.add_members(members, users[:24])  # g24 left before the split: not placed
    client = ForumClient(sandbox.url, sandbox.api_key, "system")
    current = shipped_rules()
    proposed = rules_with("squads", size={"target": 6, "min": 5, "max": 7})
    before = snapshot(redis_client)
    facts = read_squad_facts(client, redis_client, current)
    old, new = split(current, facts), split(proposed, facts)
    assert snapshot(redis_client) == before
    assert all(k.startswith("GET ") for k in client.call_counts)

    assert len(new["2026-03"].squads) > len(old["2026-03"].squads)
    text = "\n".join(render_squads(old, new))
    assert "proposed:" in text and "g24" not in text

    real = form_squads.plan_formation(client, store, proposed, "2026-03")

    def shape(plan):
        return sorted(
            (p.squad.slug, p.squad.members, p.squad.leader, p.squad.class_slug) for p in plan.squads
        )

    assert shape(real) == shape(new["2026-03"])
