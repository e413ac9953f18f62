"""`diamond check [DIR]`: one summary line and exit 0, or every problem and exit 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.rules_cases import SHIPPED, copy_rules, edit
from worker.cli import main


def test_shipped_rules_pass_diamond_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(SHIPPED), "--lang", "en"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    assert out[0].startswith(f"{SHIPPED.as_posix()}/: 9 files OK — community 'Diamond 学习社'")


def test_the_ok_line_speaks_the_communitys_default_language(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check", str(SHIPPED)]) == 0  # rules/community.yml: default_language zh
    [line] = capsys.readouterr().out.strip().splitlines()
    assert line.startswith(f"{SHIPPED.as_posix()}/:9 个文件没有问题 — 社区「Diamond 学习社」")


def test_check_defaults_to_the_rules_dir_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    copy_rules(tmp_path)
    (tmp_path / "rules").rename(tmp_path / "constitution")
    monkeypatch.setenv("DIAMOND_RULES_DIR", "constitution")
    assert main(["check", "--lang", "en"]) == 0
    assert capsys.readouterr().out.startswith("constitution/: 9 files OK — community 'Test 社'")


def test_broken_rules_print_every_problem_and_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    rules = copy_rules(tmp_path)
    edit(rules, "obligations.yml", "    - strikes: 4", "    - strikes: 1")
    edit(rules, "community.yml", "default_language: zh", "default_langauge: zh")
    assert main(["check", "rules/"]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        "rules/community.yml:4:1: default_langauge: unknown key 'default_langauge'; "
        "did you mean 'default_language'?",
        "rules/obligations.yml:18:7: penalties.ladder[1].strikes: "
        "step 2: must be greater than the previous step (got 1)",
    ]  # English: default_language is misspelt, so the community's language is unknown
    assert captured.err.strip() == "rules/: 2 problems"


def test_json_format_gives_machine_readable_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    rules = copy_rules(tmp_path)
    edit(rules, "obligations.yml", "    - strikes: 4", "    - strikes: 1")
    assert main(["check", "rules", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report == {
        "directory": "rules/",
        "ok": False,
        "problems": [
            {
                "file": "rules/obligations.yml",
                "line": 18,
                "col": 7,
                "field": "penalties.ladder[1].strikes",
                "message": "must be greater than the previous step (got 1)",
            }
        ],
    }


def test_json_format_when_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(SHIPPED), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    assert report["problems"] == []
    assert "9 files OK" in report["summary"]


# ───────────── in the community's language ─────────────


def test_check_speaks_the_communitys_default_language(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    rules = copy_rules(tmp_path)  # default_language: zh
    edit(rules, "obligations.yml", "    - strikes: 4", "    - strikes: 1")
    assert main(["check", "rules/"]) == 1
    (line,) = capsys.readouterr().out.splitlines()
    # where and which field stay as they are; the words are Chinese and count steps from 1
    where = "rules/obligations.yml:18:7: penalties.ladder[1].strikes: "
    assert line == where + "第 2 级:必须大于上一级 (现为 1)"


def test_check_lang_en_numbers_ladder_steps_from_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    rules = copy_rules(tmp_path)
    edit(rules, "obligations.yml", "    - strikes: 4", "    - strikes: 1")
    assert main(["check", "rules/", "--lang", "en"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "rules/obligations.yml:18:7: penalties.ladder[1].strikes: "
        "step 2: must be greater than the previous step (got 1)",
    ]


def test_check_gives_yaml_hints_in_chinese(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    rules = copy_rules(tmp_path)
    edit(rules, "health.yml", 'report_cron: "0 21 * * sun"', "report_cron: * 21 * * sun")
    edit(rules, "community.yml", "default_language: zh", "default_language: “zh”")
    assert main(["check", "rules/", "--lang", "zh"]) == 1
    out = capsys.readouterr().out
    assert "YAML" in out and "请给值加上引号" in out  # the unquoted star
    assert "中文引号" in out  # the Chinese quotes
    assert "hint" not in out and "must" not in out and "Chinese quotes" not in out


def test_check_json_stays_as_it_was_whatever_the_language(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    rules = copy_rules(tmp_path)
    edit(rules, "obligations.yml", "    - strikes: 4", "    - strikes: 1")
    assert main(["check", "rules", "--format", "json", "--lang", "zh"]) == 1
    (problem,) = json.loads(capsys.readouterr().out)["problems"]
    assert problem["message"] == "must be greater than the previous step (got 1)"
