"""``diamond`` command line: one module per command under ``worker.commands``.

Each command module exposes ``HELP`` (one line), ``configure(parser)`` and
``run(args) -> int``. Modules are imported lazily so ``diamond check`` does not
pay for dramatiq or werkzeug.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from worker.logs import setup_logging
from worker.settings import SettingsError

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
    "sandbox": "sandbox",
    "demo": "demo",
}


def _load(name: str):
    return importlib.import_module(f"worker.commands.{COMMANDS[name]}")


def build_parser(available: dict[str, object]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="diamond", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in available.items():
        sub_parser = sub.add_parser(name, help=module.HELP, description=module.HELP)  # type: ignore[attr-defined]
        module.configure(sub_parser)  # type: ignore[attr-defined]
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    available = {}
    for name in COMMANDS:
        try:
            available[name] = _load(name)
        except ModuleNotFoundError as exc:
            if exc.name != f"worker.commands.{COMMANDS[name]}":
                raise
    parser = build_parser(available)
    args = parser.parse_args(argv)
    setup_logging(verbose=args.verbose)
    try:
        return int(available[args.command].run(args) or 0)  # type: ignore[attr-defined]
    except SettingsError as exc:
        print(f"diamond {args.command}: settings problem:\n{exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
