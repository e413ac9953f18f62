"""Application gating: each rule alone, rules combined, and the writes each decision leads to."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from worker import actions as a
from worker.engine.facts import MemberFact
from worker.engine.gating import (
    Applicant,
    GatingFacts,
    check_lines,
    evaluate_application,
    gating_actions,
    normalise_email,
)
from worker.rules import Rules, load_rules

ROOT = Path(__file__).resolve().parents[2]
RULES = load_rules(ROOT / "rules")
GOOD_INTRO = "我是一名软件工程师,喜欢读书和写作。" * 20  # 340 CJK units
REFERRER = MemberFact(user_id=2, username="mentor", groups=frozenset({"members"}))


def gating(rules: Rules = RULES, **changes: Any) -> Rules:
    """``rules`` with ``gating`` fields replaced (nested models as dicts of changes)."""
    g = rules.gating
    for name, value in changes.items():
        current = getattr(g, name)
        if isinstance(value, dict):
            value = current.model_copy(update=value)
        g = g.model_copy(update={name: value})
    return rules.model_copy(update={"gating": g})


def applicant(**overrides: Any) -> Applicant:
    fields = {"referrer": "mentor", "application": GOOD_INTRO, "payment": "ORDER-1"}
    fields.update(overrides.pop("fields", {}))
    base: dict[str, Any] = {
        "user_id": 10,
        "username": "newbie",
        "email": "newbie@example.com",
        "fields": fields,
        "groups": frozenset(),
    }
    base.update(overrides)
    return Applicant(**base)


def facts(app: Applicant | None = None, **overrides: Any) -> GatingFacts:
    base: dict[str, Any] = {"applicant": app or applicant(), "referrer": REFERRER}
    base.update(overrides)
    return GatingFacts(**base)


def decide(f: GatingFacts, rules: Rules = RULES):
    return evaluate_application(rules, f)


# --- a clean application passes ----------------------------------------------------


def test_a_complete_application_is_approved_with_no_hits() -> None:
    decision = decide(facts())
    assert decision.outcome == "approve"
    assert decision.hits == ()
    assert decision.referrer == "mentor"


# --- each rule alone ---------------------------------------------------------------

REFERRAL_CASES = [
    # (behaviour, facts, expected rule or None)
    (
        "no referrer named is rejected",
        facts(applicant(fields={"referrer": ""})),
        "referral.required",
    ),
    ("an unknown referrer is rejected", facts(referrer=None), "referral.referrer"),
    (
        "a referrer who is not a member is rejected",
        facts(referrer=MemberFact(user_id=2, username="mentor", groups=frozenset())),
        "referral.referrer.must_be_member",
    ),
    (
        "a referrer still in the camp is rejected",
        facts(referrer=MemberFact(2, "mentor", groups=frozenset({"members", "camp"}))),
        "referral.referrer.not_on_probation",
    ),
    (
        "a referrer over the strike limit is rejected",
        facts(strikes_of={"mentor": 3}),
        "referral.referrer.max_strikes",
    ),
    ("a referrer at exactly the strike limit is fine", facts(strikes_of={"mentor": 2}), None),
    (
        "a referrer with the month's referrals used up is rejected",
        facts(referrals_this_month={"mentor": 3}),
        "referral.referrer.max_referrals_per_month",
    ),
    (
        "a referrer one below the month's limit is fine",
        facts(referrals_this_month={"mentor": 2}),
        None,
    ),
    (
        "a Discourse invite names the referrer without the field",
        facts(applicant(fields={"referrer": ""}, invited_by="mentor")),
        None,
    ),
    (
        "a referrer written with @ and spaces is found",
        facts(applicant(fields={"referrer": " @mentor "})),
        None,
    ),
    (
        "staff may refer without being in the members group",
        facts(referrer=MemberFact(2, "mentor", groups=frozenset({"staff"}), staff=True)),
        None,
    ),
]


@pytest.mark.parametrize(
    ("behaviour", "f", "rule"), REFERRAL_CASES, ids=[c[0] for c in REFERRAL_CASES]
)
def test_referral_rule(behaviour: str, f: GatingFacts, rule: str | None) -> None:
    decision = decide(f)
    if rule is None:
        assert decision.outcome == "approve", decision.reasons
    else:
        assert decision.outcome == "reject"  # gating.yml: referral.on_fail = reject
        assert [h.rule for h in decision.hits] == [rule]


def test_referral_not_required_approves_without_referrer() -> None:
    rules = gating(referral={"required": False})
    assert decide(facts(applicant(fields={"referrer": ""})), rules).outcome == "approve"


LENGTH_CASES = [
    ("199 Chinese characters are too short", "字" * 199, "hold"),
    ("200 Chinese characters are enough", "字" * 200, "approve"),
    ("199 English words are too short", " ".join(["word"] * 199), "hold"),
    ("200 English words are enough", " ".join(["word"] * 200), "approve"),
    ("mixed Chinese and English count together", "字" * 100 + " " + "word " * 100, "approve"),
    (
        "quoted text does not count",
        "[quote]\n" + "字" * 300 + "\n[/quote]\n" + "字" * 10,
        "hold",
    ),
    ("a link's target does not count", "[短](https://" + "a" * 500 + ".com)", "hold"),
]


@pytest.mark.parametrize(
    ("behaviour", "text", "outcome"), LENGTH_CASES, ids=[c[0] for c in LENGTH_CASES]
)
def test_application_length_is_counted_as_people_count(
    behaviour: str, text: str, outcome: str
) -> None:
    decision = decide(facts(applicant(fields={"application": text})))
    assert decision.outcome == outcome
    if outcome == "hold":
        assert [h.rule for h in decision.hits] == ["application.min_length"]


SCREEN_CASES = [
    # behaviour, applicant overrides, expected outcome, expected list name, matched text
    (
        "a spam keyword in the application rejects",
        {"fields": {"application": GOOD_INTRO + "加微信"}},
        "reject",
        "screening[0]",
        "加微信",
    ),
    (
        "a spam pattern in the application rejects",
        {"fields": {"application": GOOD_INTRO + " vx: abc12345"}},
        "reject",
        "screening[0]",
        "vx: abc12345",
    ),
    (
        "a spam keyword in the username rejects",
        {"username": "daixie_代写"},
        "reject",
        "screening[0]",
        "代写",
    ),
    (
        "a disposable email domain holds",
        {"email": "x@mailinator.com"},
        "hold",
        "screening[1]",
        "mailinator.com",
    ),
    (
        "keywords match case-insensitively",
        {"fields": {"application": GOOD_INTRO + " DM ME"}},
        "reject",
        "screening[0]",
        "dm me",
    ),
    (
        "wanting only the material holds",
        {"fields": {"application": GOOD_INTRO + "我只想要资料"}},
        "hold",
        "screening[2]",
        "只想要资料",
    ),
]


@pytest.mark.parametrize(
    ("behaviour", "overrides", "outcome", "rule", "matched"),
    SCREEN_CASES,
    ids=[c[0] for c in SCREEN_CASES],
)
def test_screening_reports_rule_and_matched_text(
    behaviour: str, overrides: dict, outcome: str, rule: str, matched: str
) -> None:
    decision = decide(facts(applicant(**overrides)))
    assert decision.outcome == outcome
    (hit,) = decision.hits
    assert (hit.check, hit.rule, hit.matched) == ("screening", rule, matched)
    assert matched in decision.reasons[0]


def test_screening_username_list_does_not_look_at_the_email() -> None:
    # "一次性邮箱" applies to the email domain only: the same word in the username is fine.
    assert decide(facts(applicant(username="mailinator.com"))).outcome == "approve"


PAYMENT_CASES = [
    ("no payment proof holds", {"fields": {"payment": ""}}, "hold"),
    (
        "the paid group proves payment",
        {"fields": {"payment": ""}, "groups": frozenset({"paid"})},
        "approve",
    ),
    ("a confirmed payment field proves payment", {"fields": {"payment": "ORDER-7"}}, "approve"),
    ("'false' in the field is no payment", {"fields": {"payment": "false"}}, "hold"),
    ("'no thanks' in the field is no payment", {"fields": {"payment": "no thanks"}}, "hold"),
    ("'暂不 Not now' in the field is no payment", {"fields": {"payment": "暂不 Not now"}}, "hold"),
    (
        "an order number that starts like 'no' is a payment",
        {"fields": {"payment": "November-0815"}},
        "approve",
    ),
]


YES_NO_CASES = [
    ("愿意 Yes", True),
    ("暂不 Not now", False),
    ("no thanks", False),
    ("No", False),
    ("not now", False),
    ("false", False),
    ("0", False),
    ("", False),
    ("   ", False),
    (None, False),
    ("yes", True),
    ("November-0815", True),
    ("0815-order", True),
    ("PAY-12345678", True),
]


@pytest.mark.parametrize(("value", "yes"), YES_NO_CASES)
def test_a_yes_no_answer_is_yes_unless_empty_or_a_refusal(value: str | None, yes: bool) -> None:
    """One reading of yes/no fields for every decision (payment, volunteering to lead):
    the camp's volunteer flag and the gate's payment check agreed on nothing before."""
    from worker.engine.gating import is_yes

    assert is_yes(value) is yes


@pytest.mark.parametrize(
    ("behaviour", "overrides", "outcome"), PAYMENT_CASES, ids=[c[0] for c in PAYMENT_CASES]
)
def test_payment_rule(behaviour: str, overrides: dict, outcome: str) -> None:
    decision = decide(facts(applicant(**overrides)))
    assert decision.outcome == outcome
    if outcome == "hold":
        assert [h.rule for h in decision.hits] == ["payment.required"]


def test_payment_not_required_approves_without_proof() -> None:
    rules = gating(payment={"required": False})
    assert decide(facts(applicant(fields={"payment": ""})), rules).outcome == "approve"


@pytest.mark.parametrize(
    ("earlier", "email"),
    [
        ("j.o.h.n+club@gmail.com", "John@GMAIL.com"),
        ("john@googlemail.com", "jo.hn+x@gmail.com"),
        ("Alice@Example.com", "alice@example.com"),
    ],
    ids=["gmail dots and plus", "googlemail is gmail", "case"],
)
def test_same_normalised_email_is_a_duplicate(earlier: str, email: str) -> None:
    f = facts(applicant(email=email), earlier_emails={normalise_email(earlier): "john_old"})
    decision = decide(f)
    assert decision.outcome == "hold"
    (hit,) = decision.hits
    assert (hit.rule, hit.code, hit.params) == (
        "duplicates.same_email",
        "same_email",
        {"other": "john_old"},
    )


def test_dots_in_other_domains_are_different_people() -> None:
    f = facts(applicant(email="a.lice@example.com"), earlier_emails={"alice@example.com": "x"})
    assert decide(f).outcome == "approve"


def test_own_earlier_record_is_no_duplicate() -> None:
    f = facts(earlier_emails={"newbie@example.com": "newbie"})
    assert decide(f).outcome == "approve"


def test_reapplication_of_a_removed_member_is_held_and_says_so() -> None:
    f = facts(applicant(fields={"previous_username": "gone_guy"}), removed=frozenset({"gone_guy"}))
    decision = decide(f)
    assert decision.outcome == "hold"
    (hit,) = decision.hits
    assert hit.rule == "duplicates.reapplication_field"
    assert hit.code == "reapplied_removed" and hit.matched == "gone_guy"


# --- combined ------------------------------------------------------------------------


def test_every_reason_is_reported_when_several_checks_hold() -> None:
    app = applicant(email="x@mailinator.com", fields={"application": "字" * 50, "payment": ""})
    decision = decide(facts(app))
    assert decision.outcome == "hold"
    assert {h.check for h in decision.hits} == {"application", "screening", "payment"}
    assert len(decision.reasons) == 3


def test_one_reject_outweighs_holds_and_all_hits_are_kept() -> None:
    app = applicant(fields={"application": "字" * 50 + "加微信", "payment": ""})
    decision = decide(facts(app, strikes_of={"mentor": 5}))
    assert decision.outcome == "reject"
    assert [h.check for h in decision.hits] == ["referral", "application", "screening", "payment"]


def test_on_fail_reject_turns_holds_into_rejections() -> None:
    rules = gating(on_fail="reject")
    assert decide(facts(applicant(fields={"payment": ""})), rules).outcome == "reject"


# --- the writes ------------------------------------------------------------------------

NOW = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def test_approval_approves_joins_the_camp_and_tells_the_referrer() -> None:
    f = facts()
    decision = decide(f)
    welcome = [
        a.SendPrivateMessage(key="w", reason="r", recipients=("newbie",), title="t", raw="b")
    ]
    acts = gating_actions(RULES, f, decision, audit_category_id=9, camp_welcome=welcome)
    kinds = [x.kind for x in acts]
    assert kinds == [
        "CreateTopic",
        "ApproveUser",
        "AddToGroup",
        "SendPrivateMessage",
        "SendPrivateMessage",
    ]
    audit, approve, join, _welcome, referrer = acts
    assert audit.category_id == 9 and audit.affects_members is False
    assert "newbie" in audit.title
    assert approve.user_id == 10
    assert join.group == "camp" and join.usernames == ("newbie",)
    # the reviewers are on it: a "I do not know them" reply reaches their group inbox
    assert referrer.recipients == ("mentor", "reviewers") and "newbie" in referrer.title


def test_a_rejection_carries_the_reasons_for_discourses_email_and_sends_no_pm() -> None:
    # An unapproved applicant cannot log in to read a PM.
    f = facts(applicant(fields={"application": GOOD_INTRO + "加微信"}))
    acts = gating_actions(RULES, f, decide(f), audit_category_id=9)
    assert [x.kind for x in acts] == ["CreateTopic", "RejectUser"]
    reject = acts[1]
    assert reject.block is False
    assert "申请中含有推销或引流内容" in reject.reject_reason
    assert "很遗憾" in reject.reject_reason  # the default language (zh)


def test_the_rejection_reason_is_written_in_the_applicants_language() -> None:
    app = applicant(fields={"application": GOOD_INTRO + "加微信"}, language="en")
    f = facts(app)
    (reject,) = [x for x in gating_actions(RULES, f, decide(f), audit_category_id=9)
                 if isinstance(x, a.RejectUser)]  # fmt: skip
    assert "Unfortunately the application was not accepted" in reject.reject_reason


def test_an_invitee_discourse_approved_who_passes_goes_to_the_camp_without_an_approval() -> None:
    f = facts(applicant(approved=True, invited_by="mentor", fields={"referrer": ""}))
    decision = decide(f)
    assert (decision.outcome, decision.already_approved, decision.referrer) == (
        "approve",
        True,
        "mentor",
    )
    kinds = [x.kind for x in gating_actions(RULES, f, decision, audit_category_id=9)]
    assert "ApproveUser" not in kinds and "AddToGroup" in kinds


def test_an_invitee_who_fails_is_held_for_staff_never_rejected_or_deleted() -> None:
    app = applicant(approved=True, invited_by="mentor", fields={"application": "加微信 代写"})
    f = facts(app)
    decision = decide(f)
    assert decision.outcome == "hold"  # screening says reject: staff decide instead
    assert any(h.action == "reject" for h in decision.hits)
    (summary,) = gating_actions(RULES, f, decision, audit_category_id=9)
    assert summary.kind == "CreateTopic"
    assert "兑换邀请时已被 Discourse 批准" in summary.raw  # the staff log's language (zh)
    for line in check_lines(RULES, decision, "zh"):
        assert line in summary.raw


def test_rejection_with_block_deletes_and_blocks_without_a_message() -> None:
    rules = gating(block_on_reject=True)
    f = facts(applicant(fields={"application": GOOD_INTRO + "加微信"}))
    acts = gating_actions(rules, f, decide(f, rules), audit_category_id=9)
    assert [x.kind for x in acts] == ["CreateTopic", "RejectUser"]
    assert acts[1].block is True


def test_held_application_only_writes_the_staff_summary_with_every_reason() -> None:
    app = applicant(email="x@mailinator.com", fields={"application": "字" * 50, "payment": ""})
    f = facts(app)
    decision = decide(f)
    (summary,) = gating_actions(RULES, f, decision, audit_category_id=9)
    assert summary.kind == "CreateTopic" and summary.affects_members is False
    for line in check_lines(RULES, decision, "zh"):
        assert line in summary.raw
    assert "字" * 50 in summary.raw  # the application itself, for one read


def test_action_keys_are_unique_per_applicant() -> None:
    f1, f2 = facts(), facts(applicant(user_id=11, username="other"))
    keys1 = {x.key for x in gating_actions(RULES, f1, decide(f1), audit_category_id=9)}
    keys2 = {x.key for x in gating_actions(RULES, f2, decide(f2), audit_category_id=9)}
    assert keys1.isdisjoint(keys2)


def test_a_referrer_who_does_not_exist_is_named_not_mentioned() -> None:
    f = facts(applicant(fields={"referrer": "朋友介绍", "application": GOOD_INTRO}), referrer=None)
    decision = decide(f)
    summary = gating_actions(RULES, f, decision, audit_category_id=9)[0]
    assert "@朋友介绍" not in summary.raw
    assert "填写的推荐人「朋友介绍」不存在" in summary.raw


def test_an_english_applicant_is_told_the_reason_in_english() -> None:
    app = applicant(fields={"referrer": "nobody", "application": GOOD_INTRO}, language="en")
    f = facts(app, referrer=None)
    reject = gating_actions(RULES, f, decide(f), audit_category_id=None)[-1]
    assert reject.kind == "RejectUser"
    assert '- the named referrer "nobody" does not exist' in reject.reject_reason
