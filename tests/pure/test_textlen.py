"""Length counted as people count it; quotes, code, links and images do not count."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.engine.textlen import QuoteRef, count_units, mentions, quoted_posts

CASES = [
    ("chinese characters count one each", "我今天学习了很多", 8),
    ("latin words count one each", "I learned a lot today", 5),
    ("mixed chinese and english", "今天学了 Python 和 Rust", 7),
    ("chinese punctuation does not count", "你好，世界！", 4),
    ("latin punctuation does not count", "Hello, world!!! ...", 2),
    ("numbers are words", "第 47 周 2026 年", 5),
    ("contractions and hyphens are one word", "don't well-known", 2),
    ("quote block does not count", '[quote="bob, post:2, topic:7"]很长很长的引用文字[/quote]好', 1),
    ("nested quotes do not count", "[quote]外[quote]内[/quote]外[/quote]我", 1),
    ("unclosed quote swallows the rest", "写[quote]引用没有结束", 1),
    ("markdown blockquote lines do not count", "> 引用的一行\n> 第二行\n我的话", 3),
    ("fenced code does not count", "看代码\n```python\nprint('hello world')\n```\n完", 4),
    ("inline code does not count", "用 `git rebase --onto` 命令", 3),
    ("bare links do not count", "链接 https://example.com/a/b?c=d 完", 3),
    ("link text counts but not its target", "见[这篇文章](https://x.y/z)", 5),
    ("images do not count", "图![截图](upload://abc.png)", 1),
    ("html tags do not count", "<b>粗体</b><br>", 2),
    ("emoji shortcodes do not count", "好 :smile: :+1:", 1),
    ("japanese kana counts per character", "ありがとう", 5),
    ("empty text is zero", "", 0),
    ("whitespace only is zero", "  \n\t ", 0),
]


@pytest.mark.parametrize(("raw", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_count_units(raw: str, expected: int) -> None:
    assert count_units(raw) == expected


def test_review_that_is_mostly_quote_counts_only_own_words() -> None:
    quote = '[quote="alice, post:3, topic:9"]\n' + "好" * 500 + "\n[/quote]\n"
    assert count_units(quote + "写得好") == 3


def test_quoted_posts_are_found_in_order() -> None:
    raw = (
        '[quote="alice, post:3, topic:9"]a[/quote] x '
        '[quote="bob,post:12,topic:9, full:true"]b[/quote]'
    )
    assert quoted_posts(raw) == [QuoteRef("alice", 9, 3), QuoteRef("bob", 9, 12)]


def test_mentions_outside_quotes_and_code() -> None:
    raw = (
        "@Alice 记得交作业 @bob @alice\n"
        '[quote="x, post:1, topic:1"]@carol[/quote] `@dave` mail a@b.c'
    )
    assert mentions(raw) == ["alice", "bob"]


@given(st.text(max_size=300))
def test_counting_never_fails_and_is_never_negative(raw: str) -> None:
    assert count_units(raw) >= 0


def test_post_fact_from_real_captured_webhook() -> None:
    import json
    from datetime import UTC, datetime

    from tests.conftest import DISCOURSE_REF
    from worker.engine.facts import PostFact

    body = json.loads(
        (DISCOURSE_REF / "webhooks/post__post_created__2025.12.0-latest-body.json").read_text()
    )
    fact = PostFact.from_discourse(body["post"])
    assert (fact.id, fact.topic_id, fact.post_number, fact.username) == (12, 10, 1, "user1")
    assert fact.created_at == datetime(2026, 1, 2, 13, 58, 49, 606000, tzinfo=UTC)
    assert fact.units == count_units(body["post"]["raw"]) > 50
    assert not fact.deleted and not fact.private_message
