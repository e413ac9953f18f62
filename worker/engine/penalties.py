"""Strikes, their expiry, the penalty ladder and the weekly audit's plan.

Pure: the week's results (``worker.engine.obligations``), each member's strike
history and ``now`` in; a plan (decisions with reasons, and ``actions``) out.

- Strikes: a week's strikes come from the rules' weights (computed per result).
  ``N`` clean audited weeks in a row forgive all (or one) active strikes.
  Excused weeks neither add strikes nor count as clean, nor break a clean run.
- Ladder: a step fires in the week a member's active strikes rise to or past its
  threshold (from below). Re-running an audit of the same week gives the same
  decisions and the same action keys (``ladder:{user}:{step}:{week}:{n}``), so the
  one door applies nothing twice; a step re-arms only after strikes fell below it.
  When one audit crosses several steps, every step's actions apply, except that
  only the highest step's PM is sent (one letter, not two).
- Guard rail: if more than ``max_penalised_share`` of the audited members would get
  a strike, nothing is applied to anyone and an alert goes to the staff audit log,
  until staff confirm (``confirmed=True``).
- Staff (exempt) and members on leave (excused) never get strikes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from worker import actions as a
from worker.engine.facts import Squad
from worker.engine.obligations import (
    SquadWeekResult,
    WeekResult,
    WeekResults,
    leader_note,
    no_cyclic_gc,
)
from worker.engine.weeks import Week
from worker.rules.models import (
    LadderStep,
    NotifyLeaderAction,
    Obligations,
    PmAction,
    PublicNoticeAction,
    RemoveFromSquadAction,
    Rules,
    SilenceAction,
)

# A member's history: week -> strikes added that week, None when the week was excused.
History = Mapping[Week, int | None]


class Standing(NamedTuple):
    """A member's strikes after ``week`` was audited."""

    username: str
    week: Week
    added: int  # this week's strikes (0 when excused)
    before: int  # active strikes before this week's were added
    active: int  # active strikes after this week
    clean_weeks: int  # clean audited weeks in a row, this one included
    crossed: tuple[int, ...]  # ladder step indexes newly reached this week


def standing(obligations: Obligations, username: str, history: History, week: Week) -> Standing:
    """Walk the member's audited weeks up to ``week`` (later weeks are ignored)."""
    expiry = obligations.penalties.expiry
    active = clean = before = added = 0
    for audited, strikes in sorted(history.items()):
        if audited > week:
            break
        before, added = active, 0
        if strikes is None:  # excused: neither strike nor clean, the run goes on
            continue
        if strikes > 0:
            active += strikes
            added = strikes
            clean = 0
        else:
            clean += 1
            if clean >= expiry.clean_weeks and active > 0:
                active = 0 if expiry.forgive == "all" else active - 1
                clean = 0
    if week not in history:
        before, added = active, 0
    crossed: tuple[int, ...] = ()
    if active > before:
        ladder = obligations.penalties.ladder
        crossed = tuple(i for i, step in enumerate(ladder) if before < step.strikes <= active)
    return Standing(username, week, added, before, active, clean, crossed)


# ─────────────────────────────── ladder ───────────────────────────────


@dataclass(frozen=True, slots=True)
class LadderDecision:
    username: str
    squad: str
    week: Week
    step: int  # 0-based index into penalties.ladder
    strikes: int  # active strikes that reached it
    rule: LadderStep


@dataclass(frozen=True)
class AuditPlan:
    """What one weekly audit found and would do. ``actions`` is empty of member-facing
    writes when ``halted``."""

    week: Week
    results: WeekResults
    standings: Mapping[str, Standing]
    decisions: tuple[LadderDecision, ...]
    audited: int  # members judged (staff and squad-less members are not)
    penalised: tuple[str, ...]  # members with new strikes this week
    max_share: float
    confirmed: bool
    halted: bool
    actions: tuple[a.Action, ...]
    # username -> strikes to record for this week (None: excused); empty when halted.
    strikes_to_record: Mapping[str, int | None] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # what could not be planned (e.g. unknown user id)

    @property
    def share(self) -> float:
        return len(self.penalised) / self.audited if self.audited else 0.0


def guard_rail_trips(penalised: int, audited: int, max_share: float) -> bool:
    """More than ``max_share`` of the audited members penalised (exactly at it is allowed)."""
    return audited > 0 and penalised > max_share * audited + 1e-9


def plan_audit(
    rules: Rules,
    results: WeekResults,
    histories: Mapping[str, History],
    *,
    now: dt.datetime,
    user_ids: Mapping[str, int] | None = None,
    threads: Mapping[str, int] | None = None,
    audit_log_category_id: int | None = None,
    confirmed: bool = False,
    languages: Mapping[str, str] | None = None,
) -> AuditPlan:
    """The whole audit of ``results.week``: standings, ladder decisions, guard rail, actions.

    ``histories``: each member's recorded weeks (this week's entry, if any, is replaced by
    this audit's). ``threads``: squad slug -> this week's thread topic id (summaries and
    public notices go there; else a new topic in the squad category).
    """
    with no_cyclic_gc():
        return _plan_audit(
            rules,
            results,
            histories,
            now=now,
            user_ids=user_ids or {},
            threads=threads or {},
            audit_log_category_id=audit_log_category_id,
            confirmed=confirmed,
            languages=languages or {},
        )


def _plan_audit(
    rules: Rules,
    results: WeekResults,
    histories: Mapping[str, History],
    *,
    now: dt.datetime,
    user_ids: Mapping[str, int],
    threads: Mapping[str, int],
    audit_log_category_id: int | None,
    confirmed: bool,
    languages: Mapping[str, str],
) -> AuditPlan:
    obligations = rules.obligations
    week = results.week
    user_ids = user_ids or {}
    threads = threads or {}
    judged = [r for r in results.by_member.values() if not r.exempt]
    penalised = tuple(r.username for r in judged if r.strikes > 0)
    to_record: dict[str, int | None] = {
        r.username: (None if r.excused else r.strikes) for r in judged
    }
    standings: dict[str, Standing] = {}
    decisions: list[LadderDecision] = []
    for result in judged:
        history = dict(histories.get(result.username, {}))
        history[week] = to_record[result.username]
        st = standing(obligations, result.username, history, week)
        standings[result.username] = st
        for step in st.crossed:
            decisions.append(
                LadderDecision(
                    result.username,
                    result.squad,
                    week,
                    step,
                    st.active,
                    obligations.penalties.ladder[step],
                )
            )
    max_share = obligations.audit.max_penalised_share
    halted = guard_rail_trips(len(penalised), len(judged), max_share) and not confirmed
    notes: list[str] = []
    squads = {s.squad.slug: s for s in results.squads}
    if halted:
        actions = _halt_alert(rules, week, len(penalised), len(judged), audit_log_category_id)
        if not actions:
            notes.append("no audit-log category id: the halt alert cannot be posted")
        return AuditPlan(
            week,
            results,
            standings,
            tuple(decisions),
            len(judged),
            penalised,
            max_share,
            confirmed,
            True,
            tuple(actions),
            {},
            tuple(notes),
        )
    acts: list[a.Action] = []
    by_member: dict[str, list[LadderDecision]] = {}
    for decision in decisions:
        by_member.setdefault(decision.username, []).append(decision)
    for username, mine in by_member.items():
        squad = squads[mine[0].squad]
        acts.extend(
            _ladder_actions(
                rules,
                mine,
                results.by_member[username],
                squad,
                now,
                user_ids,
                threads,
                notes,
                languages,
            )
        )
    for squad_result in results.squads:
        acts.extend(_summary_actions(rules, squad_result, threads))
    if audit_log_category_id is not None:
        acts.append(_audit_summary(rules, results, penalised, len(judged), audit_log_category_id))
    return AuditPlan(
        week,
        results,
        standings,
        tuple(decisions),
        len(judged),
        penalised,
        max_share,
        confirmed,
        False,
        tuple(acts),
        to_record,
        tuple(notes),
    )


def plan_checksum(plan: AuditPlan) -> str:
    """A stable hash of what applying ``plan`` would do: every action (kind, key and
    content, the log line aside) and the strikes it records. ``diamond audit --dry-run``
    prints it; ``--confirm`` applies a plan only if it still has this hash."""
    actions = []
    for act in plan.actions:
        fields = {f.name: getattr(act, f.name) for f in dataclasses.fields(act)}
        fields.pop("reason", None)
        actions.append([act.kind, fields])
    strikes = sorted(plan.strikes_to_record.items())
    text = json.dumps(
        [str(plan.week), actions, strikes], sort_keys=True, ensure_ascii=False, default=_json
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _json(value: object) -> object:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    raise TypeError(f"cannot hash {type(value).__name__}")


def reasons_text(rules: Rules, result: WeekResult, lang: str | None = None) -> str:
    """The member's failings of the week, one line each, from ``obligation_reason.*``."""
    lines = []
    for reason in result.reasons:
        kind, _, author = reason.partition(":")
        key = f"obligation_reason.{kind}"
        try:
            text = rules.message(
                key,
                lang,
                week=result.week.number,
                dates=rules.week_dates(result.week, lang),
                author=author,
            )
        except KeyError:  # rules without these templates: the plain code still says it
            text = f"{result.week} {reason}"
        lines.append(f"- {text.strip()}")
    return "\n".join(lines)


def _ladder_actions(
    rules: Rules,
    mine: Sequence[LadderDecision],
    result: WeekResult,
    squad_result: SquadWeekResult,
    now: dt.datetime,
    user_ids: Mapping[str, int],
    threads: Mapping[str, int],
    notes: list[str],
    languages: Mapping[str, str],
) -> list[a.Action]:
    ladder = rules.obligations.penalties.ladder
    top = max(d.step for d in mine)
    next_strikes = ladder[top + 1].strikes if top + 1 < len(ladder) else ""
    squad = squad_result.squad

    def said_to(reader: str | None) -> tuple[str | None, str]:
        """The reader's language and the week's failings in it (public: the default)."""
        lang = languages.get(reader) if reader else None
        return lang, reasons_text(rules, result, lang)

    # Where a member writes to ask why or to appeal: their leader, and the reviewers' group
    # inbox (the leader's own letters, or a squad without one, name the group twice).
    reviewers = rules.community.groups.reviewers
    out: list[a.Action] = []
    for decision in sorted(mine, key=lambda d: d.step):
        user = decision.username
        values = {
            "leader": squad.leader if squad.leader and squad.leader != user else reviewers,
            "reviewers": reviewers,
            "username": user,
            "member": user,
            "strikes": decision.strikes,
            "reasons": said_to(None)[1],
            "next_strikes": next_strikes,
            "week": decision.week.number,
            "year": decision.week.year,
            "dates": rules.week_dates(decision.week),
            "squad": squad.full_name,
        }
        why = f"{decision.week}: {decision.strikes} strikes reach ladder step {decision.step + 1}"
        lang, own_reasons = said_to(user)
        member_values = {
            **values,
            "reasons": own_reasons,
            "dates": rules.week_dates(decision.week, lang),
        }
        for n, step_action in enumerate(decision.rule.actions):
            key = f"ladder:{user}:{decision.step + 1}:{decision.week}:{n}"
            if isinstance(step_action, PmAction):
                if decision.step != top:
                    continue  # one letter per audit: the highest step's
                msg = rules.render(step_action.template, lang, **member_values)
                out.append(
                    a.SendPrivateMessage(
                        key=key, reason=why, recipients=(user,), title=msg.title, raw=msg.body
                    )
                )
            elif isinstance(step_action, NotifyLeaderAction):
                if not squad.leader or squad.leader == user:
                    continue
                leader_lang, leader_reasons = said_to(squad.leader)
                msg = rules.render(
                    step_action.template,
                    leader_lang,
                    **{
                        **values,
                        "username": squad.leader,
                        "reasons": leader_reasons,
                        "dates": rules.week_dates(decision.week, leader_lang),
                    },
                )
                out.append(
                    leader_note(
                        rules,
                        squad,
                        decision.week,
                        leader_lang,
                        key=key,
                        reason=why,
                        title=msg.title,
                        raw=msg.body,
                    )
                )
            elif isinstance(step_action, PublicNoticeAction):
                msg = rules.render(step_action.template, None, **values)
                post = _post_in_squad(key, why, squad, threads, msg.title, msg.body)
                if post is None:
                    notes.append(f"{user}: no thread or category for {squad.slug}'s public notice")
                else:
                    out.append(post)
            elif isinstance(step_action, SilenceAction):
                if user not in user_ids:
                    notes.append(f"{user}: user id unknown, cannot silence")
                    continue
                until = now + dt.timedelta(days=step_action.days)
                msg = rules.render(
                    step_action.template,
                    lang,
                    **member_values,
                    days=step_action.days,
                    until=until.astimezone(rules.tz).strftime("%Y-%m-%d %H:%M"),
                )
                out.append(
                    a.SilenceUser(
                        key=key,
                        reason=why,
                        user_id=user_ids[user],
                        username=user,
                        until=until,
                        message=msg.body,
                    )
                )
            elif isinstance(step_action, RemoveFromSquadAction):
                msg = rules.render(step_action.template, lang, **member_values)
                out.append(
                    a.RemoveFromGroup(
                        key=f"{key}:remove", reason=why, group=squad.slug, usernames=(user,)
                    )
                )
                if step_action.to_group:
                    alumni = rules.community.groups.alumni
                    out.append(
                        a.AddToGroup(
                            key=f"{key}:alumni", reason=why, group=alumni, usernames=(user,)
                        )
                    )
                out.append(
                    a.SendPrivateMessage(
                        key=f"{key}:pm",
                        reason=why,
                        # the reviewers' inbox is on it: an appeal by reply reaches them
                        recipients=(user, reviewers),
                        title=msg.title,
                        raw=msg.body,
                    )
                )
    return out


def _post_in_squad(
    key: str, why: str, squad: Squad, threads: Mapping[str, int], title: str, body: str
) -> a.Action | None:
    if squad.slug in threads:
        return a.CreatePost(key=key, reason=why, topic_id=threads[squad.slug], raw=body)
    if squad.category_id is not None:
        return a.CreateTopic(
            key=key, reason=why, category_id=squad.category_id, title=title, raw=body
        )
    return None


def _summary_actions(
    rules: Rules, sr: SquadWeekResult, threads: Mapping[str, int]
) -> list[a.Action]:
    key_name = rules.obligations.messages.squad_weekly_summary
    by_member = {r.username: r for r in sr.results}
    lines = []
    for n, (author, ref) in enumerate(sr.articles, start=1):
        result = by_member[author]
        mark = "" if result.article == "on_time" else " ⏰"
        reviews = ", ".join(f"@{r.author} {_MARKS[r.status]}" for r in result.reviews)
        line = f"{n}. @{author} [#{ref.post_number}](/t/{ref.topic_id}/{ref.post_number}){mark}"
        lines.append(f"{line} → {reviews}" if reviews else line)
    missing, judged, wrote = [], 0, 0
    owed, done = sr.reviews_owed, sr.reviews_done
    for r in sr.results:
        if r.excused or not r.obliged:  # on leave, or joined the squad this week
            continue
        judged += 1
        if r.article == "missing":
            missing.append(r.username)
        else:
            wrote += 1
    if rules.obligations.audit.name_missing:
        missing_text = ", ".join(f"@{u}" for u in missing) or "—"
    else:
        missing_text = str(len(missing))
    msg = rules.render(
        key_name,
        None,
        squad=sr.squad.full_name,
        week=sr.week.number,
        year=sr.week.year,
        dates=rules.week_dates(sr.week),
        articles="\n".join(lines) or "—",
        missing=missing_text,
        reviews_done=done,
        reviews_owed=owed,
        completion=f"{(wrote / judged) if judged else 1.0:.0%}",
    )
    key = f"summary:{sr.squad.slug}:{sr.week}"
    post = _post_in_squad(
        key, f"{sr.week} summary of {sr.squad.slug}", sr.squad, threads, msg.title, msg.body
    )
    return [post] if post is not None else []


_MARKS = {"on_time": "✓", "late": "⏰", "missing": "✗"}


def _audit_summary(
    rules: Rules, results: WeekResults, penalised: Sequence[str], audited: int, category_id: int
) -> a.Action:
    details = "\n".join(
        f"- {s.squad.full_name} ({s.squad.slug}): {len(s.articles)}/{len(s.results)}, "
        f"{s.reviews_done}/{s.reviews_owed}"
        for s in results.squads
    )
    msg = rules.render(
        rules.obligations.messages.audit_summary,
        None,
        week=results.week.number,
        year=results.week.year,
        members=audited,
        penalised=len(penalised),
        details=details or "—",
    )
    return a.CreateTopic(
        key=f"audit-summary:{results.week}",
        reason=f"audit of {results.week}",
        category_id=category_id,
        title=msg.title,
        raw=msg.body,
        affects_members=False,
    )


def _halt_alert(
    rules: Rules, week: Week, penalised: int, audited: int, category_id: int | None
) -> list[a.Action]:
    if category_id is None:
        return []
    max_share = rules.obligations.audit.max_penalised_share
    msg = rules.render(
        rules.obligations.messages.audit_halted,
        None,
        week=week.number,
        year=week.year,
        iso_week=str(week),
        share=f"{penalised / audited:.0%}" if audited else "0%",
        max_share=f"{max_share:.0%}",
        penalised=penalised,
        members=audited,
    )
    return [
        a.CreateTopic(
            key=f"audit-halted:{week}",
            reason=f"audit of {week} halted: {penalised}/{audited} would be penalised",
            category_id=category_id,
            title=msg.title,
            raw=msg.body,
            affects_members=False,
        )
    ]
