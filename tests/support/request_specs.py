"""Shared set-up of the sandbox contract tests that mirror Discourse's request specs
(their ``sb`` and ``admin`` fixtures are in ``tests/conftest.py``)."""

from __future__ import annotations

from typing import Any

from tests.support.sandbox_api import Api


def sign_up(api: Api, username: str, **attrs: Any) -> int:
    """An active, approved account made by staff through ``POST /users.json``; its id."""
    body = {
        "name": username.title(),
        "username": username,
        "email": f"{username}@example.com",
        "password": "p" * 16,
        "active": True,
        "approved": True,
    }
    answer = api.post("/users.json", body | attrs)
    assert answer.status == 200, answer.body
    return int(answer.body["user_id"])
