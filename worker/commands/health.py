"""``diamond health [worker|scheduler|receiver]``: is it alive, can it reach Redis and the
forum with this key, when did its last job succeed. Exit 0 healthy, 1 not (a compose
health check)."""

from __future__ import annotations

import argparse
import json
import time
import urllib.error
import urllib.request

from worker.redis_text import text
from worker.settings import load_settings

HELP = "health of the worker, scheduler or receiver (exit 0 healthy, 1 not): compose checks"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("role", nargs="?", choices=("worker", "scheduler", "receiver"))
    parser.add_argument(
        "--max-age",
        type=float,
        default=90.0,
        help="a heartbeat older than this many seconds is unhealthy (default 90)",
    )
    parser.add_argument(
        "--url",
        default="http://127.0.0.1:8080/healthz",
        help="the receiver's health URL (receiver only)",
    )


def run(args: argparse.Namespace) -> int:
    if args.role == "receiver":
        return _receiver(args.url)
    import redis

    from worker.pipeline.health import PREFIX, ROLES, judge, record_key

    settings = load_settings()
    settings.require("redis_url")
    client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=3, socket_timeout=5)
    now = time.time()
    if args.role:
        records = {record_key(args.role): client.hgetall(record_key(args.role))}
    else:  # every process that reported, on every host
        keys = sorted(k.decode() for k in client.scan_iter(match=PREFIX + "*", count=100))
        records = {k: client.hgetall(k) for k in keys}
        if not records:
            print(f"no heartbeats in Redis (roles: {', '.join(ROLES)})")
            return 1
    healthy = True
    for key, raw in records.items():
        role = key.removeprefix(PREFIX).split(":", 1)[0]
        record = {text(k): text(v) for k, v in raw.items()}
        verdict = judge(record, role, now, args.max_age)
        healthy = healthy and verdict.healthy
        print(f"[{key.removeprefix(PREFIX)}] " + "; ".join(verdict.lines))
    return 0 if healthy else 1


def _receiver(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            body = response.read().decode()
            print(f"receiver: {response.status} {body}")
            # 200 "degraded": the receiver works, a worker is silent or its key refused.
            return 0 if json.loads(body).get("status") == "ok" else 1
    except urllib.error.HTTPError as exc:
        print(f"receiver: {exc.code} {exc.read().decode()}")
    except (OSError, json.JSONDecodeError) as exc:
        print(f"receiver: cannot reach {url} ({exc})")
    return 1
