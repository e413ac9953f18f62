"""Fault injection: a share of 5xx, 429 (three shapes) and added latency per endpoint.

A rule matches ``METHOD /path`` with shell-style patterns. Decisions come from
one seeded ``random.Random``, so a run with the same seed and the same request
order fails the same requests. Rules can be set from Python or from the command
line with ``[METHOD ]PATTERN:key=value,...``, e.g.
``PUT /groups/*/members.json:500=0.2,429=0.1,shape=text,wait=3,latency=0.2``.

Keys: ``500``/``502``/``503`` (share of that status), ``429`` (share), ``shape``
(``json`` as the app answers, ``text`` as the per-IP middleware, ``html`` as a
proxy, or ``mixed``), ``wait`` (seconds a 429 asks for, default 10), ``latency``
(seconds added), ``latency_share`` (default 1) and ``lost`` (share of requests that the
forum carries out but whose answer a proxy replaces with a 502: a write committed whose
outcome the client cannot know).
"""

from __future__ import annotations

import fnmatch
import json
import random
import threading
from dataclasses import dataclass, field

from worker.sandbox.errors import rate_limited

SHAPES = ("json", "text", "html")


@dataclass
class FaultRule:
    pattern: str = "*"
    method: str | None = None
    status_shares: dict[int, float] = field(default_factory=dict)  # 5xx code -> share
    rate_limit_share: float = 0.0
    shape: str = "json"  # json | text | html | mixed
    wait_seconds: int = 10
    latency: float = 0.0
    latency_share: float = 1.0
    lost_share: float = 0.0  # carried out, then answered 502 (the answer was lost)

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return fnmatch.fnmatchcase(path, self.pattern)


@dataclass(frozen=True)
class FaultResponse:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Decision:
    latency: float = 0.0
    response: FaultResponse | None = None
    # Carry the request out, then answer with this instead (a proxy lost the answer).
    lost_answer: FaultResponse | None = None


class FaultInjector:
    def __init__(self, seed: int | None = 0) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self.rules: list[FaultRule] = []
        self.injected: list[
            tuple[str, str, int | None, float]
        ] = []  # method, path, status, latency

    def seed(self, seed: int | None) -> None:
        with self._lock:
            self._rng = random.Random(seed)

    def add(self, rule: FaultRule | str) -> FaultRule:
        parsed = parse_rule(rule) if isinstance(rule, str) else rule
        with self._lock:
            self.rules.append(parsed)
        return parsed

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self.injected.clear()

    def decide(self, method: str, path: str) -> Decision:
        with self._lock:
            for rule in self.rules:
                if not rule.matches(method, path):
                    continue
                latency = 0.0
                if rule.latency and self._rng.random() < rule.latency_share:
                    latency = rule.latency
                roll = self._rng.random()
                response = None
                threshold = 0.0
                for status, share in sorted(rule.status_shares.items()):
                    threshold += share
                    if roll < threshold:
                        response = _server_error(status)
                        break
                else:
                    if roll < threshold + rule.rate_limit_share:
                        shape = rule.shape
                        if shape == "mixed":
                            shape = self._rng.choice(SHAPES)
                        response = _too_many(shape, rule.wait_seconds)
                lost = None
                if response is None and rule.lost_share and self._rng.random() < rule.lost_share:
                    lost = _server_error(502)
                if response is not None or latency or lost is not None:
                    shown = response.status if response else (lost.status if lost else None)
                    self.injected.append((method, path, shown, latency))
                return Decision(latency=latency, response=response, lost_answer=lost)
        return Decision()


def _server_error(status: int) -> FaultResponse:
    if status == 500:
        body = json.dumps({"status": 500, "error": "Internal Server Error"}).encode()
        return FaultResponse(500, body, "application/json; charset=utf-8", {})
    reason = {502: "Bad Gateway", 503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}
    text = reason.get(status, "Error")
    page = (
        f"<html>\r\n<head><title>{status} {text}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {text}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )
    return FaultResponse(status, page.encode(), "text/html", {})


def _too_many(shape: str, wait: int) -> FaultResponse:
    if shape == "text":  # Discourse's per-IP middleware (RequestTracker)
        body = (
            "Slow down, too many requests from this IP address. "
            f"Please retry again in {wait} seconds. Error code: ip_10s_limit.\n"
        )
        return FaultResponse(
            429,
            body.encode(),
            "text/plain",
            {"Retry-After": str(wait), "Discourse-Rate-Limit-Error-Code": "ip_10s_limit"},
        )
    if shape == "html":  # a reverse proxy: no Retry-After
        page = (
            "<html>\r\n<head><title>429 Too Many Requests</title></head>\r\n<body>\r\n"
            "<center><h1>429 Too Many Requests</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n"
        )
        return FaultResponse(429, page.encode(), "text/html", {})
    error = rate_limited(wait)
    return FaultResponse(
        429,
        json.dumps(error.body, ensure_ascii=False).encode(),
        "application/json; charset=utf-8",
        error.headers,
    )


def parse_rule(spec: str) -> FaultRule:
    """``[METHOD ]PATTERN:key=value,...`` → FaultRule; ValueError with the reason."""
    head, sep, options = spec.rpartition(":")
    if not sep:
        raise ValueError(f"fault {spec!r}: expected PATTERN:key=value,...")
    method = None
    pattern = head.strip()
    if " " in pattern:
        method, pattern = pattern.split(None, 1)
        method = method.upper()
    rule = FaultRule(pattern=pattern or "*", method=method)
    for item in filter(None, (part.strip() for part in options.split(","))):
        key, eq, value = item.partition("=")
        if not eq:
            raise ValueError(f"fault {spec!r}: {item!r} is not key=value")
        key = key.strip().lower()
        try:
            if key.isdigit() and 500 <= int(key) <= 599:
                rule.status_shares[int(key)] = _share(value)
            elif key == "429":
                rule.rate_limit_share = _share(value)
            elif key == "shape":
                if value not in (*SHAPES, "mixed"):
                    raise ValueError("shape must be json, text, html or mixed")
                rule.shape = value
            elif key == "wait":
                rule.wait_seconds = max(1, int(value))
            elif key == "latency":
                rule.latency = float(value)
            elif key == "latency_share":
                rule.latency_share = _share(value)
            elif key == "lost":
                rule.lost_share = _share(value)
            else:
                raise ValueError(f"unknown key {key!r}")
        except ValueError as exc:
            raise ValueError(f"fault {spec!r}: {exc}") from exc
    total = sum(rule.status_shares.values()) + rule.rate_limit_share
    if total > 1:
        raise ValueError(f"fault {spec!r}: shares add up to {total:g} > 1")
    return rule


def _share(value: str) -> float:
    share = float(value)
    if not 0 <= share <= 1:
        raise ValueError(f"share {value} must be between 0 and 1")
    return share
