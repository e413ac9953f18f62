"""Squads (小组) and classes: splitting a cohort, choosing leaders, late joiners, shrinking.

Pure: ``plan_squads(rules, cohort, graduates, roster)`` gives the cohort's squads
as they should be (a ``SquadPlan``); ``squad_actions`` turns the difference with
the roster into forum writes. Planning the same cohort again after the writes
gives a plan without changes, and so no writes.

Splitting: ``balanced_sizes`` picks the number of squads whose sizes (which
differ by at most one) stay within ``size.min``..``size.max`` and are nearest to
``size.target``. With a grouping key (e.g. city) members are split per key, and
the squads of one key are packed into classes of at most ``class_size``
members. Keys with fewer members than ``size.min`` go to the ``unknown_value``
class, so no city gets a squad too small to live.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from worker import actions as a
from worker.engine.facts import Roster, Squad
from worker.rules import Rules
from worker.rules.models import SquadSize

BIO_MARKER = "diamond-squad"  # [diamond-squad {json}] ends a squad group's bio


@dataclass(frozen=True, slots=True)
class Graduate:
    """A member who passed the camp, as squad formation needs them."""

    username: str
    class_key: str | None = None  # value of grouping.key_field (None/empty: unknown)
    volunteer: bool = False  # volunteered to lead (leader.volunteer_field)
    activity: int = 0  # qualifying camp posts: "most active"


@dataclass(frozen=True, slots=True)
class PlannedSquad:
    squad: Squad  # the squad as it should be (members, leader, class)
    leader_source: str | None  # "volunteers" | "most_active" | "kept" | None (staff choose)
    added: tuple[str, ...] = ()  # members to add to the group
    removed: tuple[str, ...] = ()  # members to take out (merged into another squad)
    new: bool = False  # the group does not exist yet
    class_full_name: str | None = None
    class_leader: str | None = None

    @property
    def slug(self) -> str:
        return self.squad.slug


@dataclass(frozen=True, slots=True)
class SquadPlan:
    cohort: str
    squads: tuple[PlannedSquad, ...]
    notes: tuple[str, ...] = ()
    leader_changes: tuple[str, ...] = ()  # slugs whose leader is new

    @property
    def changed(self) -> bool:
        return bool(self.leader_changes) or any(p.added or p.removed or p.new for p in self.squads)

    def squad(self, slug: str) -> PlannedSquad | None:
        return next((p for p in self.squads if p.slug == slug), None)


# ─────────────────────────────── splitting ───────────────────────────────


def balanced_sizes(n: int, size: SquadSize) -> list[int]:
    """Sizes of the squads ``n`` members are split into: differ by ≤ 1, largest first.

    Among the squad counts whose sizes fit ``min..max``, the one whose average is
    nearest the target (fewer squads on a tie). When none fits (e.g. fewer members
    than ``min``), the count nearest the target that never exceeds ``max``.
    """
    if n <= 0:
        return []

    def fits(k: int) -> bool:
        return size.min <= n // k and math.ceil(n / k) <= size.max

    candidates = [k for k in range(1, n + 1) if fits(k)]
    if not candidates:
        candidates = [max(1, math.ceil(n / size.max))]
    k = min(candidates, key=lambda k: (abs(n / k - size.target), k))
    base, extra = divmod(n, k)
    return [base + 1] * extra + [base] * (k - extra)


def _leader_rank(rules: Rules, g: Graduate) -> tuple[int, int, str]:
    volunteers_first = "volunteers" in rules.squads.leader.order
    return (0 if (g.volunteer and volunteers_first) else 1, -g.activity, g.username.lower())


def deal(rules: Rules, members: Sequence[Graduate], sizes: Sequence[int]) -> list[list[Graduate]]:
    """Deal members into squads of ``sizes``: volunteers and the most active first, snake
    order, so each squad gets one of them before any gets two, and activity evens out."""
    order = sorted(members, key=lambda g: _leader_rank(rules, g))
    squads: list[list[Graduate]] = [[] for _ in sizes]
    k = len(sizes)
    i, step = 0, 1
    for g in order:
        while len(squads[i]) >= sizes[i]:
            i, step = _next(i, step, k)
        squads[i].append(g)
        i, step = _next(i, step, k)
    return squads


def _next(i: int, step: int, k: int) -> tuple[int, int]:
    if k == 1:
        return 0, 1
    j = i + step
    if j < 0 or j >= k:
        return i, -step  # snake: turn around, the end squad gets the next one too
    return j, step


def choose_leader(rules: Rules, members: Sequence[Graduate]) -> tuple[str | None, str | None]:
    """(leader, source) by ``leader.order``; (None, None) when staff are to choose."""
    for source in rules.squads.leader.order:
        if source == "volunteers":
            pool = [g for g in members if g.volunteer]
        elif source == "most_active":
            pool = [g for g in members if g.activity > 0]
        else:  # "staff": a human picks; the plan says so
            return None, None
        if pool:
            best = min(pool, key=lambda g: (-g.activity, g.username.lower()))
            return best.username, source
    return None, None


# ─────────────────────────────── naming ───────────────────────────────


def _fill(template: str, **values: object) -> str:
    return template.format(**values)


def leader_group_name(rules: Rules, slug: str) -> str:
    """The squad's leader group (moderates its category); a Discourse name is ≤ 20 chars."""
    suffix = rules.squads.naming.leader_group_suffix
    return slug[: 20 - len(suffix)] + suffix


def squad_bio(rules: Rules, squad: Squad, class_leader: str | None) -> str:
    meta = {
        "cohort": squad.cohort,
        "class": squad.class_slug,
        "key": squad.class_key,
        "class_leader": class_leader,
    }
    text = json.dumps(meta, ensure_ascii=False, sort_keys=True)
    return f"{squad.full_name} · {rules.community.name} [{BIO_MARKER} {text}]"


def read_squad_bio(bio: str | None) -> dict[str, object] | None:
    """The meta a squad's bio carries (None: not a Diamond squad)."""
    text = (bio or "").strip()
    start = text.rfind(f"[{BIO_MARKER} ")
    if start < 0 or not text.endswith("]"):
        return None
    try:
        meta = json.loads(text[start + len(BIO_MARKER) + 2 : -1])
    except ValueError:
        return None
    return meta if isinstance(meta, dict) else None


def _slug_n(squad: Squad) -> int:
    tail = squad.slug.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


# ─────────────────────────────── planning ───────────────────────────────


def _key_groups(rules: Rules, graduates: Sequence[Graduate]) -> list[tuple[str, list[Graduate]]]:
    """(display key, members) per grouping key; small keys join the unknown class."""
    grouping = rules.squads.grouping
    unknown = grouping.unknown_value
    if not grouping.key_field:
        return [(unknown, list(graduates))]
    by_key: dict[str, list[Graduate]] = {}
    display: dict[str, str] = {}
    for g in sorted(graduates, key=lambda g: g.username.lower()):
        raw = (g.class_key or "").strip() or unknown
        folded = raw.casefold()
        display.setdefault(folded, raw)
        by_key.setdefault(folded, []).append(g)
    unknown_folded = unknown.casefold()
    display.setdefault(unknown_folded, unknown)
    merged: dict[str, list[Graduate]] = {}
    for folded, members in by_key.items():
        target = folded if len(members) >= rules.squads.size.min else unknown_folded
        merged.setdefault(target, []).extend(members)
    # Known keys alphabetically, the unknown class last.
    keys = sorted((k for k in merged if k != unknown_folded), key=lambda k: display[k])
    if unknown_folded in merged:
        keys.append(unknown_folded)
    return [(display[k], merged[k]) for k in keys]


def form_cohort(rules: Rules, cohort: str, graduates: Sequence[Graduate]) -> SquadPlan:
    """The first split of a cohort into squads (and classes) with leaders."""
    naming = rules.squads.naming
    grouping = rules.squads.grouping
    by_name = {g.username: g for g in graduates}
    planned: list[PlannedSquad] = []
    notes: list[str] = []
    n = class_n = 0
    for key, members in _key_groups(rules, graduates):
        sizes = balanced_sizes(len(members), rules.squads.size)
        dealt = deal(rules, members, sizes)
        # Pack this key's squads into classes of at most class_size members.
        classes: list[list[list[Graduate]]] = []
        for squad_members in dealt:
            if classes and sum(map(len, classes[-1])) + len(squad_members) <= grouping.class_size:
                classes[-1].append(squad_members)
            else:
                classes.append([squad_members])
        for class_squads in classes:
            class_n += 1
            class_slug = class_name = None
            if grouping.key_field:
                class_slug = _fill(naming.class_slug, cohort=cohort, class_n=class_n, n=n + 1)
                class_name = _fill(
                    naming.class_full_name, cohort=cohort, class_n=class_n, n=n + 1, class_key=key
                )
            class_planned: list[PlannedSquad] = []
            for squad_members in class_squads:
                n += 1
                slug = _fill(naming.squad_slug, cohort=cohort, n=n, class_n=class_n)
                leader, source = choose_leader(rules, squad_members)
                if leader is None:
                    notes.append(f"{slug}: no volunteer or active member, staff to choose a leader")
                if len(squad_members) < rules.squads.size.min:
                    notes.append(
                        f"{slug}: only {len(squad_members)} members "
                        f"(min {rules.squads.size.min}): not enough graduates"
                    )
                names = tuple(sorted(g.username for g in squad_members))
                squad = Squad(
                    slug=slug,
                    full_name=_fill(
                        naming.squad_full_name, cohort=cohort, n=n, class_n=class_n, class_key=key
                    ),
                    cohort=cohort,
                    members=names,
                    leader=leader,
                    class_slug=class_slug,
                    class_key=key if grouping.key_field else None,
                )
                class_planned.append(
                    PlannedSquad(squad, source, added=names, new=True, class_full_name=class_name)
                )
            class_leader = None
            if grouping.key_field and grouping.class_leader:
                leaders = [by_name[p.squad.leader] for p in class_planned if p.squad.leader]
                class_leader, _ = choose_leader(rules, leaders)
                if class_leader is None and leaders:
                    class_leader = min(leaders, key=lambda g: _leader_rank(rules, g)).username
            planned += [replace(p, class_leader=class_leader) for p in class_planned]
    return SquadPlan(
        cohort, tuple(planned), tuple(notes), tuple(p.slug for p in planned if p.squad.leader)
    )


def plan_squads(
    rules: Rules, cohort: str, graduates: Sequence[Graduate], roster: Roster
) -> SquadPlan:
    """The cohort's squads as they should be, given who graduated and who is where.

    No squads yet (or only empty ones, after an interrupted first run): the first
    split, reusing existing groups by slug. Otherwise everyone placed stays put;
    squads below ``size.min`` are merged per ``on_shrink``; graduates not yet placed
    join the smallest squad of their class (a new squad when every one is full).
    """
    existing = [s for s in roster.squads if s.cohort == cohort]
    if not any(s.members for s in existing):
        plan = form_cohort(rules, cohort, graduates)
        known = {s.slug: s for s in existing}
        squads = tuple(
            replace(
                p,
                new=p.slug not in known,
                squad=replace(
                    p.squad, group_id=known[p.slug].group_id, category_id=known[p.slug].category_id
                )
                if p.slug in known
                else p.squad,
            )
            for p in plan.squads
        )
        return replace(plan, squads=squads)
    return _incremental(rules, cohort, graduates, roster, existing)


def _incremental(
    rules: Rules,
    cohort: str,
    graduates: Sequence[Graduate],
    roster: Roster,
    existing: list[Squad],
) -> SquadPlan:
    size = rules.squads.size
    naming = rules.squads.naming
    info = {g.username: g for g in graduates}
    members: dict[str, list[str]] = {s.slug: list(s.members) for s in existing}
    order = sorted(existing, key=lambda s: (_slug_n(s), s.slug))
    squads: dict[str, Squad] = {s.slug: s for s in order}
    new_slugs: list[str] = []
    notes: list[str] = []
    placed = {u for s in existing for u in s.members}

    def class_of(s: Squad) -> str | None:
        return s.class_slug

    def smallest(candidates: list[Squad]) -> Squad | None:
        return min(
            candidates, key=lambda s: (len(members[s.slug]), _slug_n(s), s.slug), default=None
        )

    # Squads that shrank below the minimum.
    if rules.squads.on_shrink == "merge":
        for squad in order:
            if not 0 < len(members[squad.slug]) < size.min:
                continue
            others = [
                s
                for s in order
                if s.slug != squad.slug and class_of(s) == class_of(squad) and members[s.slug]
            ]
            if not others or sum(size.max - len(members[s.slug]) for s in others) < len(
                members[squad.slug]
            ):
                notes.append(f"{squad.slug}: below min, no room to merge it")
                continue
            for user in sorted(members[squad.slug]):
                target = smallest([s for s in others if len(members[s.slug]) < size.max])
                assert target is not None  # room was counted above
                members[target.slug].append(user)
                members[squad.slug].remove(user)
            notes.append(f"{squad.slug}: below min ({size.min}), merged into its class")
    elif rules.squads.on_shrink == "keep":
        notes += [
            f"{s.slug}: below min ({size.min}), kept as it is"
            for s in order
            if 0 < len(members[s.slug]) < size.min
        ]

    # Late graduates: the smallest squad of their class (refill fills shrunk ones first).
    late = sorted(
        (g for g in graduates if g.username not in placed), key=lambda g: g.username.lower()
    )
    unknown = rules.squads.grouping.unknown_value.casefold()
    for g in late:
        pool = [s for s in order if members[s.slug] or s.slug in new_slugs]
        if rules.squads.grouping.key_field:
            key = (g.class_key or "").strip().casefold() or unknown
            same = [s for s in pool if (s.class_key or "").casefold() == key]
            same = same or [s for s in pool if (s.class_key or "").casefold() == unknown]
            pool = same or pool
        target = smallest([s for s in pool if len(members[s.slug]) < size.max])
        if target is None:  # every squad of the class is full: open a new one there
            model = smallest(pool) or (order[0] if order else None)
            n = max((_slug_n(s) for s in order), default=0) + 1
            class_n = 0
            slug = _fill(naming.squad_slug, cohort=cohort, n=n, class_n=class_n)
            key_value = model.class_key if model else None
            target = Squad(
                slug=slug,
                full_name=_fill(
                    naming.squad_full_name,
                    cohort=cohort,
                    n=n,
                    class_n=class_n,
                    class_key=key_value or rules.squads.grouping.unknown_value,
                ),
                cohort=cohort,
                members=(),
                class_slug=model.class_slug if model else None,
                class_key=key_value,
            )
            order.append(target)
            squads[slug] = target
            members[slug] = []
            new_slugs.append(slug)
            notes.append(f"{slug}: opened, every squad of the class was full")
        members[target.slug].append(g.username)

    planned: list[PlannedSquad] = []
    leader_changes: list[str] = []
    for squad in order:
        now_members = tuple(sorted(members[squad.slug]))
        before = set(squad.members)
        leader: str | None = squad.leader
        source: str | None = "kept"
        if leader not in now_members:
            candidates = [info.get(u) or Graduate(u) for u in now_members]
            leader, source = choose_leader(rules, candidates)
            if leader is not None:
                leader_changes.append(squad.slug)
            elif now_members:
                notes.append(f"{squad.slug}: staff to choose a leader")
        planned.append(
            PlannedSquad(
                replace(squad, members=now_members, leader=leader),
                source,
                added=tuple(u for u in now_members if u not in before),
                removed=tuple(sorted(before - set(now_members))),
                new=squad.slug in new_slugs,
            )
        )
    return SquadPlan(cohort, tuple(planned), tuple(notes), tuple(leader_changes))


# ─────────────────────────────── actions ───────────────────────────────


def _digest(names: Sequence[str]) -> str:
    return hashlib.sha1(",".join(sorted(names)).encode()).hexdigest()[:10]


def _squad_line(rules: Rules, p: PlannedSquad, lang: str) -> str:
    """One squad of the staff log's plan, in words of template ``squad_line``."""
    s = p.squad

    def word(key: str, **values: object) -> str:
        try:
            return rules.message(key, lang, **values).strip()
        except KeyError:  # rules without these templates: the bare facts
            return " ".join(str(v) for v in values.values())

    how = word(f"squad_leader_source.{p.leader_source or 'staff'}")
    leader = f"@{s.leader} ({how})" if s.leader else how
    klass = (
        word("squad_class", name=p.class_full_name, leader=p.class_leader) if p.class_leader else ""
    )
    changes = (f"; +{', '.join(p.added)}" if p.added and not p.new else "") + (
        f"; -{', '.join(p.removed)}" if p.removed else ""
    )
    return word(
        "squad_line",
        squad=s.full_name,
        slug=s.slug,
        count=len(s.members),
        leader=leader,
        klass=klass,
        changes=changes,
    )


def squad_actions(
    rules: Rules,
    plan: SquadPlan,
    *,
    audit_category_id: int | None,
    languages: Mapping[str, str] | None = None,
) -> list[a.Action]:
    """Writes that make the forum match ``plan``: groups, categories, members, leaders, PMs."""
    if not plan.changed:
        return []
    langs = languages or {}
    default = rules.community.default_language
    staff_group = "staff"
    leaders_group = rules.community.groups.leaders
    out: list[a.Action] = []
    summary: list[str] = []
    for p in plan.squads:
        s = p.squad
        lead_group = leader_group_name(rules, s.slug)
        url = f"/c/{s.slug}"
        summary.append(_squad_line(rules, p, default))
        if p.new:
            out.append(
                a.CreateGroup(
                    key=f"squad-group:{s.slug}",
                    reason=f"squad {s.full_name} of cohort {s.cohort}",
                    name=s.slug,
                    full_name=s.full_name,
                    bio_raw=squad_bio(rules, s, p.class_leader),
                    visibility_level=2,  # members (and staff) only
                    members_visibility_level=2,
                    messageable_level=3,  # members, mods and admins
                    mentionable_level=3,
                )
            )
            out.append(
                a.CreateGroup(
                    key=f"squad-lead-group:{s.slug}",
                    reason=f"leader group of {s.slug}: moderates its category",
                    name=lead_group,
                    full_name=f"{s.full_name} ·lead"[:100],
                    bio_raw=f"{s.full_name} leader [{BIO_MARKER}-lead {s.slug}]",
                    visibility_level=3,
                    members_visibility_level=3,
                    messageable_level=0,
                    mentionable_level=0,
                )
            )
            if rules.squads.private_category:
                out.append(
                    a.CreateCategory(
                        key=f"squad-category:{s.slug}",
                        reason=f"private category of squad {s.slug}",
                        name=s.full_name,
                        slug=s.slug,
                        permissions=((s.slug, 1), (staff_group, 1)),
                        moderating_groups=(lead_group,),
                        description=f"{s.full_name} [{BIO_MARKER}-category {s.slug}]",
                    )
                )
        if p.removed:
            out.append(
                a.RemoveFromGroup(
                    key=f"squad-remove:{s.slug}:{_digest(p.removed)}",
                    reason=f"merged out of {s.slug}",
                    group=s.slug,
                    usernames=p.removed,
                )
            )
        if p.added:
            out.append(
                a.AddToGroup(
                    key=f"squad-add:{s.slug}:{_digest(p.added)}",
                    reason=f"placed in squad {s.slug}",
                    group=s.slug,
                    usernames=p.added,
                )
            )
        if p.new and rules.squads.private_category:
            # After the members: auto-join adds them as the channel is made, and whoever
            # joins the squad's group later (Discourse keeps them in step).
            out.append(
                a.CreateChatChannel(
                    key=f"squad-chat:{s.slug}",
                    reason=f"chat channel of squad {s.slug}",
                    category_slug=s.slug,
                )
            )
        if s.leader and (p.new or s.slug in plan.leader_changes):
            out += [
                a.AddGroupOwners(
                    key=f"squad-owner:{s.slug}:{s.leader}",
                    reason=f"leader of {s.slug} ({p.leader_source})",
                    group=s.slug,
                    usernames=(s.leader,),
                ),
                a.AddToGroup(
                    key=f"squad-lead:{s.slug}:{s.leader}",
                    reason=f"moderates the category of {s.slug}",
                    group=lead_group,
                    usernames=(s.leader,),
                ),
                a.AddToGroup(
                    key=f"leaders:{s.leader}",
                    reason=f"leads {s.slug}",
                    group=leaders_group,
                    usernames=(s.leader,),
                ),
            ]
        if p.class_leader:
            out.append(
                a.AddToGroup(
                    key=f"leaders:{p.class_leader}",
                    reason=f"class leader of {p.squad.class_slug}",
                    group=leaders_group,
                    usernames=(p.class_leader,),
                )
            )
        for user in p.added:
            msg = rules.render(
                rules.squads.messages.assigned,
                langs.get(user, default),
                username=user,
                squad=s.full_name,
                leader=s.leader or "—",
                squad_url=url,
            )
            out.append(
                a.SendPrivateMessage(
                    key=f"squad-assigned:{s.slug}:{user}",
                    reason=f"{user} placed in {s.slug}",
                    recipients=(user,),
                    title=msg.title,
                    raw=msg.body,
                )
            )
        if s.leader and (p.added or s.slug in plan.leader_changes):
            msg = rules.render(
                rules.squads.messages.leader_squad_list,
                langs.get(s.leader, default),
                username=s.leader,
                squad=s.full_name,
                members="\n".join(f"- @{u}" for u in s.members if u != s.leader),
                squad_url=url,
            )
            out.append(
                a.SendPrivateMessage(
                    key=f"squad-leader-list:{s.slug}:{_digest(s.members)}",
                    reason=f"member list to the leader of {s.slug}",
                    recipients=(s.leader,),
                    title=msg.title,
                    raw=msg.body,
                )
            )
    new_categories = [p.squad.slug for p in plan.squads if p.new]
    if new_categories and rules.squads.private_category:
        # Last: the new squads' chat reaches the chat webhook's filter now, not at the next
        # `diamond apply` (until then, or if this fails, the catch-up reads it back).
        out.append(
            a.AddChatWebhookCategories(
                key=f"squad-chat-hook:{_digest(new_categories)}",
                reason=f"chat of the new squads of cohort {plan.cohort}",
                category_slugs=tuple(new_categories),
            )
        )
    if audit_category_id is not None and rules.squads.messages.formed:
        digest = _digest([f"{p.slug}={','.join(p.squad.members)}" for p in plan.squads])
        msg = rules.render(
            rules.squads.messages.formed,
            default,
            cohort=plan.cohort,
            # A cohort's squads change as late graduates join: each change its own title.
            plan=digest[:6],
            count=len(plan.squads),
            squads="\n".join(summary),
            notes="\n".join(f"- {n}" for n in plan.notes) or "- —",
        )
        # First in the list: staff see the plan even if a later write fails.
        out.insert(
            0,
            a.CreateTopic(
                key=f"squads-audit:{plan.cohort}:{digest}",
                reason=f"squads of cohort {plan.cohort}",
                affects_members=False,
                category_id=audit_category_id,
                title=msg.title,
                raw=msg.body,
            ),
        )
    return out


def roster_errors(roster: Roster, cohort: str) -> list[str]:
    """People in two squads of one cohort (must never happen)."""
    seen: dict[str, str] = {}
    errors = []
    for s in roster.squads:
        if s.cohort != cohort:
            continue
        for u in s.members:
            if u in seen:
                errors.append(f"{u} is in {seen[u]} and {s.slug}")
            seen[u] = s.slug
    return errors


__all__ = [
    "Graduate",
    "PlannedSquad",
    "SquadPlan",
    "balanced_sizes",
    "choose_leader",
    "deal",
    "form_cohort",
    "leader_group_name",
    "plan_squads",
    "read_squad_bio",
    "roster_errors",
    "squad_actions",
    "squad_bio",
]
