"""Failures reach a human on the forum: a staff notice in the audit log when jobs give
up or the rule files stop loading; one per condition (a topic a day, replies after),
not a flood; in shadow mode too; never with a key the forum refuses."""

from __future__ import annotations

import logging
import re
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dramatiq
import pytest

import worker.jobs.notices as notice_jobs
from tests.support.pipeline import create_audit_log, diamond_topics, live_worker, wait_for
from worker.engine.notices import Notice, plan_notice
from worker.errors import NeedsHuman
from worker.forum.errors import ForumRejected
from worker.pipeline import health, notices, runtime
from worker.pipeline.broker import setup_broker
from worker.pipeline.jobs import diamond_actor
from worker.rules import load_rules
from worker.settings import load_settings

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
QUEUE = "notices-test"


@diamond_actor(queue=QUEUE, time_limit=30, max_retries=0)
def always_refused(name: str) -> None:
    raise ForumRejected("no such group", status=422, path="PUT /groups/{id}/members.json")


@diamond_actor(queue=QUEUE, time_limit=30, max_retries=3)
def finds_a_double_placement(cohort: str) -> None:
    raise NeedsHuman(f"cohort {cohort}: @amy is in sq-1 and sq-2")


@pytest.fixture
def staff_log(sandbox, redis_url, redis_client, tmp_path, monkeypatch) -> Iterator[int]:
    """A worker (jobs, notices) against the sandbox; yields the audit-log category id."""
    live_worker(monkeypatch, sandbox, redis_url, tmp_path)
    category_id = create_audit_log(sandbox)
    broker = setup_broker(redis_url)
    notify = notices.dead_letter_notifier(lambda: redis_client, lambda: broker)
    broker.add_middleware(
        health.Heartbeat(lambda: redis_client, lambda: "ok", every=5, on_dead_letter=notify)
    )
    worker = dramatiq.Worker(broker, queues={QUEUE, QUEUE + ".DQ", notices.QUEUE}, worker_threads=1)
    worker.start()
    try:
        yield category_id
    finally:
        worker.stop()


audit_topics = diamond_topics


def posts_of(sandbox, topic) -> list[str]:
    return [sandbox.forum.posts[p].raw for p in topic.post_ids]


def test_jobs_that_give_up_make_one_notice_per_window_then_a_reply(
    sandbox, redis_client, staff_log
):
    always_refused.send("alice")
    wait_for(lambda: audit_topics(sandbox, staff_log), "the notice")
    always_refused.send("bob")  # within the window: counted, not posted
    wait_for(lambda: redis_client.hlen(f"diamond:{QUEUE}.XQ.msgs") == 2, "two dead letters")
    time.sleep(0.5)
    [topic] = audit_topics(sandbox, staff_log)
    today = datetime.now(load_rules(ROOT / "rules").tz).date().isoformat()
    # In the community's default language (zh), with the day in the title.
    assert topic.title == f"Diamond:有任务失败放弃 · {today}"
    [first] = posts_of(sandbox, topic)
    assert "test_notices.always_refused('alice')" in first and "no such group" in first
    assert "bob" not in first and "diamond jobs retry --all" in first

    redis_client.delete(*redis_client.keys(notices.GATE_PREFIX + "*"))  # the window passed
    always_refused.send("carol")
    wait_for(lambda: len(posts_of(sandbox, topic)) == 2, "the reply")
    assert len(audit_topics(sandbox, staff_log)) == 1  # a reply, not a second topic
    reply = posts_of(sandbox, topic)[1]
    assert "always_refused('carol')" in reply and "另有 1 次" in reply


def test_a_job_that_needs_a_human_is_told_once_as_such_not_as_a_job_that_gave_up(
    sandbox, redis_client, staff_log
):
    finds_a_double_placement.send("2026-03")
    wait_for(lambda: audit_topics(sandbox, staff_log), "the notice")
    time.sleep(0.5)  # room for a second, "jobs gave up" notice, were one raised
    [topic] = audit_topics(sandbox, staff_log)
    assert topic.title.startswith("Diamond:有任务停下,需要人来处理")
    [body] = posts_of(sandbox, topic)
    assert "finds_a_double_placement('2026-03')" in body and "@amy is in sq-1 and sq-2" in body
    assert redis_client.hlen(f"diamond:{QUEUE}.XQ.msgs") == 1


def test_a_broken_rule_edit_is_told_once_with_file_line_col_in_shadow_mode_too(
    sandbox, redis_url, staff_log, monkeypatch
):
    monkeypatch.setenv("DIAMOND_MODE", "shadow")
    runtime.configure(redis_url=redis_url)
    runtime.rules()  # the worker has loaded good rules
    rules_file = Path(runtime.settings().rules_dir) / "obligations.yml"
    rules_file.write_text(rules_file.read_text().replace("max_penalised_share:", "max_penalisd:"))
    holder = runtime.rules_holder()
    assert holder.reload() is False  # the moderator's edit does not load
    wait_for(lambda: audit_topics(sandbox, staff_log), "the notice")
    [topic] = audit_topics(sandbox, staff_log)
    assert topic.title.startswith("Diamond:规则文件有错误,修改未生效")
    [body] = posts_of(sandbox, topic)
    assert re.search(r"obligations\.yml:\d+:\d+: .*max_penalisd", body)
    assert "没有生效" in body

    holder.reload(force=True)  # the same problems seen again (or by the scheduler)
    time.sleep(0.5)
    assert len(posts_of(sandbox, topic)) == 1


def test_a_notice_the_forum_refuses_for_the_key_is_logged_not_retried(
    sandbox, redis_client, staff_log, monkeypatch, caplog
):
    monkeypatch.setenv("DIAMOND_API_KEY", "not-the-key")
    runtime.configure(settings_obj=load_settings())  # the worker's settings: this key
    caplog.set_level(logging.ERROR)
    notice_jobs.post_notice.fn("jobs_failed", ["x.y(1)"], datetime.now(UTC).isoformat())
    assert "the forum refuses the API key" in caplog.text
    assert not audit_topics(sandbox, staff_log)


def test_a_notice_title_always_carries_the_day(tmp_path):
    # Titles are unique among listable topics for the life of the forum: a moderator's
    # title without {date} still gets the day, or the second day's notice is refused.
    rules_dir = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules_dir)
    en = rules_dir / "messages" / "en.yml"
    en.write_text(en.read_text().replace('"Diamond: jobs gave up · {date}"', "Jobs failed"))
    community = rules_dir / "community.yml"
    community.write_text(
        re.sub(r"default_language: \w+", "default_language: en", community.read_text())
    )
    rules = load_rules(rules_dir)
    notice = Notice("jobs_failed", ("a",), datetime(2026, 3, 1, 20, 0, tzinfo=UTC))
    [action] = plan_notice(rules, notice, category_id=5, topic_id=None)
    assert action.title == "Jobs failed · 2026-03-02"  # the community's day (Asia/Shanghai)
    assert action.affects_members is False


def test_every_condition_the_code_raises_has_its_notice_template():
    # A condition without a template made the notice job itself fail (KeyError), so the
    # staff never heard of the held-back camp check or audit it was raised for.
    import ast

    from worker.engine.notices import TEMPLATES

    raised = set()
    for path in (ROOT / "worker").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", None)) == "raise_notice"
                and len(node.args) >= 3
                and isinstance(node.args[2], ast.Constant)
            ):
                raised.add(node.args[2].value)
    assert {"camp_facts_missing", "audit_facts_missing", "jobs_failed"} <= raised
    assert raised <= set(TEMPLATES)
    rules = load_rules(ROOT / "rules")
    for condition in raised:
        notice = Notice(condition, ("@alice",), datetime(2026, 3, 16, 9, tzinfo=UTC), 0)
        [topic] = plan_notice(rules, notice, category_id=7, topic_id=None)
        assert "@alice" in topic.raw and "{" not in topic.title
