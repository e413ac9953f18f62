"""``diamond sandbox``: serve a Discourse-compatible forum from memory until Ctrl-C."""

from __future__ import annotations

import argparse
import sys

HELP = "serve a Discourse-compatible sandbox forum from memory (demo, tests, rehearsals)"

DEFAULT_PORT = 4200


def parse_rate_limit(text: str) -> tuple[int, float]:
    """``60/60`` → (60 requests, 60 seconds); ``60`` means per minute."""
    limit_text, _, window_text = text.partition("/")
    try:
        limit = int(limit_text)
        window = float(window_text) if window_text else 60.0
    except ValueError as exc:
        raise ValueError(f"--rate-limit {text!r}: expected LIMIT/SECONDS, e.g. 60/60") from exc
    if limit < 1 or window <= 0:
        raise ValueError(f"--rate-limit {text!r}: limit and window must be positive")
    return limit, window


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default 4200)")
    parser.add_argument(
        "--api-key", required=True, help="the admin API key clients send as Api-Key"
    )
    parser.add_argument(
        "--seed-admin", action="store_true", help="create an approved admin user named 'admin'"
    )
    parser.add_argument(
        "--rate-limit",
        metavar="LIMIT/SECONDS",
        help="enforce the admin API bucket, e.g. 60/60 (off by default)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="inject faults: '[METHOD ]PATTERN:500=0.1,429=0.1,shape=text,latency=0.2' "
        "(repeatable)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed for fault injection")
    parser.add_argument("--webhook", metavar="URL", help="register a webhook for all events")
    parser.add_argument("--webhook-secret", default="", help="secret for --webhook")


def run(args: argparse.Namespace) -> int:
    from werkzeug.serving import run_simple

    from worker.forum.sandbox import build_sandbox, parse_rule
    from worker.logs import register_secret

    register_secret(args.api_key)
    register_secret(args.webhook_secret)
    try:
        rate_limit = parse_rate_limit(args.rate_limit) if args.rate_limit else None
        faults = [parse_rule(spec) for spec in args.fault]
    except ValueError as exc:
        print(f"diamond sandbox: {exc}", file=sys.stderr)
        return 2
    base_url = f"http://{args.host}:{args.port}"
    sandbox = build_sandbox(
        api_key=args.api_key,
        base_url=base_url,
        rate_limit=rate_limit,
        seed=args.seed,
        faults=faults,
        seed_admin=args.seed_admin,
    )
    if args.webhook:
        sandbox.add_webhook(args.webhook, secret=args.webhook_secret)
    print(f"diamond sandbox: Discourse-compatible forum on {base_url} (Ctrl-C to stop)")
    try:
        run_simple(args.host, args.port, sandbox.app, threaded=True, use_reloader=False)
    finally:
        sandbox.webhooks.close()
    return 0
