"""Keeps the last good rules of a running process while moderators edit the files.

A reload that fails leaves the current rules in place and records the problems,
so a typo saved mid-week never makes the worker act on half-valid rules.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

from worker.rules.loader import load_rules
from worker.rules.models import Rules
from worker.rules.problems import Problem, RulesInvalid

log = logging.getLogger("diamond.rules")


def fingerprint(directory: Path) -> str:
    """A digest of every YAML file's name and content under ``directory``."""
    digest = hashlib.sha256()
    for path in sorted(Path(directory).rglob("*")):
        if path.is_file() and path.suffix in (".yml", ".yaml"):
            digest.update(path.relative_to(directory).as_posix().encode())
            try:
                digest.update(path.read_bytes())
            except OSError:
                digest.update(b"\0unreadable")
    return digest.hexdigest()


class RulesHolder:
    """The current valid ``Rules`` of a directory, reloaded when its files change.

    The constructor loads once and raises ``RulesInvalid`` when that fails: a
    process must not start without good rules. After that, ``get()`` checks the
    files at most every ``check_every`` seconds and never raises for bad files.
    """

    def __init__(
        self,
        directory: Path | str,
        *,
        check_every: float = 5.0,
        on_problems: Callable[[list[Problem]], None] | None = None,
        on_loaded: Callable[[Rules], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        loader: Callable[[Path], Rules] = load_rules,
    ) -> None:
        self.directory = Path(directory)
        self.check_every = check_every
        self._on_problems = on_problems
        self.on_loaded = on_loaded  # after every load that takes effect (the first one too)
        self._clock = clock
        self._loader = loader
        self.problems: list[Problem] = []  # of the latest failed reload; empty when current
        self._fingerprint = fingerprint(self.directory)
        self._rules = loader(self.directory)
        self._checked_at = clock()
        if on_loaded:
            on_loaded(self._rules)

    @property
    def rules(self) -> Rules:
        return self._rules

    def get(self) -> Rules:
        """The current rules, after a reload if the files changed since the last check."""
        if self._clock() - self._checked_at >= self.check_every:
            self.reload()
        return self._rules

    def reload(self, *, force: bool = False) -> bool:
        """Reload if the files changed (or ``force``); True when new rules took effect."""
        self._checked_at = self._clock()
        current = fingerprint(self.directory)
        if current == self._fingerprint and not force:
            return False
        self._fingerprint = current
        try:
            rules = self._loader(self.directory)
        except RulesInvalid as exc:
            self.problems = exc.problems
            log.error(
                "rules in %s have %d problem(s); keeping the last good rules",
                self.directory,
                len(exc.problems),
            )
            for problem in exc.problems:
                log.error("%s", problem)
            if self._on_problems:
                self._on_problems(exc.problems)
            return False
        self._rules = rules
        self.problems = []
        log.info("rules reloaded from %s", self.directory)
        if self.on_loaded:
            self.on_loaded(rules)
        return True
