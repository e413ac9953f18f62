"""What members and leaders receive reads well: a title that says what a PM is about,
links they can click, weeks as dates, the ring explained, an appeal route.

The story of ``test_rules_placeholders._tour`` is told once per language and every PM
the engines plan is collected.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from tests.pure.test_message_languages import speaking
from tests.pure.test_rules_placeholders import _tour
from tests.support.obligations import rendering
from worker import actions as a
from worker.rules.models import Rendered


def _pms(lang: str) -> list[a.SendPrivateMessage]:
    return [x for x in _tour(speaking(lang)) if isinstance(x, a.SendPrivateMessage)]


def _topics(lang: str) -> list[a.CreateTopic]:
    return [x for x in _tour(speaking(lang)) if isinstance(x, a.CreateTopic)]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_pm_is_titled_with_the_bare_community_name(
    lang: str,
) -> None:
    rules = speaking(lang)
    pms = _pms(lang)
    assert len(pms) > 10
    bare = [pm.key for pm in pms if pm.title.strip() == rules.community.name]
    assert bare == []


# The words that say the ring wraps, per language.
RING_WRAPS = {"zh": "最后一位点评第一位", "en": "the last reviews the first"}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_weekly_thread_explains_that_the_last_reviews_the_first(lang: str) -> None:
    from tests.support.obligations import W47, squad
    from worker.engine.obligations import plan_weekly_threads

    rules = speaking(lang)
    sq = dataclasses.replace(squad("lead", "alice", "bob", leader="lead"), category_id=5)
    (thread,) = plan_weekly_threads(rules, [sq], W47, {})
    assert isinstance(thread, a.CreateTopic)
    assert RING_WRAPS[lang] in thread.raw


def _ladder_top(lang: str) -> list[a.Action]:
    """The audit's writes for m06 (6 strikes: silenced) and m08 (8: removed) of squad sq-3,
    led by m00, who wrote nothing this week."""
    from tests.support.obligations import W47, ring_audit

    rules = speaking(lang)
    names = [f"m{i:02d}" for i in range(12)]
    history = {"m06": {W47.previous(): 4}, "m07": {W47.previous(): 4}, "m08": {W47.previous(): 6}}
    audit, _thread = ring_audit(rules, names, names[:6] + names[9:], history)
    return list(audit.actions)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_silence_and_removal_name_the_leader_and_the_reviewers_inbox(lang: str) -> None:
    reviewers = speaking(lang).community.groups.reviewers
    actions = _ladder_top(lang)
    silences = [x for x in actions if isinstance(x, a.SilenceUser)]
    removals = [x for x in actions if isinstance(x, a.SendPrivateMessage) and x.key.endswith(":pm")]
    assert silences and removals
    for text in [s.message for s in silences] + [r.raw for r in removals]:
        assert "@m00" in text and f"@{reviewers}" in text
    for removal in removals:
        assert reviewers in removal.recipients  # a reply reaches people who can act on it


PUBLIC = "https://forum.example.org"


@pytest.mark.integration
def test_links_in_pms_and_posts_are_absolute_on_the_forums_public_url(
    sandbox: Any, redis_client: Any
) -> None:
    from worker.apply import Applier
    from worker.forum.client import ForumClient

    client = ForumClient(sandbox.url, sandbox.api_key, "system", public_url=PUBLIC)
    sandbox.forum.create_user(username="ann", email="ann@example.org", approved=True)
    rules = speaking("en")
    msg = rules.render("squad_assigned", username="ann", squad="3", leader="ann", squad_url="/c/s3")
    pm = a.SendPrivateMessage(
        key="pm", reason="r", recipients=("ann",), title=msg.title, raw=msg.body + "\n/t/5/2"
    )
    Applier(client, redis_client, live=True, rules=rules).apply([pm])

    (topic,) = client.list_private_messages("ann")
    first = client.get_topic(topic["id"])["post_stream"]["posts"][0]
    text = client.get_post(first["id"])["raw"]
    assert f"{PUBLIC}/c/s3" in text and f"{PUBLIC}/t/5/2" in text
    assert " /c/" not in text and "\n/t/" not in text


def test_a_path_inside_a_url_or_a_longer_path_is_left_alone() -> None:
    from worker.forum.links import absolute_links

    text = "see /t/5/2, [it](/c/sq-3) and https://x.org/t/1/2 or a/t/3 (/u/ann)"
    assert absolute_links(text, PUBLIC + "/") == (
        f"see {PUBLIC}/t/5/2, [it]({PUBLIC}/c/sq-3) and https://x.org/t/1/2 or a/t/3 "
        f"({PUBLIC}/u/ann)"
    )


# What members and leaders read about a week; staff posts (audits, the health report,
# badge audits) keep ISO weeks, which their tools take.
MEMBER_FACING = (
    "article_reminder", "review_reminder", "weekly_thread", "leader_reminder", "ladder_",
    "obligation_reason.", "squad_weekly_summary", "leader_week_thread", "roll_call", "leave_week.",
)  # fmt: skip
_ISO_WEEK = re.compile(r"第\s*\d+\s*周|\b[Ww]eek \d+\b|\b\d{4}-W\d{2}\b")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_members_read_a_week_as_its_dates_not_its_iso_number(
    lang: str,
) -> None:
    said: list[tuple[str, str]] = []

    def seen(key: str, _values: object, out: Rendered) -> None:
        if key.startswith(MEMBER_FACING):
            said.append((key, f"{out.title}\n{out.body}"))

    planned = _tour(rendering(speaking(lang), seen))
    threads = [x for x in planned if isinstance(x, a.CreateTopic)]
    said += [("thread_title", t.title) for t in threads if t.key.startswith("weekly-thread:")]
    assert {key for key, _ in said} >= {"article_reminder", "ladder_warning", "thread_title"}
    found = {key: _ISO_WEEK.findall(text) for key, text in said if _ISO_WEEK.search(text)}
    assert found == {}
