"""The probation camp (预备营): timeline, progress and the verdict at its end.

Pure: (rules, camper, their camp posts, now) → ``CampVerdict``. Days are calendar
days in the community time zone: the camp starts on the day of approval (day 1)
and lasts ``duration_days`` days; it ends at the local midnight after its last
day (plus any extension). The verdict is given once the camp has ended; before
that it is ``in_progress`` with the progress so far.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from worker import actions as a
from worker.engine.limits import MAX_MESSAGE_RECIPIENTS, chunks
from worker.rules import Rules
from worker.rules.models import CheckinTask, IntroductionTask

Verdict = Literal["in_progress", "pass", "extend", "fail"]


@dataclass(frozen=True, slots=True)
class Camper:
    """One camper's camp record (kept in the ledger from the approval on)."""

    user_id: int
    username: str
    started_at: datetime  # approval time, aware
    extensions: int = 0  # extensions already granted
    referrer: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class CampPost:
    """A post by a camper, as far as the camp cares.

    ``category`` is the category *slug*; ``reply_to`` the author of the post or topic
    replied to (None for a new topic, or a reply to nobody in particular).
    """

    id: int
    created_at: datetime
    units: int
    category: str | None = None
    is_topic: bool = False
    reply_to: str | None = None
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class CampChat:
    """A chat message by a camper in the camp channel, as far as the camp cares
    (``worker.state.chat.ChatMessage`` facts: trashed messages are left out by the step)."""

    created_at: datetime
    units: int


@dataclass(frozen=True, slots=True)
class CampProgress:
    introduction: bool
    checkin_days: tuple[date, ...]  # local days with a qualifying check-in
    fellows_replied: tuple[str, ...]  # distinct fellow campers replied to
    activity: int  # qualifying posts of any kind: "most active" for leader choice

    def lines(self, rules: Rules, lang: str | None = None) -> list[str]:
        """The progress in words of ``lang`` (templates ``camp_progress.*``)."""
        tasks = rules.camp.tasks
        done: dict[CampTask, tuple[int, int]] = {
            "introduction": (int(self.introduction), 1),
            "checkins": (len(self.checkin_days), tasks.checkins.min_days),
            "replies": (len(self.fellows_replied), tasks.replies.min_replies),
        }
        return [
            _task_words(rules, f"camp_progress.{task}", lang, task, d, need)
            for task, (d, need) in done.items()
        ]


# Every value a ``camp_task.*`` / ``camp_progress.*`` template may use (all passed).
CAMP_TASK_VALUES = ("category", "min_length", "unit", "done", "need", "mark")
CampTask = Literal["introduction", "checkins", "replies"]


def _task_words(
    rules: Rules, key: str, lang: str | None, task: CampTask, done: int, need: int
) -> str:
    tasks = rules.camp.tasks
    spec: IntroductionTask | CheckinTask | None = (
        tasks.introduction
        if task == "introduction"
        else tasks.checkins
        if task == "checkins"
        else None
    )
    values = {
        "category": f"#{spec.category}" if spec else "",
        "min_length": getattr(spec, "min_length", "") if spec else tasks.replies.min_length,
        "unit": _word(rules, "unit", lang),
        "done": done,
        "need": need,
        "mark": "✓" if done >= need else "✗",
    }
    try:
        return rules.message(key, lang, **values).strip()
    except KeyError:  # rules without these templates: the code and the figures
        return f"{task}: {done}/{need}"


def _word(rules: Rules, key: str, lang: str | None) -> str:
    try:
        return rules.message(key, lang).strip()
    except KeyError:
        return ""


def task_lines(rules: Rules, verdict: CampVerdict, lang: str | None) -> list[str]:
    """The open tasks of ``verdict`` in words of ``lang`` (templates ``camp_task.*``)."""
    p = verdict.progress
    done = {
        "introduction": int(p.introduction),
        "checkins": len(p.checkin_days),
        "replies": len(p.fellows_replied),
    }
    need = {
        "introduction": 1,
        "checkins": rules.camp.tasks.checkins.min_days,
        "replies": rules.camp.tasks.replies.min_replies,
    }
    return [
        _task_words(rules, f"camp_task.{t}", lang, t, done[t], need[t]) for t in verdict.missing
    ]


@dataclass(frozen=True, slots=True)
class CampVerdict:
    verdict: Verdict
    progress: CampProgress
    missing: tuple[CampTask, ...]  # open tasks (put in words by ``task_lines``)
    ends_at: datetime  # end of the camp as it stands (after this verdict's extension)


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def camp_end(rules: Rules, started_at: datetime, extensions: int = 0) -> datetime:
    """Local midnight after the camp's last day, with ``extensions`` extensions added."""
    tz = rules.tz
    days = rules.camp.duration_days + extensions * rules.camp.extension.days
    first = local_day(started_at, tz)
    return datetime.combine(first + timedelta(days=days), time(0), tzinfo=tz)


def camp_progress(
    rules: Rules,
    camper: Camper,
    posts: Iterable[CampPost],
    fellow_campers: frozenset[str],
    *,
    until: datetime,
    chat: Iterable[CampChat] = (),
) -> CampProgress:
    """What the camper did between the approval and ``until`` (the camp's end).

    ``chat`` are the camper's messages in the camp channel: with ``checkins.chat`` one of
    at least ``checkins.chat_min_length`` units checks in for its day (community time zone).
    """
    tasks = rules.camp.tasks
    tz = rules.tz
    me = camper.username.lower()
    fellows = {f.lower(): f for f in fellow_campers if f.lower() != me}
    intro = False
    days: set[date] = set()
    replied: set[str] = set()
    activity = 0
    for post in posts:
        if post.deleted or not camper.started_at <= post.created_at < until:
            continue
        counted = False
        if (
            post.is_topic
            and post.category == tasks.introduction.category
            and post.units >= tasks.introduction.min_length
        ):
            intro = counted = True
        if post.category == tasks.checkins.category and post.units >= tasks.checkins.min_length:
            days.add(local_day(post.created_at, tz))
            counted = True
        if (
            post.reply_to
            and post.reply_to.lower() in fellows
            and post.units >= tasks.replies.min_length
        ):
            replied.add(fellows[post.reply_to.lower()])
            counted = True
        activity += counted
    if tasks.checkins.chat:
        for message in chat:
            if (
                camper.started_at <= message.created_at < until
                and message.units >= tasks.checkins.chat_min_length
            ):
                days.add(local_day(message.created_at, tz))
    return CampProgress(intro, tuple(sorted(days)), tuple(sorted(replied)), activity)


def missing_tasks(rules: Rules, progress: CampProgress) -> tuple[CampTask, ...]:
    tasks = rules.camp.tasks
    missing: list[CampTask] = []
    if not progress.introduction:
        missing.append("introduction")
    if len(progress.checkin_days) < tasks.checkins.min_days:
        missing.append("checkins")
    if len(progress.fellows_replied) < tasks.replies.min_replies:
        missing.append("replies")
    return tuple(missing)


def evaluate_camp(
    rules: Rules,
    camper: Camper,
    posts: Sequence[CampPost],
    fellow_campers: frozenset[str],
    now: datetime,
    *,
    chat: Sequence[CampChat] = (),
) -> CampVerdict:
    """Before the camp's end: in progress. After it: pass, extend once (per rules), or fail.

    ``chat``: the camper's messages in the camp channel (they count as check-ins when the
    rules say so)."""
    ends_at = camp_end(rules, camper.started_at, camper.extensions)
    progress = camp_progress(rules, camper, posts, fellow_campers, until=ends_at, chat=chat)
    missing = missing_tasks(rules, progress)
    if now < ends_at:
        return CampVerdict("in_progress", progress, missing, ends_at)
    if not missing:
        return CampVerdict("pass", progress, missing, ends_at)
    camp = rules.camp
    if camp.on_fail == "extend" and camper.extensions < camp.extension.times:
        extended = camp_end(rules, camper.started_at, camper.extensions + 1)
        return CampVerdict("extend", progress, missing, extended)
    return CampVerdict("fail", progress, missing, ends_at)


# ─────────────────────────────── actions ───────────────────────────────

# ─────────────────────────────── words ───────────────────────────────


def _lang(rules: Rules, camper: Camper) -> str:
    return camper.language if camper.language in ("zh", "en") else rules.community.default_language


def fmt_day(rules: Rules, moment: datetime) -> str:
    """The last camp day as people say it: the day before the end's local midnight."""
    return (moment.astimezone(rules.tz) - timedelta(seconds=1)).strftime("%Y-%m-%d")


def camp_channel_actions(rules: Rules) -> list[a.Action]:
    """The camp's chat channel (camp.yml ``chat_channel``): a category channel of the
    check-ins category, made by the first camp check with campers in the camp group
    (auto-join adds the group's members as it is made, and whoever joins later).

    One channel for every intake: intakes share the camp group and the camp's categories,
    and Discourse's auto-join follows the category's groups (create_post or full), so a
    channel per intake would need a group and a category per intake. Done once (its key);
    the Applier looks before it creates, so a lost record makes no second channel.
    """
    if not rules.camp.chat_channel:
        return []
    slug = rules.camp.tasks.checkins.category
    return [
        a.CreateChatChannel(
            key=f"camp-chat:{slug}",
            reason="the camp's chat channel",
            category_slug=slug,
        )
    ]


def _checkin_chat(rules: Rules, lang: str) -> str:
    """The welcome's words saying a chat message checks in too (empty when it does not)."""
    checkins = rules.camp.tasks.checkins
    if not checkins.chat:
        return ""
    try:
        return rules.message(
            "camp_checkin_chat",
            lang,
            category=f"#{checkins.category}",
            min_length=checkins.chat_min_length,
            unit=_word(rules, "unit", lang),
        ).rstrip("\n")
    except KeyError:  # rules without the template: the tasks as before
        return ""


def welcome_actions(rules: Rules, camper: Camper) -> list[a.Action]:
    """The welcome PM listing the tasks (sent when the camper is approved)."""
    tasks = rules.camp.tasks
    msg = rules.render(
        rules.camp.messages.welcome,
        _lang(rules, camper),
        username=camper.username,
        camp_days=rules.camp.duration_days,
        camp_ends=fmt_day(rules, camp_end(rules, camper.started_at)),
        intro_category=f"#{tasks.introduction.category}",
        intro_min_length=tasks.introduction.min_length,
        checkin_category=f"#{tasks.checkins.category}",
        checkin_days=tasks.checkins.min_days,
        min_replies=tasks.replies.min_replies,
        checkin_chat=_checkin_chat(rules, _lang(rules, camper)),
    )
    return [
        a.SendPrivateMessage(
            key=f"camp-welcome:{camper.user_id}",
            reason=f"welcome {camper.username} to the camp",
            recipients=(camper.username,),
            title=msg.title,
            raw=msg.body,
        ),
    ]


def entry_after_review(rules: Rules, camper: Camper) -> list[a.Action]:
    """A reviewer approved a held application on the forum: the camper joins the camp
    group and gets the welcome (the approval itself was the reviewer's)."""
    return [
        a.AddToGroup(
            key=f"camp-join:{camper.user_id}",
            reason="approved by a reviewer",
            group=rules.community.groups.camp,
            usernames=(camper.username,),
        ),
        *welcome_actions(rules, camper),
    ]


def verdict_actions(
    rules: Rules, camper: Camper, verdict: CampVerdict, *, audit_category_id: int | None
) -> list[a.Action]:
    """Writes for a pass, an extension or a removal (none while in progress)."""
    if verdict.verdict == "in_progress":
        return []
    camp = rules.camp
    groups = rules.community.groups
    lang = _lang(rules, camper)
    staff = rules.community.default_language  # the staff log's language
    user, uid = camper.username, camper.user_id
    # Keys carry the extension count: a second camp period decides afresh.
    tag = f"{uid}:{camper.extensions}"
    missing = "\n".join(f"- {m}" for m in task_lines(rules, verdict, lang)) or "- —"
    why = "; ".join(verdict.missing) or "every task done"
    out: list[a.Action] = []
    if audit_category_id is not None and camp.messages.decided:
        msg = rules.render(
            camp.messages.decided,
            staff,
            username=user,
            user_id=uid,
            round=camper.extensions + 1,
            outcome=_word(rules, f"camp_outcome.{verdict.verdict}", staff),
            progress="\n".join(f"- {line}" for line in verdict.progress.lines(rules, staff)),
            missing="\n".join(f"- {m}" for m in task_lines(rules, verdict, staff)) or "- —",
        )
        out.append(
            a.CreateTopic(
                key=f"camp-audit:{tag}:{verdict.verdict}",
                reason=f"camp {verdict.verdict} {user}: {why}",
                affects_members=False,
                category_id=audit_category_id,
                title=msg.title,
                raw=msg.body,
            )
        )

    def pm(key: str, template: str, to: str, **values: object) -> a.SendPrivateMessage:
        msg = rules.render(template, lang, **values)
        return a.SendPrivateMessage(
            key=key,
            reason=f"camp {verdict.verdict}: {user}",
            recipients=(to,),
            title=msg.title,
            raw=msg.body,
        )

    if verdict.verdict == "pass":
        out += [
            a.AddToGroup(
                key=f"camp-promote:{uid}",
                reason="passed the camp",
                group=groups.members,
                usernames=(user,),
            ),
            a.RemoveFromGroup(
                key=f"camp-leave:{uid}",
                reason="passed the camp",
                group=groups.camp,
                usernames=(user,),
            ),
            pm(f"camp-passed:{uid}", camp.messages.passed, user, username=user),
        ]
        if camper.referrer:
            out.append(
                pm(
                    f"referrer-camp-passed:{uid}",
                    camp.messages.referrer_passed,
                    camper.referrer,
                    username=camper.referrer,
                    newcomer=user,
                )
            )
    elif verdict.verdict == "extend":
        out.append(
            pm(
                f"camp-extended:{tag}",
                camp.messages.extended,
                user,
                username=user,
                missing=missing,
                extension_days=camp.extension.days,
                camp_ends=fmt_day(rules, verdict.ends_at),
            )
        )
    else:
        out += [
            a.AddToGroup(
                key=f"camp-alumni:{uid}",
                reason=f"failed the camp: {why}",
                group=groups.alumni,
                usernames=(user,),
            ),
            a.RemoveFromGroup(
                key=f"camp-remove:{uid}",
                reason=f"failed the camp: {why}",
                group=groups.camp,
                usernames=(user,),
            ),
            pm(f"camp-failed:{uid}", camp.messages.failed, user, username=user, missing=missing),
        ]
        if camper.referrer:
            out.append(
                pm(
                    f"referrer-camp-failed:{uid}",
                    camp.messages.referrer_failed,
                    camper.referrer,
                    username=camper.referrer,
                    newcomer=user,
                )
            )
    return out


CAMP_LOG_TEMPLATE = "camp_check_log"


def camp_log_actions(
    rules: Rules,
    decided: Sequence[tuple[Camper, CampVerdict]],
    *,
    audit_category_id: int | None,
    now: datetime,
) -> list[a.Action]:
    """One staff audit-log topic for a camp check's run, each camper's ``decided`` entry in
    it (a topic per camper would cost one forum call each)."""
    camp = rules.camp
    if audit_category_id is None or not camp.messages.decided or not decided:
        return []
    staff = rules.community.default_language
    entries = []
    tags = []
    for camper, verdict in decided:
        msg = rules.render(
            camp.messages.decided,
            staff,
            username=camper.username,
            user_id=camper.user_id,
            round=camper.extensions + 1,
            outcome=_word(rules, f"camp_outcome.{verdict.verdict}", staff),
            progress="\n".join(f"- {line}" for line in verdict.progress.lines(rules, staff)),
            missing="\n".join(f"- {m}" for m in task_lines(rules, verdict, staff)) or "- —",
        )
        entries.append(f"### {msg.title}\n\n{msg.body.strip()}")
        tags.append(f"{camper.user_id}:{camper.extensions}:{verdict.verdict}")
    # The run's decisions name it: a retry of the same run is the same topic.
    run = hashlib.sha1("|".join(sorted(tags)).encode()).hexdigest()[:8]
    msg = rules.render(
        CAMP_LOG_TEMPLATE,
        staff,
        date=fmt_day(rules, now),
        count=len(decided),
        run=run,
        entries="\n\n---\n\n".join(entries),
    )
    return [
        a.CreateTopic(
            key=f"camp-audit:{run}",
            reason=f"camp check: {len(decided)} decided",
            affects_members=False,
            category_id=audit_category_id,
            title=msg.title,
            raw=msg.body,
        )
    ]


def run_actions(
    rules: Rules,
    decided: Sequence[tuple[Camper, CampVerdict]],
    *,
    audit_category_id: int | None,
    now: datetime,
) -> list[a.Action]:
    """Every write of one camp check run: the staff log topic first (if a later write
    fails, staff still see why), then each camper's ``verdict_actions``.

    With ``pass_message: shared`` the campers who passed get one PM per language and up
    to ``MAX_MESSAGE_RECIPIENTS`` of them instead of a PM each; its key names the campers
    it is for, so a retry of the run sends it once.
    """
    shared = rules.camp.pass_message == "shared" and rules.camp.messages.passed_shared
    out = camp_log_actions(rules, decided, audit_category_id=audit_category_id, now=now)
    passed: dict[str, list[Camper]] = {}
    for camper, verdict in decided:
        acts = verdict_actions(rules, camper, verdict, audit_category_id=None)
        if shared and verdict.verdict == "pass":
            acts = [x for x in acts if x.key != f"camp-passed:{camper.user_id}"]
            passed.setdefault(_lang(rules, camper), []).append(camper)
        out += acts
    for lang, campers in sorted(passed.items()):
        campers.sort(key=lambda c: c.username.lower())
        for chunk in chunks(campers, MAX_MESSAGE_RECIPIENTS):
            tags = "|".join(f"{c.user_id}:{c.extensions}" for c in chunk)
            msg = rules.render(
                rules.camp.messages.passed_shared,  # type: ignore[arg-type]
                lang,
                # Recipients hear of a PM anyway: no @, which would count as mentions.
                usernames=", ".join(c.username for c in chunk),
                count=len(chunk),
            )
            out.append(
                a.SendPrivateMessage(
                    key=f"camp-passed-shared:{hashlib.sha1(tags.encode()).hexdigest()[:12]}",
                    reason=f"camp pass: {len(chunk)} campers",
                    recipients=tuple(c.username for c in chunk),
                    title=msg.title,
                    raw=msg.body,
                )
            )
    return out


def extended(camper: Camper) -> Camper:
    """The camper's record after an extension was granted."""
    return replace(camper, extensions=camper.extensions + 1)
