"""Receiver throughput: signed deliveries to gunicorn on loopback, then a worker drains them.

    python -m bench.receiver [--count 10000] [--clients 3] [--workers 3] [--threads 2]

Starts a private Redis, ``diamond serve`` (gunicorn, buffered gthread worker) and, after the
load, ``diamond worker``. Each client process keeps one connection alive and sends
distinct ``post_created`` deliveries (real captured body, new id per delivery,
signed). Prints accepted/s, p50/p99 latency and the worker's drain time.
Targets: >= 1,000 accepted/s and p99 <= 50 ms on a 2-core machine.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

from bench.common import Figure, at_least, at_most, emit
from worker.pipeline.receiver import sign
from worker.redis_server import EmbeddedRedis, free_port

ROOT = Path(__file__).resolve().parent.parent
BODY = ROOT.parent / "shared/discourse/webhooks/post__post_created__2025.12.0-latest-body.json"
SECRET = "bench-secret"
PROBE_QUEUE_MSGS = "diamond:probe.msgs"
PROBE_EFFECTS = "diamond:probe:effects:posts"


def deliveries(first_id: int, count: int) -> list[tuple[bytes, dict[str, str]]]:
    template = json.loads(BODY.read_text())
    out = []
    for post_id in range(first_id, first_id + count):
        template["post"]["id"] = post_id
        body = json.dumps(template).encode()
        out.append(
            (
                body,
                {
                    "Content-Type": "application/json",
                    "X-Discourse-Event-Type": "post",
                    "X-Discourse-Event": "post_created",
                    "X-Discourse-Event-Id": str(post_id),
                    "X-Discourse-Instance": "https://bench.example",
                    "X-Discourse-Event-Signature": sign(SECRET, body),
                },
            )
        )
    return out


def client_process(port: int, first_id: int, count: int, start_at: float, queue) -> None:
    batch = deliveries(first_id, count)  # built and signed before the clock starts
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    latencies, statuses = [], {}
    while time.time() < start_at:
        time.sleep(0.001)
    for body, headers in batch:
        began = time.perf_counter()
        conn.request("POST", "/webhook", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - began)
        statuses[response.status] = statuses.get(response.status, 0) + 1
    conn.close()
    queue.put((latencies, statuses, time.time()))


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "worker", *args],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_healthy(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("receiver did not become healthy")


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, round(fraction * (len(sorted_values) - 1)))
    return sorted_values[index]


def run(count: int, clients: int, workers: int, threads: int) -> list[Figure]:
    with EmbeddedRedis() as server:
        store = redis.Redis.from_url(server.url)
        env = {
            **os.environ,
            "DIAMOND_REDIS_URL": server.url,
            "DIAMOND_WEBHOOK_SECRET": SECRET,
            # `diamond worker` refuses to start without forum settings; the probe actors
            # never call the forum, so a closed loopback port does (it only warns).
            "DIAMOND_FORUM_URL": "http://127.0.0.1:9",
            "DIAMOND_API_KEY": "bench-key",
        }
        port = free_port()
        actors = ["--actors", "worker.pipeline.probe", "worker.pipeline.probe_routes"]
        serve = spawn(
            ["serve", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
             "--threads", str(threads), *actors],
            env,
        )  # fmt: skip
        try:
            wait_healthy(port)
            results: multiprocessing.Queue = multiprocessing.Queue()
            shares = [count // clients + (i < count % clients) for i in range(clients)]
            firsts = [1 + sum(shares[:i]) for i in range(clients)]
            start_at = time.time() + 1.5  # every client has built its batch by then
            procs = [
                multiprocessing.Process(
                    target=client_process, args=(port, first, share, start_at, results)
                )
                for first, share in zip(firsts, shares, strict=True)
            ]
            for proc in procs:
                proc.start()
            outcomes = [results.get(timeout=600) for _ in procs]
            for proc in procs:
                proc.join()
        finally:
            stop(serve)
        latencies = sorted(x for lat, _, _ in outcomes for x in lat)
        statuses: dict[int, int] = {}
        for _, st, _ in outcomes:
            for code, n in st.items():
                statuses[code] = statuses.get(code, 0) + n
        elapsed = max(end for _, _, end in outcomes) - start_at
        accepted = statuses.get(202, 0)
        queued = store.hlen(PROBE_QUEUE_MSGS)
        all_jobs = sum(store.hlen(key) for key in store.scan_iter("diamond:*.msgs"))

        # Drain the probe's jobs only: the domain actors routed to the same event would
        # need a forum. The receiver's cost above includes enqueueing theirs too.
        worker = spawn(
            ["worker", "--processes", "2", "--threads", "8", "--queues", "probe", *actors[:2]],
            env,
        )
        began = time.monotonic()
        try:
            while store.llen(PROBE_EFFECTS) < accepted and time.monotonic() - began < 600:
                time.sleep(0.05)
            drain = time.monotonic() - began
        finally:
            stop(worker)
        processed = store.llen(PROBE_EFFECTS)

    print(
        f"statuses: {statuses}; jobs enqueued: {all_jobs} ({all_jobs / max(accepted, 1):.1f} "
        f"per delivery, probe: {queued}); probe jobs processed: {processed}"
    )
    return [
        Figure("deliveries sent", float(sum(statuses.values())), "requests"),
        at_least("accepted per second (202)", accepted / elapsed, "req/s", 1000),
        Figure("latency p50", percentile(latencies, 0.50) * 1000, "ms"),
        at_most("latency p99", percentile(latencies, 0.99) * 1000, "ms", 50),
        Figure("worker drain time (incl. start-up)", drain, "s"),
        Figure("worker drain rate", processed / drain if drain else 0.0, "jobs/s"),
        at_least("accepted deliveries processed", 100.0 * processed / max(accepted, 1), "%", 100),
        # Other work on the machine shares the 2 cores: read the figures against this.
        Figure("machine load average (1 min) at the end", os.getloadavg()[0], "procs"),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    emit(run(args.count, args.clients, args.workers, args.threads))


if __name__ == "__main__":
    main()
