"""Message-template placeholders: checked where they are written, declared where they are sent.

A ``{name}`` the code does not fill in would reach a member as the literal text
``{name}``; ``diamond check`` reports it in the messages file instead. What the code
fills in is declared next to each template field (``Placeholders``), and the last test
renders every template through the real code paths to keep those declarations honest.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel

from tests.support.obligations import (
    SH,
    W47,
    Thread,
    at,
    rendering,
    ring_audit,
    shipped_rules,
    squad,
    with_delivery,
)
from tests.support.rules_cases import SHIPPED, copy_rules, edit, problems_of
from worker.actions import Action
from worker.engine.camp import (
    Camper,
    CampPost,
    camp_log_actions,
    evaluate_camp,
    run_actions,
    verdict_actions,
    welcome_actions,
)
from worker.engine.facts import MemberFact, Roster
from worker.engine.gating import Applicant, GatingFacts, evaluate_application, gating_actions
from worker.engine.notices import TEMPLATES as NOTICE_TEMPLATES
from worker.engine.notices import Notice, plan_notice
from worker.engine.obligations import SquadWeek, evaluate_week, plan_reminders, plan_weekly_threads
from worker.engine.penalties import plan_audit
from worker.engine.recognition import BadgeDecision, badge_actions
from worker.engine.squads import Graduate, plan_squads, squad_actions
from worker.report import render_leader_part, render_post
from worker.rules import Rules
from worker.rules.checks import field_marker, marked_fields
from worker.rules.models import FIXED_TEMPLATES, SECTION_FILES
from worker.rules.types import Placeholders, TemplateRef

WELCOME = (
    "{community}, {username}, {camp_days}, {camp_ends}, {intro_category}, {intro_min_length}, "
    "{checkin_category}, {checkin_days}, {min_replies}, {checkin_chat}"
)
SUMMARY_USES = "rules/obligations.yml messages.audit_summary"

# (edits as (file, old text, new text), every expected problem) on the minimal rules
TEMPLATE_CASES: dict[str, tuple[list[tuple[str, str, str]], list[str]]] = {
    "misspelt placeholder suggests the one meant": (
        [("messages/zh.yml", "welcome: 中文 {username}", "welcome: 中文 {usrname}")],
        [
            "rules/messages/zh.yml:5:1: welcome.body: placeholder {usrname} is not filled "
            f"here; available: {WELCOME} (did you mean {{username}}?)"
        ],
    ),
    "placeholder another template gets is not filled here": (
        [("messages/en.yml", "passed: English {username}", "passed: English {squad}")],
        [
            "rules/messages/en.yml:6:1: passed.body: placeholder {squad} is not filled here; "
            "available: {community}, {username}"
        ],
    ),
    "title is checked like the body": (
        [
            (
                "messages/en.yml",
                "passed: English {username}",
                "passed:\n  title: Hello {usrname}\n  body: English {username}",
            )
        ],
        [
            "rules/messages/en.yml:7:3: passed.title: placeholder {usrname} is not filled "
            "here; available: {community}, {username} (did you mean {username}?)"
        ],
    ),
    "community is filled in everywhere": (
        [("messages/en.yml", "passed: English {username}", "passed: Hi {community} {username}")],
        [],
    ),
    "a template two fields name must suit both": (
        [("messages/zh.yml", 'body: "中文 {week}"}', 'body: "中文 {week} {iso_week}"}')],
        [
            "rules/messages/zh.yml:14:38: summary.body: placeholder {iso_week} is not filled "
            f"when sent as {SUMMARY_USES}; available to every use: {{community}}, {{week}}, "
            "{year}, {members}, {penalised} (did you mean {week}?)"
        ],
    ),
    "an article reminder gets no review links": (
        [("messages/en.yml", "reminder: English {username}", "reminder: Links {review_links}")],
        [
            "rules/messages/en.yml:11:1: reminder.body: placeholder {review_links} is not "
            "filled here; available: {community}, {username}, {week}, {dates}, {squad}, "
            "{deadline}, {min_length}"
        ],
    ),
    "a review reminder gets review links": (
        [
            ("obligations.yml", "    about: article", "    about: review"),
            ("messages/en.yml", "reminder: English {username}", "reminder: Links {review_links}"),
            ("messages/zh.yml", "reminder: 中文 {username}", "reminder: 截止 {review_deadline}"),
        ],
        [],
    ),
    "a silence reason gets its days and end": (
        [
            (
                "messages/zh.yml",
                "silenced: 中文 {username}",
                "silenced: 禁言 {days} {until} {reasons}",
            )
        ],
        [],
    ),
    "a warning is no silence and has no days": (
        [("messages/zh.yml", "warning: 中文 {username}", "warning: 中文 {days}")],
        [
            "rules/messages/zh.yml:12:1: warning.body: placeholder {days} is not filled here; "
            "available: {community}, {username}, {member}, {strikes}, {reasons}, "
            "{next_strikes}, {week}, {year}, {dates}, {squad}, {leader}, {reviewers} "
            "(did you mean {dates}?)"
        ],
    ),
    "a template Diamond sends by its own key is checked against what it passes": (
        [
            ("messages/zh.yml", "# zh", "# zh\nobligation_reason.missing_article: 第{wek}周"),
            ("messages/en.yml", "# en", "# en\nobligation_reason.missing_article: week {week}"),
        ],
        [
            'rules/messages/zh.yml:2:1: ["obligation_reason.missing_article"].body: placeholder '
            "{wek} is not filled here; available: {community}, {week}, {dates}, {author} "
            "(did you mean {week}?)"
        ],
    ),
    "a template nobody sends is only checked for syntax": (
        [
            ("messages/zh.yml", "# zh", "# zh\nspare: 中文 {anything}"),
            ("messages/en.yml", "# en", "# en\nspare: English {anything}"),
        ],
        [],
    ),
    "full-width braces would be sent as they are": (
        [("messages/zh.yml", "welcome: 中文 {username}", "welcome: 中文 ｛username｝")],
        [
            "rules/messages/zh.yml:5:1: welcome.body: '｛username｝' is written with "
            "full-width braces and would be sent as it is; write {username} in half-width "
            "(英文半角)"
        ],
    ),
    "a full-width closing brace is a syntax error with a hint": (
        [("messages/zh.yml", "welcome: 中文 {username}", "welcome: 中文 {username｝")],
        [
            "rules/messages/zh.yml:5:1: welcome.body: expected '}' before end of string; "
            "write {{ or }} for a literal brace; hint: '｛' and '｝' are full-width braces, "
            "placeholders need '{' and '}'"
        ],
    ),
    "positional placeholder": (
        [("messages/en.yml", "welcome: English {username}", "welcome: English {0}")],
        [
            "rules/messages/en.yml:5:1: welcome.body: use plain named placeholders like "
            "{username} (found {0})"
        ],
    ),
    "empty braces": (
        [("messages/en.yml", "welcome: English {username}", "welcome: English {}")],
        [
            "rules/messages/en.yml:5:1: welcome.body: use plain named placeholders like "
            "{username} (found {})"
        ],
    ),
    "attribute of a value": (
        [("messages/en.yml", "welcome: English {username}", "welcome: Hi {username.__class__}")],
        [
            "rules/messages/en.yml:5:1: welcome.body: use plain named placeholders like "
            "{username} (found {username.__class__})"
        ],
    ),
    "index into a value": (
        [("messages/en.yml", "welcome: English {username}", "welcome: Hi {username[0]}")],
        [
            "rules/messages/en.yml:5:1: welcome.body: use plain named placeholders like "
            "{username} (found {username[0]})"
        ],
    ),
    "lone closing brace": (
        [("messages/en.yml", "welcome: English {username}", "welcome: English {username} }")],
        [
            "rules/messages/en.yml:5:1: welcome.body: Single '}' encountered in format string; "
            "write {{ or }} for a literal brace"
        ],
    ),
    "doubled braces are literal braces": (
        [("messages/en.yml", "welcome: English {username}", "welcome: '{{json}} {username}'")],
        [],
    ),
    "weekly thread title gets no community": (
        [
            (
                "obligations.yml",
                "  mode: topic",
                '  mode: topic\n  thread_title: "{community} {wek}"',
            )
        ],
        [
            "rules/obligations.yml:3:3: article.thread_title: placeholder {community} is not "
            "filled here; available: {week}, {year}, {dates}, {squad}, {squad_slug}",
            "rules/obligations.yml:3:3: article.thread_title: placeholder {wek} is not filled "
            "here; available: {week}, {year}, {dates}, {squad}, {squad_slug} "
            "(did you mean {week}?)",
            "rules/obligations.yml:3:17: article.thread_title: titles a new forum topic each "
            "time, and Discourse refuses a title another topic already has: use {year} and "
            "{week} and {squad}, or {year} and {week} and {squad_slug}, or {year} and {dates} "
            "and {squad}, or {year} and {dates} and {squad_slug} in it so that no two are alike",
        ],
    ),
}


@pytest.mark.parametrize("case", list(TEMPLATE_CASES), ids=list(TEMPLATE_CASES))
def test_template_placeholders_are_checked_where_written(rules_dir: Path, case: str) -> None:
    edits, expected = TEMPLATE_CASES[case]
    for file, old, new in edits:
        edit(rules_dir, file, old, new)
    assert problems_of(rules_dir) == expected


def test_misspelt_placeholder_in_the_shipped_rules_points_at_its_body(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    rules = copy_rules(tmp_path, SHIPPED)
    edit(rules, "messages/zh.yml", "@{username} 欢迎!", "@{usrname} 欢迎!")
    assert problems_of(Path("rules")) == [
        "rules/messages/zh.yml:75:3: camp_welcome.body: placeholder {usrname} is not filled "
        f"here; available: {WELCOME} (did you mean {{username}}?)"
    ]


# ───────────────────── the declarations match the code ─────────────────────


def _template_fields(model: type[BaseModel], seen: set[type]) -> list[tuple[str, Any]]:
    """(Model.field, FieldInfo) of every field naming a template, through nested models."""
    if model in seen:
        return []
    seen.add(model)
    found = []
    for name, info in model.model_fields.items():
        if field_marker(info, TemplateRef) is not None:
            found.append((f"{model.__name__}.{name}", info))
            continue
        stack = [info.annotation]
        while stack:
            tp = stack.pop()
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                found += _template_fields(tp, seen)
            stack.extend(get_args(tp))
    return found


def test_every_template_field_declares_its_placeholders() -> None:
    seen: set[type] = set()
    fields = [
        f for _file, (_s, model) in SECTION_FILES.items() for f in _template_fields(model, seen)
    ]
    names = {name for name, _info in fields}
    assert {"Reminder.template", "SilenceAction.template", "Badge.template"} <= names  # nested
    undeclared = [name for name, info in fields if field_marker(info, Placeholders) is None]
    assert undeclared == []


# Fields naming a template no code sends yet; sending one means taking it off this list.
NOT_SENT = {("gating", ("messages", "referrer_notice"))}


def _recording(rules: Rules) -> tuple[Rules, dict[str, set[frozenset[str]]], list[frozenset[str]]]:
    """``rules`` that record, per template key, the sets of value names the code passed to
    ``Rules.render``; and the value names the weekly thread title (filled in without
    ``Rules.render``, by ``format_map``) was given."""
    rendered: dict[str, set[frozenset[str]]] = defaultdict(set)
    titles: list[frozenset[str]] = []

    class Title(str):
        def format_map(self, mapping: Any) -> str:
            titles.append(frozenset(mapping))
            return str(self).format_map(mapping)

    article = rules.obligations.article
    article = article.model_copy(update={"thread_title": Title(article.thread_title)})
    obligations = rules.obligations.model_copy(update={"article": article})
    rules = rules.model_copy(update={"obligations": obligations})
    return (
        rendering(rules, lambda key, values, _out: rendered[key].add(frozenset(values))),
        rendered,
        titles,
    )


def _declared(rules: Rules, rendered: dict[str, set[frozenset[str]]]) -> dict[str, set]:
    """Template key -> the sets of names the fields naming it (and FIXED_TEMPLATES) declare."""
    declared: dict[str, set[frozenset[str]]] = defaultdict(set)
    for section in ("community", "gating", "camp", "squads", "obligations", "badges", "health"):
        for path, key, owner, info in marked_fields(getattr(rules, section), TemplateRef):
            if (section, path) not in NOT_SENT:
                names = field_marker(info, Placeholders).passed(owner)  # type: ignore[union-attr]
                declared[key].add(frozenset(names))
    for pattern, placeholders in FIXED_TEMPLATES.items():
        for key in [k for k in rendered if fnmatchcase(k, pattern)] or [pattern]:
            declared[key].add(frozenset(placeholders.names))
    return declared


def _drift(rendered: dict[str, set], declared: dict[str, set]) -> list[str]:
    """Where the code and the declarations disagree, one line per template key."""
    out = []
    for key in sorted(set(rendered) | set(declared)):
        passed, wanted = rendered.get(key, set()), declared.get(key, set())
        if passed == wanted:
            continue
        if not passed:
            out.append(f"{key}: declared but never rendered (extend _tour, or NOT_SENT)")
        elif not wanted:
            out.append(f"{key}: rendered, but no field or FIXED_TEMPLATES declares it")
        else:
            extra = sorted(set().union(*passed) - set().union(*wanted))
            unused = sorted(set().union(*wanted) - set().union(*passed))
            out.append(f"{key}: passed, not declared: {extra}; declared, not passed: {unused}")
    return out


def _tour(rules: Rules) -> list[Action]:
    """Every place that renders a template, each branch once, as the workers run them;
    returns every action planned on the way."""
    planned: list[Action] = []

    def keep(value: Any) -> Any:
        planned.extend(_actions_in(value))
        return value

    # Gating: an approval (audit entry, referrer told), a rejection, a hold.
    good = "我是一名软件工程师,喜欢读书和写作。" * 20
    referrer = MemberFact(user_id=2, username="mentor", groups=frozenset({"members"}))
    for application in (good, good + "加微信", "字" * 50):
        applicant = Applicant(
            user_id=10,
            username="newbie",
            email="newbie@example.com",
            fields={"referrer": "mentor", "application": application, "payment": "ORDER-1"},
        )
        facts = GatingFacts(applicant=applicant, referrer=referrer)
        decision = evaluate_application(rules, facts)
        keep(gating_actions(rules, facts, decision, audit_category_id=9, camp_ends="2026-11-08"))
    # An invitee Discourse approved already, with a short application: held, with a note.
    invitee = Applicant(10, "newbie", "n@example.com", fields={"application": "字"}, approved=True)
    facts = GatingFacts(applicant=invitee, referrer=referrer)
    keep(gating_actions(rules, facts, evaluate_application(rules, facts), audit_category_id=9))

    # Camp: the welcome, then a pass, an extension and a removal, each with its audit entry.
    start = datetime(2026, 11, 2, 10, 0, tzinfo=SH)
    end = datetime(2026, 11, 9, 0, 0, tzinfo=SH)
    fellows = frozenset({"alice", "bob", "carol", "newbie"})
    camper = Camper(user_id=7, username="newbie", started_at=start, referrer="mentor")
    keep(welcome_actions(rules, camper))
    done = [CampPost(1, start.astimezone(UTC), 150, category="introductions", is_topic=True)]
    done += [
        CampPost(2 + d, (start + timedelta(days=d, hours=8)).astimezone(UTC), 30, "checkins")
        for d in range(6)
    ]
    done += [
        CampPost(
            10 + i, (start + timedelta(days=1)).astimezone(UTC), 30, "introductions", reply_to=to
        )
        for i, to in enumerate(("alice", "bob", "carol"))
    ]
    second = Camper(7, "newbie", start, extensions=1, referrer="mentor")
    for who, posts, now in (
        (camper, done, end),
        (camper, [], end),
        (second, [], end + timedelta(days=7)),
    ):
        verdict = evaluate_camp(rules, who, posts, fellows, now)
        keep(verdict_actions(rules, who, verdict, audit_category_id=3))
        keep(camp_log_actions(rules, [(who, verdict)], audit_category_id=3, now=now))
        keep(run_actions(rules, [(who, verdict)], audit_category_id=3, now=now))  # shared PM

    # Squads: a new cohort's squad, its members and leader told, the audit entry.
    graduates = [Graduate(f"u{i}", activity=i) for i in range(10)]
    plan = plan_squads(rules, "2611", graduates, Roster())
    keep(squad_actions(rules, plan, audit_category_id=3))

    # Obligations: the weekly thread, article and review reminders with the leader's list.
    t = Thread()
    t.post("lead", at(17), 900)
    t.post("bob", at(17, 13), 900)
    sq = squad("lead", "alice", "bob", leader="lead")
    keep(plan_weekly_threads(rules, [sq], W47, {}))
    progress = evaluate_week(
        rules.obligations,
        SH,
        W47,
        [SquadWeek(sq, W47, tuple(t.posts), t.topic_id)],
        as_of=at(20, 20),
    )
    # A PM each and the leader's list; thread posts; chat messages in the squad's channel.
    for delivery in ("pm", "squad_thread", "squad_channel"):
        delivered = with_delivery(rules, delivery)
        for about in ("article", "review"):
            reminder = next(r for r in delivered.obligations.reminders if r.about == about)
            keep(plan_reminders(delivered, reminder, progress, channels={sq.slug: 9}))
    # The thread's roll call.
    from worker.engine.obligations import roll_call_text

    roll_call_text(rules, progress.squads[0], {"lead": 2}, opening="x")

    # The audit: four members who wrote nothing climb to each ladder step; then a halt.
    names = [f"m{i:02d}" for i in range(14)]
    history = {"m11": {W47.previous(): 3}, "m12": {W47.previous(): 4}, "m13": {W47.previous(): 6}}
    audit, t = ring_audit(rules, names, names[:10], history)
    keep(audit)
    assert not audit.halted and len(audit.penalised) == 4
    halted = evaluate_week(
        rules.obligations, SH, W47, [SquadWeek(squad(*names), W47, (), t.topic_id)]
    )
    assert keep(plan_audit(rules, halted, {}, now=at(24, 23), audit_log_category_id=77)).halted

    # A leave request answered: one week granted, one too late, one past the run's cap.
    from worker.engine.obligations import LeavePost, LeaveRequest, grant_leave, plan_leave_answer

    asked = LeaveRequest("ann", (W47.previous(), W47.next(), W47.shift(2), W47.shift(3)), at(18))
    leave = grant_leave(rules.obligations, SH, [asked])
    keep(plan_leave_answer(rules, asked, leave, LeavePost(5, 6, 1)))

    # Badges: a grant and a revocation, explained in the audit log.
    badge = rules.badges.badges[0]
    decisions = [
        BadgeDecision(badge, "ann", True, reason_url="/t/1/2"),
        BadgeDecision(badge, "bob", False),
    ]
    keep(badge_actions(rules, decisions, W47, audit_category_id=52))

    # The health report and a leader's part of it.
    from tests.pure.test_health import community_world, report_for

    report = report_for(*community_world())
    render_post(rules, report)
    render_leader_part(rules, report, "blue")

    # Shadow mode: the one door wraps what it still writes (needs no forum for that).
    from worker import actions as a
    from worker.apply import Applier

    shadow = Applier(None, None, live=False, rules=rules)  # type: ignore[arg-type]
    keep(
        shadow.marked_for_shadow(
            a.CreateTopic(key="k", reason="r", category_id=3, title="t", raw="b")
        )
    )

    # Staff notices: a new topic of the day, then a reply.
    for condition in NOTICE_TEMPLATES:
        notice = Notice(condition, ("rules/x.yml:1:1: bad",), at(24, 23), suppressed=2)
        keep(plan_notice(rules, notice, category_id=77, topic_id=None))
        keep(plan_notice(rules, notice, category_id=77, topic_id=9))

    # The rules changelog in the staff audit log.
    from worker.engine.changelog import plan_changelog

    keep(
        plan_changelog(
            rules,
            ["k: 1 → 2"],
            old_checksum="a",
            new_checksum="b",
            changed_at=at(24, 23),
            category_id=77,
        )
    )
    return planned


def _actions_in(value: Any) -> Iterator[Action]:
    """The actions in what an engine returned (a list of them, or a plan holding some)."""
    if isinstance(value, Action):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _actions_in(item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from _actions_in(getattr(value, field.name))


def test_every_call_site_passes_exactly_the_declared_names() -> None:
    rules = shipped_rules()
    recording, rendered, titles = _recording(rules)
    _tour(recording)

    assert _drift(rendered, _declared(rules, rendered)) == []
    thread_title = field_marker(
        type(rules.obligations.article).model_fields["thread_title"], Placeholders
    )
    assert set(titles) == {frozenset(thread_title.names)}  # type: ignore[union-attr]
