"""Every number in the shipped rules set to an extreme: refused with a located problem,
or the date arithmetic the engines do with it stays on the calendar."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shutil
import signal
from pathlib import Path

import pytest

from worker.engine.camp import camp_end
from worker.rules import Rules, RulesInvalid, load_rules
from worker.rules.loader import RULE_FILES

SHIPPED = Path(__file__).resolve().parents[2] / "rules"
EXTREMES = (0, -1, 100_000_000, 3_000_000, 2**63)
# "key: 12" lines (not times like 22:00, not list items of text)
NUMBER = re.compile(r"^(\s*[a-z_]+:\s*)(\d+)(\s*(#.*)?)$")
NOW = dt.datetime(2030, 6, 1, tzinfo=dt.UTC)


def numeric_lines() -> list[tuple[str, int]]:
    found = []
    for name in RULE_FILES:
        for number, line in enumerate((SHIPPED / name).read_text().splitlines(), 1):
            if NUMBER.match(line):
                found.append((name, number))
    return found


def engines_date_arithmetic(rules: Rules) -> None:
    """What the camp, the audit and the ladder compute from the durations."""
    camp_end(rules, NOW, rules.camp.extension.times)
    ob = rules.obligations
    NOW + dt.timedelta(hours=ob.review.window_hours + ob.deadline.late_hours)
    NOW + dt.timedelta(days=(ob.review.due_days_after_article or 0) + 7)
    NOW - dt.timedelta(weeks=rules.health.lookback_weeks + ob.penalties.expiry.clean_weeks)
    for step in rules.obligations.penalties.ladder:
        for action in step.actions:
            if hasattr(action, "days"):
                NOW + dt.timedelta(days=action.days)


def engines_run(rules: Rules) -> None:
    """A small world through every engine that decides about people or plans writes: the
    camp, the week's evaluation, the audit and its ladder, reminders, weekly threads,
    squad formation, the health report; at moments near and far."""
    from tests.pure.test_camp import CAMPER, FELLOWS, complete
    from tests.pure.test_health import community_world, report_for
    from tests.pure.test_squads import graduates
    from tests.support.obligations import THREAD, W47, Thread, at, squad
    from worker.engine.camp import evaluate_camp
    from worker.engine.facts import Roster
    from worker.engine.obligations import (
        SquadWeek,
        evaluate_week,
        plan_reminders,
        plan_weekly_threads,
    )
    from worker.engine.penalties import plan_audit
    from worker.engine.squads import plan_squads

    for extensions in {0, rules.camp.extension.times}:
        camper = dataclasses.replace(CAMPER, extensions=extensions)
        for now in (CAMPER.started_at + dt.timedelta(days=1), NOW):
            evaluate_camp(rules, camper, complete(), FELLOWS, now)
            evaluate_camp(rules, camper, [], FELLOWS, now)
    thread = Thread()
    ann = thread.post("ann", at(18), 900)
    bob = thread.post("bob", at(23, 9), 900)  # late
    thread.post("ann", at(24), 150, reply_to=bob.post_number)
    thread.post("cat", at(19), 150, quotes=(ann.post_number,))
    team = squad("ann", "bob", "cat", "dan")
    weeks = [SquadWeek(team, W47, tuple(thread.posts), THREAD)]
    for as_of in (None, at(20), NOW):
        results = evaluate_week(rules.obligations, rules.tz, W47, weeks, as_of=as_of)
        for reminder in rules.obligations.reminders:
            plan_reminders(rules, reminder, results)
    histories = {u: {W47.previous(): 3, W47.previous().previous(): None} for u in team.members}
    for now in (at(24), NOW):
        plan_audit(rules, results, histories, now=now, user_ids={"bob": 2, "dan": 4})
        plan_audit(rules, results, {}, now=now, confirmed=True)
    plan_weekly_threads(rules, [team], W47, {})
    plan = plan_squads(rules, "2611", graduates(25), Roster(()))
    assert plan is not None
    world, stages = community_world()
    report_for(world, stages)


def accepted_extremes(rules_dir: Path, name: str, line_no: int) -> list[tuple[int, Rules]]:
    """The largest and the smallest value ``check`` accepts on that line, with the rules
    they make (found from the bound a refusal names)."""
    lines = (SHIPPED / name).read_text().splitlines()

    def load(value: int) -> Rules | RulesInvalid:
        mutated = list(lines)
        mutated[line_no - 1] = NUMBER.sub(rf"\g<1>{value}\g<3>", lines[line_no - 1])
        (rules_dir / name).write_text("\n".join(mutated) + "\n")
        try:
            return load_rules(rules_dir)
        except RulesInvalid as exc:
            return exc

    found = []
    for first, bound in ((2**63, BELOW), (-1, ABOVE)):
        answer = load(first)
        if isinstance(answer, RulesInvalid):
            limit = None
            for problem in answer.problems:
                if problem.line == line_no and (m := bound.search(str(problem))):
                    step = 0 if m.group(1) else (-1 if bound is BELOW else 1)
                    limit = int(float(m.group(2))) + step
            if limit is None:
                continue
            answer = load(limit)
            first = limit
        if isinstance(answer, Rules):
            found.append((first, answer))
    shutil.copy(SHIPPED / name, rules_dir / name)
    return found


BELOW = re.compile(r"less than (or equal to )?(-?[\d.]+)")
ABOVE = re.compile(r"greater than (or equal to )?(-?[\d.]+)")


@pytest.mark.parametrize(("name", "line_no"), numeric_lines(), ids=lambda v: str(v))
def test_the_engines_run_on_the_largest_and_smallest_value_check_accepts(
    tmp_path: Path, name: str, line_no: int
) -> None:
    rules_dir = tmp_path / "rules"
    shutil.copytree(SHIPPED, rules_dir)

    def hung(*_: object) -> None:  # a job that never ends is a crash too
        raise TimeoutError("the engines ran for 10 s on a small world")

    previous = signal.signal(signal.SIGALRM, hung)
    try:
        for value, rules in accepted_extremes(rules_dir, name, line_no):
            signal.alarm(10)
            try:
                engines_run(rules)
            except Exception as exc:
                raise AssertionError(f"{name}:{line_no} = {value}: {exc!r}") from exc
            finally:
                signal.alarm(0)
    finally:
        signal.signal(signal.SIGALRM, previous)


def test_the_shipped_rules_have_numbers_to_mutate() -> None:
    assert len(numeric_lines()) > 20


@pytest.mark.parametrize(("name", "line_no"), numeric_lines(), ids=lambda v: str(v))
def test_an_extreme_number_is_refused_where_written_or_the_engines_stay_on_the_calendar(
    tmp_path: Path, name: str, line_no: int
) -> None:
    rules_dir = tmp_path / "rules"
    shutil.copytree(SHIPPED, rules_dir)
    lines = (SHIPPED / name).read_text().splitlines()
    for value in EXTREMES:
        mutated = list(lines)
        mutated[line_no - 1] = NUMBER.sub(rf"\g<1>{value}\g<3>", lines[line_no - 1])
        (rules_dir / name).write_text("\n".join(mutated) + "\n")
        try:
            rules = load_rules(rules_dir)
        except RulesInvalid as exc:
            located = [p for p in exc.problems if p.file.endswith(name)]
            assert located, exc.problems
            assert any(p.line == line_no for p in located), [str(p) for p in exc.problems]
        else:
            engines_date_arithmetic(rules)
