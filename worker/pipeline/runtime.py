"""What actors share inside one worker process: settings, rules, Redis, the forum client.

    from worker.pipeline.runtime import forum, redis_client, rules, settings
    ctx = step_context(scheduled_for)                # what an actor hands its step

Built on first use and kept for the process (connection pools are thread-safe).
The Redis client talks to the same Redis as the broker (``setup_broker``).

The process's set-up — settings, the forum client, the rules holder, the mode and which
clock counts — is done once (``process()``, on the first job or at boot); per job
``step_context`` only asks the holder for the rules now and the clock for ``now``.

The rules holder (``RulesHolder``) lives here, not in ``worker.rules``: loading and
checking the files is the rules package's; keeping the last good rules of a running
process while moderators edit them is the process's (the worker's and the scheduler's).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import redis

from worker.rules.loader import load_rules
from worker.rules.models import Rules
from worker.rules.problems import Problem, RulesInvalid
from worker.settings import Settings, load_settings
from worker.steps import StepContext

if TYPE_CHECKING:
    from worker.forum.client import ForumClient, ReadRetry

log = logging.getLogger("diamond.rules")

_lock = threading.Lock()
_state: dict[str, object] = {}


def configure(
    *,
    redis_url: str | None = None,
    settings_obj: Settings | None = None,
    forum_client: ForumClient | None = None,
    read_retry: ReadRetry | None = None,
    claim_lease_seconds: int | None = None,
) -> None:
    """Set what later calls return (``setup_broker`` passes the broker's Redis URL;
    ``forum_client``: the process's forum client instead of one built from the settings,
    say a test's client that watches the calls; ``read_retry``: how the client built from
    the settings retries a read the forum could not answer, ``ReadRetry()`` unless given,
    say a test's story on a shorter clock; ``claim_lease_seconds``: how long the jobs'
    Applier claims outlive a run that died, ``worker.apply.CLAIM_LEASE_SECONDS`` unless
    given)."""
    with _lock:
        if redis_url is not None and _state.get("redis_url") != redis_url:
            _state["redis_url"] = redis_url
            _state.pop("redis", None)
            _state.pop("forum", None)
            _state.pop("process", None)
        if settings_obj is not None:
            _state["settings"] = settings_obj
            _state.pop("forum", None)
            _state.pop("rules", None)
            _state.pop("process", None)
        if forum_client is not None:
            _state["forum"] = forum_client
            _state.pop("process", None)
        if claim_lease_seconds is not None:
            _state["claim_lease_seconds"] = claim_lease_seconds
        if read_retry is not None:
            _state["read_retry"] = read_retry
            if forum_client is None:
                _state.pop("forum", None)
                _state.pop("process", None)


def announce_rule_changes() -> None:
    """This process runs the community (a worker): the rules it loads are recorded as
    loaded and a change is posted to the staff audit log (``worker.pipeline.changelog``)."""
    with _lock:
        _state["announce_rules"] = True
        _state.pop("process", None)  # its rules holder announces from now on


def reset() -> None:
    with _lock:
        _state.clear()


def settings() -> Settings:
    with _lock:
        if "settings" not in _state:
            _state["settings"] = load_settings()
        return _state["settings"]  # type: ignore[return-value]  # _state keeps one object per kind


def redis_client() -> redis.Redis:
    url = _state.get("redis_url") or settings().redis_url
    with _lock:
        if "redis" not in _state:
            if not url:
                raise RuntimeError("no Redis URL: call setup_broker() or set DIAMOND_REDIS_URL")
            _state["redis"] = redis.Redis.from_url(str(url), socket_connect_timeout=2)
        return _state["redis"]  # type: ignore[return-value]  # _state keeps one object per kind


def forum() -> ForumClient:
    """The one forum client of this process (rate limit shared through Redis)."""
    from worker.forum.client import ForumClient, ReadRetry

    cfg, client = settings(), redis_client()
    with _lock:
        if "forum" not in _state:
            # A short wait for the shared budget is waited out in the job: raising would
            # restart the job and redo every call it made, and a job that needs more calls
            # than the budget grants at once would never finish. Long waits still raise.
            _state["forum"] = ForumClient.from_settings(
                cfg,
                client,
                on_limit="wait",
                max_wait=cfg.api_window_seconds / 4,
                read_retry=_state.get("read_retry") or ReadRetry(),
            )
        return _state["forum"]  # type: ignore[return-value]  # _state keeps one object per kind


def rules() -> Rules:
    """The process's last good rules from ``DIAMOND_RULES_DIR``.

    Re-read when the files change; a broken edit is reported and the last good
    rules stay in force (``RulesHolder``). Raises only if the first load fails.
    """
    return rules_holder().get()


def rules_holder() -> RulesHolder:
    """The process's one ``RulesHolder`` (built on first use): ``rules()`` asks it."""
    from worker.pipeline.broker import current_broker
    from worker.pipeline.changelog import rules_changelog_announcer
    from worker.pipeline.notices import rules_problems_notifier

    cfg = settings()
    with _lock:
        if "rules" not in _state:
            # A broken edit is told to the staff on the forum (once), not only logged.
            _state["rules"] = RulesHolder(
                cfg.rules_dir, on_problems=rules_problems_notifier(redis_client, current_broker)
            )
        holder: RulesHolder = _state["rules"]  # type: ignore[assignment]  # _state keeps one object per kind
        # Only the processes that run the community announce: a CLI run (say a dry-run
        # audit with a rehearsal copy of the rules) must not record its rules as loaded.
        announce = holder.on_loaded is None and bool(_state.get("announce_rules"))
    if announce:  # outside the lock: recording the rules needs redis_client()
        # A change of the rules is posted to the staff audit log, once (Redis records it).
        holder.on_loaded = rules_changelog_announcer(redis_client, current_broker)
        holder.on_loaded(holder.rules)
    return holder


# ─────────────── the rules a running process keeps current while moderators edit ───────────────
# A reload that fails leaves the current rules in place and records the problems, so a typo
# saved mid-week never makes the worker act on half-valid rules.


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


@dataclass(frozen=True)
class Process:
    """What a worker process sets up once and hands every job."""

    forum: ForumClient
    redis: redis.Redis
    rules: RulesHolder  # the last good rules, reloaded when the files change
    now: Callable[[], datetime]  # the system clock, or the shared simulated one (demo, tests)
    live: bool


def process() -> Process:
    """This process's set-up, built on first use (settings, client, rules, clock, mode)."""
    from worker import clock

    built = _state.get("process")
    if built is None:
        cfg, client = settings(), redis_client()
        built = Process(
            forum(),
            client,
            rules_holder(),
            clock.process_clock(client, simulated=cfg.simulated_clock),
            cfg.live,
        )
        with _lock:
            _state.setdefault("process", built)
    return built  # type: ignore[return-value]  # _state keeps one object per kind


def step_context(scheduled_for: str | None = None) -> StepContext[ForumClient]:
    """What every actor hands its step: this process's forum (the whole client; each step
    types it by its own Protocol), Redis, the rules now, the run's time (its scheduled time
    if the scheduler gave one, so a late or repeated run does the same thing; else now) and
    the mode."""
    p = process()
    when = datetime.fromisoformat(scheduled_for) if scheduled_for else p.now()
    lease = _state.get("claim_lease_seconds")
    lease = lease if isinstance(lease, int) else None  # the Applier's own unless configured
    return StepContext(p.forum, p.redis, p.rules.get(), when, p.live, lease)
