"""docker-compose.yml, Dockerfile and .env.example, checked without a Docker engine."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
import yaml

from tests.conftest import ROOT, SHARED
from worker.cli import COMMANDS, build_parser
from worker.pipeline.config import PipelineSettings
from worker.settings import ENV_PREFIX, Settings

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
ENV_EXAMPLE = (ROOT / ".env.example").read_text()
APP_SERVICES = ("receiver", "worker", "scheduler")


def env_example() -> dict[str, str]:
    lines = [line for line in ENV_EXAMPLE.splitlines() if re.match(r"^[A-Z_]+=", line)]
    return dict(line.split("=", 1) for line in lines)


def test_compose_file_is_valid_against_the_compose_spec() -> None:
    schema = json.loads((SHARED / "schemas" / "compose-spec.json").read_text())
    jsonschema.validate(COMPOSE, schema, cls=jsonschema.Draft7Validator)


def test_redis_keeps_accepted_jobs_across_restarts() -> None:
    redis = COMPOSE["services"]["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    volume, _, target = redis["volumes"][0].partition(":")
    assert target == "/data" and volume in COMPOSE["volumes"]


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_services_read_settings_from_the_env_file_and_wait_for_redis(service: str) -> None:
    spec = COMPOSE["services"][service]
    assert spec["env_file"] == ".env"
    assert spec["depends_on"]["redis"]["condition"] == "service_healthy"


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_service_commands_are_diamond_commands_that_parse(service: str) -> None:
    command = COMPOSE["services"][service]["command"]
    assert command[0] == "diamond" and command[1] == service.replace("receiver", "serve")
    module = __import__(f"worker.commands.{COMMANDS[command[1]]}", fromlist=["configure"])
    build_parser({command[1]: module}).parse_args(command[1:])  # exits on a bad option


def test_image_is_built_from_a_dockerfile_whose_sources_exist() -> None:
    assert COMPOSE["x-diamond"]["build"] == "."
    dockerfile = (ROOT / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"


def test_env_example_lists_every_setting() -> None:
    listed = set(env_example())
    fields = {*Settings.model_fields, *PipelineSettings.model_fields}
    missing = sorted(ENV_PREFIX + f.upper() for f in fields if ENV_PREFIX + f.upper() not in listed)
    assert not missing, f"add to .env.example: {missing}"


def test_env_example_values_are_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in env_example().items():
        monkeypatch.setenv(key, value)
    Settings()
    PipelineSettings()


def test_env_example_holds_no_real_secret() -> None:
    values = env_example()
    assert values["DIAMOND_API_KEY"].startswith("change-me")
    assert values["DIAMOND_WEBHOOK_SECRET"].startswith("change-me")
