"""The progress display: phase headers, result lines, and one live status line.

On a terminal the status line is redrawn in place (simulated date, jobs in
flight, Diamond's forum calls, wall time); in a log or a pipe it is printed
at most every few seconds, so CI output stays readable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

PIPE_STATUS_EVERY = 5.0  # seconds between status lines when not on a terminal


class Progress:
    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.quiet = quiet
        self.started = time.monotonic()
        self._status = ""
        self._last_status_print = 0.0
        self.phase_number = 0
        self.phase_count = 0

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _clear(self) -> None:
        if self.tty and self._status:
            self.stream.write("\r\x1b[K")
            self._status = ""

    def line(self, text: str = "") -> None:
        if self.quiet:
            return
        self._clear()
        self.stream.write(text + "\n")
        self.stream.flush()

    def phase(self, title: str) -> None:
        self.phase_number += 1
        counter = f"{self.phase_number}/{self.phase_count}" if self.phase_count else ""
        self.line(f"\n▸ {counter} {title}".rstrip() if counter else f"\n▸ {title}")

    def result(self, text: str) -> None:
        self.line(f"    {text}")

    def warn(self, text: str) -> None:
        self.line(f"    ! {text}")

    def status(self, text: str) -> None:
        if self.quiet:
            return
        text = f"    … {text}  [{self.elapsed():5.1f} s]"
        if self.tty:
            width = 120
            self.stream.write("\r\x1b[K" + text[:width])
            self.stream.flush()
            self._status = text
        elif time.monotonic() - self._last_status_print >= PIPE_STATUS_EVERY:
            self._last_status_print = time.monotonic()
            self.stream.write(text + "\n")
            self.stream.flush()

    def done(self) -> None:
        self._clear()
        self.stream.flush()
