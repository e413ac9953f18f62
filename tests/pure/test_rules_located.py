"""The reusable located-YAML layer (also used for plugin_config/*.yml)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from worker.rules.located import (
    Mark,
    format_path,
    load_located_yaml,
    parse_located_yaml,
    validate_located,
)
from worker.rules.problems import Problem


class Field(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    type: Literal["text", "dropdown"] = "text"


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    fields: tuple[Field, ...]


def test_every_value_remembers_line_and_column() -> None:
    doc = parse_located_yaml("fields:\n  - name: city\n    type: text\n", "x.yml")
    assert doc.problems == []
    assert doc.data == {"fields": [{"name": "city", "type": "text"}]}
    assert doc.index.keys[("fields", 0, "type")] == Mark(3, 5)
    assert doc.index.values[("fields", 0, "type")] == Mark(3, 11)
    assert doc.index.values[("fields", 0)] == Mark(2, 5)


def test_locate_falls_back_to_the_nearest_written_ancestor() -> None:
    doc = parse_located_yaml("fields:\n  - name: city\n", "x.yml")
    assert doc.index.locate(("fields", 0, "type", "deeper")) == Mark(2, 5)


def test_duplicate_key_is_a_problem_and_the_first_value_is_kept() -> None:
    doc = parse_located_yaml("a: 1\nb: 2\na: 3\n", "x.yml")
    assert doc.data == {"a": 1, "b": 2}
    assert doc.problems == [
        Problem(
            "x.yml", 3, 1, "a", "duplicate key 'a' (first defined at line 1); remove one of them"
        )
    ]


def test_validate_located_returns_the_model_when_valid() -> None:
    doc = parse_located_yaml("fields: [{name: city}]\n", "x.yml")
    assert validate_located(Config, doc.data, doc.index) == Config(fields=(Field(name="city"),))


def test_validate_located_maps_errors_back_to_yaml_positions() -> None:
    text = "fields:\n  - name: city\n    tpye: text\n  - type: checkbox\n"
    doc = parse_located_yaml(text, "plugin_config/user_fields.yml")
    problems = validate_located(Config, doc.data, doc.index)
    assert [str(p) for p in problems] == [  # type: ignore[union-attr]
        "plugin_config/user_fields.yml:3:5: fields[0].tpye: unknown key 'tpye'; "
        "did you mean 'type'?",
        "plugin_config/user_fields.yml:4:5: fields[1].name: required key is missing",
        "plugin_config/user_fields.yml:4:5: fields[1].type: must be 'text' or 'dropdown' "
        "(got 'checkbox')",
    ]


def test_load_located_yaml_names_the_file_as_displayed(tmp_path: Path) -> None:
    path = tmp_path / "groups.yml"
    path.write_text("a: [1\n", encoding="utf-8")
    doc = load_located_yaml(path, display="plugin_config/groups.yml")
    assert doc.data is None
    assert [str(p) for p in doc.problems] == [
        "plugin_config/groups.yml:2:1: YAML syntax: expected ',' or ']', but got '<stream end>' "
        "(while parsing a flow sequence at line 1)"
    ]


def test_unreadable_file_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    doc = load_located_yaml(tmp_path / "missing.yml", display="missing.yml")
    assert [str(p) for p in doc.problems] == ["missing.yml:1:1: no such file or directory"]


def test_yes_no_and_dates_stay_as_yaml_1_1_reads_them_except_clock_times() -> None:
    doc = parse_located_yaml("a: yes\nb: 2026-11-01\nc: 09:30\nd: 0x10\n", "x.yml")
    assert doc.data == {"a": True, "b": "2026-11-01", "c": "09:30", "d": 16}


def test_alias_bomb_is_refused_not_expanded() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join(f'*a{i - 1}' for _ in range(10))}]" for i in range(1, 9)]
    doc = parse_located_yaml("\n".join(lines) + "\n", "bomb.yml")
    assert [str(p) for p in doc.problems] == [
        "bomb.yml:1:1: document too large (aliases or nesting)"
    ]


def test_deep_nesting_is_a_problem_not_a_crash() -> None:
    doc = parse_located_yaml("[" * 700 + "]" * 700, "deep.yml")
    assert [str(p) for p in doc.problems] == ["deep.yml:1:1: YAML nested too deeply"]


def test_format_path() -> None:
    assert format_path(("penalties", "ladder", 1, "strikes")) == "penalties.ladder[1].strikes"
    assert format_path((0, "a b", True)) == '[0]["a b"]["True"]'


def test_a_nul_byte_is_located_at_its_line_and_column() -> None:
    located = parse_located_yaml("name: camp\nwelcome: ab\x00c\n", "rules/camp.yml")
    assert [str(p) for p in located.problems] == [
        "rules/camp.yml:2:12: YAML: character U+0000 is not allowed in a rule file"
    ]


def test_a_control_character_in_any_rule_file_is_located(tmp_path: Path) -> None:
    path = tmp_path / "camp.yml"
    path.write_bytes(b"a: 1\n\nb: \x07\n")
    (problem,) = load_located_yaml(path, "rules/camp.yml").problems
    assert (problem.line, problem.col) == (3, 4)
    assert "U+0007" in problem.message


# The three YAML mistakes a Chinese moderator makes most, each with a hint that says the fix.
def test_an_unquoted_cron_starting_with_a_star_hints_at_quotes() -> None:
    doc = parse_located_yaml("name: x\ncheck_schedule: * 9 * * *\n", "camp.yml")
    (problem,) = doc.problems
    assert problem.line == 2
    assert 'put the value in quotes: check_schedule: "* 9 * * *"' in problem.message


def test_a_template_line_starting_with_a_brace_and_text_hints_at_quotes() -> None:
    doc = parse_located_yaml("camp_passed: {username} 恭喜你\nother: x\n", "zh.yml")
    (problem,) = doc.problems
    assert problem.line == 1
    assert 'put the value in quotes: camp_passed: "{username} 恭喜你"' in problem.message


def test_chinese_quotes_around_a_value_are_a_problem_not_part_of_every_message() -> None:
    doc = parse_located_yaml("name: “Diamond 学习社”\nplain: 他说“好”\n", "community.yml")
    (problem,) = doc.problems
    assert (problem.line, problem.col, problem.field) == (1, 7, "name")
    assert "“ ” are Chinese quotes" in problem.message


def test_the_quoting_hint_leaves_a_trailing_comment_outside_the_quotes() -> None:
    doc = parse_located_yaml(
        "name: x\nreport_cron: * 21 * * sun   # 周日 21:00 · Sunday 21:00\n", "health.yml"
    )
    (problem,) = doc.problems
    assert 'put the value in quotes: report_cron: "* 21 * * sun"' in problem.message
    assert "周日" not in problem.message.split("put the value in quotes:")[1]
