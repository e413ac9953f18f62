"""A week as members read it, from the rules' templates: parsed once per rules and language.

The audit writes the week's dates into every ladder message and summary (a 100,000-member
audit asks about 25,000 times for the same one or two weeks); parsing the label templates on
each ask made ``bench.audit`` take 8 s instead of under 3."""

from __future__ import annotations

from pathlib import Path

from worker.engine.weeks import Week
from worker.rules import Rules, load_rules

RULES = Path(__file__).resolve().parents[2] / "rules"


def test_a_week_reads_as_its_monday_to_sunday_in_each_language() -> None:
    rules = load_rules(RULES)
    assert rules.week_dates(Week(2026, 47)) == "11月16日–22日"
    assert rules.week_dates(Week(2026, 47), "en") == "16–22 Nov"


def test_the_labels_are_parsed_once_however_often_the_same_week_is_asked() -> None:
    worked_out: list[tuple[Week, str | None]] = []

    class Counting(Rules):  # a week's dates worked out from the (parsed) label templates
        def _week_dates(self, week: Week, lang: str | None) -> str:
            worked_out.append((week, lang))
            return super()._week_dates(week, lang)

    loaded = load_rules(RULES)
    rules = Counting.model_construct(**{name: getattr(loaded, name) for name in Rules.model_fields})
    answers = {rules.week_dates(Week(2026, 47)) for _ in range(1000)}
    answers |= {rules.week_dates(Week(2026, 47), "en") for _ in range(1000)}
    assert answers == {"11月16日–22日", "16–22 Nov"}
    assert len(worked_out) == 2  # one per language


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
