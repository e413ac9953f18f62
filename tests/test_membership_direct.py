"""The membership steps in process against the sandbox forum (no webhooks, no workers)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import redis

from worker.membership.scenario import DirectDiamond, run_cohort
from worker.membership.world import membership_world

pytestmark = pytest.mark.integration
START = datetime(2026, 11, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_cohort_direct(redis_client: redis.Redis) -> None:
    with membership_world(redis_client, START) as world:
        diamond = DirectDiamond(world.client, redis_client, world.rules, world.set_now)
        report = run_cohort(world.people, diamond, start=START, n=24)
        print(report.counts())
        print(report.squads, report.leaders)
        for p in report.people:
            assert report.decisions[p.username] == p.expected, p
