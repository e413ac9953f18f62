"""The shared clock: system time unless a simulated time is set in Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from worker.clock import now, set_simulated_now


@pytest.mark.integration
def test_simulated_time_is_seen_through_redis_and_can_be_cleared(redis_client):
    shanghai = timezone(timedelta(hours=8))
    set_simulated_now(redis_client, datetime(2026, 11, 23, 9, 0, tzinfo=shanghai))
    assert now(redis_client) == datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    set_simulated_now(redis_client, None)
    assert abs(now(redis_client) - datetime.now(UTC)) < timedelta(seconds=5)


def test_naive_simulated_time_is_refused():
    with pytest.raises(ValueError):
        set_simulated_now(None, datetime(2026, 1, 1))  # type: ignore[arg-type]
