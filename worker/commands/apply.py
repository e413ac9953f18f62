"""``diamond apply``: make the forum match plugin_config/ (only with --yes)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from worker.config_sync.apply import WebhookUrlRefused, sync
from worker.config_sync.command import (
    APPLY_EXIT_CODES_HELP,
    EXIT_ERROR,
    EXIT_IN_SYNC,
    add_common_arguments,
    load_desired_for,
    make_client,
)
from worker.config_sync.render import render_plan
from worker.config_sync.safety import UnsafePlan
from worker.forum.errors import ForumError
from worker.settings import load_settings

HELP = "make the forum match plugin_config/ (shows the plan; writes only with --yes)"


def configure(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    parser.epilog = APPLY_EXIT_CODES_HELP
    parser.add_argument(
        "--yes", action="store_true", help="apply the plan (otherwise only show it)"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="apply even if the plan updates or deletes more than the safety share",
    )
    parser.add_argument(
        "--max-rounds",
        type=int,
        default=6,
        help="re-plan and retry this many times after 429/5xx (default 6)",
    )


def run(
    args: argparse.Namespace,
    *,
    client: Any = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """``client``: the forum to change (the settings' forum unless given); ``sleep``: how
    a round waits after the forum failed."""
    if not args.yes:
        from worker.commands import plan

        code = plan.run(args, client=client)
        if code != EXIT_IN_SYNC:
            print("Nothing was changed. Run `diamond apply --yes` to apply this plan.")
        return code

    settings = load_settings()
    settings.require("forum_url", "api_key")
    desired = load_desired_for(settings, args)
    if desired is None:
        return EXIT_ERROR
    client = make_client(settings) if client is None else client
    try:
        report = sync(
            client,
            desired,
            force=args.force,
            max_rounds=args.max_rounds,
            sleep=sleep,
            on_plan=lambda plan: print(render_plan(plan)),
        )
    except UnsafePlan as exc:
        print("diamond apply: refused, the plan touches too much of what Diamond owns:")
        for reason in exc.reasons:
            print(f"  {reason}")
        print("Nothing was changed. Check plugin_config/ and the forum; --force overrides.")
        return EXIT_ERROR
    except WebhookUrlRefused as exc:
        print(f"diamond apply: {exc.message}")
        print("What was applied before it stays; run apply again once the forum allows it.")
        return EXIT_ERROR
    except ForumError as exc:
        print(f"diamond apply: the forum refused a change: {exc}")
        print("What was applied before it stays; fix the cause and run apply again.")
        return EXIT_ERROR
    for failure in report.failures:
        print(f"retried: {failure}")
    print(f"Applied {len(report.done)} change(s) in {report.rounds} round(s).")
    if not report.converged:
        print("Not finished: the forum kept failing. Run `diamond apply --yes` again.")
        print(render_plan(report.final_plan))
        return EXIT_ERROR
    if report.final_plan.conflicts:
        print("The forum matches plugin_config/ except for these conflicts:")
        for conflict in report.final_plan.conflicts:
            print(f"  ! {conflict.resource} {conflict.key}: {conflict.reason}")
        return EXIT_ERROR
    print("The forum matches plugin_config/.")
    return EXIT_IN_SYNC
