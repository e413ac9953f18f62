"""``diamond sandbox``: serve a Discourse-compatible forum from memory until Ctrl-C.

``--world FILE`` starts it from a saved world (``diamond demo --save``, ``--save``): the
forum and, when the world carries Diamond's records, an embedded Redis holding them (or
``--redis-url`` to an empty database), with a settings file for the CLI (``diamond
whatif``, ``audit --dry-run``, ``report``). ``--save FILE`` writes the world at Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import redis

    from worker.sandbox.state import Forum
    from worker.sandbox.world import World

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
    parser.add_argument(
        "--world", type=Path, metavar="FILE", help="start from a saved world (forum and records)"
    )
    parser.add_argument(
        "--save", type=Path, metavar="FILE", help="save the world to FILE when stopped (Ctrl-C)"
    )
    parser.add_argument(
        "--redis-url",
        help="with --world: restore Diamond's records into this empty Redis database "
        "(default: start an embedded Redis)",
    )


def run(args: argparse.Namespace) -> int:
    from werkzeug.serving import run_simple

    from worker.logs import register_secret
    from worker.sandbox import build_sandbox, parse_rule

    register_secret(args.api_key)
    register_secret(args.webhook_secret)
    # Ctrl-C, SIGTERM and SIGHUP all end it the same way: --save writes the world and an
    # embedded Redis stops (also when started in the background, where SIGINT is ignored).
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    try:
        rate_limit = parse_rate_limit(args.rate_limit) if args.rate_limit else None
        faults = [parse_rule(spec) for spec in args.fault]
    except ValueError as exc:
        print(f"diamond sandbox: {exc}", file=sys.stderr)
        return 2
    base_url = f"http://{args.host}:{args.port}"
    from worker.sandbox.world import WorldError, load_world

    try:
        world = load_world(args.world) if args.world else None
    except WorldError as exc:
        print(f"diamond sandbox: {exc}", file=sys.stderr)
        return 1
    with contextlib.ExitStack() as stack:
        redis_client = None
        clock_kwargs: dict[str, Any] = {}
        if world is not None and world.redis:
            try:
                redis_client = stack.enter_context(_records(world, args.redis_url))
            except WorldError as exc:
                print(f"diamond sandbox: {exc}", file=sys.stderr)
                return 1
            clock_kwargs["clock"] = _clock_of(redis_client)
        sandbox = build_sandbox(
            api_key=args.api_key,
            base_url=base_url,
            rate_limit=rate_limit,
            seed=args.seed,
            faults=faults,
            seed_admin=args.seed_admin and world is None,
            **clock_kwargs,
        )
        if world is not None:
            from worker.sandbox.world import restore_forum

            restore_forum(sandbox.forum, world)
            sandbox.forum.webhooks = {}  # the saved receiver is gone; --webhook adds one
            sandbox.forum.base_url = base_url
        if args.webhook:
            sandbox.add_webhook(args.webhook, secret=args.webhook_secret)
        print(f"diamond sandbox: Discourse-compatible forum on {base_url} (Ctrl-C to stop)")
        if world is not None:
            print(_world_line(args.world, world, sandbox.forum))
        if redis_client is not None and world is not None:  # only a world has records
            env = _env_file(base_url, args.api_key, redis_client, world)
            print(
                f"Diamond's records are in Redis at {_url_of(redis_client)}. Point the CLI at "
                f"this world with:\n  export DIAMOND_ENV_FILE={env}\n"
                "  diamond whatif --rules YOUR-RULES-COPY"
            )
        try:
            run_simple(args.host, args.port, sandbox.app, threaded=True, use_reloader=False)
        except KeyboardInterrupt:
            print("diamond sandbox: stopping")
        finally:
            sandbox.webhooks.close()
            if args.save:
                from worker.sandbox.world import save_world

                meta = dict(world.meta) if world else {}
                save_world(args.save, sandbox.forum, redis_client, meta)
                print(f"diamond sandbox: world saved to {args.save}")
    return 0


def _interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _world_line(path: Path, world: World, forum: Forum) -> str:
    when = world.meta.get("simulated_now", "")
    return (
        f"world {path}: {len(forum.users)} users, {len(forum.groups)} groups, "
        f"{len(forum.topics)} topics, {len(forum.posts)} posts"
        + (f", {len(world.redis)} Redis keys" if world.redis else "")
        + (f"; its clock stands at {when}" if when else "")
    )


@contextlib.contextmanager
def _records(world: World, redis_url: str | None) -> Iterator[redis.Redis]:
    """A Redis holding the world's keys: the one named (empty), or an embedded one."""
    import redis

    from worker.redis_server import EmbeddedRedis
    from worker.sandbox.world import restore_redis

    server = None
    if redis_url:
        client = redis.Redis.from_url(redis_url)
    else:
        server = EmbeddedRedis(data_dir=Path(tempfile.mkdtemp(prefix="diamond-world-"))).start()
        client = redis.Redis.from_url(server.url)
    try:
        restore_redis(client, world)
        yield client
    finally:
        client.close()
        if server is not None:
            server.stop()


def _clock_of(redis_client: redis.Redis) -> Callable[[], datetime]:
    from worker import clock
    from worker.settings import SIMULATED_CLOCK_VAR

    os.environ[SIMULATED_CLOCK_VAR] = "1"  # a saved world's time is the simulated clock
    return lambda: clock.now(redis_client)


def _url_of(redis_client: redis.Redis) -> str:
    kw = redis_client.connection_pool.connection_kwargs
    return f"redis://{kw.get('host', '127.0.0.1')}:{kw.get('port', 6379)}/{kw.get('db', 0)}"


def _env_file(base_url: str, api_key: str, redis_client: redis.Redis, world: World) -> Path:
    """Settings for the CLI, readable by the owner only (it holds the API key)."""
    values = {
        "DIAMOND_FORUM_URL": base_url,
        "DIAMOND_API_KEY": api_key,
        "DIAMOND_API_USERNAME": "system",
        "DIAMOND_REDIS_URL": _url_of(redis_client),
        "DIAMOND_MODE": world.meta.get("mode", "live"),
        "DIAMOND_SIMULATED_CLOCK": "1",  # the world's time is the simulated clock
    }
    if world.meta.get("rules_dir"):
        values["DIAMOND_RULES_DIR"] = world.meta["rules_dir"]
    path = Path(tempfile.mkdtemp(prefix="diamond-world-env-")) / "diamond.env"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.writelines(f"{k}={v}\n" for k, v in values.items())
    return path
