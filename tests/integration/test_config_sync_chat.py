"""plugin_config's chat settings planned and applied against the sandbox: chat on, the
retention Diamond needs, and its member and camp groups allowed to chat (by name; the
forum's setting holds group ids, resolved once the groups exist)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.config_sync import sandbox_client, shipped_desired
from worker.config_sync.actual import read_actual
from worker.config_sync.apply import sync
from worker.config_sync.desired import Desired
from worker.config_sync.diff import diff
from worker.config_sync.render import render_plan
from worker.rules import load_rules
from worker.sandbox import RunningSandbox, start_sandbox

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RULES = load_rules(ROOT / "rules")


@pytest.fixture(scope="module")
def shipped() -> Desired:
    return shipped_desired()


@pytest.fixture
def forum() -> Iterator[RunningSandbox]:
    with start_sandbox(port=0) as sandbox:
        yield sandbox


def _longest_lookback_days() -> int:
    weeks = [RULES.health.lookback_weeks, RULES.health.isolation_weeks]
    weeks += [b.criterion.weeks for b in RULES.badges.badges if getattr(b.criterion, "weeks", 0)]
    return 7 * max(weeks)


def test_the_shipped_config_turns_chat_on_for_camp_and_members_and_keeps_it_long_enough(
    forum: RunningSandbox, shipped: Desired
) -> None:
    client = sandbox_client(forum)
    first = diff(shipped, read_actual(client, shipped))
    shown = render_plan(first)
    assert "chat_allowed_groups" in shown and "chat_channel_retention_days" in shown

    report = sync(client, shipped, sleep=lambda s: None)
    assert report.converged, report.final_plan
    settings = forum.forum.settings
    ids = {forum.forum.find_group(name).id for name in ("camp", "members", "leaders")}
    allowed = {int(g) for g in settings["chat_allowed_groups"].split("|")}
    assert ids | {1, 2} <= allowed
    assert settings["chat_enabled"] is True
    retention = settings["chat_channel_retention_days"]
    assert retention == 0 or retention > _longest_lookback_days()
    assert diff(shipped, read_actual(client, shipped)).changes == ()
