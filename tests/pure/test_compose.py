"""docker-compose.yml, Dockerfile and .env.example, checked without a Docker engine."""

from __future__ import annotations

import json
import re
import tomllib

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


# --- a reproducible deployment -------------------------------------------------------

LOCK = ROOT / "requirements.lock"


def _locked() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep, f"requirements.lock: {line!r} is not pinned with =="
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def _requirement_names(requirements: list[str]) -> set[str]:
    return {
        re.sub(r"[-_.]+", "-", re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0]).lower()
        for r in requirements
    }


def test_every_dependency_and_test_tool_is_pinned_in_the_lock_file() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = _requirement_names(project["dependencies"])
    wanted |= _requirement_names(project["optional-dependencies"]["test"])
    missing = sorted(wanted - _locked().keys())
    assert not missing, f"run `make lock`: {missing} are not in requirements.lock"


def test_the_image_and_make_install_with_the_lock_file() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"pip install .*-c requirements\.lock", dockerfile)
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"pip install .*-c requirements\.lock", makefile)
    # A changed lock file reinstalls the environment.
    assert re.search(r"^\$\(STAMP\):.*requirements\.lock", makefile, re.MULTILINE)


def test_images_are_pinned_to_exact_versions() -> None:
    base = re.search(r"^FROM (\S+)", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    images = [base.group(1) if base else "", COMPOSE["services"]["redis"]["image"]]
    for image in images:
        tag = image.partition("@")[0].rpartition(":")[2]
        assert re.match(r"^\d+\.\d+\.\d+", tag), f"{image}: pin an exact version, not {tag!r}"


def test_the_build_context_leaves_out_secrets_and_local_state() -> None:
    ignored = {
        line.strip().strip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for entry in (".env", ".git", ".venv", "__pycache__"):
        assert entry in ignored or f"**/{entry}" in ignored, f".dockerignore misses {entry}"


@pytest.mark.parametrize("service", ("redis", *APP_SERVICES))
def test_every_service_rotates_its_logs_and_has_limits(service: str) -> None:
    spec = COMPOSE["services"][service]
    logging_ = spec["logging"]
    assert logging_["driver"] == "json-file"
    assert logging_["options"]["max-size"] and logging_["options"]["max-file"]
    limits = spec["deploy"]["resources"]["limits"]
    assert limits["memory"] and limits["cpus"]


def test_redis_never_evicts_the_ledger_and_stays_under_its_memory_limit() -> None:
    command = COMPOSE["services"]["redis"]["command"]
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    maxmemory = command[command.index("--maxmemory") + 1]
    limit = COMPOSE["services"]["redis"]["deploy"]["resources"]["limits"]["memory"]

    def mib(size: str) -> float:
        number, unit = re.fullmatch(r"(\d+)\s*([kmg])i?b?", size.lower()).groups()  # type: ignore[union-attr]
        return int(number) * {"k": 1 / 1024, "m": 1, "g": 1024}[unit]

    # Redis refuses writes at maxmemory instead of being killed by the container limit.
    assert mib(maxmemory) < mib(limit)


@pytest.mark.parametrize("service", ("worker", "scheduler"))
def test_worker_and_scheduler_have_health_checks_that_are_diamond_commands(service: str) -> None:
    test = COMPOSE["services"][service]["healthcheck"]["test"]
    assert test[:4] == ["CMD", "diamond", "health", service]
    module = __import__(f"worker.commands.{COMMANDS['health']}", fromlist=["configure"])
    build_parser({"health": module}).parse_args(test[2:])  # exits on a bad option
