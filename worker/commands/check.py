"""``diamond check [DIR]``: validate the rule files, every problem at once."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from worker.rules.loader import RULE_FILES, load_rules
from worker.rules.models import Rules
from worker.rules.problems import RulesInvalid

HELP = "check the rule files and list every problem with file:line:col"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "directory",
        nargs="?",
        type=Path,
        help="rules directory (default: DIAMOND_RULES_DIR, else rules/)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    directory: Path = args.directory or _default_dir()
    shown = directory.as_posix().rstrip("/") + "/"
    try:
        rules = load_rules(directory)
    except RulesInvalid as exc:
        if args.format == "json":
            print(
                json.dumps(_report(shown, [p.as_dict() for p in exc.problems]), ensure_ascii=False)
            )
        else:
            for problem in exc.problems:
                print(problem)
            count = len(exc.problems)
            print(f"{shown}: {count} problem{'s' if count != 1 else ''}", file=sys.stderr)
        return 1
    if args.format == "json":
        print(json.dumps(_report(shown, [], rules), ensure_ascii=False))
    else:
        print(summary(shown, rules))
    return 0


def summary(shown: str, rules: Rules) -> str:
    langs = ", ".join(rules.messages)
    templates = len(next(iter(rules.messages.values())).templates)
    ladder = rules.obligations.penalties.ladder
    return (
        f"{shown}: {len(RULE_FILES)} files OK — community {rules.community.name!r} "
        f"({rules.community.timezone}), {len(ladder)} ladder steps, "
        f"{len(rules.badges.badges)} badges, {templates} templates ({langs})"
    )


def _report(shown: str, problems: list[dict[str, object]], rules: Rules | None = None) -> dict:
    report: dict[str, object] = {"directory": shown, "ok": not problems, "problems": problems}
    if rules is not None:
        report["summary"] = summary(shown, rules)
    return report


def _default_dir() -> Path:
    from worker.settings import load_settings  # lazily: `check DIR` needs no settings

    return load_settings().rules_dir
