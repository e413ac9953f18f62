"""The I/O around the obligation engines: gather facts, call the engine, apply the plan.

Used by the actors (``worker.jobs.obligations``) and the commands (``diamond audit``,
``diamond ledger``). Reads cost a handful of calls (categories, staff groups, user
ids of members about to be silenced); posts come from the ledger, never from
polling members.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from worker.apply import Applier, ApplyReport
from worker.engine.facts import Roster, Squad, parse_time
from worker.engine.obligations import (
    LeaveDecision,
    LeaveRequest,
    Shortfall,
    SquadWeek,
    WeekResults,
    evaluate_week,
    grant_leave,
    plan_reminders,
    plan_roll_call,
    plan_weekly_threads,
    roll_call_text,
    shortfalls,
    streak_of,
    thread_opening,
    thread_title,
)
from worker.engine.penalties import AuditPlan, plan_audit, plan_checksum
from worker.engine.weeks import (
    Week,
    article_due_week,
    audit_week,
    review_due_week,
    week_of,
    week_times,
    weeks_between,
)
from worker.forum.errors import NotFound
from worker.reads import forum_view
from worker.reads.forum_view import cached_group_members
from worker.reads.parse import (
    classify_topic,
    first_post_id,
    leave_weeks_from_field,
    written_by,
)
from worker.redis_text import text as redis_text
from worker.rules.models import Reminder, Rules, SilenceAction
from worker.state import keys
from worker.state.ledger import Ledger, TopicInfo
from worker.state.membership import MembershipStore

log = logging.getLogger(__name__)


# ─────────────────────────────── facts ───────────────────────────────


def category_ids(
    client: Any, redis_client: redis.Redis, *, refresh: bool = False
) -> dict[str, int]:
    """Category slug -> id, from the one forum view (``worker.reads.forum_view``)."""
    return forum_view.category_ids(client, redis_client, fresh=refresh)


def staff_usernames(client: Any, redis_client: redis.Redis, rules: Rules) -> frozenset[str]:
    """Members of the rules' staff groups (a missing group is none); cached briefly, as
    every week of a badge run or report asks again."""
    names: set[str] = set()
    for group in rules.community.staff_groups:
        names |= cached_group_members(client, redis_client, group)
    return frozenset(names)


def squads_by_category(roster: Roster) -> dict[int, Squad]:
    return {s.category_id: s for s in roster.squads if s.category_id is not None}


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
    client: Any,
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
    ledger.record_squad_categories({cid: s.slug for cid, s in squads_by_category(roster).items()})
    ledger.remember_squad_names(roster)
    return WeekFacts(
        week,
        squad_weeks(ledger, rules, squads, week),
        staff_usernames(client, ledger.redis, rules),
        leave_decision(ledger, rules, user_fields),
    )


def evaluate(rules: Rules, facts: WeekFacts, *, as_of: dt.datetime | None = None) -> WeekResults:
    return evaluate_week(
        rules.obligations,
        rules.tz,
        facts.week,
        facts.squads,
        staff=facts.staff,
        excused=facts.excused,
        as_of=as_of,
    )


# ─────────────────────────────── audit ───────────────────────────────


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


@dataclass
class AuditRun:
    plan: AuditPlan
    report: ApplyReport | None = None  # None for a dry run, or a plan that changed
    recorded: bool = False  # strikes written to the ledger
    # The plan ``--confirm`` would apply (everything, past the guard rail), its checksum,
    # and why each member's week is not clean; for the command (dry runs, --confirm).
    confirmable: AuditPlan | None = None
    checksum: str | None = None
    changed: bool = False  # --confirm named a checksum the plan no longer has: not applied
    why: Mapping[str, tuple[Shortfall, ...]] = field(default_factory=dict)


def audit_moment(rules: Rules, week: Week) -> dt.datetime:
    """When the scheduled audit of ``week`` runs: the first run of the rules' audit cron
    once the week's review window has closed (what ``audit_week`` audits at that run)."""
    from apscheduler.triggers.cron import CronTrigger

    from worker.pipeline.scheduler import cron_fields

    cap = week_times(rules.obligations, week, rules.tz).review_cap
    trigger = CronTrigger(timezone=rules.tz, **cron_fields(rules.obligations.audit.cron))
    moment = trigger.get_next_fire_time(None, cap)
    assert moment is not None  # a crontab always fires again
    return moment


def _silence_candidates(rules: Rules, plan: AuditPlan) -> set[str]:
    return {
        d.username
        for d in plan.decisions
        if any(isinstance(x, SilenceAction) for x in d.rule.actions)
    }


def user_ids_of(client: Any, usernames: Iterable[str]) -> dict[str, int]:
    out = {}
    for username in sorted(usernames):
        try:
            answer = client.get_user(username)
        except NotFound:
            log.warning("audit: user %s not found; cannot silence", username)
            continue
        user = answer.get("user", answer)
        out[username] = int(user["id"])
    return out


def run_audit(
    client: Any,
    redis_client: redis.Redis,
    rules: Rules,
    roster: Roster,
    week: Week,
    *,
    now: dt.datetime,
    live: bool,
    dry_run: bool = False,
    confirm: bool = False,
    checksum: str | None = None,
    squad: str | None = None,
    user_fields: Mapping[str, Mapping[str, str]] | None = None,
) -> AuditRun:
    """Audit ``week``: plan, then (unless ``dry_run``) record strikes and apply the plan.

    Re-running is safe: the plan of a week is the same, and the one door skips keys it
    has done. When the guard rail trips only the staff alert is applied and no strike is
    recorded, until ``confirm``. ``checksum`` (what a dry run printed) confirms too, but
    only that plan: if the plan's checksum is another now, nothing is applied
    (``changed``). Dry runs and checksums also give the plan past the guard rail and its
    checksum (``confirmable``), and every member's shortfalls (``why``).
    """
    ledger = Ledger(redis_client)
    rules = rules_of_week(ledger, rules, week)
    facts = gather(client, ledger, rules, roster, week, squad=squad, user_fields=user_fields)
    results = evaluate(rules, facts)
    histories = ledger.histories(results.by_member, live=live)
    audit_log = category_ids(client, redis_client).get(rules.community.categories.audit_log)
    threads = ledger.threads(week)
    languages = MembershipStore(redis_client).languages()
    confirmed = confirm or checksum is not None
    for_a_person = dry_run or checksum is not None

    def plan_with(user_ids: Mapping[str, int], *, at: dt.datetime, sure: bool) -> AuditPlan:
        return plan_audit(
            rules,
            results,
            histories,
            now=at,
            user_ids=user_ids,
            threads=threads,
            audit_log_category_id=audit_log,
            confirmed=sure,
            languages=languages,
        )

    plan = plan_with({}, at=now, sure=confirmed)
    wanted = _silence_candidates(rules, plan)  # the ladder's decisions ignore the guard rail
    run = AuditRun(plan)
    if for_a_person:
        user_ids = user_ids_of(client, wanted) if wanted else {}
        run.confirmable = plan_with(user_ids, at=now, sure=True)
        plan = run.confirmable if confirmed else plan_with(user_ids, at=now, sure=False)
        # Hashed as planned at the week's audit moment: moments counted from the run
        # (a silence's end) would otherwise differ between the dry run and --confirm.
        moment = audit_moment(rules, week)
        run.checksum = plan_checksum(plan_with(user_ids, at=moment, sure=True))
        by_squad = {sw.squad.slug: sw for sw in facts.squads}
        run.why = {
            r.username: why
            for r in results.by_member.values()
            if (why := shortfalls(rules.obligations, rules.tz, r, by_squad.get(r.squad)))
        }
    elif wanted and not plan.halted:
        plan = plan_with(user_ids_of(client, wanted), at=now, sure=confirmed)
    run.plan = plan
    if dry_run:
        return run
    if checksum is not None and checksum != run.checksum:
        run.changed = True
        return run
    if not plan.halted:
        ledger.record_strikes(week, plan.strikes_to_record, live=live)
        # A week is audited once its strikes are recorded: from now on, under these rules.
        ledger.record_audit_rules(week, rules.obligations.model_dump(mode="json"))
    run.report = Applier(client, redis_client, live=live, rules=rules).apply(plan.actions)
    run.recorded = not plan.halted
    return run


# ─────────────────────────────── reminders ───────────────────────────────


def run_reminder(
    client: Any,
    redis_client: redis.Redis,
    rules: Rules,
    roster: Roster,
    reminder: Reminder,
    *,
    now: dt.datetime,
    live: bool,
    user_fields: Mapping[str, Mapping[str, str]] | None = None,
) -> ApplyReport:
    obligations = rules.obligations
    if obligations.article.mode == "thread":
        # A squad formed after this week's thread run (or a run lost to an outage) gets
        # its thread now, before a reminder points members to it. Squads with a thread
        # cost nothing here: the ledger knows them.
        open_threads(client, redis_client, rules, roster, week_of(now, rules.tz))
    due_week = article_due_week if reminder.about == "article" else review_due_week
    week = due_week(obligations, now, rules.tz)
    facts = gather(client, Ledger(redis_client), rules, roster, week, user_fields=user_fields)
    progress = evaluate(rules, facts, as_of=now)
    actions = plan_reminders(rules, reminder, progress, MembershipStore(redis_client).languages())
    return Applier(client, redis_client, live=live, rules=rules).apply(actions)


# ─────────────────────────────── weekly threads ───────────────────────────────


def find_threads(client: Any, rules: Rules, squads: Iterable[Squad], week: Week) -> dict[str, int]:
    """Threads of ``week`` already on the forum (one category listing per squad)."""
    found = {}
    for squad in squads:
        if squad.category_id is None:
            continue
        title = thread_title(rules, week, squad)
        for topic in client.iter_category_topics(squad.category_id):
            if topic.get("title") == title:
                found[squad.slug] = int(topic["id"])
                break
    return found


def open_threads(
    client: Any,
    redis_client: redis.Redis,
    rules: Rules,
    roster: Roster,
    week: Week,
) -> dict[str, int]:
    """Open the weekly thread of every squad that has none; returns squad -> topic id.

    Threads are infrastructure, not an act on a member: they are opened in shadow mode
    too, so the ledger can follow a community that is trying Diamond out.
    """
    ledger = Ledger(redis_client)
    ledger.record_squad_categories({cid: s.slug for cid, s in squads_by_category(roster).items()})
    Ledger(redis_client).remember_squad_names(roster)
    known = ledger.threads(week)
    actions = [
        dataclasses.replace(act, affects_members=False)
        for act in plan_weekly_threads(rules, roster.squads, week, known)
    ]
    applier = Applier(client, redis_client, live=True, rules=rules)
    # A thread created by an earlier run that stopped before recording its id: look for
    # it on the forum (one category listing each) instead of creating it again.
    unrecorded = {a.key.split(":")[1] for a in actions if applier.is_done(a.key)}
    lost = [s for s in roster.squads if s.slug in unrecorded]
    for slug, topic_id in find_threads(client, rules, lost, week).items():
        ledger.record_thread(week, slug, topic_id)
        known[slug] = topic_id
    report = applier.apply(actions)
    for key, answer in report.results.items():
        slug = key.split(":")[1]  # weekly-thread:{squad}:{week}
        if isinstance(answer, Mapping) and answer.get("topic_id"):
            ledger.record_thread(week, slug, int(answer["topic_id"]))
            known[slug] = int(answer["topic_id"])
    return known


# ─────────────────────────────── roll call ───────────────────────────────

# "{week}|{squad}" -> when the thread last changed (epoch seconds): roll calls to redo.
ROLL_CALL_DIRTY_KEY = keys.ROLL_CALL_DIRTY
# squad -> when its roll call was last edited (epoch seconds).
ROLL_CALL_EDITED_KEY = keys.ROLL_CALL_EDITED
# thread topic id -> its first post's id (one topic read, once).
ROLL_CALL_POSTS_KEY = keys.ROLL_CALL_FIRST_POSTS
# At most one edit per squad in this many seconds: the API bucket is the site's.
ROLL_CALL_INTERVAL = 300


def _first_post_id(client: Any, redis_client: redis.Redis, topic_id: int) -> int | None:
    known = redis_client.hget(ROLL_CALL_POSTS_KEY, topic_id)
    if known is not None:
        return int(known)
    post_id = first_post_id(client.get_topic(topic_id))
    if post_id is not None:
        redis_client.hset(ROLL_CALL_POSTS_KEY, topic_id, post_id)
    return post_id


def run_roll_calls(
    client: Any,
    redis_client: redis.Redis,
    rules: Rules,
    roster: Roster,
    *,
    now: dt.datetime,
    live: bool,
    interval: int = ROLL_CALL_INTERVAL,
) -> int:
    """Redo the roll call of every marked thread whose squad was not edited in the last
    ``interval`` seconds (the others stay marked for a later run); returns edits made.
    An unchanged roll call costs no write (the edit's key is its content)."""
    ledger = Ledger(redis_client)
    by_slug = {s.slug: s for s in roster.squads}
    edits = 0
    for field_name, stamp in redis_client.hgetall(ROLL_CALL_DIRTY_KEY).items():
        week_text, _, slug = redis_text(field_name).partition("|")
        squad = by_slug.get(slug)
        topic_id = ledger.threads(Week.parse(week_text)).get(slug)
        if squad is None or topic_id is None:
            redis_client.hdel(ROLL_CALL_DIRTY_KEY, field_name)
            continue
        edited = redis_client.hget(ROLL_CALL_EDITED_KEY, slug)
        if edited is not None and now.timestamp() - float(edited) < interval:
            continue  # debounced: the next run after the interval takes it
        week = Week.parse(week_text)
        facts = gather(client, ledger, rules, roster, week, squad=slug)
        (sr,) = evaluate(rules, facts, as_of=now).squads
        histories = ledger.histories(squad.members, live=live)
        streaks = {u: streak_of(histories.get(u, {}), week) for u in squad.members}
        post_id = _first_post_id(client, redis_client, topic_id)
        if post_id is None:
            continue
        text = roll_call_text(rules, sr, streaks, opening=thread_opening(rules, squad, week))
        report = Applier(client, redis_client, live=live, rules=rules).apply(
            [plan_roll_call(slug, week, post_id, text)]
        )
        if report.done:
            edits += 1
            redis_client.hset(ROLL_CALL_EDITED_KEY, slug, str(now.timestamp()))
        # Unmark only if no post came in meanwhile (then the next run redoes it).
        if redis_client.hget(ROLL_CALL_DIRTY_KEY, field_name) == stamp:
            redis_client.hdel(ROLL_CALL_DIRTY_KEY, field_name)
    return edits


# ─────────────────────────────── rebuild ───────────────────────────────


@dataclass
class RebuildReport:
    since: Week
    threads: int = 0
    topics: int = 0
    posts: int = 0
    leave: int = 0
    weeks_reaudited: list[Week] = field(default_factory=list)


def rebuild(
    client: Any,
    redis_client: redis.Redis,
    rules: Rules,
    roster: Roster,
    since: Week,
    *,
    now: dt.datetime,
    restrike: bool = True,
    live: bool = True,
) -> RebuildReport:
    """Rebuild the ledger of weeks >= ``since`` from the forum alone.

    Per squad: its category's topic list, then each relevant topic's posts (a few
    paginated calls per thread); the leave category the same way. Only the current
    version of each post is known then, as if it had always stood so (edits made
    after a deadline are in the members' favour until the next event). With
    ``restrike`` the strikes of every fully audited week since are recomputed from
    the rebuilt posts (no action is applied), into the book of the mode (``live``).
    """
    ledger = Ledger(redis_client)
    report = RebuildReport(since)
    ledger.clear_posts(since)
    Ledger(redis_client).remember_squad_names(roster)
    by_category = squads_by_category(roster)
    ledger.record_squad_categories({cid: s.slug for cid, s in by_category.items()})
    leave_id = None
    if rules.obligations.leave.enabled:
        leave_id = category_ids(client, redis_client, refresh=True).get(
            rules.obligations.leave.category
        )
    start = since.start(rules.tz) - dt.timedelta(days=7)
    categories = list(by_category) + ([leave_id] if leave_id is not None else [])
    thread_mode = rules.obligations.article.mode == "thread"
    own = str(getattr(client, "api_username", "") or "")
    for category_id in categories:
        rows = [
            ({"category_id": category_id, **row}, classify_topic(rules, row, by_category, leave_id))
            for row in client.iter_category_topics(category_id)
            if row.get("created_at")
        ]
        opened = {
            info.week: parse_time(str(row["created_at"]))
            for row, info in rows
            if info.kind == "thread" and info.week
        }
        for row, info in rows:
            created = row["created_at"]
            if info.kind == "other" and thread_mode and category_id in by_category:
                info = _own_topic(rules, by_category[category_id], parse_time(str(created)), opened)
            if info.kind == "other" or (info.week is not None and info.week < since):
                continue
            if info.kind == "leave" and parse_time(str(created)) < start:
                continue
            topic_id = int(row["id"])
            if info.kind == "thread" and info.week and info.squad:
                ledger.record_thread(info.week, info.squad, topic_id)
                report.threads += 1
            else:
                ledger.record_topic(topic_id, info)
                report.topics += 1
            for post in client.iter_topic_posts(topic_id):
                if info.kind == "article" and thread_mode and written_by(post, own):
                    continue  # as live ingestion: Diamond's own words are no article
                outcome = ledger.ingest_post(rules, post, info)
                report.posts += outcome == "recorded"
                report.leave += outcome == "leave"
    if restrike:
        report.weeks_reaudited = restrike_weeks(
            client, redis_client, rules, roster, since, now=now, live=live
        )
    return report


def _own_topic(
    rules: Rules, squad: Squad, created: dt.datetime, opened: Mapping[Week, dt.datetime]
) -> TopicInfo:
    """A topic of a member's own in a squad's category is that week's article topic when it
    was opened before the week's thread (``topic_info`` files it so at its first event,
    while the ledger has no thread for the week); otherwise it is nothing to the ledger."""
    week = week_of(created, rules.tz)
    thread_at = opened.get(week)
    if thread_at is None or created < thread_at:
        return TopicInfo("article", week, squad.slug)
    return TopicInfo("other")


def restrike_weeks(
    client: Any,
    redis_client: redis.Redis,
    rules: Rules,
    roster: Roster,
    since: Week,
    *,
    now: dt.datetime,
    live: bool = True,
) -> list[Week]:
    """Recompute and record the strikes of every week since ``since`` whose review window
    has closed, from the ledger (no action applied)."""
    last = audit_week(rules.obligations, now, rules.tz)
    ledger = Ledger(redis_client)
    done = []
    for week in weeks_between(since, last):
        in_force = rules_of_week(ledger, rules, week)
        facts = gather(client, ledger, in_force, roster, week)
        results = evaluate(in_force, facts)
        ledger.record_strikes(
            week,
            {
                r.username: (None if r.excused else r.strikes)
                for r in results.by_member.values()
                if not r.exempt
            },
            live=live,
        )
        ledger.record_audit_rules(week, in_force.obligations.model_dump(mode="json"))
        done.append(week)
    return done
