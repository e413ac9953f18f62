"""The tools around a rehearsal: world files, the demo's promises, --keep, DIAMOND_RULES_DIR."""

from __future__ import annotations

import argparse
from pathlib import Path
from types import SimpleNamespace

import pytest
import redis

from worker.demo.summary import unaudited_weeks
from worker.sandbox import build_sandbox
from worker.sandbox.world import (
    WorldError,
    load_world,
    restore_forum,
    restore_redis,
    save_world,
)


def test_a_saved_world_starts_again_with_its_forum_and_goes_on_numbering_after_it(
    tmp_path: Path,
) -> None:
    first = build_sandbox(api_key="k1")
    user = first.forum.create_user(username="alice", email="a@example.org", approved=True)
    post = first.forum.create_post(user, raw="hello " * 10, title="A title long enough here")
    save_world(tmp_path / "w.bin", first.forum, meta={"rules_dir": "/r"})

    second = build_sandbox(api_key="k2", seed_admin=False)
    world = load_world(tmp_path / "w.bin")
    restore_forum(second.forum, world)
    assert second.forum.find_user("alice") is not None
    assert second.forum.posts[post.id].raw == post.raw
    assert second.forum.api_key == "k2" and world.meta == {"rules_dir": "/r"}
    again = second.forum.create_post(user, raw="more " * 10, topic_id=post.topic_id)
    assert again.id > post.id  # ids go on after the world's, never reused


@pytest.mark.integration
def test_a_worlds_records_keep_their_ttl_and_leave_queues_and_the_api_budget_behind(
    tmp_path: Path, redis_client: redis.Redis
) -> None:
    redis_client.set("diamond:ledger:x", "1")
    redis_client.set("diamond:cache:roster", "r", ex=100)
    redis_client.zadd("diamond:forum:ratelimit", {"a": 1})
    redis_client.hset("diamond:obligations.msgs", "m", "job")
    save_world(tmp_path / "w.bin", build_sandbox().forum, redis_client)
    redis_client.flushdb()
    assert restore_redis(redis_client, load_world(tmp_path / "w.bin")) == 2
    assert redis_client.get("diamond:ledger:x") == b"1"
    assert 0 < redis_client.ttl("diamond:cache:roster") <= 100
    assert not redis_client.exists("diamond:forum:ratelimit", "diamond:obligations.msgs")
    with pytest.raises(WorldError, match="empty"):  # never over someone's records
        restore_redis(redis_client, load_world(tmp_path / "w.bin"))


def test_a_file_that_is_not_a_world_is_refused_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    with pytest.raises(WorldError, match="not a saved world"):
        load_world(bad)
    with pytest.raises(WorldError, match="no such file"):
        load_world(tmp_path / "missing.bin")


def test_a_week_whose_audit_recorded_nothing_is_a_broken_promise_halted_or_not_run() -> None:
    weeks = {
        1: {"week": "2026-W11", "members": 9, "recorded": 9},
        2: {"week": "2026-W12", "members": 9, "recorded": 0},
        3: {"week": "2026-W13", "members": 9, "recorded": 0},
        4: {"week": "2026-W14", "members": 0, "recorded": 0},  # nobody to audit
    }
    log = "... ERROR worker.jobs.obligations: audit of 2026-W12 HALTED: 5/9 members ..."
    broken = unaudited_weeks(weeks, log)
    assert len(broken) == 2
    assert "2026-W12 HALTED at the guard rail" in broken[0]
    assert "2026-W13 did not run" in broken[1]


def test_keep_says_how_to_reach_the_world_and_returns_on_ctrl_c(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from worker.commands.demo import hold

    stack = SimpleNamespace(
        sandbox=SimpleNamespace(url="http://127.0.0.1:5000"),
        receiver_port=5001,
        redis_url="redis://127.0.0.1:5002/0",
        env={"DIAMOND_RULES_DIR": "/rules"},
    )

    def ctrl_c() -> None:
        raise KeyboardInterrupt

    hold(SimpleNamespace(stack=stack), tmp_path / "diamond.env", wait=ctrl_c)
    out = capsys.readouterr().out
    assert f"export DIAMOND_ENV_FILE={tmp_path / 'diamond.env'}" in out
    assert "http://127.0.0.1:5000" in out and "redis://127.0.0.1:5002/0" in out
    assert "stopping" in out


def test_the_demo_runs_on_the_rules_dir_the_environment_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from worker.commands import demo

    seen = {}

    def fake_run_demo(options):
        seen["rules_dir"] = options.stack.rules_dir
        return SimpleNamespace(ok=True, failed_jobs=0, broken=[], workdir=tmp_path)

    monkeypatch.setenv("DIAMOND_RULES_DIR", str(tmp_path))
    args = argparse.Namespace(weeks=1, small=True, seed=7, workdir=None, keep=False, save=None)
    assert demo.run(args, run_demo=fake_run_demo) == 0
    assert seen["rules_dir"] == tmp_path
    monkeypatch.setenv("DIAMOND_RULES_DIR", str(tmp_path / "nope"))
    assert demo.run(args, run_demo=fake_run_demo) == 1


def test_a_demo_with_a_broken_promise_exits_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from worker.commands import demo

    monkeypatch.delenv("DIAMOND_RULES_DIR", raising=False)

    def broken_promise(options):
        return SimpleNamespace(
            ok=False, failed_jobs=0, broken=["the audit of 2026-W12 HALTED"], workdir=tmp_path
        )

    args = argparse.Namespace(weeks=1, small=True, seed=7, workdir=None, keep=False, save=None)
    assert demo.run(args, run_demo=broken_promise) == 1
    assert "not done: the audit of 2026-W12 HALTED" in capsys.readouterr().out
