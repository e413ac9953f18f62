"""The client under forum faults: idempotent reads are retried inside the attempt."""

from __future__ import annotations

import pytest
import responses

from worker.forum.client import ForumClient
from worker.forum.errors import ForumUnavailable

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
