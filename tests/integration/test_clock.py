"""The shared clock: system time, unless the simulated clock is switched on
(``DIAMOND_SIMULATED_CLOCK``: the demo, ``diamond sandbox`` and tests) and a simulated
time is set in Redis."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import redis

from worker import clock
from worker.clock import SIMULATED_NOW_KEY, now, set_simulated_now
from worker.forum.client import ForumClient
from worker.pipeline import runtime
from worker.settings import Settings

SHANGHAI = timezone(timedelta(hours=8))
SIMULATED = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)


def _is_system_time(moment: datetime) -> bool:
    return abs(moment - datetime.now(UTC)) < timedelta(seconds=5)


@pytest.mark.integration
def test_simulated_time_is_seen_through_redis_and_can_be_cleared(redis_client, monkeypatch):
    monkeypatch.setenv("DIAMOND_SIMULATED_CLOCK", "1")
    set_simulated_now(redis_client, SIMULATED)
    assert now(redis_client) == datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    set_simulated_now(redis_client, None)
    assert _is_system_time(now(redis_client))


@pytest.mark.integration
def test_with_the_setting_off_a_stray_simulated_key_moves_nothing_and_is_warned_once(
    redis_client, monkeypatch, caplog
):
    monkeypatch.setenv("DIAMOND_SIMULATED_CLOCK", "0")
    redis_client.set(SIMULATED_NOW_KEY, SIMULATED.isoformat())
    with caplog.at_level(logging.WARNING, logger="worker.clock"):
        assert _is_system_time(now(redis_client))
        assert _is_system_time(now(redis_client))
    [warning] = [r for r in caplog.records if r.name == "worker.clock"]
    assert SIMULATED_NOW_KEY in warning.getMessage()
    assert "DIAMOND_SIMULATED_CLOCK" in warning.getMessage()


@pytest.mark.integration
def test_the_setting_is_read_from_the_settings_file_too(redis_client, monkeypatch, tmp_path):
    # `diamond sandbox` writes it into the env file its CLI commands read.
    env = tmp_path / "diamond.env"
    env.write_text("DIAMOND_SIMULATED_CLOCK=1\n")
    monkeypatch.delenv("DIAMOND_SIMULATED_CLOCK", raising=False)
    monkeypatch.setenv("DIAMOND_ENV_FILE", str(env))
    set_simulated_now(redis_client, SIMULATED)
    assert now(redis_client) == SIMULATED
    env.write_text("DIAMOND_SIMULATED_CLOCK=0\n")
    assert _is_system_time(now(redis_client))


def test_naive_simulated_time_is_refused():
    with pytest.raises(ValueError):
        set_simulated_now(None, datetime(2026, 1, 1))  # type: ignore[arg-type]


@pytest.mark.integration
def test_an_actors_clock_follows_its_process_settings_not_the_environment(
    redis_client, monkeypatch
):
    # A worker process read its settings once and chose its clock from them.
    monkeypatch.setenv("DIAMOND_SIMULATED_CLOCK", "1")
    set_simulated_now(redis_client, SIMULATED)
    assert _is_system_time(clock.process_clock(redis_client, simulated=False)())
    monkeypatch.setenv("DIAMOND_SIMULATED_CLOCK", "0")
    assert clock.process_clock(redis_client, simulated=True)() == SIMULATED


class CommandLog:
    """Records the Redis commands sent through a client (its ``execute_command``)."""

    def __init__(self, client: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
        self.commands: list[tuple[Any, ...]] = []
        send = client.execute_command

        def logged(*args: Any, **kwargs: Any) -> Any:
            self.commands.append(args)
            return send(*args, **kwargs)

        monkeypatch.setattr(client, "execute_command", logged)


@pytest.mark.integration
def test_in_production_a_jobs_now_costs_no_redis_round_trip(redis_url, monkeypatch):
    """The worker chooses its clock at start: with the simulated clock off, a job's
    ``now`` is the system clock, not a look for a simulated key in Redis per job."""
    root = Path(__file__).resolve().parents[2]
    settings = Settings(redis_url=redis_url, rules_dir=root / "rules", simulated_clock=False)
    runtime.configure(redis_url=redis_url, settings_obj=settings)
    runtime.configure(forum_client=ForumClient("http://127.0.0.1:9", "unused"))  # no call here
    runtime.step_context()  # the process's set-up
    log = CommandLog(runtime.redis_client(), monkeypatch)
    contexts = [runtime.step_context() for _ in range(3)]
    assert all(_is_system_time(ctx.now) for ctx in contexts)
    assert [c for c in log.commands if SIMULATED_NOW_KEY in c] == []
