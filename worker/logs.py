"""Logging setup with a filter that scrubs secrets from every record.

Secrets are registered once (``register_secret``) when settings are loaded; any
log line that would contain one shows ``***`` instead.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

_SECRETS: set[str] = set()
MASK = "***"


def register_secret(value: str) -> None:
    if value and len(value) >= 4:
        _SECRETS.add(value)


def scrub(text: str) -> str:
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class SecretFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _SECRETS:
            message = record.getMessage()
            cleaned = scrub(message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is emitted, not to the stream
    it was at set-up (which a test harness or a daemon may have closed since)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # logging declares it a plain attribute
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:  # StreamHandler.__init__ sets it once: ignored
        pass


def setup_logging(verbose: bool = False) -> None:
    root = logging.getLogger()
    if any(isinstance(f, SecretFilter) for h in root.handlers for f in h.filters):
        return
    handler = _CurrentStderr()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(SecretFilter())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
