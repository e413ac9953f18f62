"""A receiver on a private address: plugin_config asks the forum to allow its host.

Discourse refuses a webhook whose payload URL resolves to a private or internal address
unless the host is in the site setting ``allowed_internal_hosts``. When the receiver runs
beside the forum (127.0.0.1, a compose service), ``diamond apply`` adds its host to that
list (keeping what the operator put there); with ``allow_internal_receiver: false`` the
forum's refusal becomes one line naming the setting, and ``diamond plan`` warns first.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from worker.config_sync.apply import sync
from worker.config_sync.desired import load_desired
from worker.config_sync.diff import diff
from worker.config_sync.plan import ForumState, Kind
from worker.forum.client import ForumClient
from worker.rules import load_rules
from worker.sandbox import RunningSandbox, start_sandbox

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "plugin_config"
SECRET = "internal-receiver-secret-77"
LOOPBACK_RECEIVER = "http://127.0.0.1:9/webhook"


def _desired(receiver: str, config: Path = SHIPPED):
    return load_desired(config, receiver_url=receiver, webhook_secret=SECRET)


def _settings_only(value: str) -> ForumState:
    base = dict.fromkeys(_desired(LOOPBACK_RECEIVER).site_settings, "true")
    return ForumState(site_settings={**base, "allowed_internal_hosts": value})


@pytest.mark.parametrize(
    ("receiver", "host"),
    [
        ("http://127.0.0.1:8000/webhook", "127.0.0.1"),
        ("http://receiver:8000/webhook", "receiver"),
        ("http://10.0.3.4/webhook", "10.0.3.4"),
        ("http://LocalHost:8000/webhook", "localhost"),
    ],
)
def test_a_receiver_on_a_private_address_asks_the_forum_to_allow_its_host(
    receiver: str, host: str
) -> None:
    assert _desired(receiver).site_setting_includes == {"allowed_internal_hosts": (host,)}


def test_a_receiver_on_a_public_name_asks_for_nothing() -> None:
    assert _desired("https://diamond.example.org/webhooks").site_setting_includes == {}


def test_the_receivers_host_is_added_to_the_hosts_the_operator_listed() -> None:
    plan = diff(_desired(LOOPBACK_RECEIVER), _settings_only("cdn.internal|10.0.0.9"))
    (change,) = [c for c in plan.changes if c.key == "allowed_internal_hosts"]
    assert change.kind is Kind.UPDATE
    assert change.desired == {"value": "cdn.internal|10.0.0.9|127.0.0.1"}


def test_a_host_already_listed_in_any_case_is_left_alone() -> None:
    plan = diff(_desired("http://LOCALHOST:9/hook"), _settings_only("Localhost"))
    assert [c for c in plan.changes if c.key == "allowed_internal_hosts"] == []


@pytest.fixture
def forum() -> Iterator[RunningSandbox]:
    with start_sandbox(port=0) as sandbox:
        yield sandbox


def test_apply_on_a_fresh_forum_makes_a_loopback_webhook_acceptable(forum: RunningSandbox) -> None:
    badges = load_rules(ROOT / "rules").badges.badges
    desired = load_desired(
        SHIPPED, receiver_url=LOOPBACK_RECEIVER, webhook_secret=SECRET, badges=badges
    )
    client = ForumClient(forum.url, forum.api_key, "system")
    report = sync(client, desired, sleep=lambda _s: None)
    assert report.converged
    assert forum.forum.settings["allowed_internal_hosts"] == "127.0.0.1"
    assert [h.payload_url for h in forum.forum.webhooks.values()] == [
        LOOPBACK_RECEIVER,
        LOOPBACK_RECEIVER + "?hook=chat",
    ]


@pytest.fixture
def strict_config(tmp_path: Path) -> Path:
    config = tmp_path / "plugin_config"
    shutil.copytree(SHIPPED, config)
    hook = config / "webhook.yml"
    text = hook.read_text()
    assert "allow_internal_receiver: true" in text
    hook.write_text(text.replace("allow_internal_receiver: true", "allow_internal_receiver: false"))
    return config


def test_a_refused_webhook_url_is_one_line_naming_the_forum_setting(
    forum: RunningSandbox,
    strict_config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from worker.cli import main

    monkeypatch.setenv("DIAMOND_FORUM_URL", forum.url)
    monkeypatch.setenv("DIAMOND_API_KEY", forum.api_key)
    monkeypatch.setenv("DIAMOND_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("DIAMOND_RECEIVER_URL", LOOPBACK_RECEIVER)
    monkeypatch.setenv("DIAMOND_REDIS_URL", "")
    monkeypatch.chdir(ROOT)
    args = ["--config", str(strict_config)]

    assert main(["plan", *args]) == 2
    planned = capsys.readouterr().out
    assert "allowed_internal_hosts" in planned and "127.0.0.1" in planned

    assert main(["apply", "--yes", *args]) == 1
    captured = capsys.readouterr()
    refusal = [line for line in captured.out.splitlines() if line.startswith("diamond apply:")]
    assert len(refusal) == 1
    assert "allowed_internal_hosts" in refusal[0]
    assert "127.0.0.1" in refusal[0] and "refuse" in refusal[0]
    assert "Traceback" not in captured.out + captured.err
    assert forum.forum.webhooks == {}
