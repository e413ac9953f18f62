"""Which hosts a forum treats as private: what Discourse's SSRF check refuses by default.

Pure (no DNS): used by config sync to see that a receiver needs ``allowed_internal_hosts``
and by the sandbox to refuse such payload URLs. An IP literal is judged as it is (not
globally reachable = private, as the IANA special registries that Discourse's
``FinalDestination::SSRFDetector`` lists); ``localhost`` and ``*.localhost`` are loopback;
a single-label name (a compose service such as ``receiver``) or one under ``.local``,
``.internal``, ``.lan`` or ``.home.arpa`` can only resolve on a private network. Any
other name is taken as public: only the forum's own DNS lookup can tell otherwise.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

PRIVATE_SUFFIXES = (".local", ".internal", ".lan", ".home.arpa")


def setting_list(value: Any) -> list[str]:
    """The items of a Discourse list site setting (``a|b``, or one a line)."""
    return [item.strip() for item in re.split(r"[|\n]", str(value or "")) if item.strip()]


def ip_literal(host: str) -> IpAddress | None:
    """The address when ``host`` is an IP literal (IPv4-mapped IPv6 as its IPv4), else None."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # like IPAddr#native: ::ffff:10.0.0.1 is 10.0.0.1
    return address


def host_is_internal(host: str) -> bool:
    """True when the host is, or by its name can only resolve to, a non-public address."""
    host = host.lower().rstrip(".")
    address = ip_literal(host)
    if address is not None:
        return not address.is_global
    if host == "localhost" or host.endswith(".localhost"):
        return True
    return "." not in host or host.endswith(PRIVATE_SUFFIXES)


# Diamond's chat webhook posts to the receiver's URL with this query: the receiver routes by
# path (the query is ignored); the sync and the Applier tell Diamond's two webhooks apart by it.
CHAT_WEBHOOK_QUERY = "hook=chat"


def chat_payload_url(receiver_url: str) -> str:
    return f"{receiver_url}{'&' if '?' in receiver_url else '?'}{CHAT_WEBHOOK_QUERY}"


def is_chat_webhook_url(url: str) -> bool:
    return url.endswith(("?" + CHAT_WEBHOOK_QUERY, "&" + CHAT_WEBHOOK_QUERY))
