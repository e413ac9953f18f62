"""A small stand-in for Discourse's markdown cooker.

Enough for the worker's needs: paragraphs, ``[quote="user, post:N, topic:T"]``
blocks (``<aside class="quote">`` like Discourse), links, bare URLs, mentions,
emphasis, inline code, lists and headings. Text is always HTML-escaped.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

QUOTE_OPEN = re.compile(r'\[quote(?:=(?:"([^"\]]*)"|([^\]]*)))?\]', re.IGNORECASE)
QUOTE_CLOSE = re.compile(r"\[/quote\]", re.IGNORECASE)
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^\s)]+|/[^\s)]*)\)")
_BARE_URL = re.compile(r"(?<![\"'=>])\bhttps?://[^\s<]+[^\s<.,;:!?)\]]")
_MENTION = re.compile(r"(?<![\w@/])@([A-Za-z0-9_][A-Za-z0-9_.-]*[A-Za-z0-9_]|[A-Za-z0-9_])")
_STRONG = re.compile(r"\*\*(.+?)\*\*")
_EM = re.compile(r"(?<![*\w])\*(?!\s)(.+?)(?<!\s)\*(?![*\w])")
_CODE = re.compile(r"`([^`]+)`")
_QUOTED = re.compile(r"\[quote(?:=[^\]]*)?\].*?\[/quote\]", re.IGNORECASE | re.DOTALL)
_FENCED = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_BULLET = re.compile(r"^\s*[*-]\s+")
_NUMBERED = re.compile(r"^\s*\d+\.\s+")


@dataclass(frozen=True)
class Quote:
    username: str | None
    post_number: int | None
    topic_id: int | None
    text: str


def parse_quote_attrs(attrs: str | None) -> tuple[str | None, int | None, int | None]:
    """``"alice, post:3, topic:12"`` → ("alice", 3, 12)."""
    if not attrs:
        return None, None, None
    parts = [part.strip() for part in attrs.split(",")]
    username = parts[0] or None
    post_number = topic_id = None
    for part in parts[1:]:
        key, _, value = part.partition(":")
        if key.strip() == "post" and value.strip().isdigit():
            post_number = int(value)
        elif key.strip() == "topic" and value.strip().isdigit():
            topic_id = int(value)
    return username, post_number, topic_id


def quotes(raw: str) -> list[Quote]:
    found: list[Quote] = []
    pos = 0
    while True:
        opening = QUOTE_OPEN.search(raw, pos)
        if not opening:
            return found
        closing = QUOTE_CLOSE.search(raw, opening.end())
        if not closing:
            return found
        username, post_number, topic_id = parse_quote_attrs(opening.group(1) or opening.group(2))
        found.append(Quote(username, post_number, topic_id, raw[opening.end() : closing.start()]))
        pos = closing.end()


def mentions(raw: str) -> set[str]:
    """Usernames @mentioned in ``raw``, lower-cased, each once, not counting those in
    quotes or code (Discourse's ``Post#raw_mentions``, which max_mentions_per_post counts)."""
    return set(mention_list(raw))


def mention_list(raw: str) -> list[str]:
    """Every @mention of ``raw`` in order, lower-cased, repeats kept (one per mention the
    cooked text holds), not counting those in quotes or code."""
    text = QUOTE_CLOSE.sub("", _QUOTED.sub("", raw))
    text = _FENCED.sub("", text)
    text = _CODE.sub("", text)
    return [m.group(1).lower() for m in _MENTION.finditer(text)]


def _inline(text: str) -> str:
    out = html.escape(text, quote=False)
    placeholders: list[str] = []

    def keep(fragment: str) -> str:
        placeholders.append(fragment)
        return f"\x00{len(placeholders) - 1}\x00"

    out = _CODE.sub(lambda m: keep(f"<code>{m.group(1)}</code>"), out)
    out = _LINK.sub(lambda m: keep(f'<a href="{m.group(2)}">{m.group(1)}</a>'), out)
    out = _BARE_URL.sub(lambda m: keep(f'<a href="{m.group(0)}">{m.group(0)}</a>'), out)
    out = _MENTION.sub(
        lambda m: keep(f'<a class="mention" href="/u/{m.group(1).lower()}">@{m.group(1)}</a>'),
        out,
    )
    out = _STRONG.sub(r"<strong>\1</strong>", out)
    out = _EM.sub(r"<em>\1</em>", out)
    return re.sub(r"\x00(\d+)\x00", lambda m: placeholders[int(m.group(1))], out)


def _blocks(text: str) -> list[str]:
    html_blocks: list[str] = []
    for chunk in re.split(r"\n\s*\n", text.strip()):
        lines = [line.rstrip() for line in chunk.split("\n") if line.strip()]
        if not lines:
            continue
        if all(_BULLET.match(line) for line in lines):
            items = "\n".join(f"<li>{_inline(_BULLET.sub('', line))}</li>" for line in lines)
            html_blocks.append(f"<ul>\n{items}\n</ul>")
        elif all(_NUMBERED.match(line) for line in lines):
            items = "\n".join(f"<li>{_inline(_NUMBERED.sub('', line))}</li>" for line in lines)
            html_blocks.append(f"<ol>\n{items}\n</ol>")
        elif len(lines) == 1 and (heading := re.match(r"^(#{1,6})\s+(.*)$", lines[0])):
            level = len(heading.group(1))
            html_blocks.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        else:
            html_blocks.append("<p>" + "<br>\n".join(_inline(line) for line in lines) + "</p>")
    return html_blocks


def _quote_html(attrs: str | None, inner: str) -> str:
    username, post_number, topic_id = parse_quote_attrs(attrs)
    data = ""
    if username:
        data += f' data-username="{html.escape(username)}"'
    if post_number is not None:
        data += f' data-post="{post_number}"'
    if topic_id is not None:
        data += f' data-topic="{topic_id}"'
    title = ""
    if username:
        title = (
            '<div class="title">\n<div class="quote-controls"></div>\n'
            f"{html.escape(username)}:</div>\n"
        )
    body = "\n".join(_blocks(inner))
    return (
        f'<aside class="quote no-group"{data}>\n{title}'
        f"<blockquote>\n{body}\n</blockquote>\n</aside>"
    )


def cook(raw: str) -> str:
    parts: list[str] = []
    pos = 0
    while True:
        opening = QUOTE_OPEN.search(raw, pos)
        closing = QUOTE_CLOSE.search(raw, opening.end()) if opening else None
        if not opening or not closing:
            parts.extend(_blocks(raw[pos:]))
            break
        parts.extend(_blocks(raw[pos : opening.start()]))
        parts.append(
            _quote_html(opening.group(1) or opening.group(2), raw[opening.end() : closing.start()])
        )
        pos = closing.end()
    return "\n".join(parts)


def excerpt(cooked: str, length: int = 200) -> str:
    text = re.sub(r"<aside.*?</aside>", "", cooked, flags=re.DOTALL)
    text = html.unescape(re.sub(r"<[^>]+>", "", text)).strip()
    text = re.sub(r"\s+", " ", text)
    return text if len(text) <= length else text[:length] + "&hellip;"


def slugify(text: str) -> str:
    """Discourse's ascii slug generator; empty when nothing ASCII is left."""
    slug = re.sub(r"[^a-z0-9\s-]", "", text.lower())
    slug = re.sub(r"[\s-]+", "-", slug).strip("-")
    return slug[:80]
