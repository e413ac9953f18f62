"""The demo's machinery: Redis, the sandbox forum, the receiver and the workers on loopback.

    with DemoStack.start(workdir) as stack:
        stack.settings, stack.redis, stack.sandbox, stack.wait_idle(), stack.failed_jobs()

Everything runs on 127.0.0.1 with free ports and a fresh temporary directory,
so two runs never share state. The receiver (``diamond serve``) and the workers
(``diamond worker``) are child processes in their own process groups, started
exactly as an operator would start them, with the demo's environment; their
output goes to ``<workdir>/logs``. ``stop()`` ends them (and only them) in order:
workers, receiver, sandbox, Redis; it is safe to call twice and runs on Ctrl-C.

The sandbox forum lives in this process (a thread), with its clock bound to
the shared simulated clock (``worker.clock``), so what members post is stamped
with simulated time.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import redis
import requests

from worker import clock
from worker.redis_server import EmbeddedRedis, free_port
from worker.settings import SIMULATED_CLOCK_VAR, Settings, load_settings
from worker.state import keys

log = logging.getLogger(__name__)

QUEUE_PREFIX = keys.QUEUE_PREFIX  # dramatiq's namespace (worker.pipeline.broker.NAMESPACE)
DEMO_MARKER_KEY = keys.DEMO_MARKER  # an external Redis is reused only if it holds this
API_USERNAME = "system"  # Diamond acts as the forum's system user, as a real install may


class DemoError(RuntimeError):
    """The demo cannot go on; the message says why (and where the logs are)."""


def _libc() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
    except OSError:
        return None


_LIBC = _libc()  # resolved here: the child between fork and exec must not load libraries
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM if the demo process dies (Linux only)."""
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class ChildProcess:
    """A child command in its own process group, with its log file."""

    name: str
    argv: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    def start(self, env: dict[str, str]) -> ChildProcess:
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the demo only; it stops us in order
            preexec_fn=_die_with_parent if _LIBC is not None else None,
        )
        return self

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM to the leader (it stops its own children), then SIGKILL the group."""
        proc = self.process
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log.warning("demo: %s did not stop in %.0f s; killing it", self.name, timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # stragglers of its group, if any
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        if self._log:
            self._log.close()
        self.process = None

    def tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class StackOptions:
    worker_processes: int = 1
    worker_threads: int = 8
    receiver_threads: int = 4
    rules_dir: Path | None = None
    plugin_config_dir: Path | None = None
    # (limit, window seconds) of the sandbox's admin API bucket; None: no limit
    forum_rate_limit: tuple[int, float] | None = None
    # Diamond's own budget (DIAMOND_API_REQUESTS_PER_MINUTE); high: the sandbox has no limit
    api_requests_per_minute: int = 10_000
    api_window_seconds: float = 60.0  # DIAMOND_API_WINDOW_SECONDS: compressed in benchmarks
    extra_env: dict[str, str] = field(default_factory=dict)
    # Set on the shared clock before anything starts (the sandbox stamps its seed data).
    simulated_start: datetime | None = None


def project_dir(name: str) -> Path:
    """``rules/`` or ``plugin_config/``: from the current directory, else the checkout."""
    here = Path.cwd() / name
    if here.is_dir():
        return here
    checkout = Path(__file__).resolve().parents[2] / name
    if checkout.is_dir():
        return checkout
    raise DemoError(f"cannot find {name}/ in {Path.cwd()} or next to the worker package")


class DemoStack:
    """Redis + sandbox + receiver + workers; see the module docstring."""

    def __init__(self, workdir: Path, options: StackOptions | None = None) -> None:
        self.workdir = workdir
        self.options = options or StackOptions()
        self.logs_dir = workdir / "logs"
        self.redis_server: EmbeddedRedis | None = None
        self.redis_url = ""
        self.redis: redis.Redis | None = None
        self.sandbox: Any = None  # worker.sandbox.RunningSandbox
        self.children: list[ChildProcess] = []
        self.env: dict[str, str] = {}
        self.settings: Settings | None = None
        self.receiver_port = 0
        self.forum_port = 0
        self._stopped = False

    # ------------------------------------------------------------------ start

    @classmethod
    def start(cls, workdir: Path, options: StackOptions | None = None) -> DemoStack:
        stack = cls(workdir, options)
        stack.start_all()
        return stack

    def start_all(self) -> None:
        """Start everything; on any failure (or Ctrl-C) stop what was started."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self._start_redis()
        self._prepare_env()
        # Children first: they import for a second or two while the sandbox comes up.
        self.children.append(
            ChildProcess("receiver", self._receiver_argv(), self.logs_dir / "receiver.log")
        )
        self.children.append(
            ChildProcess("worker", self._worker_argv(), self.logs_dir / "worker.log")
        )
        for child in self.children:
            child.start(self.env)
        self._start_sandbox()
        self._wait_for_receiver()

    def _start_redis(self) -> None:
        external = os.environ.get("DIAMOND_REDIS_URL", "").strip()
        if external:
            client = redis.Redis.from_url(external)
            keys = client.dbsize()
            if keys and not client.exists(DEMO_MARKER_KEY):
                raise DemoError(
                    f"DIAMOND_REDIS_URL holds {keys} keys that are not the demo's; the demo "
                    "needs an empty database (e.g. redis://localhost:6379/15) or no "
                    "DIAMOND_REDIS_URL at all (then it starts its own Redis)"
                )
            client.flushdb()  # only a previous demo's keys: a fresh run starts clean
            self.redis_url = external
        else:
            data_dir = self.workdir / "redis"
            data_dir.mkdir(parents=True, exist_ok=True)
            self.redis_server = EmbeddedRedis(data_dir=data_dir).start()
            self.redis_url = self.redis_server.url
        self.redis = redis.Redis.from_url(self.redis_url, socket_connect_timeout=2)
        self.redis.set(DEMO_MARKER_KEY, "1")
        if self.options.simulated_start is not None:
            clock.set_simulated_now(self.redis, self.options.simulated_start)

    def _prepare_env(self) -> None:
        opts = self.options
        self.receiver_port = free_port()
        # The children get the forum URL before the sandbox exists, so its port is fixed now.
        self.forum_port = free_port()
        api_key = "demo-" + secrets.token_hex(12)
        webhook_secret = "demo-hook-" + secrets.token_hex(12)
        rules_dir = (opts.rules_dir or project_dir("rules")).resolve()
        config_dir = (opts.plugin_config_dir or project_dir("plugin_config")).resolve()
        self._api_key = api_key
        # Every Diamond variable is set here, so an operator's own DIAMOND_* (a real forum!)
        # can never leak into the demo.
        diamond = {
            "DIAMOND_FORUM_URL": f"http://127.0.0.1:{self.forum_port}",
            "DIAMOND_API_KEY": api_key,
            "DIAMOND_API_USERNAME": API_USERNAME,
            "DIAMOND_WEBHOOK_SECRET": webhook_secret,
            "DIAMOND_RECEIVER_URL": f"http://127.0.0.1:{self.receiver_port}/webhook",
            "DIAMOND_REDIS_URL": self.redis_url,
            "DIAMOND_RULES_DIR": str(rules_dir),
            "DIAMOND_PLUGIN_CONFIG_DIR": str(config_dir),
            "DIAMOND_API_REQUESTS_PER_MINUTE": str(opts.api_requests_per_minute),
            "DIAMOND_API_WINDOW_SECONDS": str(opts.api_window_seconds),
            "DIAMOND_MODE": "live",
            "DIAMOND_SIMULATED_CLOCK": "1",  # weeks in minutes, on the clock kept in Redis
            "DIAMOND_TIMEZONE": "",
            "DIAMOND_EXTRA_ACTOR_MODULES": "",
            # Failures retry within a second or two, not minutes: simulated weeks are short.
            "DIAMOND_MIN_BACKOFF_MS": "200",
            "DIAMOND_MAX_BACKOFF_MS": "2000",
            "DIAMOND_MAX_RETRIES": "3",
            "DIAMOND_HEARTBEAT_TIMEOUT_MS": "10000",
            **opts.extra_env,
        }
        # This process reads the simulated clock too (timeline, the sandbox's clock).
        os.environ[SIMULATED_CLOCK_VAR] = "1"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DIAMOND_")}
        self.env.update(diamond)
        self.env["PYTHONUNBUFFERED"] = "1"
        # dramatiq's idle consumers poll with a backoff up to this many ms (default 1000);
        # simulated weeks hand the worker a job every few hundred ms, so poll briskly.
        self.env["dramatiq_worker_timeout"] = "50"

    def _start_sandbox(self) -> None:
        from worker.sandbox import start_sandbox

        shared = redis.Redis.from_url(self.redis_url, socket_connect_timeout=2)
        self.sandbox = start_sandbox(
            port=self.forum_port,
            api_key=self._api_key,
            rate_limit=self.options.forum_rate_limit,
            clock=lambda: clock.now(shared),
        )
        fields = {
            name: self.env[f"DIAMOND_{name.upper()}"]
            for name in Settings.model_fields
            if f"DIAMOND_{name.upper()}" in self.env
        }
        self.settings = load_settings(**fields)

    def _receiver_argv(self) -> list[str]:
        return [
            sys.executable, "-m", "worker", "serve",
            "--bind", f"127.0.0.1:{self.receiver_port}",
            "--workers", "1", "--threads", str(self.options.receiver_threads),
        ]  # fmt: skip

    def _worker_argv(self) -> list[str]:
        return [
            sys.executable, "-m", "worker", "worker",
            "--processes", str(self.options.worker_processes),
            "--threads", str(self.options.worker_threads),
            "--shutdown-timeout-ms", "3000",
        ]  # fmt: skip

    def _wait_for_receiver(self, timeout: float = 30.0) -> None:
        url = f"http://127.0.0.1:{self.receiver_port}/healthz"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_children()
            with contextlib.suppress(requests.RequestException):
                if requests.get(url, timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise DemoError(f"the receiver did not answer on {url} in {timeout:.0f} s")

    # ------------------------------------------------------------------ while running

    def check_children(self) -> None:
        """Raise ``DemoError`` with the log tail if a child process has died."""
        for child in self.children:
            if child.process is not None and not child.alive():
                raise DemoError(
                    f"the {child.name} process exited ({child.process.returncode}); "
                    f"last lines of {child.log_path}:\n{child.tail()}"
                )

    def pending_jobs(self) -> int:
        """Jobs queued, delayed or running in any queue (dramatiq's ``.msgs`` hashes)."""
        assert self.redis is not None
        total = 0
        for key in self.redis.scan_iter(match=f"{QUEUE_PREFIX}*.msgs", count=200):
            name = key.decode()
            if name.endswith(".XQ.msgs"):
                continue
            total += int(self.redis.hlen(key))
        return total

    def failed_jobs(self) -> int:
        """Jobs given up on (dead-lettered)."""
        assert self.redis is not None
        return sum(
            int(self.redis.hlen(key))
            for key in self.redis.scan_iter(match=f"{QUEUE_PREFIX}*.XQ.msgs", count=200)
        )

    def wait_idle(
        self, timeout: float = 60.0, on_wait: Callable[[int], None] | None = None
    ) -> None:
        """Until every webhook is delivered and every job (and what it caused) is done."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while True:
            delivered = self.sandbox.wait_idle(timeout=max(0.1, deadline - time.monotonic()))
            pending = self.pending_jobs()
            if delivered and pending == 0:
                quiet += 1
                if quiet >= 2:  # twice in a row: a job's webhook may have been in flight
                    return
                time.sleep(0.02)
                continue
            quiet = 0
            if on_wait is not None:
                on_wait(pending)
            if time.monotonic() > deadline:
                raise DemoError(
                    f"the pipeline did not settle in {timeout:.0f} s ({pending} jobs pending); "
                    f"see {self.logs_dir}"
                )
            self.check_children()
            time.sleep(0.03)

    # ------------------------------------------------------------------ stop

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        for child in reversed(self.children):  # workers first: nothing acts on the forum
            child.stop()
        if self.sandbox is not None:
            with contextlib.suppress(Exception):
                self.sandbox.stop()
        if self.redis is not None:
            with contextlib.suppress(Exception):
                self.redis.close()
        if self.redis_server is not None:
            self.redis_server.stop()

    def __enter__(self) -> DemoStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def child_pids(self) -> list[int]:
        return [c.pid for c in self.children if c.pid]


@contextlib.contextmanager
def running_stack(workdir: Path, options: StackOptions | None = None) -> Iterator[DemoStack]:
    stack = DemoStack.start(workdir, options)
    try:
        yield stack
    finally:
        stack.stop()
