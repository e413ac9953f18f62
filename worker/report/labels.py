"""The words of the report, from the rules' ``health_labels`` template (``name: text`` lines)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from worker.rules.models import Rules

LABELS_TEMPLATE = "health_labels"


@dataclass(frozen=True)
class Labels:
    """``labels["density"]`` → the moderators' word for it; an unknown name shows as itself."""

    words: Mapping[str, str]
    language: str

    def __getitem__(self, name: str) -> str:
        return self.words.get(name, name)

    @classmethod
    def from_rules(cls, rules: Rules, lang: str | None = None) -> Labels:
        language = lang if lang in rules.messages else rules.community.default_language
        templates = rules.messages[language].templates  # type: ignore[index]
        template = templates.get(LABELS_TEMPLATE)
        return cls(parse_labels(template.body) if template else {}, language)


def parse_labels(body: str) -> dict[str, str]:
    words = {}
    for line in body.splitlines():
        name, sep, text = line.partition(":")
        if sep and name.strip() and not name.lstrip().startswith("#"):
            words[name.strip()] = text.strip()
    return words
