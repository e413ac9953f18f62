"""Members of the demo forum doing what members do, over HTTP like any browser would.

Sign-ups are anonymous ``POST /users.json``; everything else uses a per-user API
key, which Discourse does not count against the admin API bucket, so what the
members do never eats into Diamond's budget (which ``bench/api_calls.py`` measures).
A refused action (e.g. posting in a category one cannot post in) is counted, not
raised: the demo tells the story of what Diamond made possible.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

log = logging.getLogger(__name__)


class ActionRefused(Exception):
    def __init__(self, what: str, status: int, body: str) -> None:
        super().__init__(f"{what}: {status} {body[:200]}")
        self.status = status


@dataclass
class Members:
    """HTTP access to the forum as its members (``as_user``) or anonymously (sign-up)."""

    base_url: str
    keys: dict[str, str] = field(default_factory=dict)  # username -> per-user API key
    refused: Counter[str] = field(default_factory=Counter)  # what members could not do
    done: Counter[str] = field(default_factory=Counter)
    _local: threading.local = field(default_factory=threading.local)

    @property
    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _send(self, what: str, method: str, path: str, username: str | None, **kw: Any) -> Any:
        headers = {"Accept": "application/json"}
        if username is not None:
            headers["Api-Key"] = self.keys[username]
            headers["Api-Username"] = username
        response = self._session.request(
            method, self.base_url + path, headers=headers, timeout=30, **kw
        )
        body = response.json() if response.content else {}
        if response.status_code >= 300 or (isinstance(body, dict) and body.get("success") is False):
            self.refused[what] += 1
            raise ActionRefused(what, response.status_code, response.text)
        self.done[what] += 1
        return body

    def try_(self, what: str, method: str, path: str, username: str | None, **kw: Any) -> Any:
        """Like ``_send`` but a refusal is only counted (members give up, the story goes on)."""
        try:
            return self._send(what, method, path, username, **kw)
        except ActionRefused as exc:
            log.debug("member action refused: %s", exc)
            return None

    # ------------------------------------------------------------------ actions

    def sign_up(self, body: dict[str, Any]) -> dict[str, Any] | None:
        return self.try_("sign up", "POST", "/users.json", None, json=body)

    def invite(self, referrer: str, email: str | None = None) -> str | None:
        """An invite from ``referrer``; sent to ``email`` (its link confirms the address)."""
        body = {"email": email} if email else {}
        answer = self.try_("invite", "POST", "/invites.json", referrer, json=body)
        return answer.get("invite_key") if answer else None

    def new_topic(
        self,
        username: str,
        category_id: int,
        title: str,
        raw: str,
        *,
        tags: list[str] | None = None,
        what: str = "topic",
    ) -> dict[str, Any] | None:
        body: dict[str, Any] = {"title": title, "raw": raw, "category": category_id}
        if tags:
            body["tags"] = tags
        return self.try_(what, "POST", "/posts.json", username, json=body)

    def reply(
        self,
        username: str,
        topic_id: int,
        raw: str,
        *,
        to_post_number: int | None = None,
        what: str = "reply",
    ) -> dict[str, Any] | None:
        body: dict[str, Any] = {"topic_id": topic_id, "raw": raw}
        if to_post_number:
            body["reply_to_post_number"] = to_post_number
        return self.try_(what, "POST", "/posts.json", username, json=body)

    def like(self, username: str, post_id: int) -> None:
        self.try_(
            "like", "POST", "/post_actions.json", username,
            json={"id": post_id, "post_action_type_id": 2},
        )  # fmt: skip
