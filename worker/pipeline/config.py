"""Knobs of the pipeline, from the environment (prefix ``DIAMOND_``).

They live here rather than in ``worker.settings`` because only the pipeline's
processes read them; every one has a safe default, so none must be set.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PipelineSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DIAMOND_", extra="ignore", frozen=True)

    # A worker silent for this long is presumed dead; its unacknowledged jobs go back
    # to the queue. Longer than the longest actor time limit is not required: a live
    # worker heartbeats while it runs a job.
    heartbeat_timeout_ms: int = Field(default=60_000, ge=1_000)
    # Out of a million broker commands, how many also run queue maintenance
    # (the requeue of a dead worker's jobs). dramatiq's default is 1000.
    maintenance_chance: int = Field(default=1_000, ge=1, le=1_000_000)
    # How long a delivery id / event identity is remembered to drop duplicates.
    dedup_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    # Default bounded retry policy of actors (errors other than rate limits).
    max_retries: int = Field(default=5, ge=0, le=50)
    min_backoff_ms: int = Field(default=10_000, ge=10)
    max_backoff_ms: int = Field(default=15 * 60_000, ge=10)
    # Retries of a forum (or Redis) that cannot answer now (5xx, timeout, 429) are not
    # failures: they go on, with backoff capped at retry_max_backoff_ms, for this long
    # after the job's first failure, so an outage of hours is waited out.
    retry_window_seconds: int = Field(default=24 * 3600, ge=3600)
    retry_max_backoff_ms: int = Field(default=5 * 60_000, ge=10)
    # Scheduler: a run missed by less than this is still made (on start or recovery).
    misfire_grace_seconds: int = Field(default=3600, ge=1)
    catchup_interval_minutes: int = Field(default=5, ge=1, le=60)
    # A staff notice (jobs that gave up, rules that do not load) is posted at most once
    # per condition in this window; later occurrences are counted into the next one.
    notice_window_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    # dramatiq's Prometheus exposition server of `diamond worker` (per-job metrics); 0: off.
    worker_metrics_port: int = Field(default=9191, ge=0, le=65535)
    # Empty: the community time zone from the rules, else Asia/Shanghai.
    timezone: str = ""


@lru_cache(maxsize=1)
def pipeline_settings() -> PipelineSettings:
    from worker.settings import env_file

    return PipelineSettings(_env_file=env_file())  # type: ignore[call-arg]  # pydantic-settings' init kwarg
