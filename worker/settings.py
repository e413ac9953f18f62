"""Process settings from the environment (prefix ``DIAMOND_``).

Secrets are ``SecretStr`` so they never show in reprs, logs or error messages.
A missing or bad setting becomes one line naming the variable (``SettingsError``).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from worker.logs import register_secret

ENV_PREFIX = "DIAMOND_"


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
    mode: Mode = Mode.SHADOW

    @field_validator("forum_url")
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
    def live(self) -> bool:
        return self.mode is Mode.LIVE

    def require(self, *names: str) -> None:
        """Fail with one line per empty setting that a command needs."""
        missing = [ENV_PREFIX + name.upper() for name in names if not _plain(getattr(self, name))]
        if missing:
            raise SettingsError("\n".join(f"{var}: must be set" for var in missing))


def _plain(value: object) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return str(value or "")


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; errors name the variable, never its value."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            lines.append(f"{ENV_PREFIX}{field.upper()}: {error['msg']}")
        raise SettingsError("\n".join(lines)) from None
    register_secret(settings.api_key.get_secret_value())
    register_secret(settings.webhook_secret.get_secret_value())
    return settings
