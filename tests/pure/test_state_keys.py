"""The Redis keys are a contract with data already stored (deployments, saved demo worlds):
each format is pinned here, byte for byte, as it was before ``worker.state.keys``."""

from __future__ import annotations

from worker.engine.weeks import Week
from worker.state import keys


def test_membership_keys_keep_their_formats() -> None:
    assert keys.EMAILS == "diamond:membership:emails"
    assert keys.APPLICANT_EMAILS == "diamond:membership:applicant-emails"
    assert keys.REMOVED == "diamond:membership:removed"
    assert keys.DECISIONS == "diamond:membership:decisions"
    assert keys.GATING == "diamond:membership:gating"
    assert keys.GATING_INPUTS == "diamond:membership:gating:inputs"
    assert keys.CAMPERS == "diamond:membership:campers"
    assert keys.CAMP_ACTIVE == "diamond:membership:camp:active"
    assert keys.CAMP_EVER == "diamond:membership:camp:ever"
    assert keys.CAMP_BY_ID == "diamond:membership:camp:by-id"
    assert keys.COHORTS == "diamond:membership:cohorts"
    assert keys.COHORTS_PENDING == "diamond:membership:cohorts:pending"
    assert keys.FORMATIONS == "diamond:membership:formations"
    assert keys.referrals("Mentor01", "2026-11") == "diamond:membership:referrals:mentor01:2026-11"
    assert keys.camp_posts("Ann") == "diamond:membership:camp:posts:ann"
    assert keys.graduates("2026-11") == "diamond:membership:graduates:2026-11"
    assert keys.gating_lock(42) == "diamond:membership:gating-lock:42"


def test_ledger_keys_keep_their_formats() -> None:
    week = Week.parse("2026-W47")
    assert keys.threads(week) == "diamond:ledger:threads:2026-W47"
    assert keys.week_posts(week, "sq-1") == "diamond:ledger:posts:2026-W47:sq-1"
    assert keys.strikes("Ann") == "diamond:ledger:strikes:Ann"
    assert keys.strikes("Ann", live=False) == "diamond:ledger:shadow-strikes:Ann"
    assert keys.LEDGER_TOPICS == "diamond:ledger:topics"
    assert keys.SQUAD_CATEGORIES == "diamond:ledger:squad-categories"
    assert keys.SQUAD_NAMES == "diamond:ledger:squad-names"
    assert keys.POST_PLACES == "diamond:ledger:post-places"
    assert keys.LEAVE == "diamond:ledger:leave"
    assert keys.AUDIT_RULES == "diamond:ledger:audit-rules"
    assert keys.ROLL_CALL_DIRTY == "diamond:ledger:roll-call:dirty"
    assert keys.ROLL_CALL_EDITED == "diamond:ledger:roll-call:edited"
    assert keys.ROLL_CALL_FIRST_POSTS == "diamond:ledger:roll-call:first-posts"
    assert keys.POSTS_PATTERN == "diamond:ledger:posts:*"
    assert keys.THREADS_PATTERN == "diamond:ledger:threads:*"


def test_recognition_keys_keep_their_formats() -> None:
    assert keys.REC_POSTS == "diamond:rec:posts"
    assert keys.REC_POSTS_T == "diamond:rec:posts:t"
    assert keys.REC_LIKES == "diamond:rec:likes"
    assert keys.REC_LIKES_T == "diamond:rec:likes:t"
    assert keys.badge_holders("mentor") == "diamond:rec:held:mentor"
    assert keys.stages("2026-W47") == "diamond:rec:stages:2026-W47"


def test_cache_keys_keep_their_formats() -> None:
    assert keys.ROSTER == "diamond:cache:roster"
    assert keys.ROSTER_GENERATION == "diamond:cache:roster-gen"
    assert keys.group_members(3, "camp") == "diamond:cache:group-members:3:camp"
    assert keys.CATEGORY_IDS == "diamond:ledger:category-ids"
    assert keys.TOPIC_FACTS == "diamond:rec:topics"
    assert keys.USER_FIELD_IDS == "diamond:cache:user-field-ids"
    assert keys.SIMULATED_NOW == "diamond:clock:simulated-now"


def test_every_key_outside_the_keys_module_is_built_there() -> None:
    """No ``"diamond:`` literal in the stores, the reads or the steps: keys.py builds them."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "worker"
    offenders = [
        str(path.relative_to(root))
        for folder in ("state", "reads", "steps", "membership", "ledger", "recognition", "jobs")
        if (root / folder).is_dir()
        for path in (root / folder).rglob("*.py")
        if path.name != "keys.py" and '"diamond:' in path.read_text()
    ]
    assert offenders == []
