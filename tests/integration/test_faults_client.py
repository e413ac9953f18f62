"""The client under forum faults: idempotent reads are retried inside the attempt."""

from __future__ import annotations

import pytest
import responses

from worker.forum.client import ForumClient, ReadRetry
from worker.forum.errors import ForumUnavailable
from worker.pipeline import runtime

pytestmark = pytest.mark.integration


def _client(url: str, key: str, sleeps: list[float]) -> ForumClient:
    return ForumClient(url, key, "system", timeout=(2, 10), sleep=sleeps.append)


def test_a_job_of_many_reads_succeeds_under_a_fifth_of_answers_failing(sandbox) -> None:
    sleeps: list[float] = []
    client = _client(sandbox.url, sandbox.api_key, sleeps)
    sandbox.faults.seed(19)
    sandbox.add_fault("GET *:500=0.1,502=0.1")
    for _ in range(40):  # 0.8**40: without retries this never gets through
        client.list_badges()
    assert any(status for _, _, status, _ in sandbox.faults.injected)
    assert sleeps and max(sleeps) <= 30


def test_a_write_that_failed_with_5xx_is_not_resent_by_the_client(sandbox) -> None:
    sleeps: list[float] = []
    client = _client(sandbox.url, sandbox.api_key, sleeps)
    sandbox.add_fault("POST /posts.json:502=1")
    with pytest.raises(ForumUnavailable):
        client.create_topic("A title long enough", "a body long enough to post", 1)
    assert len(sandbox.faults.injected) == 1  # sent once: its outcome is the caller's to check


@responses.activate
def test_a_read_retry_honours_retry_after_and_gives_up_after_its_bound() -> None:
    url = "https://forum.example/admin/badges.json"
    responses.get(url, status=503, headers={"Retry-After": "7"}, body="down")
    sleeps: list[float] = []
    client = _client("https://forum.example", "k" * 20, sleeps)
    with pytest.raises(ForumUnavailable):
        client.list_badges()
    assert sleeps and all(s == 7 for s in sleeps)  # under the cap
    assert len(responses.calls) == len(sleeps) + 1


@responses.activate
def test_a_clients_read_retry_policy_sets_how_often_and_how_long_it_re_reads() -> None:
    responses.get("https://forum.example/admin/badges.json", status=502, body="down")
    sleeps: list[float] = []
    policy = ReadRetry(attempts=3, base_wait=0.01, max_wait=0.03)
    client = ForumClient("https://forum.example", "k" * 20, sleep=sleeps.append, read_retry=policy)
    with pytest.raises(ForumUnavailable):
        client.list_badges()
    assert sleeps == [0.01, 0.02, 0.03]  # doubling, capped
    assert len(responses.calls) == 4


def test_the_workers_client_retries_reads_as_the_process_was_configured(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIAMOND_FORUM_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("DIAMOND_API_KEY", "k" * 20)
    quick = ReadRetry(base_wait=0.01, max_wait=0.05)
    runtime.configure(redis_url=redis_url)
    assert runtime.forum().read_retry == ReadRetry()  # production's, unless configured
    runtime.configure(read_retry=quick)
    assert runtime.forum().read_retry == quick
