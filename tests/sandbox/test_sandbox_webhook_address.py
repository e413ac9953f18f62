"""The webhook admin refuses payload URLs on private addresses, as Discourse does.

Discourse: ``WebHook#ensure_payload_url_allowed`` (app/models/web_hook.rb) runs
``FinalDestination::SSRFDetector.lookup_and_filter_ips`` on the URL's host: every
resolved IP in ``blocked_ip_blocks`` or a private range is dropped, and the URL is
refused when none is left, unless the host is listed in ``allowed_internal_hosts``
or is the forum's own. The controller answers ``render_json_error`` → 422 ``errors``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.sandbox_api import Api
from worker.sandbox import build_sandbox


@pytest.fixture
def api() -> Iterator[Api]:
    sandbox = build_sandbox(api_key="hook-address-key")
    yield Api(sandbox)
    sandbox.webhooks.close()


def _hook(url: str) -> dict[str, Any]:
    return {
        "web_hook": {
            "payload_url": url,
            "secret": "a-long-enough-secret",
            "content_type": 1,
            "web_hook_event_type_ids": [101],
        }
    }


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost:8080/webhook",
        "http://10.1.2.3/hook",
        "http://192.168.1.20/hook",
        "http://172.20.0.5/hook",
        "http://169.254.169.254/latest",
        "http://[::1]:9/hook",
        "http://receiver:8000/webhook",  # a compose service name only a private network knows
    ],
)
def test_a_payload_url_on_a_private_address_is_refused(api: Api, url: str) -> None:
    reply = api.post("/admin/api/web_hooks.json", _hook(url))
    assert reply.status == 422
    assert reply.body["errors"] == ["The payload URL resolves to a blocked or internal IP address."]
    assert api.sandbox.forum.webhooks == {}


def test_a_payload_url_on_a_public_address_is_accepted(api: Api) -> None:
    for url in ("https://diamond.example.org/webhooks", "http://93.184.216.34/hook"):
        assert api.post("/admin/api/web_hooks.json", _hook(url)).status == 200


def test_a_host_listed_in_allowed_internal_hosts_is_accepted_whatever_its_case(api: Api) -> None:
    reply = api.put(
        "/admin/site_settings/allowed_internal_hosts.json",
        {"allowed_internal_hosts": "forum.local|LocalHost|127.0.0.1"},
    )
    assert reply.status == 200
    for url in ("http://localhost:8080/webhook", "http://127.0.0.1:9/hook"):
        reply = api.post("/admin/api/web_hooks.json", _hook(url))
        assert reply.status == 200, reply.body
    assert api.post("/admin/api/web_hooks.json", _hook("http://10.0.0.7/")).status == 422


def test_an_address_in_blocked_ip_blocks_is_refused(api: Api) -> None:
    api.put("/admin/site_settings/blocked_ip_blocks.json", {"blocked_ip_blocks": "93.184.0.0/16"})
    reply = api.post("/admin/api/web_hooks.json", _hook("http://93.184.216.34/hook"))
    assert reply.status == 422


def test_changing_the_url_to_a_private_one_is_refused_and_other_edits_are_not(api: Api) -> None:
    created = api.post("/admin/api/web_hooks.json", _hook("https://diamond.example.org/hook"))
    hook_id = created.body["web_hook"]["id"]
    reply = api.put(
        f"/admin/api/web_hooks/{hook_id}.json",
        {"web_hook": {"payload_url": "http://127.0.0.1:9/hook"}},
    )
    assert reply.status == 422
    assert api.sandbox.forum.webhooks[hook_id].payload_url == "https://diamond.example.org/hook"
    # the check runs only when the URL changes (validate ..., if: :payload_url_changed?)
    reply = api.put(f"/admin/api/web_hooks/{hook_id}.json", {"web_hook": {"active": False}})
    assert reply.status == 200
