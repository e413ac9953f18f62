"""``diamond serve`` (gunicorn) on 127.0.0.1: bad chunked framing and slow clients.

One worker process with two threads, so a few slow clients would be enough to hold
every thread if a thread waited on them. Everything here is bounded in time.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import DISCOURSE_REF
from worker.pipeline.receiver import sign
from worker.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "server-test-secret"
READ_TIMEOUT = 2.0
POST = json.loads(
    (DISCOURSE_REF / "webhooks/post__post_created__2025.12.0-latest-body.json").read_text()
)

pytestmark = pytest.mark.integration


@pytest.fixture
def port(redis_url: str) -> Iterator[int]:
    port = free_port()
    env = {**os.environ, "DIAMOND_REDIS_URL": redis_url, "DIAMOND_WEBHOOK_SECRET": SECRET}
    args = ["serve", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "2"]
    args += ["--read-timeout", str(READ_TIMEOUT)]
    args += ["--actors", "worker.pipeline.probe", "worker.pipeline.probe_routes"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker", *args],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("diamond serve did not start") from None
                time.sleep(0.1)
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def delivery(post_id: int) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"post": {**POST["post"], "id": post_id}}).encode()
    return body, {
        "Content-Type": "application/json",
        "X-Discourse-Event-Type": "post",
        "X-Discourse-Event": "post_created",
        "X-Discourse-Event-Id": str(post_id),
        "X-Discourse-Instance": "https://forum.example",
        "X-Discourse-Event-Signature": sign(SECRET, body),
    }


def raw_exchange(port: int, request: bytes, *, half_close: bool = False) -> bytes:
    """Send ``request`` as is; the answer's bytes (the connection closes after one)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = sock.recv(4096)
            if not data:
                break
            answer += data
        return answer


def chunked(framing: bytes) -> bytes:
    return (
        b"POST /webhook HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"X-Discourse-Event-Type: post\r\nX-Discourse-Event: post_created\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + framing
    )


FRAMINGS = {
    "a chunk size that is not hex": chunked(b"zz\r\nhello\r\n0\r\n\r\n"),
    "a chunk longer than its size": chunked(b"5\r\nhello world\r\n0\r\n\r\n"),
    "a negative chunk size": chunked(b"-5\r\nhello\r\n0\r\n\r\n"),
    "a chunk size line that never ends": chunked(b"5" * 4000),
    "chunked and a content length": chunked(b"5\r\nhello\r\n0\r\n\r\n").replace(
        b"Host: x\r\n", b"Host: x\r\nContent-Length: 5\r\n"
    ),
}


@pytest.mark.parametrize("request_", FRAMINGS.values(), ids=FRAMINGS.keys())
def test_malformed_chunked_framing_is_answered_400(port: int, request_: bytes) -> None:
    answer = raw_exchange(port, request_, half_close=True)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]


def test_a_chunked_body_cut_off_by_the_client_is_not_a_500(port: int) -> None:
    answer = raw_exchange(port, chunked(b"ff\r\nonly a little"), half_close=True)
    assert not answer.startswith(b"HTTP/1.1 5"), answer[:200]


def test_a_well_framed_chunked_delivery_is_accepted(port: int) -> None:
    body, headers = delivery(7001)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
    request = (
        b"POST /webhook HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + head
        + b"Transfer-Encoding: chunked\r\n\r\n"
        + f"{len(body[:10]):x}\r\n".encode() + body[:10] + b"\r\n"
        + f"{len(body[10:]):x}\r\n".encode() + body[10:] + b"\r\n0\r\n\r\n"
    )  # fmt: skip
    assert raw_exchange(port, request).startswith(b"HTTP/1.1 202")


class Trickler(threading.Thread):
    """A client that sends a request's headers, then its body one byte at a time."""

    def __init__(self, port: int, interval: float, seconds: float) -> None:
        super().__init__(daemon=True)
        body, headers = delivery(9000)
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.request = (
            f"POST /webhook HTTP/1.1\r\nHost: x\r\n{head}Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        self.port, self.interval, self.seconds = port, interval, seconds
        self.answer = b""
        self.closed_after: float | None = None

    def run(self) -> None:
        began = time.monotonic()
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            sock.setblocking(False)
            for byte in self.request[:-1]:  # never the last one
                if time.monotonic() - began > self.seconds:
                    break
                try:
                    sock.send(bytes([byte]))
                    data = sock.recv(4096)
                except BlockingIOError:
                    time.sleep(self.interval)
                    continue
                except OSError:
                    data = b""
                self.answer += data
                break  # answered or closed
            self.closed_after = time.monotonic() - began


def test_slow_clients_do_not_hold_up_real_deliveries(port: int) -> None:
    slow = [Trickler(port, interval=0.1, seconds=READ_TIMEOUT * 0.9) for _ in range(8)]
    for client in slow:
        client.start()
    time.sleep(0.3)  # every slow client is connected and trickling
    latencies = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1.5)
    for post_id in range(100, 110):
        body, headers = delivery(post_id)
        began = time.monotonic()
        conn.request("POST", "/webhook", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.monotonic() - began)
        assert response.status == 202
    conn.close()
    for client in slow:
        client.join(timeout=10)
    assert max(latencies) < 0.5, latencies


def test_a_client_that_trickles_past_the_read_timeout_is_answered_408_and_closed(
    port: int,
) -> None:
    client = Trickler(port, interval=0.2, seconds=READ_TIMEOUT * 4)
    client.start()
    client.join(timeout=READ_TIMEOUT * 5)
    assert client.answer.startswith(b"HTTP/1.1 408"), client.answer[:200]
    assert client.closed_after is not None
    assert client.closed_after < READ_TIMEOUT + 2
