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
    LeavePost,
    LeaveRequest,
    Shortfall,
    SquadWeek,
    WeekResults,
    evaluate_week,
    grant_leave,
    plan_leave_answer,
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
from worker.ledger.ingest import (
    classify_topic,
    ingest_post,
    is_deleted,
    leave_weeks_from_field,
    thread_post_week,
)
from worker.reads import forum_view
from worker.reads.forum_view import cached_group_members
from worker.reads.parse import first_post_id
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
    remember_squad_names(ledger.redis, roster)
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
    remember_squad_names(redis_client, roster)
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


# ─────────────────────────────── post events ───────────────────────────────


def topic_info(
    client: Any,
    redis_client: redis.Redis,
    rules: Rules,
    topic_id: int,
) -> TopicInfo:
    """The ledger's classification of a topic; one ``/t/{id}.json`` read the first time."""
    ledger = Ledger(redis_client)
    known = ledger.topic(topic_id)
    if known is not None:
        return known
    # The topic's facts from the one forum view (shared with the camp and recognition).
    topic = forum_view.topic_facts(client, redis_client, topic_id, need_created=True).as_json()
    squads = _squads_from_ledger(redis_client, topic.get("category_id"))
    if not squads and isinstance(topic.get("category_id"), int):
        # A squad formed since the last scheduled run: the ledger does not know its
        # category yet. The cached roster does (formation refreshes it).
        roster = forum_view.cached_roster(client, redis_client, rules)
        ledger.record_squad_categories(
            {cid: s.slug for cid, s in squads_by_category(roster).items()}
        )
        remember_squad_names(redis_client, roster)
        squads = _squads_from_ledger(redis_client, topic.get("category_id"))
    leave_slug = rules.obligations.leave.category
    leave_id = (
        category_ids(client, redis_client).get(leave_slug)
        if rules.obligations.leave.enabled
        else None
    )
    info = classify_topic(rules, topic, squads, leave_id)
    if info.kind == "other" and rules.obligations.article.mode == "thread" and squads:
        # A topic of its own in a squad's category, opened while its week had no thread
        # (a squad formed mid-week, a thread run lost to an outage): its posts are that
        # week's, as they would have been in the thread.
        (squad,) = squads.values()
        week = week_of(parse_time(str(topic["created_at"])), rules.tz)
        if squad.slug not in ledger.threads(week):
            info = TopicInfo("article", week, squad.slug)
    if info.kind == "thread" and info.week and info.squad:
        ledger.record_thread(info.week, info.squad, topic_id)
    else:
        ledger.record_topic(topic_id, info)
    return info


def _squads_from_ledger(redis_client: redis.Redis, category_id: Any) -> dict[int, Squad]:
    """A stand-in Squad for the category's squad (the ledger knows slugs, not rosters).

    Thread titles need the squad's display name: it is kept with the category map.
    """
    if not isinstance(category_id, int):
        return {}
    slug = Ledger(redis_client).squad_of_category(category_id)
    if slug is None:
        return {}
    name = redis_client.hget(keys.SQUAD_NAMES, slug)
    full_name = redis_text(name) or slug
    return {category_id: Squad(slug, full_name, "", (), category_id=category_id)}


def remember_squad_names(redis_client: redis.Redis, roster: Roster) -> None:
    if roster.squads:
        redis_client.hset(keys.SQUAD_NAMES, mapping={s.slug: s.full_name for s in roster.squads})


def handle_post_event(
    client: Any,
    redis_client: redis.Redis,
    rules: Rules,
    post_id: int,
    event: str,
    post: Mapping[str, Any] | None,
    *,
    live: bool = True,
) -> str:
    """Bring the ledger up to date with one post (created, edited, destroyed, recovered),
    already read by the caller (None: the forum no longer has it). Safe to repeat.

    A leave request is answered in its topic (once per post: the Applier's key)."""
    ledger = Ledger(redis_client)
    if event == "post_destroyed" or post is None:
        return "removed" if ledger.remove_post(post_id) else "ignored"
    if is_deleted(post):
        return "removed" if ledger.remove_post(post_id) else "ignored"
    info = topic_info(client, redis_client, rules, int(post["topic_id"]))
    if info.kind == "leave" and _by_diamond(client, post):
        return "ignored"  # Diamond's own answer in a leave topic is no request
    version_at = None
    if event == "post_edited" and post.get("updated_at"):
        version_at = parse_time(str(post["updated_at"]))
    early = info.kind == "article" and rules.obligations.article.mode == "thread"
    if early and _by_diamond(client, post):
        return "ignored"
    if info.kind == "thread" and info.week and info.squad:
        filed = _filed_week(ledger, rules, post, info.week, info.squad)
        if filed != info.week:
            info, early = TopicInfo("thread", filed, info.squad), True
    outcome = ingest_post(ledger, rules, post, info, version_at=version_at)
    if outcome == "recorded" and early:
        return "recorded-early"  # the post's job opens the week's missing thread
    if outcome == "recorded" and info.kind == "thread" and info.week and info.squad:
        mark_roll_call(
            redis_client,
            info.week,
            info.squad,
            version_at or parse_time(str(post.get("created_at"))),
        )
    if outcome == "leave":
        answer_leave(client, redis_client, rules, post, live=live)
    return outcome


def _filed_week(
    ledger: Ledger, rules: Rules, post: Mapping[str, Any], thread_week: Week, squad: str
) -> Week:
    """The week a post in ``thread_week``'s thread is filed under: a later week's while that
    week has no thread (``thread_post_week``); once filed, it stays (edits follow it)."""
    place = ledger.place_of(int(post["id"]))
    if place is not None and place[1] == squad:
        return place[0]
    posted_in = week_of(parse_time(str(post["created_at"])), rules.tz)
    if posted_in <= thread_week or squad in ledger.threads(posted_in):
        return thread_week
    return thread_post_week(rules, post, thread_week, ledger.posts(thread_week, squad))


def _by_diamond(client: Any, post: Mapping[str, Any]) -> bool:
    own = str(getattr(client, "api_username", "") or "").lower()
    return bool(own) and str(post.get("username") or "").lower() == own


def answer_leave(
    client: Any,
    redis_client: redis.Redis,
    rules: Rules,
    post: Mapping[str, Any],
    *,
    live: bool,
) -> ApplyReport | None:
    """Reply to a leave post with what was decided about it, as the audit will decide
    it (every leave post in the ledger); nothing when the ledger has not recorded it."""
    post_id = int(post["id"])
    source = f"post {post_id}"
    ledger = Ledger(redis_client)
    requests = ledger.leave_requests()
    request = next((r for r in requests if r.source == source), None)
    if request is None or not request.weeks:
        return None
    decision = grant_leave(rules.obligations, rules.tz, requests)
    where = LeavePost(post_id, int(post["topic_id"]), int(post.get("post_number") or 1))
    language = MembershipStore(redis_client).languages().get(request.username)
    action = plan_leave_answer(rules, request, decision, where, language)
    return Applier(client, redis_client, live=live, rules=rules).apply([action])


# ─────────────────────────────── roll call ───────────────────────────────

# "{week}|{squad}" -> when the thread last changed (epoch seconds): roll calls to redo.
ROLL_CALL_DIRTY_KEY = keys.ROLL_CALL_DIRTY
# squad -> when its roll call was last edited (epoch seconds).
ROLL_CALL_EDITED_KEY = keys.ROLL_CALL_EDITED
# thread topic id -> its first post's id (one topic read, once).
ROLL_CALL_POSTS_KEY = keys.ROLL_CALL_FIRST_POSTS
# At most one edit per squad in this many seconds: the API bucket is the site's.
ROLL_CALL_INTERVAL = 300


def mark_roll_call(redis_client: redis.Redis, week: Week, squad: str, at: dt.datetime) -> None:
    """A post of ``squad``'s ``week`` thread changed: its roll call is to be redone."""
    redis_client.hset(ROLL_CALL_DIRTY_KEY, f"{week}|{squad}", str(at.timestamp()))


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
    remember_squad_names(redis_client, roster)
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
                if info.kind == "article" and thread_mode and _by_diamond(client, post):
                    continue  # as live ingestion: Diamond's own words are no article
                outcome = ingest_post(ledger, rules, post, info)
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
