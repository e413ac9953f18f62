"""Whether the forum would send webhooks to a host: Discourse's SSRF check, without DNS.

Imitates: lib/final_destination/ssrf_detector.rb#lookup_and_filter_ips (called by
app/models/web_hook.rb#ensure_payload_url_allowed): a host listed in the site setting
``allowed_internal_hosts`` (case-insensitive) skips the check; otherwise every address the
host resolves to that lies in ``blocked_ip_blocks`` or in a range not globally reachable
is dropped, and the host is refused when none is left.

Simplifies: the sandbox resolves no names (``worker.forum.addresses.host_is_internal``
says which names count as private). The forum's own host, which Discourse also lets
through, is not exempted: the sandbox is served on loopback, where a real forum never is.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from worker.forum.addresses import host_is_internal, ip_literal, setting_list


def _blocked_blocks(value: Any) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    blocks = []
    for item in setting_list(value):
        try:
            blocks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            continue  # Discourse skips an invalid block too
    return blocks


def payload_host_allowed(host: str, settings: Mapping[str, Any]) -> bool:
    """Would the forum accept a webhook payload URL on ``host``?"""
    allowed = {h.lower() for h in setting_list(settings.get("allowed_internal_hosts"))}
    if host.lower() in allowed:
        return True
    if host_is_internal(host):
        return False
    address = ip_literal(host)
    if address is None:
        return True  # a public name: the sandbox does not resolve it
    return not any(address in block for block in _blocked_blocks(settings.get("blocked_ip_blocks")))
