"""User webhook bodies, parsed as the gating job gets them, on REAL captured deliveries
(``discourse/webhooks/``): the email and the inviter the admin user view does not have."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DISCOURSE_REF
from worker.config_sync.desired import load_desired
from worker.jobs import membership as membership_jobs
from worker.pipeline import routes
from worker.pipeline.jobs import load_actors
from worker.pipeline.routes import event_object, routes_for
from worker.reads.parse import Hints

CAPTURES = DISCOURSE_REF / "webhooks"
ROOT = Path(__file__).resolve().parents[2]
USER_EVENTS = ("user_created", "user_confirmed_email", "user_approved", "user_updated")


def capture(name: str) -> tuple[str, dict[str, Any]]:
    """(event name, the ``user`` object) of a captured delivery."""
    header = json.loads((CAPTURES / f"{name}-header.json").read_text())
    body = json.loads((CAPTURES / f"{name}-body.json").read_text())
    return header["Event"], dict(event_object(header["EventType"], body))


@pytest.fixture(autouse=True)
def _routes(preserve_routes: None) -> None:
    """The actor modules' routes, as the receiver has them."""


def gating_route(event: str) -> routes.Route:
    (route,) = [r for r in routes_for(event) if r.actor == membership_jobs.on_user.actor_name]
    return route


@pytest.mark.parametrize(
    ("name", "user_id", "email"),
    [
        ("user__user_created__2025.12.0-latest", 4, "adsad@xuxiaowei.com.cn"),
        ("user__user_approved__2026.9.0-latest", 56, "xxx@163.com"),
    ],
)
def test_the_gating_job_gets_the_email_and_the_inviter_of_a_real_user_body(
    name: str, user_id: int, email: str
) -> None:
    event, user = capture(name)
    kwargs = gating_route(event).extract(user)
    assert kwargs["user_id"] == user_id and kwargs["event"] == event
    hints = Hints.from_route(kwargs["hints"])
    # invited_by is null in both captures: known to be nobody (no profile read needed).
    assert hints == Hints(email=email, invited_by=None, inviter_known=True)
    json.dumps(kwargs)  # what the queue carries


def test_an_inviter_in_a_real_body_is_read_from_its_basic_user() -> None:
    event, user = capture("user__user_created__2025.12.0-latest")
    user["invited_by"] = {"id": 3, "username": "mentor", "name": None, "avatar_template": "/a"}
    hints = Hints.from_route(gating_route(event).extract(user)["hints"])
    assert (hints.invited_by, hints.inviter_known) == ("mentor", True)


def test_a_body_without_the_keys_leaves_email_and_inviter_unknown() -> None:
    hints = Hints.from_route(gating_route("user_updated").extract({"id": 9})["hints"])
    assert hints == Hints()  # then the job reads them (show_emails listing, /u/)


def test_every_user_event_diamond_routes_is_in_the_webhook_subscription() -> None:
    load_actors()
    desired = load_desired(
        ROOT / "plugin_config",
        receiver_url="https://diamond.example.org/hooks",
        webhook_secret="a-secret-of-enough-length",
    )
    assert desired.webhook is not None
    for event in USER_EVENTS:
        assert routes_for(event), event
        assert event in desired.webhook.events, event
