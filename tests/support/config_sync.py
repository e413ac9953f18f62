"""What the config-sync tests against the sandbox share: the shipped ``plugin_config/`` as
the desired state, a client of the sandbox, and a sleep that does not wait."""

from __future__ import annotations

from pathlib import Path

from worker.config_sync.desired import Desired, load_desired
from worker.forum.client import ForumClient
from worker.rules import load_rules
from worker.sandbox import RunningSandbox

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sandbox-sync-secret-9d2e"
RECEIVER = "http://127.0.0.1:9/webhooks"  # nothing listens: deliveries just fail


def shipped_desired(*, receiver_url: str = RECEIVER, secret: str = SECRET) -> Desired:
    """The shipped plugin_config with the shipped rules' badges."""
    return load_desired(
        ROOT / "plugin_config",
        receiver_url=receiver_url,
        webhook_secret=secret,
        badges=load_rules(ROOT / "rules").badges.badges,
    )


def sandbox_client(sandbox: RunningSandbox) -> ForumClient:
    """The admin client of ``sandbox`` that raises on the rate limit instead of waiting."""
    return ForumClient(sandbox.url, sandbox.api_key, "system", on_limit="raise")


def no_sleep(seconds: float) -> None:
    """``sync``'s pause between rounds, skipped."""
