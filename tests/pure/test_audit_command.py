"""``diamond audit`` output, the schedules taken from the rules, and bad input."""

from __future__ import annotations

from tests.pure.test_penalties import NOW, _week
from worker.commands.audit import render_plan
from worker.engine.penalties import plan_audit
from worker.jobs.obligations import register_schedules
from worker.pipeline.scheduler import PERIODIC_JOBS, cron_fields


def test_the_results_table_lists_every_member_and_the_planned_actions() -> None:
    rules, results, names = _week(4, 3)
    plan = plan_audit(rules, results, {}, now=NOW, threads={"sq-3": 900})
    text = render_plan(plan, live=False, dry_run=True)
    for name in names:
        assert f"sq-3   {name}" in text
    (row,) = [line.split() for line in text.splitlines() if line.startswith("sq-3   m03")]
    assert row == ["sq-3", "m03", "MISSING", "-", "2", "2"]  # wrote nothing: 2 strikes
    assert "[ladder:m03:1:2026-W47:0]" in text
    assert "mode: dry run" in text


def test_a_halted_plan_says_how_to_confirm() -> None:
    rules, results, _ = _week(10, 2)
    plan = plan_audit(rules, results, {}, now=NOW, audit_log_category_id=5)
    text = render_plan(plan, live=True, dry_run=False)
    assert "HALTED" in text and "--confirm" in text
    assert "(staff only) [audit-halted:2026-W47]" in text


def test_a_bad_week_is_a_clear_error(capsys) -> None:
    from worker.cli import main

    assert main(["audit", "--week", "47"]) == 1
    assert "write it like 2026-W47" in capsys.readouterr().err


def test_cron_days_are_cron_numbered_not_apscheduler_numbered() -> None:
    assert cron_fields("0 20 * * fri")["day_of_week"] == "fri"
    assert cron_fields("0 20 * * 0")["day_of_week"] == "sun"  # cron 0 = Sunday
    assert cron_fields("0 9 * * 1-5")["day_of_week"] == "mon-fri"


def test_schedules_come_from_the_rules() -> None:
    from tests.support.obligations import shipped_rules

    names = register_schedules(shipped_rules())
    assert names[0] == "obligations_open_threads" and names[-1] == "obligations_weekly_audit"
    # threads, each reminder (carrying the roll call: no roll-call run), the audit
    assert len(names) == 2 + len(shipped_rules().obligations.reminders)
    assert not any(name.startswith("obligations_roll_calls") for name in names)
    audit = PERIODIC_JOBS["obligations_weekly_audit"]
    assert dict(audit.cron) == {
        "minute": "0",
        "hour": "23",
        "day": "*",
        "month": "*",
        "day_of_week": "tue",
    }
