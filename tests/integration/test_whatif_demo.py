"""What-if on the world the demo leaves behind, through the CLI a moderator uses.

A short story runs; then ``diamond whatif`` with ``article.min_length`` raised to 1200
names the members whose articles would now miss, and why, and changes nothing (Redis
keys but the shared API budget's, forum content). The world saved at the end
(``--save``) starts again in a fresh sandbox and Redis (``sandbox --world``) and the
same what-if says the same.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import redis

from tests.support.pipeline import redis_contents
from worker import cli
from worker.demo.context import Demo

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
# Written meanwhile by others: the shared API budget (every forum call counts in it), the
# still-running worker's liveness beats and health records, and the metrics counters.
BUDGET_KEYS = (
    "diamond:forum:ratelimit",
    "diamond:forum:calls",
    "diamond:__heartbeats__",
    "diamond:health:",
    "diamond:metrics:",
)


@pytest.fixture(autouse=True)
def _own_log_handlers():
    """``cli.main`` adds a stderr handler bound to this test's captured stream; a later
    test's log line must not reach it once that stream is closed."""
    import logging

    root = logging.getLogger()
    saved = list(root.handlers)
    yield
    for handler in [h for h in root.handlers if h not in saved]:
        root.removeHandler(handler)


def proposed_rules(tmp_path: Path, min_length: int) -> Path:
    target = tmp_path / "proposed-rules"
    shutil.copytree(ROOT / "rules", target)
    path = target / "obligations.yml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("min_length: 800", f"min_length: {min_length}", 1), "utf-8")
    return target


def records(client: redis.Redis) -> dict[bytes, object]:
    return redis_contents(client, skip=BUDGET_KEYS)


def member_lines(text: str) -> list[str]:
    return sorted(line.strip() for line in text.splitlines() if line.strip().startswith("@"))


def test_whatif_on_the_demo_world_names_who_would_miss_and_writes_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    redis_url: str,
) -> None:
    from worker.demo.run import DemoOptions, run_demo

    monkeypatch.delenv("DIAMOND_REDIS_URL", raising=False)
    monkeypatch.delenv("DIAMOND_ENV_FILE", raising=False)
    rules = proposed_rules(tmp_path, 1200)
    seen: dict[str, object] = {}

    def inspect(demo: Demo) -> None:
        forum = demo.stack.sandbox.forum
        before = (records(demo.stack.redis), len(forum.posts), len(forum.topics))
        capsys.readouterr()
        seen["code"] = cli.main(["whatif", "--rules", str(rules), "--applications"])
        seen["out"] = capsys.readouterr().out
        after = (records(demo.stack.redis), len(forum.posts), len(forum.topics))
        seen["same"] = before == after
        seen["changed"] = [
            k for k in set(before[0]) | set(after[0]) if before[0].get(k) != after[0].get(k)
        ]

    world = tmp_path / "world.bin"
    run_demo(DemoOptions.smoke(workdir=tmp_path / "demo", quiet=True, inspect=inspect, save=world))

    out = str(seen["out"])
    assert seen["code"] == 0, out
    assert seen["same"], f"what-if changed Redis or the forum: {seen['changed']}"
    assert "obligations.article.min_length: 800 → 1200" in out
    shorter = re.findall(r"@(\S+) .*article (\d+)/1200 字", out)
    assert shorter, out  # the demo's writers of 800-1199 字 articles now miss
    assert all(800 <= int(units) < 1200 for _name, units in shorter), out
    assert "(0 writes)" in out
    # the story's applications, each re-decided from what gating kept: none changes
    assert re.search(r"applications decided in the last 30 days: (\d+), \1 previewable", out), out
    assert "no application would be decided differently" in out

    # ── the saved world, started again, gives the same what-if ──
    from worker import clock
    from worker.sandbox import start_sandbox
    from worker.sandbox.world import load_world, restore_forum, restore_redis

    saved = load_world(world)
    client = redis.Redis.from_url(redis_url)  # the test Redis, empty
    assert restore_redis(client, saved) > 0
    running = start_sandbox(port=0, api_key="world-key", clock=lambda: clock.now(client))
    try:
        restore_forum(running.forum, saved)
        monkeypatch.setenv("DIAMOND_FORUM_URL", running.url)
        monkeypatch.setenv("DIAMOND_API_KEY", "world-key")
        monkeypatch.setenv("DIAMOND_API_USERNAME", "system")
        monkeypatch.setenv("DIAMOND_REDIS_URL", redis_url)
        monkeypatch.setenv("DIAMOND_RULES_DIR", saved.meta["rules_dir"])
        capsys.readouterr()
        assert cli.main(["whatif", "--rules", str(rules)]) == 0
        again = capsys.readouterr().out
    finally:
        running.stop()
    assert member_lines(again) == member_lines(out)
