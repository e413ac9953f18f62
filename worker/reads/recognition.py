"""What recognition and health decide on: a week's facts from the stores, the ledger and
a few group reads (reads only, apart from the health snapshot of the stages).

- ``recognition_facts``: posts and likes of the window from the recognition store, the
  squad channels' chat messages of the same window from the chat store, each week's
  obligation results re-evaluated (pure) from the ledger, category ids;
- ``health_facts``: stages now (saved as the week's snapshot) and a week earlier, staff,
  leaders.

Used by the badge and health report steps (``worker.steps.badges``,
``worker.steps.health_report``), ``diamond report`` and the demo.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Protocol

import redis

from worker.engine.facts import Roster
from worker.engine.graph import PostIndex, week_bounds, week_range
from worker.engine.health import HealthFacts
from worker.engine.recognition import ObligationResult, RecognitionFacts
from worker.engine.weeks import Week
from worker.forum import calls
from worker.reads import forum_view
from worker.reads import obligations as weekly
from worker.reads.chat import squad_messages
from worker.reads.forum_view import RosterReads, cached_group_members
from worker.rules.models import Rules
from worker.state.ledger import Ledger
from worker.state.membership import MembershipStore
from worker.state.recognition import RecognitionStore

log = logging.getLogger(__name__)


class StageReads(RosterReads, calls.IterAdminUsers, Protocol):
    """Who is at which stage: the pending applicants and the stage groups' members."""


READ_MARGIN_WEEKS = 4  # posts older than the window, so replies to them find their author


def results_weeks(rules: Rules) -> int:
    """How many weeks of obligation results recognition and health need."""
    badge_weeks = [getattr(b.criterion, "weeks", 1) for b in rules.badges.badges]
    health = rules.health.lookback_weeks + rules.health.isolation_weeks - 1
    return max([health, *badge_weeks])


def week_results(
    client: RosterReads, redis_client: redis.Redis, rules: Rules, roster: Roster, weeks: list[Week]
) -> dict[Week, Mapping[str, ObligationResult]]:
    """Each week's results, re-evaluated from the obligations ledger (pure, no writes).

    A week the ledger knows nothing of yields no results (so no streak crosses it).
    """
    ledger = Ledger(redis_client)
    out: dict[Week, Mapping[str, ObligationResult]] = {}
    for week in weeks:
        facts = weekly.gather(client, ledger, rules, roster, week)
        if not any(sw.posts for sw in facts.squads):
            continue
        out[week] = weekly.evaluate(rules, facts).by_member
    return out


def recognition_facts(
    client: RosterReads,
    redis_client: redis.Redis,
    rules: Rules,
    roster: Roster,
    week: Week,
    *,
    base_url: str,
) -> tuple[RecognitionFacts, dict[int, str]]:
    """What recognition decides on for ``week`` (and health reads), plus ad signals."""
    span = results_weeks(rules)
    first = week.shift(-(span - 1 + READ_MARGIN_WEEKS))
    start, _ = week_bounds(first, rules.tz)
    _, end = week_bounds(week, rules.tz)
    store = RecognitionStore(redis_client)
    posts, ads = store.posts_between(start, end)
    likes = store.likes_between(start, end)
    results = week_results(client, redis_client, rules, roster, list(week_range(week, span)))
    facts = RecognitionFacts(
        posts=PostIndex(posts),
        likes=likes,
        roster=roster,
        results=results,
        category_ids=forum_view.category_ids(client, redis_client),
        base_url=base_url,
        languages=MembershipStore(redis_client).languages(),
        # the squad channels' chat over the same window: the margin finds threads'
        # starters and the usernames behind mentions (no forum read)
        chat=squad_messages(redis_client, roster, start, end),
    )
    return facts, ads


def current_stages(
    client: StageReads, redis_client: redis.Redis, rules: Rules
) -> dict[str, frozenset[str]]:
    groups = rules.community.groups
    pending = frozenset(str(u["username"]) for u in client.iter_admin_users("pending"))
    return {
        "pending": pending,
        "camp": cached_group_members(client, redis_client, groups.camp),
        "members": cached_group_members(client, redis_client, groups.members),
        "alumni": cached_group_members(client, redis_client, groups.alumni),
    }


def health_facts(
    client: StageReads,
    redis_client: redis.Redis,
    rules: Rules,
    recognition: RecognitionFacts,
    ads: Mapping[int, str],
    week: Week,
    *,
    api_username: str,
    save_snapshot: bool = True,
) -> HealthFacts:
    """Health facts: stages now (saved as ``week``'s snapshot) and a week earlier (the
    squad channels' chat rides in ``recognition``)."""
    store = RecognitionStore(redis_client)
    stages = current_stages(client, redis_client, rules)
    if save_snapshot:
        store.save_stages(str(week), stages)
    return HealthFacts(
        recognition=recognition,
        stages=stages,
        previous_stages=store.stages(str(week.previous())),
        staff=weekly.staff_usernames(client, redis_client, rules) | {api_username},
        leaders=cached_group_members(client, redis_client, rules.community.groups.leaders),
        ad_posts=dict(ads),
    )


def prune_before(rules: Rules, week: Week) -> datetime:
    """Posts and likes older than this are no longer read by any report of ``week`` on."""
    first = week.shift(-(results_weeks(rules) + READ_MARGIN_WEEKS))
    return week_bounds(first, rules.tz)[0] - timedelta(days=7)
