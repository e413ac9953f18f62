"""A running scheduler follows the rule files: edited times move, new reminders appear."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from worker.cli import main
from worker.pipeline.broker import setup_broker
from worker.pipeline.jobs import load_actors
from worker.pipeline.runtime import RulesHolder
from worker.pipeline.scheduler import Scheduler

ROOT = Path(__file__).resolve().parents[2]
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture
def scheduler(redis_url, redis_client, rules_dir):
    broker = setup_broker(redis_url)
    load_actors()
    holder = RulesHolder(rules_dir, check_every=0)
    scheduler = Scheduler(broker, redis_client, SHANGHAI, rules=holder.get)
    scheduler.start(refresh_seconds=3600)
    try:
        yield scheduler
    finally:
        scheduler.stop()


@pytest.mark.integration
def test_moving_the_audit_in_the_rules_moves_the_running_job(scheduler, rules_dir, caplog) -> None:
    assert scheduler.jobs["obligations_weekly_audit"].cron["day_of_week"] == "tue"
    edit(rules_dir / "obligations.yml", 'cron: "0 23 * * tue"', 'cron: "30 8 * * wed"')
    with caplog.at_level(logging.INFO, logger="worker.pipeline.scheduler"):
        change = scheduler.refresh()
    assert change.moved == ("obligations_weekly_audit",)
    assert not change.added and not change.removed
    trigger = scheduler._aps.get_job("obligations_weekly_audit").trigger  # what will fire
    assert str(trigger.fields[4]) == "wed" and str(trigger.fields[5]) == "8"
    assert "moved obligations_weekly_audit (obligations.yml audit.cron)" in caplog.text
    assert "0 23 * * tue to 30 8 * * wed" in caplog.text


@pytest.mark.integration
def test_a_reminder_removed_and_one_added_in_the_rules_follow(scheduler, rules_dir) -> None:
    before = set(scheduler.jobs)
    edit(rules_dir / "obligations.yml", "周一提醒点评 · Monday review nudge", "周一晚提醒 · Monday")
    change = scheduler.refresh()
    assert len(change.added) == 1 and len(change.removed) == 1
    assert change.removed[0] in before and change.added[0] not in before
    assert scheduler._aps.get_job(change.removed[0]) is None
    assert scheduler._aps.get_job(change.added[0]) is not None
    assert scheduler.refresh().added == ()  # nothing changed since: nothing logged


@pytest.mark.integration
def test_broken_rules_keep_the_schedule(scheduler, rules_dir) -> None:
    edit(rules_dir / "obligations.yml", 'cron: "0 23 * * tue"', 'cron: "not a cron"')
    assert not scheduler.refresh()
    assert scheduler.jobs["obligations_weekly_audit"].cron["day_of_week"] == "tue"


def test_scheduler_list_shows_rule_names_and_next_local_runs(
    rules_dir, monkeypatch, capsys
) -> None:
    # Listing needs the rules, not Redis.
    monkeypatch.setenv("DIAMOND_RULES_DIR", str(rules_dir))
    monkeypatch.setenv("DIAMOND_REDIS_URL", "")
    monkeypatch.setenv("DIAMOND_TIMEZONE", "")
    assert main(["scheduler", "--list"]) == 0
    out = capsys.readouterr().out
    audit = next(line for line in out.splitlines() if line.startswith("obligations_weekly_audit"))
    assert "Tue 23:00 Asia/Shanghai" in audit
    assert "set by obligations.yml audit.cron" in audit
    assert "'周五提醒写文章 · Friday article nudge'" in out
