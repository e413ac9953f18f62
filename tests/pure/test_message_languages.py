"""Every sentence a member or staff reads is in one language: theirs.

The story of ``test_rules_placeholders._tour`` (an application approved, rejected and
held; a camp passed, extended and failed; squads formed; reminders; every ladder step;
badges; the health report; staff notices) is told once with Chinese and once with
English as the language of everyone, and every message Diamond renders is read for
text of the other language. Names are allowed: usernames, slugs, URLs, rule paths,
commands in backticks, the community's name and squads' names.
"""

from __future__ import annotations

import re

from tests.pure.test_rules_placeholders import _tour
from tests.support.obligations import rendering, shipped_rules
from worker.rules import Rules
from worker.rules.models import Rendered

# Words that are names in any language: the products, formats.
NAMES = {"Diamond", "Discourse", "HTML", "API", "ISO", "YAML", "CSV"}
# The story's usernames and squad slugs are ASCII words; they are names.
_NAME_PATTERNS = (
    r"https?://\S+",  # URLs
    r"/(?:t|u|admin|c|g)/\S*",  # forum paths
    r"`[^`]*`",  # commands
    r"[\w.+-]+@[\w-]+\.[\w.]+",  # emails
    r"@[\w.-]+",  # mentions
    r"#[\w-]+",  # category slugs
    r"\b[a-z_]+(?:\.[a-z_\[\]0-9]+)+\b",  # rule paths: referral.referrer.max_strikes
    r"\brules/\S+",  # rule files
    r"\b\d{4}-W\d{2}\b",  # ISO weeks
    r"\b(?:u|m)\d+\b",  # the story's generated usernames
)
USERNAMES = {
    "newbie", "mentor", "alice", "bob", "carol", "lead", "ann", "blue", "dave", "erin", "eve",
    "frank", "grace", "heidi", "ivan", "judy", "green", "red",
}  # fmt: skip
_LATIN_WORD = re.compile(r"[A-Za-z]{3,}")
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


def english_in_chinese(text: str) -> list[str]:
    for pattern in (*_QUOTED, *_NAME_PATTERNS):
        text = re.sub(pattern, " ", text)
    return [w for w in _LATIN_WORD.findall(text) if w not in NAMES and w.lower() not in USERNAMES]


# What people wrote themselves is quoted as they wrote it: an application, a matched phrase.
_QUOTED = (r"(?m)^\s*>.*$", r"「[^」]*」")


def chinese_in_english(text: str, names: list[str]) -> list[str]:
    for pattern in _QUOTED:
        text = re.sub(pattern, " ", text)
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, " ")
    text = re.sub(r"\S*期( 第\d+组| \S+班)?|\d+组", " ", text)  # squad names (squads.yml)
    return _CJK.findall(text)


def speaking(lang: str) -> Rules:
    """The shipped rules with ``lang`` as everyone's language."""
    rules = shipped_rules()
    community = rules.community.model_copy(update={"default_language": lang})
    return rules.model_copy(update={"community": community})


def _story(lang: str) -> list[tuple[str, str]]:
    """(template key, rendered title and body) of every message of the story."""
    said: list[tuple[str, str]] = []

    def seen(key: str, _values: object, out: Rendered) -> None:
        said.append((key, f"{out.title}\n{out.body}"))

    _tour(rendering(speaking(lang), seen))
    assert len(said) > 100  # every message of the story was seen
    return said


def _names(rules: Rules) -> list[str]:
    """The community's name and the badges' names: names, in whatever language."""
    return [rules.community.name, *(b.name for b in rules.badges.badges)]


def test_a_chinese_story_has_no_english_sentences() -> None:
    found = {key: words for key, text in _story("zh") if (words := english_in_chinese(text))}
    assert found == {}


def test_an_english_story_has_no_chinese_sentences() -> None:
    rules = shipped_rules()
    found = {
        key: "".join(chars)
        for key, text in _story("en")
        if (chars := chinese_in_english(text, _names(rules)))
    }
    assert found == {}
