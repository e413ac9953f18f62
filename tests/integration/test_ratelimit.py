"""The forum request budget, shared through a real Redis by every process."""

from __future__ import annotations

import multiprocessing
import time

import pytest
import redis
import responses

from worker.forum.client import ForumClient
from worker.forum.errors import RateLimited
from worker.forum.ratelimit import LocalRateLimiter, RedisRateLimiter
from worker.settings import load_settings

BASE = "https://forum.example"


def _take(redis_url: str, attempts: int, limit: int, start_at: float, out) -> None:
    """Child process: wait for the common start, then try to take ``attempts`` slots."""
    limiter = RedisRateLimiter(redis.Redis.from_url(redis_url), limit=limit, period=60)
    while time.time() < start_at:
        time.sleep(0.001)
    out.put(sum(1 for _ in range(attempts) if limiter.acquire() == 0))


@pytest.mark.integration
def test_two_processes_share_one_budget(redis_url) -> None:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    start_at = time.time() + 1.5  # both children are up before either takes a slot
    workers = [
        context.Process(target=_take, args=(redis_url, 30, 20, start_at, out)) for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    granted = [out.get(timeout=30) for _ in workers]
    for worker in workers:
        worker.join(timeout=10)
    assert sum(granted) == 20, granted


@pytest.mark.integration
def test_budget_refuses_past_the_limit_with_the_time_until_a_slot_frees(redis_client) -> None:
    limiter = RedisRateLimiter(redis_client, limit=3, period=10)
    assert [limiter.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.acquire()
    assert 9.0 < wait <= 10.0


@pytest.mark.integration
def test_window_slides_and_frees_slots(redis_client) -> None:
    limiter = RedisRateLimiter(redis_client, limit=2, period=0.3)
    assert limiter.acquire() == 0 and limiter.acquire() == 0
    wait = limiter.acquire()
    assert 0 < wait <= 0.3
    time.sleep(wait + 0.02)
    assert limiter.acquire() == 0


@pytest.mark.integration
def test_refused_attempts_do_not_use_up_the_budget(redis_client) -> None:
    limiter = RedisRateLimiter(redis_client, limit=1, period=0.2)
    assert limiter.acquire() == 0
    for _ in range(20):
        assert limiter.acquire() > 0
    time.sleep(0.25)
    assert limiter.acquire() == 0


@pytest.mark.integration
def test_a_429_pauses_every_limiter_on_the_same_key(redis_client) -> None:
    one = RedisRateLimiter(redis_client, limit=50)
    two = RedisRateLimiter(redis.Redis(connection_pool=redis_client.connection_pool), limit=50)
    other_forum = RedisRateLimiter(redis_client, limit=50, key="diamond:other-forum")
    one.penalize(30)
    assert 29 < two.acquire() <= 30
    assert other_forum.acquire() == 0
    one.penalize(5)  # a shorter pause never cuts a longer one short
    assert two.acquire() > 25


@pytest.mark.integration
def test_clients_in_one_process_share_the_redis_budget(redis_client) -> None:
    limiter = RedisRateLimiter(redis_client, limit=2, period=60)
    worker_a = ForumClient(BASE, "ratelimit-key-a", limiter=limiter)
    worker_b = ForumClient(BASE, "ratelimit-key-a", limiter=RedisRateLimiter(redis_client, limit=2))
    with responses.RequestsMock() as rsps:
        rsps.add("GET", f"{BASE}/admin/badges.json", json={"badges": []})
        worker_a.list_badges()
        worker_b.list_badges()
        with pytest.raises(RateLimited):
            worker_a.list_badges()
        assert len(rsps.calls) == 2


@pytest.mark.integration
def test_from_settings_shares_the_budget_through_redis(redis_url) -> None:
    settings = load_settings(
        forum_url=BASE,
        api_key="from-settings-key-1",
        redis_url=redis_url,
        api_requests_per_minute=7,
    )
    client = ForumClient.from_settings(settings, on_limit="wait")
    assert isinstance(client.limiter, RedisRateLimiter)
    assert client.limiter.limit == 7 and client.limiter.period == 60
    assert client.on_limit == "wait"
    assert client.counts_redis is not None


def test_from_settings_without_redis_limits_the_process_only() -> None:
    settings = load_settings(forum_url=BASE, api_key="from-settings-key-2", redis_url="")
    client = ForumClient.from_settings(settings)
    assert isinstance(client.limiter, LocalRateLimiter)
    assert client.limiter.limit == 50  # DIAMOND_API_REQUESTS_PER_MINUTE default
    assert client.on_limit == "raise"


def test_local_limiter_refuses_then_frees_and_honours_penalties() -> None:
    limiter = LocalRateLimiter(limit=2, period=0.2)
    assert limiter.acquire() == 0 and limiter.acquire() == 0
    assert 0 < limiter.acquire() <= 0.2
    time.sleep(0.21)
    assert limiter.acquire() == 0
    limiter.penalize(5)
    assert limiter.acquire() > 4


@pytest.mark.parametrize("limit,period", [(0, 60), (10, 0)])
def test_limiter_refuses_nonsense_settings(limit, period) -> None:
    with pytest.raises(ValueError):
        LocalRateLimiter(limit=limit, period=period)
