"""A week as members read it, from the rules' templates: parsed once per rules and language.

The audit writes the week's dates into every ladder message and summary (a 100,000-member
audit asks about 25,000 times for the same one or two weeks); parsing the label templates on
each ask made ``bench.audit`` take 8 s instead of under 3."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.engine.weeks import Week
from worker.report import labels as labels_module
from worker.rules import load_rules

RULES = Path(__file__).resolve().parents[2] / "rules"


def test_a_week_reads_as_its_monday_to_sunday_in_each_language() -> None:
    rules = load_rules(RULES)
    assert rules.week_dates(Week(2026, 47)) == "11月16日–22日"
    assert rules.week_dates(Week(2026, 47), "en") == "16–22 Nov"


def test_the_labels_are_parsed_once_however_often_the_same_week_is_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rules = load_rules(RULES)
    parsed = 0
    real = labels_module.Labels.from_rules

    def counting(cls: type, rules_: object, lang: str | None = None) -> object:
        nonlocal parsed
        parsed += 1
        return real(rules_, lang)  # type: ignore[arg-type]

    monkeypatch.setattr(labels_module.Labels, "from_rules", classmethod(counting))
    answers = {rules.week_dates(Week(2026, 47)) for _ in range(1000)}
    answers |= {rules.week_dates(Week(2026, 47), "en") for _ in range(1000)}
    assert answers == {"11月16日–22日", "16–22 Nov"}
    assert parsed == 2  # one per language


def test_rules_that_answered_a_week_still_equal_rules_that_did_not() -> None:
    asked, fresh = load_rules(RULES), load_rules(RULES)
    asked.week_dates(Week(2026, 47))
    assert asked == fresh  # the remembered answers are no part of the rules


def test_rules_copied_with_another_language_answer_in_that_language() -> None:
    chinese = load_rules(RULES)
    assert chinese.week_dates(Week(2026, 47)) == "11月16日–22日"
    community = chinese.community.model_copy(update={"default_language": "en"})
    english = chinese.model_copy(update={"community": community})
    assert english.week_dates(Week(2026, 47)) == "16–22 Nov"
    assert chinese.week_dates(Week(2026, 47)) == "11月16日–22日"
