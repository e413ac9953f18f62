"""What ``diamond plan`` and ``diamond apply`` share: loading the config and the client."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from worker.config_sync.desired import ConfigProblems, Desired, load_desired
from worker.settings import Settings

# Exit codes of `diamond plan` (and `diamond apply` without --yes), for scripts and CI.
EXIT_IN_SYNC = 0  # the forum matches plugin_config/
EXIT_ERROR = 1  # bad config or rules, forum error, conflicts, refused or incomplete apply
EXIT_CHANGES = 2  # changes are pending

EXIT_CODES_HELP = (
    "exit codes: 0 = the forum matches, 2 = changes pending, "
    "1 = error (bad config or rules, forum unreachable, conflicts)"
)
APPLY_EXIT_CODES_HELP = (
    "with --yes, exit codes: 0 = the forum now matches, 1 = refused (unsafe plan), "
    "rejected by the forum, conflicts left, or not finished (run it again); "
    "without --yes: as `diamond plan`"
)


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="plugin_config directory (default: DIAMOND_PLUGIN_CONFIG_DIR or plugin_config)",
    )
    parser.add_argument(
        "--rules",
        type=Path,
        default=None,
        help="rules directory, for the badges (default: DIAMOND_RULES_DIR or rules)",
    )


def load_desired_for(settings: Settings, args: argparse.Namespace) -> Desired | None:
    """The desired state, or ``None`` after printing every problem (rules and config)."""
    from worker.rules import RulesInvalid, load_rules

    rules_dir = args.rules or settings.rules_dir
    try:
        badges = load_rules(rules_dir).badges.badges
    except RulesInvalid as exc:
        _problems(f"{rules_dir}/ has problems (badges come from the rules)", exc.problems)
        return None
    try:
        return load_desired(
            args.config or settings.plugin_config_dir,
            receiver_url=settings.receiver_url,
            webhook_secret=settings.webhook_secret.get_secret_value(),
            badges=badges,
        )
    except ConfigProblems as exc:
        _problems("plugin_config has problems", exc.problems)
        return None


def make_client(settings: Settings) -> Any:
    """The one forum client; a CLI run waits out rate limits instead of failing."""
    from worker.forum.client import ForumClient

    return ForumClient.from_settings(settings, on_limit="wait")


def _problems(title: str, problems: list[Any]) -> None:
    print(f"{title}:", file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
