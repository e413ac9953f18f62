"""A running process keeps its last good rules when the files go bad."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.support.rules_cases import copy_rules, edit
from worker.pipeline.runtime import RulesHolder
from worker.rules import Problem, RulesInvalid


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_reload_picks_up_a_valid_edit(tmp_path: Path) -> None:
    rules_dir = copy_rules(tmp_path)
    holder = RulesHolder(rules_dir)
    edit(rules_dir, "community.yml", "name: Test 社", "name: Renamed 社")
    assert holder.reload() is True
    assert holder.rules.community.name == "Renamed 社"
    assert holder.problems == []


def test_broken_edit_keeps_the_last_good_rules_and_reports(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rules_dir = copy_rules(tmp_path)
    reported: list[list[Problem]] = []
    holder = RulesHolder(rules_dir, on_problems=reported.append)
    good = holder.rules
    edit(rules_dir, "obligations.yml", "    - strikes: 4", "    - strikes: 1")
    with caplog.at_level(logging.ERROR, logger="diamond.rules"):
        assert holder.reload() is False
    assert holder.rules is good
    assert [str(p) for p in holder.problems] == [
        f"{rules_dir.as_posix()}/obligations.yml:18:7: penalties.ladder[1].strikes: "
        "must be greater than the previous step (got 1)"
    ]
    assert reported == [holder.problems]
    assert "keeping the last good rules" in caplog.text
    # fixing the file brings the new rules in and clears the problems
    edit(rules_dir, "obligations.yml", "    - strikes: 1", "    - strikes: 5")
    assert holder.reload() is True
    assert holder.rules.obligations.penalties.ladder[1].strikes == 5
    assert holder.problems == []


def test_get_checks_files_only_after_the_interval(tmp_path: Path) -> None:
    rules_dir = copy_rules(tmp_path)
    clock = FakeClock()
    holder = RulesHolder(rules_dir, check_every=10, clock=clock)
    edit(rules_dir, "community.yml", "name: Test 社", "name: Later 社")
    clock.now = 5
    assert holder.get().community.name == "Test 社"
    clock.now = 10
    assert holder.get().community.name == "Later 社"


def test_unchanged_files_are_not_reloaded(tmp_path: Path) -> None:
    rules_dir = copy_rules(tmp_path)
    loads: list[Path] = []

    def counting_loader(directory: Path):
        from worker.rules import load_rules

        loads.append(directory)
        return load_rules(directory)

    holder = RulesHolder(rules_dir, loader=counting_loader)
    assert holder.reload() is False
    assert len(loads) == 1


def test_a_process_does_not_start_on_broken_rules(tmp_path: Path) -> None:
    rules_dir = copy_rules(tmp_path)
    edit(rules_dir, "camp.yml", "duration_days: 7", "duration_days: seven")
    with pytest.raises(RulesInvalid) as caught:
        RulesHolder(rules_dir)
    assert [p.field for p in caught.value.problems] == ["duration_days"]
