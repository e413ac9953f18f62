"""A change of the rule files is posted to the staff audit log, once per change: what
changed, key by key (old → new), in the community's default language, under a title no
other topic of the forum ever had; in shadow mode too; never again for the same rules."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dramatiq
import pytest

import worker.jobs.changelog  # noqa: F401 - declares the actor the worker runs
from tests.support.pipeline import create_audit_log, diamond_topics, live_worker, wait_for
from tests.support.rules_cases import copy_rules, edit
from worker.engine.changelog import plan_changelog
from worker.pipeline import changelog, runtime
from worker.pipeline.broker import setup_broker
from worker.pipeline.runtime import RulesHolder
from worker.rules import load_rules
from worker.rules.loaded import checksum, last_loaded

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def staff_log(sandbox, redis_url, redis_client, tmp_path, monkeypatch) -> Iterator[int]:
    """A worker running the changelog job against the sandbox; yields the audit log's id."""
    live_worker(monkeypatch, sandbox, redis_url, tmp_path)
    category_id = create_audit_log(sandbox)
    broker = setup_broker(redis_url)
    worker = dramatiq.Worker(broker, queues={changelog.QUEUE}, worker_threads=1)
    worker.start()
    try:
        yield category_id
    finally:
        worker.stop()


changelog_topics = diamond_topics


@pytest.mark.integration
def test_a_rule_change_is_posted_once_with_old_and_new_per_key_in_shadow_mode_too(
    sandbox, redis_client, staff_log, monkeypatch
):
    monkeypatch.setenv("DIAMOND_MODE", "shadow")
    runtime.announce_rule_changes()  # as worker.pipeline.boot does in a worker process
    runtime.rules()  # the first rules the worker ever loads: recorded, nothing to tell
    time.sleep(0.3)
    assert changelog_topics(sandbox, staff_log) == []
    rules_dir = Path(runtime.settings().rules_dir)
    edit(rules_dir, "obligations.yml", "min_length: 800", "min_length: 1200")
    holder = runtime.rules_holder()
    assert holder.reload() is True

    wait_for(lambda: changelog_topics(sandbox, staff_log), "the changelog")
    [topic] = changelog_topics(sandbox, staff_log)
    new = load_rules(rules_dir)
    today = datetime.now(new.tz).date().isoformat()
    assert topic.title.startswith(f"Diamond:规则已修改 · {today} ")  # zh: the default language
    assert topic.title.endswith(checksum(new))
    [body] = [sandbox.forum.posts[p].raw for p in topic.post_ids]
    assert "`obligations.article.min_length: 800 → 1200`" in body
    assert "共 1 项改变" in body
    assert "演习" not in body  # states what Diamond runs on: not wrapped as a rehearsal

    # The scheduler loads the same files, the worker restarts: the change was told.
    RulesHolder(
        rules_dir, on_loaded=changelog.rules_changelog_announcer(lambda: redis_client, setup_broker)
    )
    runtime.configure(redis_url=runtime.settings().redis_url)
    runtime.announce_rule_changes()
    runtime.rules()
    time.sleep(0.5)
    assert len(changelog_topics(sandbox, staff_log)) == 1
    assert last_loaded(redis_client) == new


@pytest.mark.integration
def test_of_two_processes_loading_the_same_edit_exactly_one_announces_it(redis_client, tmp_path):
    rules_dir = copy_rules(tmp_path)
    broker = dramatiq.brokers.stub.StubBroker()
    broker.declare_queue(changelog.QUEUE)
    first = load_rules(rules_dir)
    assert changelog.announce_rules(redis_client, broker, first) is False  # nothing before
    edit(rules_dir, "obligations.yml", "    - strikes: 4", "    - strikes: 5")
    changed = load_rules(rules_dir)
    told = [changelog.announce_rules(redis_client, broker, changed) for _ in range(2)]
    assert told == [True, False]
    [message] = broker.queues[changelog.QUEUE].queue
    lines, old, new, _ = dramatiq.Message.decode(message).args
    assert lines == ["obligations.penalties.ladder[1].strikes: 4 → 5"]
    assert (old, new) == (checksum(first), checksum(changed))
    # Back to the first rules: that is a change again.
    assert changelog.announce_rules(redis_client, broker, first) is True


def test_changelog_titles_never_repeat_over_a_year_of_changes_back_and_forth() -> None:
    rules = load_rules(ROOT / "rules")
    start = datetime(2026, 1, 1, 1, 0, tzinfo=UTC)
    titles = []
    for n in range(2000):  # A → B → A → B ..., several a day, some a second apart
        when = start + timedelta(hours=4 * (n // 2), seconds=n % 2)
        old, new = ("a" * 16, "b" * 16) if n % 2 else ("b" * 16, "a" * 16)
        [topic] = plan_changelog(
            rules,
            ["obligations.article.min_length: 800 → 1200"],
            old_checksum=old,
            new_checksum=new,
            changed_at=when,
            category_id=77,
        )
        assert topic.affects_members is False
        titles.append(topic.title)
    assert len(set(titles)) == len(titles)


def test_diamond_check_refuses_a_changelog_title_that_can_repeat_or_no_changelog(
    tmp_path: Path,
) -> None:
    from tests.pure.test_topic_titles import problems_of

    rules_dir = copy_rules(tmp_path)
    edit(rules_dir, "messages/en.yml", "rules {date} {time} {checksum}", "rules {date}")
    [problem] = problems_of(rules_dir)
    assert "rules_changelog.title" in problem and "{checksum}" in problem, problem

    for lang in ("en", "zh"):
        edit(rules_dir, f"messages/{lang}.yml", "rules_changelog:", "rules_changelog_old:")
    problems = problems_of(rules_dir)
    assert all("template 'rules_changelog' is missing" in p for p in problems), problems
    assert len(problems) == 2


def _proposed(tmp_path: Path) -> tuple[Path, Path]:
    """The rules in force, and a copy with a threshold of every kind and a schedule changed."""
    import shutil

    old = copy_rules(tmp_path / "old")
    new = tmp_path / "new" / "rules"
    shutil.copytree(old, new)
    edit(new, "obligations.yml", "min_length: 500", "min_length: 700")
    edit(new, "obligations.yml", 'cron: "0 23 * * tue"', 'cron: "0 21 * * tue"')
    edit(new, "camp.yml", "min_days: 5", "min_days: 6")
    edit(new, "squads.yml", "target: 10", "target: 9")
    return old, new


def test_check_against_says_when_each_change_takes_effect(tmp_path: Path, capsys) -> None:
    from worker import cli

    old, new = _proposed(tmp_path)
    assert cli.main(["check", str(new), "--against", str(old)]) == 0
    out = capsys.readouterr().out
    lines = {line.split(":")[0].strip(): line for line in out.splitlines() if "⇒" in line}
    assert "500 → 700" in lines["obligations.article.min_length"]
    assert "from the next week to be audited on" in lines["obligations.article.min_length"]
    assert "⇒ at once" in lines["obligations.audit.cron"]
    assert "camps that start after the change" in lines["camp.tasks.checkins.min_days"]
    assert "the next formation of squads" in lines["squads.size.target"]
    assert len(lines) == 4, out


def test_check_compares_with_the_rules_the_worker_last_loaded_when_redis_is_reachable(
    tmp_path: Path, capsys, redis_client, redis_url, monkeypatch
) -> None:
    from worker import cli
    from worker.rules.loaded import record_loaded

    old, new = _proposed(tmp_path)
    monkeypatch.setenv("DIAMOND_REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens
    assert cli.main(["check", str(new)]) == 0
    assert "⇒" not in capsys.readouterr().out  # nothing running to compare with: skipped

    monkeypatch.setenv("DIAMOND_REDIS_URL", redis_url)
    record_loaded(redis_client, load_rules(old), datetime.now(UTC))
    assert cli.main(["check", str(new)]) == 0
    out = capsys.readouterr().out
    assert "compared with the rules the worker last loaded:" in out
    assert "obligations.article.min_length: 500 → 700  ⇒ from the next week" in out


@pytest.mark.integration
def test_a_cli_run_with_a_rehearsal_copy_of_the_rules_records_and_announces_nothing(
    redis_url, redis_client, tmp_path, monkeypatch
):
    # e.g. `DIAMOND_RULES_DIR=/tmp/rules-proposed diamond audit --week W --dry-run`
    rules_dir = copy_rules(tmp_path)
    monkeypatch.setenv("DIAMOND_RULES_DIR", str(rules_dir))
    runtime.configure(redis_url=redis_url)
    runtime.rules()
    assert last_loaded(redis_client) is None
