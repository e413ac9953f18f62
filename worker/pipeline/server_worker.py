"""A gunicorn worker whose threads never wait on a slow client.

gunicorn's ``gthread`` worker gives a connection a thread as soon as its first byte
arrives, and the thread then blocks until the whole request is read: a handful of
clients trickling bytes hold every thread, and real deliveries time out behind them.
This worker reads each request in its event loop instead (non-blocking, as bytes
arrive) and hands it to a thread only once it is complete, so a thread only ever
parses bytes already in memory. A request not complete within ``read_timeout`` seconds
of its first chance to arrive is answered 408 and closed.

"Complete" is judged from the framing only (headers' end, ``Content-Length`` or the
chunked terminator); anything the check cannot judge (malformed framing, ``Expect``)
goes to the thread at once, where gunicorn's parser answers it, and the socket's
receive timeout bounds any read there too.
"""

from __future__ import annotations

import contextlib
import re
import socket
import struct
import time
from functools import partial
from selectors import EVENT_READ
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

READ_TIMEOUT_SECONDS = 10.0
# Past this much buffered, the thread takes over (the app refuses bodies over 1 MiB).
MAX_BUFFERED_BYTES = 1024 * 1024 + 64 * 1024
MAX_HEADER_BYTES = 64 * 1024
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_TIMEOUT_BODY = b'{"error": "request not received in time"}'
_TIMEOUT_ANSWER = (
    b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: application/json\r\n"
    + f"Content-Length: {len(_TIMEOUT_BODY)}\r\n\r\n".encode()
    + _TIMEOUT_BODY
)


def request_complete(data: bytes) -> bool:
    """True when ``data`` holds a whole HTTP/1.x request, or one the parser will refuse."""
    if len(data) >= MAX_BUFFERED_BYTES:
        return True
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return len(data) > MAX_HEADER_BYTES
    length: bytes | None = None
    chunked = False
    for line in data[:end].split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            return True  # a malformed header: gunicorn answers it
        name, value = name.strip().lower(), value.strip()
        if name == b"content-length":
            if length is not None and length != value:
                return True
            length = value
        elif name == b"transfer-encoding":
            if value.lower().rsplit(b",", 1)[-1].strip() != b"chunked":
                return True
            chunked = True
        elif name == b"expect":
            return True  # the client waits for "100 Continue" before sending its body
    body = data[end + 4 :]
    if chunked:
        return length is not None or _chunked_complete(body)
    if length is None:
        return True  # a request without a body
    if not length.isdigit() or len(length) > 12:
        return True
    return len(body) >= int(length)


def _chunked_complete(body: bytes) -> bool:
    pos = 0
    while True:
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            return len(body) - pos > 1024  # an absurd chunk-size line: let gunicorn refuse it
        size_field = body[pos:eol].split(b";", 1)[0].strip()
        if not _CHUNK_SIZE.fullmatch(size_field):
            return True  # bad framing: gunicorn answers it (400)
        size = int(size_field, 16)
        if size == 0:
            return body.find(b"\r\n\r\n", eol) >= 0  # the empty line after any trailers
        pos = eol + 2 + size + 2
        if pos > len(body):
            return False


class BufferedThreadWorker(ThreadWorker):
    """``gthread`` that reads whole requests in its event loop (see the module doc)."""

    read_timeout: float = READ_TIMEOUT_SECONDS  # set by ``diamond serve`` before forking

    def init_process(self) -> None:
        self._reading: dict[Any, float] = {}  # connection → deadline, oldest first
        super().init_process()

    def enqueue_req(self, conn: Any) -> None:
        buffered = getattr(conn, "diamond_request", None)
        if buffered is not None:
            super().enqueue_req(conn)  # complete: a thread parses it from memory
            return
        leftover = b""
        if conn.parser is not None:  # bytes a previous request read ahead (pipelining)
            leftover = conn.parser.unreader.buf.getvalue()
            conn.parser.unreader.buf.seek(0)
            conn.parser.unreader.buf.truncate()
        conn.diamond_buffer = bytearray(leftover)
        if request_complete(leftover) and leftover:
            self._ready(conn)
            return
        conn.sock.setblocking(False)
        self._reading[conn] = time.monotonic() + self.read_timeout
        self.poller.register(conn.sock, EVENT_READ, partial(self._on_readable, conn))

    def _on_readable(self, conn: Any, _sock: Any) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            self._drop(conn)
            return
        conn.diamond_buffer += data
        if request_complete(bytes(conn.diamond_buffer)):
            self.poller.unregister(conn.sock)
            del self._reading[conn]
            self._ready(conn)

    def _ready(self, conn: Any) -> None:
        conn.diamond_request = bytes(conn.diamond_buffer)
        conn.diamond_buffer = None
        super().enqueue_req(conn)

    def _drop(self, conn: Any, answer: bytes = b"") -> None:
        self._reading.pop(conn, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)
        if answer:
            with contextlib.suppress(OSError):
                conn.sock.send(answer)  # best effort: never wait on this client
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        expired = [conn for conn, deadline in self._reading.items() if deadline <= now]
        for conn in expired:
            # Only a client that sent something is told why; a silent one is just closed.
            self._drop(conn, _TIMEOUT_ANSWER if conn.diamond_buffer else b"")

    def handle(self, conn: Any) -> Any:
        """In a thread: give the parser the request read so far, then serve it."""
        data = getattr(conn, "diamond_request", None)
        conn.diamond_request = None
        if data is not None:
            conn.data_ready = True
            conn.sock.setblocking(True)
            conn.init()
            conn.parser.unreader.unread(data)
            # Any read the parser still makes (a request the framing check handed over
            # early) gives up after the same timeout instead of holding this thread.
            seconds = max(1, int(self.read_timeout))
            conn.sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", seconds, 0)
            )
        return super().handle(conn)
