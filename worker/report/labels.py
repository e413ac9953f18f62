"""The words of the report, from the rules' ``health_labels`` template (``name: text`` lines)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from worker.engine.weeks import Week
from worker.rules.models import Rules

LABELS_TEMPLATE = "health_labels"
DEFINITIONS_TEMPLATE = "health_definitions"  # "name: what it means" lines, and the months
DATES_TEMPLATE = "health_week_dates"  # a week's first and last day
DATES_ONE_MONTH_TEMPLATE = "health_week_dates_one_month"


@dataclass(frozen=True)
class Labels:
    """``labels["density"]`` → the moderators' word for it; an unknown name shows as itself."""

    words: Mapping[str, str]
    language: str
    definitions: Mapping[str, str] = field(default_factory=dict)
    dates: str = "{y1}-{m1}-{d1} – {y2}-{m2}-{d2}"
    dates_one_month: str = "{y1}-{m1}-{d1} – {y2}-{m2}-{d2}"

    def __getitem__(self, name: str) -> str:
        return self.words.get(name, name)

    @classmethod
    def from_rules(cls, rules: Rules, lang: str | None = None) -> Labels:
        language: str = (
            lang
            if lang is not None and lang in rules.messages
            else rules.community.default_language
        )
        templates = rules.messages[language].templates  # type: ignore[index]  # a key of messages
        template = templates.get(LABELS_TEMPLATE)
        definitions = templates.get(DEFINITIONS_TEMPLATE)
        dates = templates.get(DATES_TEMPLATE)
        one_month = templates.get(DATES_ONE_MONTH_TEMPLATE)
        values = {
            "unanswered_hours": str(rules.health.unanswered_hours),
            "isolation_weeks": str(rules.health.isolation_weeks),
            "chat_min_units": str(rules.health.chat.min_units),
        }
        meanings = parse_labels(definitions.body) if definitions else {}
        return cls(
            parse_labels(template.body) if template else {},
            language,
            {name: _fill(text, values) for name, text in meanings.items()},
            dates.body.strip() if dates else cls.dates,
            one_month.body.strip()
            if one_month
            else dates.body.strip()
            if dates
            else cls.dates_one_month,
        )

    def week_dates(self, week: Week) -> str:
        """The week's Monday to Sunday as people read dates: "3月16日–3月22日", "16–22 Mar 2026"."""
        first = week.monday()
        last = first + timedelta(days=6)
        months = self.definitions.get("months", "").split()
        values: dict[str, str] = {}
        for n, day in (("1", first), ("2", last)):
            values |= {
                f"d{n}": str(day.day),
                f"m{n}": str(day.month),
                f"mon{n}": months[day.month - 1] if len(months) == 12 else str(day.month),
                f"y{n}": str(day.year),
            }
        pattern = self.dates_one_month if first.month == last.month else self.dates
        return _fill(pattern, values)


def _fill(text: str, values: Mapping[str, str]) -> str:
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


def parse_labels(body: str) -> dict[str, str]:
    words = {}
    for line in body.splitlines():
        name, sep, text = line.partition(":")
        if sep and name.strip() and not name.lstrip().startswith("#"):
            words[name.strip()] = text.strip()
    return words
