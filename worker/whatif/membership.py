"""What-if for the camp and for squad formation, from the records in Redis (read only).

Camp: every camper on record (``camp:ever``) is judged again from their recorded posts as
the daily camp check would, at each end of their camp: pass, extend (and judged again at
the extended end), or fail; a camp that has not ended by ``now`` is "in progress".
Squads: each cohort's graduates on record are split afresh (``form_cohort``): squads,
sizes, leaders and classes, as the first split of a next cohort under these rules.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import redis

from worker.engine.camp import CampChat, Camper, CampPost, camp_end, evaluate_camp, task_lines
from worker.engine.squads import Graduate, SquadPlan, form_cohort
from worker.rules.models import Rules

if TYPE_CHECKING:
    from worker.forum.client import ForumClient

# ─────────────────────────────── camp ───────────────────────────────


@dataclass(frozen=True)
class CampFacts:
    campers: tuple[Camper, ...]  # as they entered the camp (no extension yet)
    posts: Mapping[str, tuple[CampPost, ...]]
    fellows: frozenset[str]
    # check-ins category slug -> user id -> their messages in its channel (chat check-ins)
    chat: Mapping[str, Mapping[int, tuple[CampChat, ...]]] = field(default_factory=dict)


def read_camp_facts(
    redis_client: redis.Redis, chat_categories: Mapping[str, int] | None = None
) -> CampFacts:
    """The campers on record, their posts, and their messages in the channels of
    ``chat_categories`` (slug -> id: the check-ins categories of the rules compared that
    count chat check-ins)."""
    from worker.state.chat import ChatStore
    from worker.state.membership import MembershipStore
    from worker.whatif.readonly import ReadOnlyRedis

    reader = ReadOnlyRedis.over(redis_client)
    store = MembershipStore(reader)
    fellows = store.ever_campers()
    campers = []
    posts = {}
    for name in sorted(fellows):
        camper = store.camper(name)
        if camper is None:
            continue
        campers.append(dataclasses.replace(camper, extensions=0))
        posts[camper.username] = tuple(store.camp_posts(name))
    chat: dict[str, dict[int, tuple[CampChat, ...]]] = {}
    if campers:
        since = min(c.started_at for c in campers)
        until = max(c.started_at for c in campers) + timedelta(days=400)
        for slug, category_id in (chat_categories or {}).items():
            by_user: dict[int, list[CampChat]] = {}
            for m in ChatStore(reader).messages(category_id, since, until):
                if m.user_id is not None:
                    by_user.setdefault(m.user_id, []).append(CampChat(m.created_at, m.units))
            chat[slug] = {u: tuple(v) for u, v in by_user.items()}
    return CampFacts(tuple(campers), posts, fellows, chat)


@dataclass(frozen=True)
class CampOutcome:
    username: str
    outcome: str  # pass / pass after N extensions / fail / in progress
    missing: tuple[str, ...]  # open tasks at the last verdict
    ends_at: datetime
    first: str  # the first verdict at the camp's end: what the next daily check does


def judge_camp(rules: Rules, facts: CampFacts, now: datetime) -> dict[str, CampOutcome]:
    """Each camper's camp as the daily check would have ended it under ``rules``."""
    out = {}
    for camper in facts.campers:
        posts = facts.posts.get(camper.username, ())
        said = facts.chat.get(rules.camp.tasks.checkins.category, {}).get(camper.user_id, ())
        current = camper
        first = ""
        while True:
            end = camp_end(rules, current.started_at, current.extensions)
            verdict = evaluate_camp(rules, current, posts, facts.fellows, min(now, end), chat=said)
            first = first or verdict.verdict
            if verdict.verdict != "extend":
                break
            current = dataclasses.replace(current, extensions=current.extensions + 1)
        word = {"in_progress": "in progress"}.get(verdict.verdict, verdict.verdict)
        if verdict.verdict == "pass" and current.extensions:
            word = f"pass after {current.extensions} extension(s)"
        elif verdict.verdict == "in_progress" and current.extensions:
            until = verdict.ends_at.astimezone(rules.tz).strftime("%Y-%m-%d")
            word = f"extended {current.extensions}×, in camp until {until}"
        # The open tasks in the moderator's words (the community's default language).
        missing = tuple(task_lines(rules, verdict, None))
        out[camper.username] = CampOutcome(camper.username, word, missing, verdict.ends_at, first)
    return out


def compare_camp(
    before: Mapping[str, CampOutcome], after: Mapping[str, CampOutcome]
) -> list[tuple[str, CampOutcome, CampOutcome]]:
    return [
        (name, before[name], after[name])
        for name in sorted(before)
        if (before[name].outcome, before[name].missing)
        != (after[name].outcome, after[name].missing)
    ]


def render_camp(before: Mapping[str, CampOutcome], after: Mapping[str, CampOutcome]) -> list[str]:
    def count(outcomes: Mapping[str, CampOutcome]) -> str:
        tally: dict[str, int] = {}
        for o in outcomes.values():
            key = o.outcome if o.outcome == "in progress" else o.outcome.split(" ")[0].strip(",")
            tally[key] = tally.get(key, 0) + 1
        return ", ".join(f"{n} {k}" for k, n in sorted(tally.items())) or "no camper"

    lines = [f"camp: {len(before)} campers on record", f"  now:      {count(before)}"]
    lines.append(f"  proposed: {count(after)}")
    changes = compare_camp(before, after)
    if not changes:
        lines.append("  no camper's camp would end differently")
    for name, a, b in changes:
        why = "; ".join(b.missing) or "every task done"
        lines.append(f"  @{name}: {a.outcome} → {b.outcome} ({why})")
    return lines


# ─────────────────────────────── squads ───────────────────────────────


@dataclass(frozen=True)
class SquadFacts:
    graduates: Mapping[str, tuple[Graduate, ...]]  # cohort -> graduates on record


def read_squad_facts(client: ForumClient, redis_client: redis.Redis, rules: Rules) -> SquadFacts:
    """Each cohort's graduates who are still members (as the formation reads them)."""
    from worker.state.membership import MembershipStore
    from worker.whatif.readonly import ReadOnlyRedis

    store = MembershipStore(ReadOnlyRedis.over(redis_client))
    members = {
        str(m["username"]).lower()
        for m in client.iter_group_members(rules.community.groups.members)
    }
    return SquadFacts(
        {
            cohort: tuple(g for g in store.graduates(cohort) if g.username.lower() in members)
            for cohort in store.cohorts()
        }
    )


def split(rules: Rules, facts: SquadFacts) -> dict[str, SquadPlan]:
    return {cohort: form_cohort(rules, cohort, list(g)) for cohort, g in facts.graduates.items()}


def _describe(plan: SquadPlan) -> list[str]:
    lines = []
    for p in plan.squads:
        leader = f"leader @{p.squad.leader} ({p.leader_source})" if p.squad.leader else "no leader"
        klass = f", class {p.class_full_name or p.squad.class_slug}" if p.squad.class_slug else ""
        lines.append(
            f"{p.squad.slug} ({len(p.squad.members)}{klass}; {leader}): "
            + " ".join(sorted(p.squad.members))
        )
    return lines


def render_squads(before: Mapping[str, SquadPlan], after: Mapping[str, SquadPlan]) -> list[str]:
    lines = []
    for cohort in sorted(before):
        a, b = _describe(before[cohort]), _describe(after[cohort])
        sizes = [len(p.squad.members) for p in after[cohort].squads]
        lines.append(
            f"squads of cohort {cohort}: {len(before[cohort].squads)} → "
            f"{len(after[cohort].squads)} squads (sizes {sizes})"
        )
        if a == b:
            lines.append("  the split would be the same")
            continue
        lines += [f"  now:      {line}" for line in a]
        lines += [f"  proposed: {line}" for line in b]
        lines += [f"  note: {n}" for n in after[cohort].notes]
    return lines or ["squads: no cohort on record"]


def squads_by_member(plan: SquadPlan) -> dict[str, str]:
    return {m: p.slug for p in plan.squads for m in p.squad.members}


__all__: Sequence[str] = (
    "CampFacts",
    "CampOutcome",
    "SquadFacts",
    "chat_categories",
    "compare_camp",
    "judge_camp",
    "read_camp_facts",
    "read_squad_facts",
    "render_camp",
    "render_squads",
    "split",
)


def chat_categories(client: ForumClient, rules: Iterable[Rules]) -> dict[str, int]:
    """Slug -> id of the check-ins categories of ``rules`` that count chat check-ins (one
    forum call, none when no rules count chat)."""
    slugs = {r.camp.tasks.checkins.category for r in rules if r.camp.tasks.checkins.chat}
    if not slugs:
        return {}
    return {
        str(c["slug"]): int(c["id"]) for c in client.list_categories() if c.get("slug") in slugs
    }
