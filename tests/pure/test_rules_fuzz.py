"""Fuzzing the loader: any text in any rule file gives valid rules or located problems."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.rules_cases import MINIMAL
from worker.rules import Rules, RulesInvalid, load_rules
from worker.rules.loader import RULE_FILES

# Pieces that make YAML-ish text likely to reach the validators, not just the parser.
FRAGMENTS = [
    "\n",
    "  ",
    "- ",
    ": ",
    ":",
    "：",
    "\u3000",
    "\t",
    "#",
    "[",
    "]",
    "{",
    "}",
    ",",
    "'",
    '"',
    "&a ",
    "*a",
    "!!str ",
    "<<: ",
    "---\n",
    "|\n  ",
    "null",
    "true",
    "no",
    "22:00",
    "0",
    "-1",
    "1.5",
    "1e9",
    "2026-11-01",
    "0 9 * * *",
    "Asia/Shanghai",
    "zh",
    "{username}",
    "{",
    "strikes",
    "actions",
    "action",
    "pm",
    "silence",
    "days",
    "kind",
    "streak",
    "template",
    "welcome",
    "name",
    "timezone",
    "size",
    "min",
    "max",
    "target",
    "ladder",
    "penalties",
    "badges",
    "messages",
    "组",
    "中文",
]

yamlish = st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join)
texts = st.one_of(st.text(max_size=200), yamlish)


@st.composite
def mutated_file(draw: st.DrawFn) -> tuple[str, str]:
    """A real rule file with a random slice replaced by random text."""
    name = draw(st.sampled_from(RULE_FILES))
    original = (MINIMAL / name).read_text(encoding="utf-8")
    start = draw(st.integers(0, len(original)))
    end = draw(st.integers(start, min(len(original), start + 30)))
    return name, original[:start] + draw(texts) + original[end:]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rules_dir = tmp_path_factory.mktemp("fuzz") / "rules"
    shutil.copytree(MINIMAL, rules_dir)
    return rules_dir


def _check_one(rules_dir: Path, name: str, text: str) -> None:
    target = rules_dir / name
    target.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        result = load_rules(rules_dir)
    except RulesInvalid as exc:
        assert exc.problems, "RulesInvalid must carry at least one problem"
        line_count = text.count("\n") + 1
        for problem in exc.problems:
            assert problem.line >= 1 and problem.col >= 1
            assert str(problem).startswith(f"{problem.file}:{problem.line}:{problem.col}: ")
            if problem.file == f"{rules_dir.as_posix()}/{name}":
                assert problem.line <= line_count + 1
    else:
        assert isinstance(result, Rules)
    finally:
        shutil.copyfile(MINIMAL / name, target)


FUZZ = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(name=st.sampled_from(RULE_FILES), text=texts)
def test_any_text_in_any_rule_file_gives_rules_or_located_problems(
    scratch: Path, name: str, text: str
) -> None:
    _check_one(scratch, name, text)


@FUZZ
@given(case=mutated_file())
def test_any_edit_of_a_valid_file_gives_rules_or_located_problems(
    scratch: Path, case: tuple[str, str]
) -> None:
    _check_one(scratch, *case)
