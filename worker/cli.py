"""``diamond`` command line: one module per command under ``worker.commands``.

Each command module exposes ``HELP`` (one line), ``configure(parser)`` and
``run(args) -> int``. Modules are imported lazily so ``diamond check`` does not
pay for dramatiq or werkzeug.

Settings come from the environment and from ``.env`` in the current directory.
Exit codes, the same for every command: 0 done (or nothing to do); 1 error, with one
line saying what to fix (settings, rules, Redis, the forum, the API key); 2 a human is
needed (`plan`/`apply`: changes pending; `audit`: halted by the guard rail; a usage
error on the command line); 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence

from worker.logs import scrub, setup_logging
from worker.settings import SettingsError, redacted_url, use_env_file

EXIT_OK, EXIT_ERROR, EXIT_ATTENTION = 0, 1, 2
EXIT_CODES = (
    "exit codes: 0 done; 1 error (one line says what to fix); 2 a human is needed "
    "(changes pending, audit halted, bad usage)"
)

# command name -> module under worker.commands
COMMANDS: dict[str, str] = {
    "check": "check",
    "plan": "plan",
    "apply": "apply",
    "serve": "serve",
    "worker": "worker",
    "scheduler": "scheduler",
    "audit": "audit",
    "ledger": "ledger",
    "report": "report",
    "health": "health",
    "jobs": "jobs",
    "sandbox": "sandbox",
    "demo": "demo",
    "whatif": "whatif",
}


# A command that meets a claim a worker holds on the same action (``ActionBusy``) runs
# again after the wait the claim asks for, for this long in all, then says who is busy.
# Safe: every write goes through the Applier, which skips what a run already did.
BUSY_WAIT_SECONDS = 10.0


def _load(name: str):
    return importlib.import_module(f"worker.commands.{COMMANDS[name]}")


def _available() -> dict[str, object]:
    """The command modules this install has (``sandbox``/``demo`` may be left out)."""
    available = {}
    for name in COMMANDS:
        try:
            available[name] = _load(name)
        except ModuleNotFoundError as exc:
            if exc.name != f"worker.commands.{COMMANDS[name]}":
                raise
    return available


def build_parser(available: dict[str, object]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diamond", description=__doc__.splitlines()[0], epilog=EXIT_CODES
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in available.items():
        sub_parser = sub.add_parser(name, help=module.HELP, description=module.HELP)  # type: ignore[attr-defined]  # a command module declares HELP
        module.configure(sub_parser)  # type: ignore[attr-defined]  # and configure()
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    commands: Mapping[str, object] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Run one command; ``commands``: name -> command module (the modules under
    ``worker.commands`` unless given); ``sleep``: how a command waits for a claim."""
    argv = list(sys.argv[1:] if argv is None else argv)
    available = dict(_available() if commands is None else commands)
    parser = build_parser(available)
    args = parser.parse_args(argv)
    setup_logging(verbose=args.verbose)
    try:
        use_env_file()
        return _run_waiting_for_claims(available[args.command], args, sleep)
    except SettingsError as exc:
        print(f"diamond {args.command}: settings problem:\n{exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        explained = explain(exc)
        if explained is None:
            raise  # a bug: the traceback is what a developer needs
        print(f"diamond {args.command}: {scrub(explained)}", file=sys.stderr)
        return EXIT_ERROR


def _run_waiting_for_claims(
    command: object, args: argparse.Namespace, sleep: Callable[[float], None]
) -> int:
    from worker.pipeline.idempotency import ActionBusy

    waited = 0.0
    while True:
        try:
            return int(command.run(args) or 0)  # type: ignore[attr-defined]
        except ActionBusy as exc:
            pause = max(0.1, exc.retry_after_ms / 1000)
            if waited + pause > BUSY_WAIT_SECONDS:
                raise
            sleep(pause)
            waited += pause


def busy_action(key: str) -> str:
    """What a claim's key names, as a person reads it (``diamond:done:pm:welcome:7`` →
    ``pm:welcome:7``)."""
    from worker.apply import DONE_PREFIX, SHADOW_DONE_PREFIX
    from worker.pipeline.idempotency import PREFIX as ONCE_PREFIX
    from worker.state import keys

    for prefix in (DONE_PREFIX, SHADOW_DONE_PREFIX, ONCE_PREFIX, keys.ROOT):
        if key.startswith(prefix):
            key = key[len(prefix) :]
            break
    return key.removesuffix(":lease").removesuffix(":claim")


def explain(exc: BaseException) -> str | None:
    """One line for a failure an operator can fix (Redis, the forum, the key), else None."""
    import redis

    from worker.forum.errors import ForumError, ForumRejected, ForumUnavailable, RateLimited
    from worker.pipeline.idempotency import ActionBusy

    if isinstance(exc, ActionBusy):
        return (
            f"another Diamond process is doing {busy_action(exc.key)}; "
            f"try again in {max(1, math.ceil(exc.lease_left_ms / 1000))} s"
        )
    if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        return redis_problem(exc)
    if isinstance(exc, RateLimited):
        return f"the forum's API budget is used up ({exc}); try again in {exc.wait_seconds:.0f} s"
    if isinstance(exc, ForumRejected) and exc.status in (401, 403):
        return (
            f"the forum refused the API key ({exc}): check DIAMOND_API_KEY (an admin key, "
            "for all users or for DIAMOND_API_USERNAME) and DIAMOND_API_USERNAME"
        )
    if isinstance(exc, ForumUnavailable):
        return f"cannot reach the forum ({exc}): check DIAMOND_FORUM_URL and that it is up"
    if isinstance(exc, ForumError):
        return f"the forum answered an error: {exc}"
    return None


def redis_problem(exc: BaseException) -> str:
    from worker.settings import load_settings

    try:
        url = load_settings().redis_url
    except SettingsError:
        url = "?"
    hint = ""
    if "redis://redis:" in url:
        hint = (
            "; `redis` is the compose service's name: outside docker compose use e.g. "
            "redis://localhost:6379/0"
        )
    return f"cannot reach Redis at DIAMOND_REDIS_URL={redacted_url(url)} ({exc}){hint}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
