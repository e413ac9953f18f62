"""``diamond plan``: what ``diamond apply`` would change on the forum, field by field."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from worker.config_sync.actual import read_actual
from worker.config_sync.command import (
    EXIT_CHANGES,
    EXIT_CODES_HELP,
    EXIT_ERROR,
    EXIT_IN_SYNC,
    add_common_arguments,
    load_desired_for,
    make_client,
)
from worker.config_sync.diff import diff
from worker.config_sync.render import render_plan
from worker.config_sync.safety import unsafe_reasons
from worker.forum.errors import ForumError
from worker.settings import load_settings

HELP = "show how the forum differs from plugin_config/ (" + EXIT_CODES_HELP + ")"
log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    parser.epilog = EXIT_CODES_HELP


def run(args: argparse.Namespace, *, client: Any = None) -> int:
    """``client``: the forum to read (the settings' forum unless given)."""
    settings = load_settings()
    settings.require("forum_url", "api_key")
    desired = load_desired_for(settings, args)
    if desired is None:
        return EXIT_ERROR
    client = make_client(settings) if client is None else client
    try:
        plan = diff(desired, read_actual(client, desired))
    except ForumError as exc:
        print(f"diamond plan: cannot read the forum: {exc}")
        return EXIT_ERROR
    print(render_plan(plan))
    for reason in unsafe_reasons(plan, desired.safety):
        print(f"warning: `diamond apply` will refuse without --force: {reason}")
    if plan.conflicts:
        return EXIT_ERROR
    return EXIT_CHANGES if plan.has_changes else EXIT_IN_SYNC
