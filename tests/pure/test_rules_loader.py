"""The rules loader: valid rules, or every problem located as file:line:col."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.support.rules_cases import MINIMAL, SHIPPED, edit, problems_of
from worker.rules import load_rules
from worker.rules.checks import template_refs
from worker.rules.models import PmAction, SilenceAction, Streak

COLON_HINT = "'：' is a full-width colon; YAML needs an ASCII ':' followed by a space"
SPACE_HINT = "hint: '\u3000' is a full-width space; YAML needs ASCII spaces"


# (file, old text, new text, every expected problem)
BROKEN: dict[str, tuple[str, str, str, list[str]]] = {
    "ladder strikes must increase": (
        "obligations.yml",
        "    - strikes: 4",
        "    - strikes: 1",
        [
            "rules/obligations.yml:18:7: penalties.ladder[1].strikes: "
            "must be greater than the previous step (got 1)"
        ],
    ),
    "a reminder's delivery is pm or squad_thread": (
        "obligations.yml",
        "    template: reminder",
        "    template: reminder\n    delivery: thread",
        [
            "rules/obligations.yml:12:5: reminders[0].delivery: "
            "must be 'pm', 'squad_thread' or 'squad_channel' (got 'thread')"
        ],
    ),
    "squad_thread reminders need weekly threads and their templates": (
        "obligations.yml",
        "    template: reminder",
        "    template: reminder\n    delivery: squad_thread",
        [
            "rules/obligations.yml:12:15: reminders[0].delivery: squad_thread needs weekly "
            "threads: article.mode must be thread (got topic); use pm",
            "rules/obligations.yml:12:15: reminders[0].delivery: squad_thread posts with "
            "template 'squad_reminder.article', which is not defined in rules/messages/zh.yml "
            "or rules/messages/en.yml",
            "rules/obligations.yml:12:15: reminders[0].delivery: squad_thread posts with "
            "template 'squad_reminder_cc', which is not defined in rules/messages/zh.yml "
            "or rules/messages/en.yml",
        ],
    ),
    "a roll call that comes with the reminders needs a thread reminder and its templates": (
        "obligations.yml",
        "  mode: topic\n  min_length: 500",
        "  mode: thread\n  min_length: 500\n  roll_call: reminders",
        [
            "rules/obligations.yml:4:14: article.roll_call: reminders needs at least one "
            "reminder with delivery: squad_thread or squad_channel (the roll call comes with "
            "it; else it is never written)",
            "rules/obligations.yml:4:14: article.roll_call: reminders: the roll call comes with "
            "the reminders through templates 'reminder_roll_call', "
            "'roll_call_member.written', 'roll_call_member.late', 'roll_call_member.missing', "
            "'roll_call_member.leave', 'roll_call_member.new', 'roll_call_review.done', "
            "'roll_call_review.open', 'weekly_thread_roll_call.squad_thread', not defined in "
            "rules/messages/zh.yml or rules/messages/en.yml",
        ],
    ),
    "squad_channel reminders need weekly threads (their fallback) and their templates": (
        "obligations.yml",
        "    template: reminder",
        "    template: reminder\n    delivery: squad_channel",
        [
            "rules/obligations.yml:12:15: reminders[0].delivery: squad_channel needs weekly "
            "threads: article.mode must be thread (got topic); use pm",
            "rules/obligations.yml:12:15: reminders[0].delivery: squad_channel posts with "
            "template 'squad_reminder.article', which is not defined in rules/messages/zh.yml "
            "or rules/messages/en.yml",
            "rules/obligations.yml:12:15: reminders[0].delivery: squad_channel posts with "
            "template 'squad_reminder_cc', which is not defined in rules/messages/zh.yml "
            "or rules/messages/en.yml",
            "rules/obligations.yml:12:15: reminders[0].delivery: squad_channel sends with "
            "template 'squad_channel_reminder.article', which is not defined in "
            "rules/messages/zh.yml or rules/messages/en.yml",
        ],
    ),
    "a shared pass message needs its template": (
        "camp.yml",
        'check_schedule: "0 9 * * *"',
        'check_schedule: "0 9 * * *"\npass_message: shared',
        [
            "rules/camp.yml:9:15: pass_message: shared needs messages.passed_shared "
            "(the template of the shared PM)"
        ],
    ),
    "chat check-ins need the camp channel": (
        "camp.yml",
        "    min_days: 5",
        "    min_days: 5\n    chat: true",
        [
            "rules/camp.yml:8:11: tasks.checkins.chat: true needs chat_channel: true "
            "(the camp channel the check-ins are posted in)"
        ],
    ),
    "pass_message is individual or shared": (
        "camp.yml",
        'check_schedule: "0 9 * * *"',
        'check_schedule: "0 9 * * *"\npass_message: group',
        ["rules/camp.yml:9:1: pass_message: must be 'individual' or 'shared' (got 'group')"],
    ),
    "unknown key suggests the close one": (
        "community.yml",
        "default_language: zh",
        "default_langauge: zh",
        [
            "rules/community.yml:4:1: default_langauge: unknown key 'default_langauge'; "
            "did you mean 'default_language'?"
        ],
    ),
    "unknown key without a close one": (
        "community.yml",
        "default_language: zh",
        "default_language: zh\nfavourite_colour: red",
        ["rules/community.yml:5:1: favourite_colour: unknown key 'favourite_colour'"],
    ),
    "duplicate key in one mapping": (
        "community.yml",
        "staff_groups: [staff]",
        "staff_groups: [staff]\ntimezone: UTC",
        [
            "rules/community.yml:6:1: timezone: duplicate key 'timezone' "
            "(first defined at line 3); remove one of them"
        ],
    ),
    "full-width colon breaking the YAML": (
        "community.yml",
        "timezone: Asia/Shanghai",
        "timezone：Asia/Shanghai",
        [
            f"rules/community.yml:3:9: {COLON_HINT} "
            "(YAML stopped at line 4: could not find expected ':')"
        ],
    ),
    "full-width colon folded into the value above": (
        "community.yml",
        "name: Test 社\ntimezone: Asia/Shanghai",
        "name: Test 社\n  timezone：Asia/Shanghai",
        [
            "rules/community.yml:3:11: name: this line is read as part of the value above; "
            + COLON_HINT
        ],
    ),
    "full-width space as indentation": (
        "community.yml",
        "  members: members",
        "\u3000\u3000members: members",
        [
            'rules/community.yml:8:1: ["\u3000\u3000members"]: '
            f"unknown key '\u3000\u3000members'; {SPACE_HINT}"
        ],
    ),
    "full-width space after a value": (
        "community.yml",
        "timezone: Asia/Shanghai",
        "timezone: Asia/Shanghai\u3000",
        [
            "rules/community.yml:3:1: timezone: unknown time zone 'Asia/Shanghai\\u3000' "
            f"(use an IANA name such as 'Asia/Shanghai'); {SPACE_HINT}"
        ],
    ),
    "tab indentation": (
        "community.yml",
        "  members: members",
        "\tmembers: members",
        [
            "rules/community.yml:8:1: YAML syntax: found character '\\t' that cannot start "
            "any token; hint: indent with spaces, not tabs"
        ],
    ),
    "unclosed flow list": (
        "gating.yml",
        "  via: [invite]",
        "  via: [invite",
        [
            "rules/gating.yml:5:12: YAML syntax: expected ',' or ']', but got ':' "
            "(while parsing a flow sequence at line 4)"
        ],
    ),
    "cron hour out of range": (
        "camp.yml",
        '"0 9 * * *"',
        '"0 25 * * *"',
        [
            "rules/camp.yml:8:1: check_schedule: invalid cron expression '0 25 * * *': "
            "Error validating expression '25': the last value (25) is higher than the "
            "maximum value (23)"
        ],
    ),
    "cron with four fields": (
        "camp.yml",
        '"0 9 * * *"',
        '"0 9 * *"',
        [
            "rules/camp.yml:8:1: check_schedule: must be a cron expression with 5 fields "
            "'minute hour day month weekday' (got 4 fields: '0 9 * *')"
        ],
    ),
    "unknown time zone": (
        "community.yml",
        "Asia/Shanghai",
        "Asia/Shangai",
        [
            "rules/community.yml:3:1: timezone: unknown time zone 'Asia/Shangai' "
            "(use an IANA name such as 'Asia/Shanghai')"
        ],
    ),
    "group slug with Chinese and capitals": (
        "community.yml",
        "  camp: camp",
        "  camp: Camp营",
        [
            "rules/community.yml:7:3: groups.camp: may only contain lowercase ASCII letters, "
            "digits, '_' and '-', and must not start or end with '-' (got 'Camp营')"
        ],
    ),
    "group slug over 20 characters": (
        "community.yml",
        "  camp: camp",
        "  camp: a-very-long-group-name-x",
        [
            "rules/community.yml:7:3: groups.camp: must be 3 to 20 characters long "
            "(got 24: 'a-very-long-group-name-x')"
        ],
    ),
    "squad slug template too long once filled in": (
        "squads.yml",
        '"sq-{cohort}-{n}"',
        '"squad-of-{cohort}-number-{n}"',
        [
            "rules/squads.yml:9:3: naming.squad_slug: filled in as 'squad-of-9912-number-999' "
            "it is no valid group name: must be 3 to 20 characters long "
            "(got 24: 'squad-of-9912-number-999')"
        ],
    ),
    "squad slug template with unknown placeholder": (
        "squads.yml",
        '"sq-{cohort}-{n}"',
        '"sq-{cohort}-{city}"',
        [
            "rules/squads.yml:9:3: naming.squad_slug: unknown placeholder {city}; "
            "use {cohort}, {n}, {class_n}"
        ],
    ),
    "squad min above target": (
        "squads.yml",
        "  min: 8",
        "  min: 11",
        [
            "rules/squads.yml:1:1: size: must satisfy min <= target <= max "
            "(got min=11, target=10, max=12)"
        ],
    ),
    "template missing in both languages": (
        "camp.yml",
        "  welcome: welcome",
        "  welcome: welcom",
        [
            "rules/camp.yml:10:12: messages.welcome: message template 'welcom' is not "
            "defined in rules/messages/zh.yml or rules/messages/en.yml"
        ],
    ),
    "template missing in one language": (
        "messages/en.yml",
        "welcome: English {username}",
        "welcomex: English {username}",
        [
            "rules/camp.yml:10:12: messages.welcome: message template 'welcome' is not "
            "defined in rules/messages/en.yml",
            "rules/messages/en.yml:5:1: welcomex: template 'welcomex' is missing from "
            "rules/messages/zh.yml",
        ],
    ),
    "template with a format spec": (
        "messages/zh.yml",
        "badge: 中文 {username}",
        "badge: 中文 {username:>5}",
        [
            "rules/messages/zh.yml:15:1: badge.body: use plain named placeholders like "
            "{username} (found {username:>5})"
        ],
    ),
    "template with a lone brace": (
        "messages/en.yml",
        "badge: English {username}",
        "badge: English {username",
        [
            "rules/messages/en.yml:15:1: badge.body: expected '}' before end of string; "
            "write {{ or }} for a literal brace"
        ],
    ),
    "unknown ladder action": (
        "obligations.yml",
        "        - action: silence",
        "        - action: silense",
        [
            "rules/obligations.yml:20:11: penalties.ladder[1].actions[0].action: unknown "
            "action 'silense'; expected one of: 'pm', 'notify_leader', 'public_notice', "
            "'silence', 'remove_from_squad'; did you mean 'silence'?"
        ],
    ),
    "silence without days": (
        "obligations.yml",
        "          days: 3\n",
        "",
        [
            "rules/obligations.yml:20:11: penalties.ladder[1].actions[0].days: "
            "required key is missing"
        ],
    ),
    "silence for zero days": (
        "obligations.yml",
        "          days: 3",
        "          days: 0",
        [
            "rules/obligations.yml:21:11: penalties.ladder[1].actions[0].days: "
            "must be greater than or equal to 1 (got 0)"
        ],
    ),
    "ladder action without its kind": (
        "obligations.yml",
        "        - action: pm\n",
        "        - extra: 1\n",
        [
            "rules/obligations.yml:16:11: penalties.ladder[0].actions[0].action: required key "
            "'action' is missing (one of: 'pm', 'notify_leader', 'public_notice', 'silence', "
            "'remove_from_squad')"
        ],
    ),
    "unknown badge kind": (
        "badges.yml",
        "kind: streak",
        "kind: streek",
        [
            "rules/badges.yml:7:7: badges[0].criterion.kind: unknown kind 'streek'; expected "
            "one of: 'reviewer_beyond_duty', 'digest_curator', 'homework_reminder', "
            "'connector', 'welcomer', 'streak', 'full_attendance'; did you mean 'streak'?"
        ],
    ),
    "language outside zh/en": (
        "community.yml",
        "default_language: zh",
        "default_language: fr",
        ["rules/community.yml:4:1: default_language: must be 'zh' or 'en' (got 'fr')"],
    ),
    "penalised share above one": (
        "obligations.yml",
        "max_penalised_share: 0.3",
        "max_penalised_share: 1.5",
        [
            "rules/obligations.yml:25:3: audit.max_penalised_share: "
            "must be less than or equal to 1 (got 1.5)"
        ],
    ),
    "deadline hour 25": (
        "obligations.yml",
        "  time: 22:00",
        "  time: 25:00",
        [
            "rules/obligations.yml:6:3: deadline.time: must be in a valid time format, hour "
            "value is outside expected range of 0-23 (got '25:00')"
        ],
    ),
    "required key missing": (
        "gating.yml",
        "  field: application\n",
        "",
        ["rules/gating.yml:5:1: application.field: required key is missing"],
    ),
    "list written as a scalar": (
        "gating.yml",
        "  via: [invite]",
        "  via: invite",
        ["rules/gating.yml:4:3: referral.via: must be a list (got 'invite')"],
    ),
    "mapping written as a scalar": (
        "community.yml",
        "groups:\n  camp: camp\n  members: members\n",
        "groups: camp\n",
        ["rules/community.yml:6:1: groups: must be a mapping of 'key: value' lines (got 'camp')"],
    ),
    "invalid regular expression": (
        "gating.yml",
        "    keywords: [spam]",
        "    keywords: [spam]\n    patterns: ['(unclosed']",
        [
            "rules/gating.yml:12:16: screening[0].patterns[0]: invalid regular expression "
            "'(unclosed': missing ), unterminated subpattern at position 0"
        ],
    ),
    "more check-in days than camp days": (
        "camp.yml",
        "    min_days: 5",
        "    min_days: 9",
        ["rules/camp.yml:7:5: tasks.checkins.min_days: must not exceed duration_days (7) (got 9)"],
    ),
    "chat weighs at most a forum reply": (
        "health.yml",
        'report_cron: "0 21 * * sun"\n',
        'report_cron: "0 21 * * sun"\nchat: {min_units: 3, weight: 2}\n',
        ["rules/health.yml:2:22: chat.weight: must be less than or equal to 1 (got 2)"],
    ),
    "python tag is refused": (
        "community.yml",
        "name: Test 社",
        "name: !!python/name:os.system Test",
        [
            "rules/community.yml:2:7: name: unsupported YAML tag "
            "'tag:yaml.org,2002:python/name:os.system'; remove it"
        ],
    ),
    "merge keys are refused": (
        "squads.yml",
        "size:\n  target: 10",
        "size:\n  <<: {a: 1}\n  target: 10",
        ["rules/squads.yml:2:3: size: YAML merge keys ('<<') are not supported"],
    ),
}


@pytest.mark.parametrize("case", list(BROKEN), ids=list(BROKEN))
def test_broken_rule_file_is_located(rules_dir: Path, case: str) -> None:
    file, old, new, expected = BROKEN[case]
    edit(rules_dir, file, old, new)
    assert problems_of(rules_dir) == expected


# (file, content, expected) for whole-file problems
WHOLE_FILE: dict[str, tuple[str, str | bytes | None, list[str]]] = {
    "empty file": (
        "health.yml",
        "",
        ["rules/health.yml:1:1: the file is empty; it needs the keys of this section"],
    ),
    "file that is one scalar with a full-width colon": (
        "health.yml",
        "health：good\n",
        [
            "rules/health.yml:1:1: must be a mapping of 'key: value' lines (got 'health：good'); "
            f"hint: {COLON_HINT}"
        ],
    ),
    "missing file": ("health.yml", None, ["rules/health.yml:1:1: file is missing"]),
    "misnamed file": (
        "obligation.yml",
        "x: 1\n",
        [
            "rules/obligation.yml:1:1: not a rule file Diamond reads; "
            "did you mean 'obligations.yml'?"
        ],
    ),
    "two YAML documents": (
        "health.yml",
        "a: 1\n---\nb: 2\n",
        [
            "rules/health.yml:2:1: YAML syntax: but found another document "
            "(expected a single document in the stream at line 1)"
        ],
    ),
    "not UTF-8": (
        "community.yml",
        b"name: \xff\xfe\n",
        ["rules/community.yml:1:7: not valid UTF-8 text; save the file as UTF-8"],
    ),
    "alias to itself": (
        "badges.yml",
        "badges: &a [*a]\n",
        [
            "rules/badges.yml:1:9: badges[0]: an alias refers to itself (recursive anchor)",
            "rules/badges.yml:1:9: badges[0]: must be a mapping of 'key: value' lines "
            "(got nothing (empty))",
        ],
    ),
}


@pytest.mark.parametrize("case", list(WHOLE_FILE), ids=list(WHOLE_FILE))
def test_whole_file_problem_is_located(rules_dir: Path, case: str) -> None:
    file, content, expected = WHOLE_FILE[case]
    path = rules_dir / file
    if content is None:
        path.unlink()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    assert problems_of(rules_dir) == expected


def test_three_independent_mistakes_give_three_located_problems(rules_dir: Path) -> None:
    edit(rules_dir, "obligations.yml", "  min_length: 500", "  min_lenght: 500")
    edit(rules_dir, "obligations.yml", "  weekday: sunday", "  weekday: sundy")
    edit(rules_dir, "obligations.yml", "max_penalised_share: 0.3", "max_penalised_share: 0")
    assert problems_of(rules_dir) == [
        "rules/obligations.yml:3:3: article.min_lenght: unknown key 'min_lenght'; "
        "did you mean 'min_length'?",
        "rules/obligations.yml:5:3: deadline.weekday: must be 'monday', 'tuesday', "
        "'wednesday', 'thursday', 'friday', 'saturday' or 'sunday' (got 'sundy')",
        "rules/obligations.yml:25:3: audit.max_penalised_share: must be greater than 0 (got 0)",
    ]


def test_problems_from_several_files_come_sorted_by_file_and_line(rules_dir: Path) -> None:
    edit(rules_dir, "squads.yml", "  max: 12", "  max: 1x")
    edit(rules_dir, "camp.yml", "duration_days: 7", "duration_days: -7")
    edit(rules_dir, "camp.yml", "    min_days: 5", "    min_dayz: 5")
    found = problems_of(rules_dir)
    assert [p.split(": ")[0] for p in found] == [
        "rules/camp.yml:1:1",
        "rules/camp.yml:7:5",
        "rules/squads.yml:4:3",
    ]


def test_shipped_rules_load() -> None:
    rules = load_rules(SHIPPED)
    assert rules.community.timezone == "Asia/Shanghai"
    assert rules.community.default_language == "zh"
    assert rules.camp.duration_days == 7
    assert rules.squads.size.target == 10
    assert {b.kind for b in rules.badges.badges} == {
        "reviewer_beyond_duty",
        "digest_curator",
        "homework_reminder",
        "connector",
        "welcomer",
        "streak",
        "full_attendance",
    }


def test_unquoted_clock_time_is_a_time_not_a_base_60_number() -> None:
    rules = load_rules(MINIMAL)  # minimal/obligations.yml writes `time: 22:00` unquoted
    assert rules.obligations.deadline.time == dt.time(22, 0)


def test_ladder_actions_are_typed_by_their_action_key() -> None:
    ladder = load_rules(MINIMAL).obligations.penalties.ladder
    assert isinstance(ladder[0].actions[0], PmAction)
    silence = ladder[1].actions[0]
    assert isinstance(silence, SilenceAction)
    assert silence.days == 3


def test_badge_criterion_is_typed_by_kind() -> None:
    badge = load_rules(MINIMAL).badges.badges[0]
    assert isinstance(badge.criterion, Streak)
    assert (badge.kind, badge.criterion.weeks, badge.badge_type_id) == ("streak", 8, 1)


def test_rules_are_frozen() -> None:
    rules = load_rules(MINIMAL)
    with pytest.raises(ValidationError):
        rules.community.name = "other"  # type: ignore[misc]


def test_message_renders_in_the_requested_language_with_community_name() -> None:
    rules = load_rules(SHIPPED)
    zh = rules.render("camp_passed", "zh", username="alice")
    en = rules.render("camp_passed", "en", username="alice")
    assert zh.title == "恭喜通过试用营"
    assert "@alice" in zh.body and "Diamond 学习社" in zh.body
    assert en.title == "You passed the camp"
    assert en.body.startswith("Congratulations @alice, you are now a member of Diamond 学习社!")


def test_message_without_title_uses_the_community_name_and_default_language() -> None:
    rules = load_rules(SHIPPED)
    rendered = rules.render("camp_outcome.pass", None)  # a word, never a PM of its own
    assert rendered.title == "Diamond 学习社"
    assert rendered.body == "通过"
    assert rules.message("camp_outcome.pass", "en") == "passed"


def test_missing_placeholder_value_stays_visible_instead_of_failing() -> None:
    rules = load_rules(MINIMAL)
    assert rules.message("welcome", "en") == "English {username}"


def test_template_references_are_found_by_walking_the_models() -> None:
    rules = load_rules(MINIMAL)
    refs = dict(template_refs(rules.obligations))
    assert refs == {
        ("reminders", 0, "template"): "reminder",
        ("penalties", "ladder", 0, "actions", 0, "template"): "warning",
        ("penalties", "ladder", 1, "actions", 0, "template"): "silenced",
        ("messages", "squad_weekly_summary"): "weekly",
        ("messages", "audit_summary"): "summary",
        ("messages", "audit_halted"): "summary",
    }


def test_every_template_the_shipped_rules_reference_exists_in_both_languages() -> None:
    rules = load_rules(SHIPPED)
    sections = [rules.community, rules.gating, rules.camp, rules.squads]
    sections += [rules.obligations, rules.badges, rules.health]
    keys = {key for section in sections for _path, key in template_refs(section)}
    assert len(keys) >= 20
    for lang in ("zh", "en"):
        assert keys <= set(rules.messages[lang].templates)


def test_missing_directory_is_one_problem(tmp_path: Path) -> None:
    assert problems_of(tmp_path / "nope") == [
        f"{(tmp_path / 'nope').as_posix()}:1:1: rules directory not found"
    ]
