"""What the weekly steps know of one week: the ledger's posts per squad, staff, leave.

Shared by the audit, the reminders, the roll calls, the ledger rebuild and recognition
(``worker.steps.*``, ``worker.reads.recognition``). Reads cost a handful of calls (the
staff groups, cached; user ids of members about to be silenced); posts come from the
ledger, never from polling members.

``gather`` also keeps the roster's squad categories and names in the ledger (a cache of
forum facts: the post recording needs them between scheduled runs); it never writes to
the forum.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import redis

from worker.engine.facts import Roster, Squad
from worker.engine.obligations import (
    LeaveDecision,
    LeaveRequest,
    SquadWeek,
    WeekResults,
    evaluate_week,
    grant_leave,
)
from worker.engine.weeks import Week
from worker.forum import calls
from worker.forum.errors import NotFound
from worker.reads.forum_view import RosterReads, cached_group_members
from worker.reads.parse import leave_weeks_from_field
from worker.rules.models import Rules
from worker.state import keys
from worker.state import roster as roster_state
from worker.state.ledger import Ledger

log = logging.getLogger(__name__)


class UserReads(calls.GetUser, Protocol):
    pass


def staff_usernames(client: RosterReads, redis_client: redis.Redis, rules: Rules) -> frozenset[str]:
    """Members of the rules' staff groups (a missing group is none); cached briefly, as
    every week of a badge run or report asks again."""
    names: set[str] = set()
    for group in rules.community.staff_groups:
        names |= cached_group_members(client, redis_client, group)
    return frozenset(names)


def squads_by_category(roster: Roster) -> dict[int, Squad]:
    return {s.category_id: s for s in roster.squads if s.category_id is not None}


def remember_squad_names(redis_client: redis.Redis, roster: Roster) -> None:
    if roster.squads:
        redis_client.hset(keys.SQUAD_NAMES, mapping={s.slug: s.full_name for s in roster.squads})


def remember_roster(ledger: Ledger, roster: Roster) -> None:
    """Keep the roster's squad categories and names where post recording finds them."""
    ledger.record_squad_categories({cid: s.slug for cid, s in squads_by_category(roster).items()})
    remember_squad_names(ledger.redis, roster)


def squad_weeks(
    ledger: Ledger, rules: Rules, squads: Sequence[Squad], week: Week
) -> list[SquadWeek]:
    slugs = [s.slug for s in squads]
    threads = ledger.threads(week)
    current = ledger.posts_many(week, slugs)
    if rules.obligations.article.mode == "thread":
        return [SquadWeek(s, week, current[s.slug], threads.get(s.slug)) for s in squads]
    following = ledger.posts_many(week.next(), slugs)
    previous = ledger.posts_many(week.previous(), slugs)
    return [
        SquadWeek(
            s,
            week,
            current[s.slug],
            None,
            next_posts=following[s.slug],
            previous_posts=previous[s.slug],
        )
        for s in squads
    ]


def leave_decision(
    ledger: Ledger, rules: Rules, user_fields: Mapping[str, Mapping[str, str]] | None = None
) -> LeaveDecision:
    """Leave posts from the ledger plus, when the rules name a field, members' field values."""
    requests = list(ledger.leave_requests())
    field_name = rules.obligations.leave.user_field
    if field_name and user_fields:
        for username, fields in user_fields.items():
            weeks = leave_weeks_from_field(fields.get(field_name))
            if weeks:
                requests.append(LeaveRequest(username, weeks, None, "user field"))
    return grant_leave(rules.obligations, rules.tz, requests)


@dataclass
class WeekFacts:
    week: Week
    squads: list[SquadWeek]
    staff: frozenset[str]
    leave: LeaveDecision

    @property
    def excused(self) -> frozenset[str]:
        return self.leave.excused(self.week)


def gather(
    client: RosterReads,
    ledger: Ledger,
    rules: Rules,
    roster: Roster,
    week: Week,
    *,
    squad: str | None = None,
    user_fields: Mapping[str, Mapping[str, str]] | None = None,
) -> WeekFacts:
    squads = [s for s in roster.squads if squad is None or s.slug == squad]
    if squad is not None and not squads:
        raise ValueError(f"no squad {squad!r} in the roster")
    remember_roster(ledger, roster)
    return WeekFacts(
        week,
        squad_weeks(ledger, rules, squads, week),
        staff_usernames(client, ledger.redis, rules),
        leave_decision(ledger, rules, user_fields),
    )


def evaluate(rules: Rules, facts: WeekFacts, *, as_of: dt.datetime | None = None) -> WeekResults:
    """The engine's results of the gathered week (pure)."""
    return evaluate_week(
        rules.obligations,
        rules.tz,
        facts.week,
        facts.squads,
        staff=facts.staff,
        excused=facts.excused,
        as_of=as_of,
    )


def rules_of_week(ledger: Ledger, rules: Rules, week: Week) -> Rules:
    """``rules`` with the obligations ``week`` was first audited under, if it was: a new
    threshold applies from the next week on, never to a week already audited."""
    recorded = ledger.audit_rules(week)
    if recorded is None:
        return rules
    obligations = type(rules.obligations).model_validate(recorded)
    if obligations == rules.obligations:
        return rules
    log.info("audit of %s: the obligations rules it was first audited under apply", week)
    return rules.model_copy(update={"obligations": obligations})


def user_ids_of(
    client: UserReads, usernames: Iterable[str], redis_client: redis.Redis | None = None
) -> dict[str, int]:
    """Forum user ids (what a silence needs): from the roster state (every member listing
    noted them), else one user read each; a missing user is left out."""
    names = sorted(usernames)
    out = roster_state.user_ids(redis_client, names) if redis_client is not None else {}
    for username in names:
        if username in out:
            continue
        try:
            answer = client.get_user(username)
        except NotFound:
            log.warning("audit: user %s not found; cannot silence", username)
            continue
        user = answer.get("user", answer)
        out[username] = int(user["id"])
    return out
