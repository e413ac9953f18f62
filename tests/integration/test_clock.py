"""The shared clock: system time, unless the simulated clock is switched on
(``DIAMOND_SIMULATED_CLOCK``: the demo, ``diamond sandbox`` and tests) and a simulated
time is set in Redis."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone

import pytest

from worker import clock
from worker.clock import SIMULATED_NOW_KEY, now, set_simulated_now

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
    monkeypatch.setattr(clock, "_warned", False)  # a fresh process
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
def test_an_actors_run_time_follows_its_process_settings_not_the_environment(
    redis_client, monkeypatch
):
    # An actor's process read its settings once; the clock takes the flag from them.
    monkeypatch.setenv("DIAMOND_SIMULATED_CLOCK", "1")
    monkeypatch.setattr(clock, "_warned", True)
    set_simulated_now(redis_client, SIMULATED)
    assert _is_system_time(clock.run_time(None, redis_client, simulated=False))
    monkeypatch.setenv("DIAMOND_SIMULATED_CLOCK", "0")
    assert clock.run_time(None, redis_client, simulated=True) == SIMULATED
