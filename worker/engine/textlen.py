"""Text length counted as people count it, and the references a post makes.

One CJK character (Chinese, Japanese kana, Korean hangul) is one unit; one run
of Latin letters/digits is one unit. Quotes, code, links' targets, images,
HTML/BBCode tags, emoji shortcodes and punctuation do not count: a review that
is mostly quoted text must not pass as a review.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# [quote="alice, post:3, topic:17"] ... [/quote]  (Discourse's quote BBCode; may nest)
_QUOTE_OPEN = re.compile(r"\[quote(?:=[^\]]*)?\]", re.IGNORECASE)
_QUOTE_CLOSE = re.compile(r"\[/quote\]", re.IGNORECASE)
_QUOTE_ATTRS = re.compile(
    r'\[quote="?(?P<username>[^,"\]]+)\s*,\s*post:\s*(?P<post>\d+)\s*,\s*topic:\s*(?P<topic>\d+)',
    re.IGNORECASE,
)
_FENCED_CODE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
_CODE_BBCODE = re.compile(r"\[code\].*?\[/code\]", re.IGNORECASE | re.DOTALL)
_INDENTED_CODE = re.compile(r"(?:^(?: {4}|\t).*(?:\n|$))+", re.MULTILINE)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_BLOCKQUOTE_LINE = re.compile(r"^\s{0,3}>.*$", re.MULTILINE)
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)|\[img\].*?\[/img\]", re.IGNORECASE | re.DOTALL)
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")  # keep the anchor text, drop the target
_URL = re.compile(r"\b(?:https?|ftp)://\S+|\bwww\.\S+", re.IGNORECASE)
_HTML_TAG = re.compile(r"<[^>\n]+>")
_BBCODE_TAG = re.compile(r"\[/?[a-z]+(?:=[^\]]*)?\]", re.IGNORECASE)
_EMOJI = re.compile(r":[a-z0-9_+\-]+:")
_MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_][A-Za-z0-9_.\-]*[A-Za-z0-9_]|[A-Za-z0-9_])")

# CJK ideographs (incl. extensions and compatibility), kana, hangul syllables.
_CJK = (
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
    "\u3040-\u309f\u30a0-\u30ff\uac00-\ud7af"
)
_UNIT = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+(?:['’\-][^\W_{_CJK}]+)*")


@dataclass(frozen=True, slots=True)
class QuoteRef:
    """A Discourse quote of another post: who was quoted, and where."""

    username: str
    topic_id: int
    post_number: int


def strip_quotes(raw: str) -> str:
    """Remove [quote]…[/quote] blocks (nested ones too) and markdown '>' quote lines."""
    out: list[str] = []
    depth = 0
    pos = 0
    tokens = sorted(
        [(m.start(), m.end(), +1) for m in _QUOTE_OPEN.finditer(raw)]
        + [(m.start(), m.end(), -1) for m in _QUOTE_CLOSE.finditer(raw)]
    )
    for start, end, step in tokens:
        if depth == 0:
            out.append(raw[pos:start])
        if step < 0 and depth == 0:
            pos = end  # stray closing tag: drop it, keep the text around it
            continue
        depth += step
        pos = end
    if depth == 0:
        out.append(raw[pos:])
    # An unclosed [quote] swallows the rest, as Discourse renders it.
    return _BLOCKQUOTE_LINE.sub("", "".join(out))


def countable_text(raw: str) -> str:
    """The part of a post's raw markdown that counts toward its length."""
    text = strip_quotes(raw or "")
    text = _FENCED_CODE.sub(" ", text)
    text = _CODE_BBCODE.sub(" ", text)
    text = _INDENTED_CODE.sub(" ", text)
    text = _INLINE_CODE.sub(" ", text)
    text = _IMAGE.sub(" ", text)
    text = _LINK.sub(r" \1 ", text)
    text = _URL.sub(" ", text)
    text = _HTML_TAG.sub(" ", text)
    text = _BBCODE_TAG.sub(" ", text)
    return _EMOJI.sub(" ", text)


def count_units(raw: str) -> int:
    """字数 as people count it: one CJK character or one Latin word is one unit."""
    return len(_UNIT.findall(countable_text(raw)))


def quoted_posts(raw: str) -> list[QuoteRef]:
    """Every post this raw markdown quotes with Discourse's quote syntax, in order."""
    return [
        QuoteRef(m["username"].strip(), int(m["topic"]), int(m["post"]))
        for m in _QUOTE_ATTRS.finditer(raw or "")
    ]


def mentions(raw: str) -> list[str]:
    """Usernames @-mentioned outside quotes and code, lower-cased, first occurrence order."""
    text = strip_quotes(raw or "")
    for pattern in (_FENCED_CODE, _CODE_BBCODE, _INLINE_CODE, _URL):
        text = pattern.sub(" ", text)
    seen: dict[str, None] = {}
    for m in _MENTION.finditer(text):
        seen.setdefault(m.group(1).lower(), None)
    return list(seen)
