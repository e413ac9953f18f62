"""`diamond plan` / `diamond apply` exit codes and output, with the forum stood in for."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from tests.integration.test_config_sync_apply import SECRET, FakeForum
from worker import cli
from worker.commands import apply, plan

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeForum:
    forum = FakeForum()
    monkeypatch.setenv("DIAMOND_FORUM_URL", "http://forum.invalid")
    monkeypatch.setenv("DIAMOND_API_KEY", "test-api-key-123")
    monkeypatch.setenv("DIAMOND_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("DIAMOND_RECEIVER_URL", "https://diamond.example.org/webhooks")
    monkeypatch.setenv("DIAMOND_RULES_DIR", str(ROOT / "rules"))
    monkeypatch.setenv("DIAMOND_PLUGIN_CONFIG_DIR", str(ROOT / "plugin_config"))
    return forum


class OnForum:
    """A command module run against ``forum`` (its ``run(args, client=, sleep=)``)."""

    def __init__(self, module: ModuleType, forum: FakeForum) -> None:
        self.module, self.forum = module, forum
        self.HELP = module.HELP

    def configure(self, parser: argparse.ArgumentParser) -> None:
        self.module.configure(parser)

    def run(self, args: argparse.Namespace) -> int:
        if self.module is plan:
            return plan.run(args, client=self.forum)
        return apply.run(args, client=self.forum, sleep=lambda _seconds: None)


@pytest.fixture
def main(fake: FakeForum):
    """``diamond`` with ``plan`` and ``apply`` on the fake forum."""
    commands = {"plan": OnForum(plan, fake), "apply": OnForum(apply, fake)}
    return lambda argv: cli.main(argv, commands=commands)


def test_plan_on_a_fresh_forum_exits_2_and_masks_the_secret(fake, main, capsys) -> None:
    assert main(["plan"]) == 2
    out = capsys.readouterr().out
    assert "+ create camp" in out and "Plan: " in out
    assert SECRET not in out and "secret: ***" in out
    assert fake.writes == 0


def test_apply_without_yes_only_shows_the_plan(fake, main, capsys) -> None:
    assert main(["apply"]) == 2
    assert "Nothing was changed" in capsys.readouterr().out
    assert fake.writes == 0


def test_apply_yes_then_plan_shows_no_change(fake, main, capsys) -> None:
    assert main(["apply", "--yes"]) == 0
    assert "The forum matches plugin_config/." in capsys.readouterr().out
    writes = fake.writes
    assert main(["plan"]) == 0
    assert "No changes" in capsys.readouterr().out
    assert main(["apply", "--yes"]) == 0
    assert fake.writes == writes  # the second apply writes nothing


def test_conflict_exits_1(fake, main, capsys) -> None:
    fake.groups[3] = {"id": 3, "name": "members", "automatic": False, "bio_raw": "hand made"}
    assert main(["plan"]) == 1
    assert "! group members: 'members' exists (id 3)" in capsys.readouterr().out
    assert main(["apply", "--yes"]) == 1
    assert fake.groups[3]["bio_raw"] == "hand made"


def test_refused_apply_exits_1_and_force_applies(fake, main, capsys) -> None:
    assert main(["apply", "--yes"]) == 0
    for group in fake.groups.values():
        if "[diamond:" in (group.get("bio_raw") or ""):
            group["full_name"] = "edited"
    writes = fake.writes
    assert main(["apply", "--yes"]) == 1
    assert "refused" in capsys.readouterr().out and fake.writes == writes
    assert main(["plan"]) == 2
    assert "will refuse without --force" in capsys.readouterr().out
    assert main(["apply", "--yes", "--force"]) == 0


def test_broken_config_exits_1_with_located_problem(fake, main, capsys, tmp_path: Path) -> None:
    config = tmp_path / "pc"
    shutil.copytree(ROOT / "plugin_config", config)
    (config / "groups.yml").write_text("groups:\n  - name: camp\n    colour: red\n")
    assert main(["plan", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert f"{config.as_posix()}/groups.yml:3:5: groups[0].colour: unknown key 'colour'" in err
    assert fake.calls == {}  # the forum is not even read
