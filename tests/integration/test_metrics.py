"""Prometheus metrics: what the forum calls cost, what failed, when the work last succeeded.

Counted in Redis by every process (one API budget for the whole site) and served by the
receiver's ``/metrics``; these tests read that exposition as Prometheus would.
"""

from __future__ import annotations

import time

import dramatiq
import pytest
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.test import Client

from tests.support.pipeline import wait_for
from worker import metrics
from worker.forum.client import ForumClient
from worker.forum.errors import ForumRejected, RateLimited
from worker.forum.ratelimit import RedisRateLimiter
from worker.pipeline import health
from worker.pipeline.broker import setup_broker
from worker.pipeline.jobs import diamond_actor
from worker.pipeline.receiver import Receiver, ReceiverConfig

pytestmark = pytest.mark.integration

QUEUE = "metrics-test"
FAIL = {"on": True}
DONE: list[str] = []


@diamond_actor(queue=QUEUE, time_limit=30, max_retries=0)
def sometimes_refused(name: str) -> None:
    if FAIL["on"]:
        raise ForumRejected("no such group", status=422, path="PUT /groups/{id}/members.json")
    DONE.append(name)


def scrape(app: Receiver, **headers: str) -> tuple[int, dict[tuple[str, tuple], float]]:
    """``GET /metrics`` → (status, {(sample name, sorted labels): value})."""
    response = Client(app).get("/metrics", headers=headers)
    if response.status_code != 200:
        return response.status_code, {}
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return 200, samples


@pytest.fixture
def receiver(redis_url, redis_client):
    broker = setup_broker(redis_url)
    return Receiver(ReceiverConfig(secret="s" * 32, api_username="diamond"), broker, redis_client)


def test_forum_calls_are_counted_by_endpoint_with_429s_and_budget_waits(
    sandbox, redis_client, receiver
):
    waits: list[float] = []
    limiter = RedisRateLimiter(redis_client, limit=2, period=0.5)
    client = ForumClient(
        sandbox.url,
        sandbox.api_key,
        limiter=limiter,
        on_limit="wait",
        counts_redis=redis_client,
        sleep=lambda s: (waits.append(s), time.sleep(s)),
    )
    for _ in range(3):  # the third waits for the budget
        client.list_badges()
    sandbox.add_fault("GET /groups.json:429=1,wait=7")
    worker_client = ForumClient(
        sandbox.url, sandbox.api_key, on_limit="raise", counts_redis=redis_client
    )
    with pytest.raises(RateLimited):
        worker_client.list_groups()

    status, samples = scrape(receiver)
    assert status == 200
    badges = (("endpoint", "/admin/badges.json"), ("method", "GET"))
    groups = (("endpoint", "/groups.json"), ("method", "GET"))
    assert samples[("diamond_forum_calls_total", badges)] == 3
    assert samples[("diamond_forum_rate_limited_total", groups)] == 1
    assert samples[("diamond_forum_budget_waits_total", ())] == len(waits) >= 1
    assert samples[("diamond_forum_budget_wait_seconds_total", ())] == pytest.approx(sum(waits))


def test_dead_lettered_jobs_and_the_last_success_are_exposed(redis_url, redis_client, receiver):
    broker = receiver.broker
    broker.add_middleware(health.Heartbeat(lambda: redis_client, lambda: "ok", every=0.2))
    worker = dramatiq.Worker(broker, queues={QUEUE, QUEUE + ".DQ"}, worker_threads=1)
    worker.start()
    try:
        FAIL["on"], DONE[:] = True, []
        sometimes_refused.send("alice")
        wait_for(lambda: redis_client.hlen(f"diamond:{QUEUE}.XQ.msgs") == 1, "dead letter")
        FAIL["on"] = False
        before = time.time()
        sometimes_refused.send("bob")
        wait_for(lambda: DONE == ["bob"], "the job")
        wait_for(
            lambda: scrape(receiver)[1].get(
                (
                    "diamond_job_last_success_timestamp_seconds",
                    (("actor", "test_metrics.sometimes_refused"),),
                )
            ),
            "last success",
        )
        _, samples = scrape(receiver)
    finally:
        worker.stop()
    actor = (("actor", "test_metrics.sometimes_refused"),)
    assert samples[("diamond_jobs_dead_lettered_total", actor)] == 1
    assert samples[("diamond_dead_letter_jobs", (("queue", QUEUE),))] == 1
    assert samples[("diamond_job_last_success_timestamp_seconds", actor)] >= before - 1
    assert samples[("diamond_forum_key_ok", ())] == 1


def test_refused_webhooks_are_counted_by_status(receiver):
    client = Client(receiver)
    for _ in range(2):
        client.post("/webhook", data=b"{}", headers={"X-Discourse-Event-Signature": "sha256=0"})
    _, samples = scrape(receiver)
    assert samples[("diamond_webhooks_refused_total", (("status", "401"),))] == 2


def test_metrics_need_no_signature_but_are_not_served_through_a_proxy(receiver):
    assert scrape(receiver)[0] == 200
    # The TLS proxy forwards webhooks from the internet; metrics stay on the loopback bind.
    assert scrape(receiver, **{"X-Forwarded-For": "203.0.113.9"})[0] == 404
    assert scrape(receiver, Forwarded="for=203.0.113.9")[0] == 404


def test_healthz_tells_the_workers_key_state_and_last_success_from_the_heartbeats(
    receiver, redis_client
):
    client = Client(receiver)
    answer = client.get("/healthz")
    assert answer.status_code == 200  # the receiver itself is fine: Redis answers
    body = answer.get_json()
    assert body["redis"] == "ok" and body["status"] == "degraded"
    assert "no worker heartbeat" in " ".join(body["problems"])

    health.beat(redis_client, "worker", forum="refused: the forum refused the API key (403)")
    redis_client.hset(metrics.LAST_SUCCESS_KEY, "obligations.weekly_audit", time.time() - 60)
    body = client.get("/healthz").get_json()
    assert body["status"] == "degraded"
    assert body["worker"]["forum"].startswith("refused")
    assert body["worker"]["last_success"]["job"] == "obligations.weekly_audit"
    assert 59 <= body["worker"]["last_success"]["seconds_ago"] <= 65

    health.beat(redis_client, "worker", forum="ok")
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok" and body["worker"]["heartbeat_seconds_ago"] < 5


def test_the_worker_exposes_dramatiqs_job_metrics_on_the_configured_port(monkeypatch):
    from worker.commands.worker import prometheus_env
    from worker.pipeline.config import PipelineSettings

    monkeypatch.setenv("DIAMOND_WORKER_METRICS_PORT", "9300")
    assert PipelineSettings().worker_metrics_port == 9300  # the port is configured so
    environ: dict[str, str] = {}
    prometheus_env(environ, PipelineSettings(worker_metrics_port=9300))
    assert environ["dramatiq_prom_port"] == "9300"
    environ = {}
    prometheus_env(environ, PipelineSettings(worker_metrics_port=0))  # off
    assert "dramatiq_prom_port" not in environ
