"""What the forum-reading commands (audit, ledger, report) need, built once.

Settings, rules, Redis and the forum client; problems are printed for a human
(one line per setting or rule problem), never as a traceback.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis

    from worker.forum.client import ForumClient
    from worker.rules import Rules
    from worker.settings import Settings


def forum_context() -> tuple[ForumClient, redis.Redis, Rules, Settings] | None:
    """(client, redis, rules, settings), or None after printing why not.

    A command builds its step's ``StepContext`` from these, as the actors do; the roster
    comes from the one forum view (``worker.reads.forum_view``). A command never imports
    an actor module."""
    import redis

    from worker.forum.client import ForumClient
    from worker.rules import RulesInvalid, load_rules
    from worker.settings import load_settings

    settings = load_settings()
    settings.require("forum_url", "api_key", "redis_url")
    try:
        rules = load_rules(settings.rules_dir)
    except RulesInvalid as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return None
    redis_client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=3)
    redis_client.ping()  # unreachable: one line from the CLI, before any forum call
    from worker.pipeline import runtime

    # The loaders shared with the actors read runtime's settings: the same as this command's.
    runtime.configure(redis_url=settings.redis_url, settings_obj=settings)
    # Commands run in a terminal: waiting for the shared forum budget is fine there.
    client = ForumClient.from_settings(settings, redis_client, on_limit="wait")
    return client, redis_client, rules, settings
