"""``diamond check [DIR]``: validate the rule files, every problem at once."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from worker.rules.diff import render_effects, rule_changes, takes_effect
from worker.rules.loader import RULE_FILES, load_rules
from worker.rules.models import Rules
from worker.rules.problems import RulesInvalid
from worker.rules.speak import LANGUAGES, default_language, say

HELP = "check the rule files and list every problem with file:line:col"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "directory",
        nargs="?",
        type=Path,
        help="rules directory (default: DIAMOND_RULES_DIR, else rules/)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--lang",
        choices=LANGUAGES,
        help="the language of the problems (default: community.yml default_language); "
        "--format json keeps the messages as they are, for tools",
    )
    parser.add_argument(
        "--against",
        type=Path,
        metavar="DIR",
        help="also say what changes from the rules in DIR, and when each change takes effect "
        "(default: the rules the worker recorded as last loaded in Redis, if reachable)",
    )


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
            lang = getattr(args, "lang", None) or default_language(directory)
            for problem in exc.problems:
                print(say(problem, lang))
            count = len(exc.problems)
            if lang == "zh":
                print(f"{shown}:共 {count} 个问题", file=sys.stderr)
            else:
                print(f"{shown}: {count} problem{'s' if count != 1 else ''}", file=sys.stderr)
        return 1
    against = _rules_in_force(getattr(args, "against", None))
    if isinstance(against, str):  # the --against rules do not load
        print(against, file=sys.stderr)
        return 1
    if args.format == "json":
        report = _report(shown, [], rules)
        if against is not None:
            report["changes"] = [
                {**c._asdict(), "takes_effect": takes_effect(c.key)}
                for c in rule_changes(against[1], rules)
            ]
        print(json.dumps(report, ensure_ascii=False, default=str))
    else:
        print(summary(shown, rules, getattr(args, "lang", None) or default_language(directory)))
        if against is not None:
            print(f"compared with {against[0]}:")
            print(
                "\n".join("  " + line for line in render_effects(rule_changes(against[1], rules)))
            )
    return 0


def _rules_in_force(directory: Path | None) -> tuple[str, Rules] | str | None:
    """(where from, rules) to compare with: ``directory``, else the rules the worker
    recorded as last loaded in Redis; None when there is none to compare with (no Redis
    configured or reachable: ``check DIR`` needs no running Diamond); a str: an error."""
    if directory is not None:
        try:
            return directory.as_posix(), load_rules(directory)
        except RulesInvalid as exc:
            lines = [f"--against {directory}: the rules there have problems:"]
            return "\n".join([*lines, *(f"  {p}" for p in exc.problems)])
    try:
        import redis

        from worker.rules.loaded import last_loaded
        from worker.settings import load_settings

        url = load_settings().redis_url
        if not url:
            return None
        client = redis.Redis.from_url(str(url), socket_connect_timeout=1, socket_timeout=2)
        recorded = last_loaded(client)
    except Exception:  # no settings, no Redis: nothing running to compare with
        return None
    return None if recorded is None else ("the rules the worker last loaded", recorded)


def summary(shown: str, rules: Rules, lang: str = "en") -> str:
    """One line: the rules load. In the moderator's language; ``--format json`` keeps en."""
    langs = ", ".join(rules.messages)
    templates = len(next(iter(rules.messages.values())).templates)
    steps, badges = len(rules.obligations.penalties.ladder), len(rules.badges.badges)
    c = rules.community
    if lang == "zh":
        return (
            f"{shown}:{len(RULE_FILES)} 个文件没有问题 — 社区「{c.name}」({c.timezone}),"
            f"处罚 {steps} 级,徽章 {badges} 个,模板 {templates} 个 ({langs})"
        )
    return (
        f"{shown}: {len(RULE_FILES)} files OK — community {c.name!r} "
        f"({c.timezone}), {steps} ladder steps, {badges} badges, {templates} templates ({langs})"
    )


def _report(shown: str, problems: list[dict[str, object]], rules: Rules | None = None) -> dict:
    report: dict[str, object] = {"directory": shown, "ok": not problems, "problems": problems}
    if rules is not None:
        report["summary"] = summary(shown, rules)
    return report


def _default_dir() -> Path:
    from worker.settings import load_settings  # lazily: `check DIR` needs no settings

    return load_settings().rules_dir
