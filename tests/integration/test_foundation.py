"""Settings, secrets and the embedded Redis server."""

from __future__ import annotations

import logging

import pytest
import redis

from worker.logs import SecretFilter, register_secret, scrub
from worker.settings import Mode, SettingsError, load_settings


def test_defaults_are_shadow_mode_and_fifty_requests_per_minute(monkeypatch):
    for var in ("DIAMOND_MODE", "DIAMOND_API_REQUESTS_PER_MINUTE", "DIAMOND_API_USERNAME"):
        monkeypatch.delenv(var, raising=False)
    settings = load_settings()
    assert settings.mode is Mode.SHADOW
    assert settings.api_requests_per_minute == 50
    assert settings.api_username == "system"
    assert not settings.live


def test_bad_setting_is_one_line_naming_the_variable(monkeypatch):
    monkeypatch.setenv("DIAMOND_MODE", "loud")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert str(err.value).startswith("DIAMOND_MODE: ")
    assert "\n" not in str(err.value)


def test_missing_required_setting_names_the_variable(monkeypatch):
    monkeypatch.delenv("DIAMOND_FORUM_URL", raising=False)
    settings = load_settings()
    with pytest.raises(SettingsError, match=r"^DIAMOND_FORUM_URL: must be set$"):
        settings.require("forum_url")


def test_secrets_stay_out_of_repr_and_errors(monkeypatch):
    monkeypatch.setenv("DIAMOND_API_KEY", "sekrit-key-123456")
    monkeypatch.setenv("DIAMOND_API_REQUESTS_PER_MINUTE", "many")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert "sekrit" not in str(err.value)
    monkeypatch.setenv("DIAMOND_API_REQUESTS_PER_MINUTE", "40")
    settings = load_settings()
    assert "sekrit" not in repr(settings)
    assert settings.api_key.get_secret_value() == "sekrit-key-123456"


def test_log_records_have_registered_secrets_masked():
    register_secret("hunter2-secret")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "key=%s", ("hunter2-secret",), None)
    SecretFilter().filter(record)
    assert record.getMessage() == "key=***"
    assert scrub("a hunter2-secret b") == "a *** b"


@pytest.mark.integration
def test_embedded_redis_is_a_real_server_that_keeps_data_across_restart(tmp_path):
    from worker.redis_server import EmbeddedRedis

    with EmbeddedRedis(data_dir=tmp_path) as server:
        client = redis.Redis.from_url(server.url)
        client.set("k", "v")
        assert client.info("server")["redis_version"]
        server.restart()
        assert redis.Redis.from_url(server.url).get("k") == b"v"


def test_logging_follows_the_current_stderr_after_the_first_one_is_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io
    import logging
    import sys

    from worker.logs import setup_logging

    root = logging.getLogger()
    saved = list(root.handlers)
    for handler in saved:
        root.removeHandler(handler)
    first, second = io.StringIO(), io.StringIO()
    try:
        monkeypatch.setattr(sys, "stderr", first)
        setup_logging()
        first.close()  # e.g. a test's captured stream, or a daemon's closed terminal
        monkeypatch.setattr(sys, "stderr", second)
        logging.getLogger("worker.test").warning("still heard")
        assert "still heard" in second.getvalue()
        assert "Logging error" not in second.getvalue()
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved:
            root.addHandler(handler)
