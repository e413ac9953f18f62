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


def test_roster_state_keys_keep_their_formats() -> None:
    assert keys.ROSTER_SQUADS == "diamond:roster:squads"
    assert keys.ROSTER_GROUPS == "diamond:roster:groups"
    assert keys.ROSTER_DIRTY == "diamond:roster:dirty"
    assert keys.ROSTER_CHECKED == "diamond:roster:checked"
    assert keys.ROSTER_USER_NAMES == "diamond:roster:user-names"


def test_cache_keys_keep_their_formats() -> None:
    assert keys.ROSTER_GENERATION == "diamond:cache:roster-gen"
    assert keys.CATEGORY_IDS == "diamond:ledger:category-ids"
    assert keys.TOPIC_FACTS == "diamond:rec:topics"
    assert keys.USER_FIELD_IDS == "diamond:cache:user-field-ids"
    assert keys.SIMULATED_NOW == "diamond:clock:simulated-now"


def test_pipeline_keys_keep_their_formats() -> None:
    assert keys.seen_delivery("forum.example", "abc") == "diamond:seen:delivery:forum.example:abc"
    assert keys.seen_identity("post_created:7:2") == "diamond:seen:identity:post_created:7:2"
    assert keys.once_done("gate:7") == "diamond:once:gate:7:done"
    assert keys.once_lease("gate:7") == "diamond:once:gate:7:lease"
    assert keys.ONCE_PREFIX == "diamond:once:"
    assert keys.notice_gate("jobs_failed") == "diamond:notice:gate:jobs_failed"
    assert keys.notice_suppressed("jobs_failed") == "diamond:notice:suppressed:jobs_failed"
    assert keys.notice_topic("jobs_failed", "2026-11-16") == (
        "diamond:notice:topic:jobs_failed:2026-11-16"
    )
    assert keys.CATCHUP_LAST_POST == "diamond:catchup:last_post_id"
    assert keys.CATCHUP_USERS_FED == "diamond:catchup:users_fed"
    assert keys.SCHEDULER_LEADER == "diamond:scheduler:leader"
    assert keys.periodic_run("obligations_weekly_audit", "20261124T2300") == (
        "diamond:periodic:obligations_weekly_audit:20261124T2300"
    )
    assert keys.health_record("worker", "host-1") == "diamond:health:worker:host-1"
    assert keys.SITE_HEALTH == "diamond:health:site"
    assert keys.probe_effects("x") == "diamond:probe:effects:x"
    assert keys.probe_attempts("x") == "diamond:probe:attempts:x"
    assert keys.probe_acted("x") == "diamond:probe:acted:x"
    assert keys.MISSING_POSTS == "diamond:facts:missing_posts"
    assert keys.METRICS_FORUM_429 == "diamond:metrics:forum-429"
    assert keys.METRICS_BUDGET_WAITS == "diamond:metrics:budget-waits"
    assert keys.METRICS_DEAD_LETTERED == "diamond:metrics:dead-lettered"
    assert keys.METRICS_LAST_SUCCESS == "diamond:metrics:last-success"
    assert keys.METRICS_WEBHOOKS_REFUSED == "diamond:metrics:webhooks-refused"
    assert keys.RULES_LOADED == "diamond:rules:loaded"
    assert keys.DEMO_MARKER == "diamond:demo:marker"
    assert keys.QUEUE_PREFIX == "diamond:"  # dramatiq's namespace, worker.pipeline.broker


def test_apply_and_client_keys_keep_their_formats() -> None:
    assert keys.DONE_PREFIX == "diamond:done:"
    assert keys.SHADOW_DONE_PREFIX == "diamond:shadow:done:"
    assert keys.GROUP_IDS == "diamond:cache:group-ids"
    assert keys.pm_thread("welcome:ann") == "diamond:pm-thread:welcome:ann"
    assert keys.FORUM_CALLS == "diamond:forum:calls"
    assert keys.FORUM_RATELIMIT == "diamond:forum:ratelimit"


def test_the_modules_keep_their_key_names_as_the_keys_module_builds_them() -> None:
    """Older names beside the code that uses them are the keys module's, byte for byte."""
    from worker import apply, metrics
    from worker.forum import client, ratelimit
    from worker.pipeline import (
        broker,
        catchup,
        health,
        idempotency,
        notices,
        probe,
        routes,
        scheduler,
    )
    from worker.rules import loaded
    from worker.state import membership as membership_state

    assert (
        apply.DONE_PREFIX == "diamond:done:" and apply.SHADOW_DONE_PREFIX == keys.SHADOW_DONE_PREFIX
    )
    assert apply.GROUP_IDS_KEY == keys.GROUP_IDS and apply.PM_THREAD_PREFIX == "diamond:pm-thread:"
    assert client.CALL_COUNTS_KEY == metrics.CALLS_KEY == "diamond:forum:calls"
    assert ratelimit.DEFAULT_KEY == "diamond:forum:ratelimit"
    assert routes.PREFIX == "diamond:seen:" and idempotency.PREFIX == "diamond:once:"
    assert notices.GATE_PREFIX == "diamond:notice:gate:"
    assert catchup.LAST_POST_KEY == keys.CATCHUP_LAST_POST
    assert catchup.USERS_FED_KEY == keys.CATCHUP_USERS_FED
    assert scheduler.LEADER_KEY == keys.SCHEDULER_LEADER
    assert scheduler.PERIOD_PREFIX == "diamond:periodic:"
    assert health.PREFIX == "diamond:health:" and metrics.SITE_HEALTH_KEY == keys.SITE_HEALTH
    assert probe.PREFIX == "diamond:probe:"
    assert membership_state.MISSING_POSTS_KEY == keys.MISSING_POSTS
    assert metrics.RATE_LIMITED_KEY == keys.METRICS_FORUM_429
    assert loaded.LOADED_KEY == keys.RULES_LOADED
    assert keys.QUEUE_PREFIX == broker.NAMESPACE + ":"


def test_every_key_outside_the_keys_module_is_built_there() -> None:
    """No ``"diamond:`` literal anywhere in worker/ but keys.py (the sandbox, which imitates
    the forum and keeps no Diamond state, aside): keys.py builds them."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "worker"
    sandbox = root / "sandbox"
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path.name != "keys.py" and sandbox not in path.parents
        if '"diamond:' in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
