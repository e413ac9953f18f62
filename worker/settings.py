"""Process settings from the environment (prefix ``DIAMOND_``).

Secrets are ``SecretStr`` so they never show in reprs, logs or error messages.
A missing or bad setting becomes one line naming the variable (``SettingsError``).

The ``diamond`` command also reads ``.env`` in the current directory (or the file
``DIAMOND_ENV_FILE`` names); variables set in the environment win over the file.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, TypeAdapter, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from worker.logs import register_secret

ENV_PREFIX = "DIAMOND_"
ENV_FILE_VAR = "DIAMOND_ENV_FILE"
SIMULATED_CLOCK_VAR = "DIAMOND_SIMULATED_CLOCK"


def env_file() -> Path | None:
    """The dotenv file settings are read from (set by the CLI), if any."""
    value = os.environ.get(ENV_FILE_VAR, "").strip()
    return Path(value) if value else None


def use_env_file(directory: Path | None = None) -> Path | None:
    """Make ``.env`` in ``directory`` (default: the current one) the settings file, unless
    ``DIAMOND_ENV_FILE`` already names one. Child processes (dramatiq workers) inherit it."""
    chosen = env_file()
    if chosen is None:
        candidate = (directory or Path.cwd()) / ".env"
        if candidate.is_file():
            os.environ[ENV_FILE_VAR] = str(candidate.resolve())
            chosen = candidate
    return chosen


def redacted_url(url: str) -> str:
    """A Redis URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return parts._replace(netloc=f"{parts.username or ''}:***@{host}{port}").geturl()
    return url


class Mode(StrEnum):
    SHADOW = "shadow"  # decide, log and report, but do not act on members
    LIVE = "live"


class SettingsError(Exception):
    """A setting is missing or invalid; the message is one line per variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=None,
        extra="ignore",
        frozen=True,
    )

    forum_url: str = Field(default="", description="Base URL of the Discourse forum")
    # Where members reach the forum, for the links in PMs and posts (empty: forum_url); differs
    # when Diamond calls the API on an internal address (http://discourse:3000).
    forum_public_url: str = Field(default="", description="Public URL of the forum, for links")
    api_key: SecretStr = Field(default=SecretStr(""), description="Discourse admin API key")
    api_username: str = "system"
    webhook_secret: SecretStr = Field(default=SecretStr(""))
    # Public URL of the receiver that Discourse's webhook posts to (`diamond apply` sets it).
    receiver_url: str = Field(default="", description="Webhook payload URL (the receiver)")
    redis_url: str = Field(default="", description="Empty: start an embedded Redis server")
    rules_dir: Path = Path("rules")
    plugin_config_dir: Path = Path("plugin_config")
    api_requests_per_minute: int = Field(default=50, ge=1, le=10_000)
    # The window of that budget: a minute, like Discourse's bucket. Only benchmarks and the
    # demo shorten it, against a sandbox whose window is compressed the same way.
    api_window_seconds: float = Field(default=60.0, gt=0, le=3600)
    # How long a new topic's first post waits for the topic's signed ``topic_created`` body
    # before reading the topic: one wait per entry (ms). Discourse's two deliveries usually
    # come within a second; a lost one is waited for no longer than these in all.
    topic_waits_ms: tuple[int, ...] = Field(default=(2_000, 8_000), max_length=5)
    mode: Mode = Mode.SHADOW
    # The demo's simulated clock (a time kept in Redis) is honoured only when this is on:
    # the demo, `diamond sandbox` and tests set it; production never does.
    simulated_clock: bool = False

    @field_validator("forum_url", "forum_public_url")
    @classmethod
    def _forum_url_is_http(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url_scheme(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @property
    def public_url(self) -> str:
        """The forum's address as members see it: the links Diamond writes start here."""
        return self.forum_public_url or self.forum_url

    @property
    def live(self) -> bool:
        return self.mode is Mode.LIVE

    def require(self, *names: str) -> None:
        """Fail with one line per empty setting that a command needs."""
        missing = [ENV_PREFIX + name.upper() for name in names if not _plain(getattr(self, name))]
        if missing:
            raise SettingsError(
                "\n".join(f"{var}: must be set{_HINTS.get(var, '')}" for var in missing)
            )


_HINTS = {
    # Only the demo and the sandbox start a Redis of their own; every other command
    # shares the deployment's Redis (jobs, ledger, rate limit), so it must be named.
    "DIAMOND_REDIS_URL": (
        " (e.g. redis://localhost:6379/0; only `diamond demo` starts an embedded Redis)"
    ),
}


def _plain(value: object) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return str(value or "")


def simulated_clock_setting() -> bool:
    """``DIAMOND_SIMULATED_CLOCK`` (``Settings.simulated_clock``), read afresh from the
    environment, else from the settings file, as ``load_settings`` would: ``clock.now``
    asks on every call, and building all the settings there would be wasted work."""
    raw = os.environ.get(SIMULATED_CLOCK_VAR)
    if raw is None:
        dotenv = env_file()
        if dotenv is None or not dotenv.is_file():
            return False
        from dotenv import dotenv_values

        raw = dotenv_values(dotenv).get(SIMULATED_CLOCK_VAR)
    if raw is None or not raw.strip():
        return False
    try:
        return bool(_BOOL.validate_python(raw.strip()))
    except ValidationError:
        raise SettingsError(f"{SIMULATED_CLOCK_VAR}: not a boolean") from None


_BOOL: TypeAdapter[bool] = TypeAdapter(bool)


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; errors name the variable, never its value."""
    dotenv = env_file()
    if dotenv is not None and not dotenv.is_file():
        raise SettingsError(f"{ENV_FILE_VAR}: {dotenv} is not a file")
    try:
        settings = Settings(_env_file=dotenv, **overrides)  # type: ignore[arg-type,call-arg]  # pydantic-settings' init kwargs
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            lines.append(f"{ENV_PREFIX}{field.upper()}: {error['msg']}")
        raise SettingsError("\n".join(lines)) from None
    register_secret(settings.api_key.get_secret_value())
    register_secret(settings.webhook_secret.get_secret_value())
    return settings
