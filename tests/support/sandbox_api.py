"""Helpers for tests that talk to a sandbox without sockets (werkzeug's test client).

``Api(sandbox)`` sends requests as the admin (or ``as_user``) and records every
exchange, so contract tests can validate each response afterwards.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from werkzeug.test import Client

from worker.sandbox.server import Sandbox


@dataclass
class Exchange:
    method: str
    path: str
    status: int
    content_type: str
    body: Any  # parsed JSON, or the text when not JSON
    headers: dict[str, str] = field(default_factory=dict)


class Api:
    """JSON requests against a sandbox's WSGI app, acting as one user."""

    def __init__(
        self,
        sandbox: Sandbox,
        username: str = "admin",
        *,
        api_key: str | None = None,
        log: list[Exchange] | None = None,
    ) -> None:
        self.sandbox = sandbox
        self.username = username
        self.api_key = api_key
        self.client = Client(sandbox.app)
        self.log: list[Exchange] = log if log is not None else []

    def as_user(self, username: str) -> Api:
        """Impersonate ``username`` with the admin key (``Api-Username``)."""
        return Api(self.sandbox, username, log=self.log)

    def with_key(self, api_key: str, username: str | None = None) -> Api:
        return Api(self.sandbox, username or "", api_key=api_key, log=self.log)

    def anonymous(self) -> Api:
        return Api(self.sandbox, "", api_key="", log=self.log)

    def _headers(self) -> dict[str, str]:
        key = self.sandbox.api_key if self.api_key is None else self.api_key
        headers = {"Accept": "application/json"}
        if key:
            headers["Api-Key"] = key
        if self.username:
            headers["Api-Username"] = self.username
        return headers

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: dict[str, Any] | None = None,
        query: dict[str, Any] | None = None,
    ) -> Exchange:
        kwargs: dict[str, Any] = {"headers": self._headers(), "query_string": query}
        if json_body is not None:
            kwargs["data"] = json.dumps(json_body)
            kwargs["content_type"] = "application/json"
        elif data is not None:
            kwargs["data"] = data
        response = self.client.open(path, method=method, **kwargs)
        text = response.get_data(as_text=True)
        content_type = response.headers.get("Content-Type", "")
        body: Any = text
        if content_type.startswith("application/json") and text:
            body = json.loads(text)
        exchange = Exchange(
            method, path, response.status_code, content_type, body, dict(response.headers)
        )
        self.log.append(exchange)
        return exchange

    def get(self, path: str, **query: Any) -> Exchange:
        return self.request("GET", path, query=query or None)

    def post(self, path: str, body: Any = None, *, form: dict[str, Any] | None = None) -> Exchange:
        return self.request("POST", path, json_body=body, data=form)

    def put(self, path: str, body: Any = None, *, form: dict[str, Any] | None = None) -> Exchange:
        return self.request("PUT", path, json_body=body, data=form)

    def delete(self, path: str, body: Any = None, **query: Any) -> Exchange:
        return self.request("DELETE", path, json_body=body, query=query or None)


def writes(sandbox: Sandbox) -> list[tuple[str, str]]:
    """(method, path) of every write the sandbox was sent, in order (its request log)."""
    return [
        (method, path)
        for method, path, _status in sandbox.app.request_log
        if method in ("POST", "PUT", "DELETE")
    ]
