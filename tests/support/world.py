"""A sandbox forum configured like production (``plugin_config/`` applied) with a clock
the caller moves: for the membership end-to-end tests and the demo."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import redis

from worker import clock
from worker.config_sync.apply import sync
from worker.config_sync.desired import load_desired
from worker.forum.client import ForumClient
from worker.rules import Rules, load_rules
from worker.sandbox import RunningSandbox, start_sandbox

ROOT = Path(__file__).resolve().parents[2]
RULES = load_rules(ROOT / "rules")
API_KEY = "membership-e2e-key"
SECRET = "membership-e2e-secret"


@dataclass
class World:
    sandbox: RunningSandbox
    client: ForumClient  # Diamond's client (the API user "system")
    people: ForumClient  # the test's hands: sign-ups and posts by members
    redis: redis.Redis
    rules: Rules
    now: datetime

    def set_now(self, moment: datetime) -> None:
        """Move the forum's clock and Diamond's (simulated) clock together."""
        self.now = moment
        clock.set_simulated_now(self.redis, moment)


def _no_sleep(_seconds: float) -> None:
    return None


@contextmanager
def membership_world(
    redis_client: redis.Redis, start: datetime, *, receiver_url: str = "http://127.0.0.1:9/"
) -> Iterator[World]:
    box: dict[str, datetime] = {"now": start}
    sandbox = start_sandbox(port=0, api_key=API_KEY, clock=lambda: box["now"])
    try:
        client = ForumClient(sandbox.url, API_KEY, "system", on_limit="raise")
        people = ForumClient(sandbox.url, API_KEY, "system", on_limit="raise")
        desired = load_desired(
            ROOT / "plugin_config",
            receiver_url=receiver_url,
            webhook_secret=SECRET,
            badges=RULES.badges.badges,
        )
        report = sync(client, desired, sleep=_no_sleep)
        assert report.converged, report.final_plan
        world = World(sandbox, client, people, redis_client, RULES, start)

        def set_now(moment: datetime) -> None:
            box["now"] = moment
            clock.set_simulated_now(redis_client, moment)
            world.now = moment

        world.set_now = set_now  # type: ignore[method-assign]
        set_now(start)
        yield world
    finally:
        sandbox.stop()
