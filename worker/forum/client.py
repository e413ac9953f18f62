"""The one door to Discourse: every call is rate-limited, timed out, counted and classified.

``ForumClient`` exposes only the typed methods Diamond uses. pydiscourse stays
underneath (``_Library``): it holds the connection (host, Api-Username, Api-Key,
timeout), and its wrappers, where this module uses one, go through the same door.
Callers never see its ~80 other methods. The door adds:

- one pooled ``requests.Session`` and (connect, read) timeouts on every call
  (pydiscourse uses bare ``requests.request`` with no timeout);
- no ``time.sleep`` on 429 unless the caller asked for it (``on_limit="wait"``,
  CLI commands only): workers get ``RateLimited(wait_seconds)`` and retry later;
- responses classified into ``worker.forum.errors`` (see ``_raise_for``);
  a non-JSON body or a missing Content-Type never raises ``KeyError``
  (pydiscourse reads ``response.headers["content-type"]``);
- JSON bodies everywhere (Discourse's documented request content type), where
  pydiscourse sends form data.

"Already done" answers are success where that is what they mean, so a retried
job has the effect of one. Each case is listed in ``ALREADY_DONE_CASES``.
"""

from __future__ import annotations

import copy
import email.utils
import json as jsonlib
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import redis
import requests
from pydiscourse import DiscourseClient
from requests.adapters import HTTPAdapter

from worker import metrics
from worker.forum.errors import (
    ForumRejected,
    ForumUnavailable,
    NotActiveYet,
    NotFound,
    RateLimited,
)
from worker.forum.paths import fill, guess_template
from worker.forum.ratelimit import LocalRateLimiter, RateLimiter, RedisRateLimiter
from worker.logs import MASK, register_secret, scrub
from worker.state import keys

log = logging.getLogger(__name__)
_T = TypeVar("_T")

OnLimit = Literal["raise", "wait"]
Timeout = tuple[float, float]

DEFAULT_TIMEOUT: Timeout = (3.05, 30.0)


@dataclass(frozen=True)
class ReadRetry:
    """How an idempotent read (GET) answered 5xx, timed out or unreachable is retried inside
    the call: up to ``attempts`` more times, waiting ``base_wait * 2**n`` seconds (at most
    ``max_wait``, which also bounds a Retry-After). A longer outage fails the call; the
    job's retry policy waits it out. A client's ``read_retry`` argument (the default here)."""

    attempts: int = 4
    base_wait: float = 0.5
    max_wait: float = 8.0

    def wait(self, response: requests.Response | None, failed: int) -> float:
        """Capped exponential backoff before re-reading, or the answer's Retry-After (a 503
        during maintenance says when to come back), capped too: the job retries later."""
        retry_after = response.headers.get("Retry-After") if response is not None else None
        hinted = _parse_retry_after(retry_after)
        if hinted is not None:
            return min(hinted, self.max_wait)
        return min(self.base_wait * 2**failed, self.max_wait)


NO_READ_RETRY = ReadRetry(attempts=0)
# Used when a 429 says nothing about how long to wait (no header, no body hint).
DEFAULT_RATE_LIMIT_WAIT = 10.0
CALL_COUNTS_KEY = keys.FORUM_CALLS
ADMIN_USER_FLAGS = frozenset({"active", "new", "staff", "suspended", "silenced", "pending"})
GROUP_MEMBERS_CHUNK = 1000  # Discourse's ADD_MEMBERS_LIMIT
TOPIC_POSTS_CHUNK = 20  # what Discourse's own UI asks /t/{id}/posts.json for
REVIEWABLE_ACTIONS = frozenset({"approve_user", "delete_user", "delete_user_block"})
PERMISSION_LEVELS = {1: "full", 2: "create_post", 3: "readonly"}
# Where the user-field admin lives: current Discourse (scope "/config"), then older forums.
USER_FIELDS_PREFIXES = ("/admin/config/user_fields", "/admin/customize/user_fields")

# Answers that mean "this is already so"; each is treated as success.
ALREADY_DONE_CASES = {
    "add_group_members": "422 (member_already_exist: localised, no error_type): the group's "
    "members are read; those already in are done, the others re-sent (older Discourse "
    "refuses the whole batch if any is in); names without an account are skipped",
    "approve_user": "403 from approve when the user is already approved, or approval is off "
    "and the user is active (checked by reading it)",
    "delete_user": "403/404 when the user no longer exists (checked by reading it)",
    "silence_user": "409 not_silenced_already: the user is already silenced",
    "suspend_user": "409 not_suspended_already: the user is already suspended",
    "perform_reviewable": "403/404/409 when the reviewable is no longer pending and ended "
    "the way we asked (checked by reading it); a stale version is retried once",
    "like_post": "403 action_already_performed: the post is already liked by this user",
    "grant_badge": "no special case: Discourse answers 200 with the existing user badge",
    "remove_group_members": "non-members come back as skipped_usernames; names without an "
    "account (400 invalid_parameters when none exists) are skipped too",
    "delete_*/revoke_user_badge": "404: the thing is already gone",
}

_ALREADY_PERFORMED = re.compile(r"already performed|已经执行", re.IGNORECASE)
_SECONDS_IN_TEXT = re.compile(r"(\d+(?:\.\d+)?)\s*(?:seconds?|secs?|s\b|秒)", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]+>")


def _iso(moment: datetime) -> str:
    """ISO 8601 in UTC; naive datetimes are refused because their zone is a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment!r} has no time zone; pass an aware datetime")
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _event_types(page: dict[str, Any]) -> dict[str, Any] | list[Any]:
    extras = page.get("extras") or {}
    types: dict[str, Any] | list[Any] = (
        extras.get("grouped_event_types") or extras.get("event_types") or {}
    )
    return types


def _unseen(items: list[dict[str, Any]], seen: set[Any]) -> list[dict[str, Any]]:
    """Items not yielded before, by id: pages shift when rows are added meanwhile, and a
    server that ignores the page parameter must not make an iterator loop forever."""
    fresh = []
    for item in items:
        key = item.get("id", id(item)) if isinstance(item, dict) else id(item)
        if key not in seen:
            seen.add(key)
            fresh.append(item)
    return fresh


def _badge_flags(attrs: dict[str, Any]) -> dict[str, Any]:
    """Booleans as "true"/"false": ``Admin::BadgesController#update_badge_from_params`` sets a
    column only ``if params[key]``, so a JSON false would leave a flag on for ever."""
    return {k: ("true" if v else "false") if isinstance(v, bool) else v for k, v in attrs.items()}


def _slug_paths(categories: Iterable[dict[str, Any]]) -> dict[int, str]:
    """Category id -> full slug path (``parent/child``) of a flattened category list."""
    by_id = {int(c["id"]): c for c in categories if "id" in c}

    def path(category_id: int, depth: int = 0) -> str:
        category = by_id[category_id]
        own = str(category.get("slug") or f"{category_id}-category")
        parent = category.get("parent_category_id")
        if parent is None or int(parent) not in by_id or depth > 10:
            return own
        return f"{path(int(parent), depth + 1)}/{own}"

    return {category_id: path(category_id) for category_id in by_id}


def _chunks(items: list[_T], size: int) -> Iterator[list[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _drop_none(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class _Library(DiscourseClient):
    """pydiscourse underneath the client: it keeps the connection settings, and every
    request its wrappers make is sent through the ``ForumClient`` door (limit, counts,
    timeouts, classified errors) instead of pydiscourse's bare ``requests.request``."""

    def __init__(
        self, door: ForumClient, host: str, api_username: str, api_key: str, timeout: Timeout
    ) -> None:
        super().__init__(host, api_username, api_key, timeout=timeout)
        self._door = door

    def _request(
        self,
        verb: str,
        path: str,
        params: dict[str, Any] | None = None,
        files: Any = None,
        data: Any = None,
        json: Any = None,
        override_request_kwargs: dict[str, Any] | None = None,
    ) -> Any:
        return self._door._request(
            verb,
            path,
            params=params,
            files=files,
            data=data,
            json=json,
            override_request_kwargs=override_request_kwargs,
        )


class ForumClient:
    """Typed access to the Discourse endpoints Diamond uses, through one rate-limited door.

    ``on_limit="raise"`` (workers): an exhausted budget or a 429 raises
    ``RateLimited(wait)``. ``on_limit="wait"`` (CLI): sleep and try again, giving up
    with ``RateLimited`` after ``max_wait`` seconds of waiting in one call.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        api_username: str = "system",
        *,
        limiter: RateLimiter | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        on_limit: OnLimit = "raise",
        max_wait: float = 300.0,
        counts_redis: redis.Redis | None = None,
        counts_key: str = CALL_COUNTS_KEY,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        read_retry: ReadRetry = ReadRetry(),  # frozen: one shared default is safe
        public_url: str = "",
    ) -> None:
        if on_limit not in ("raise", "wait"):
            raise ValueError(f"on_limit must be 'raise' or 'wait', not {on_limit!r}")
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        self._library = _Library(self, base_url.rstrip("/"), api_username, api_key, timeout)
        register_secret(api_key)  # the log filter masks it wherever it might appear
        self.limiter = limiter
        self.on_limit: OnLimit = on_limit
        self.max_wait = max_wait
        self.counts_redis = counts_redis
        self.counts_key = counts_key
        self.session = session or _pooled_session()
        self.call_counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()
        self._sleep = sleep
        self.read_retry = read_retry
        # Where people reach the forum (links in PMs and posts); the API's address if unset.
        self.public_url = (public_url or base_url).rstrip("/")
        self._user_fields_prefix = USER_FIELDS_PREFIXES[0]  # until a 404 says otherwise
        self._category_paths: dict[int, str] = {}  # category id -> slug path, read once

    @classmethod
    def from_settings(
        cls,
        settings: Any,
        redis: redis.Redis | None = None,
        *,
        on_limit: OnLimit = "raise",
        **kwargs: Any,
    ) -> ForumClient:
        """Client for the configured forum; the budget is shared through ``redis``.

        Without a Redis client one is made from ``settings.redis_url``; with neither,
        the budget is per-process (``LocalRateLimiter``) and a warning says so.
        """
        settings.require("forum_url", "api_key")
        client = redis
        if client is None and settings.redis_url:
            import redis as redis_lib

            client = redis_lib.Redis.from_url(settings.redis_url)
        if client is not None:
            limiter: RateLimiter = RedisRateLimiter(
                client,
                limit=settings.api_requests_per_minute,
                period=getattr(settings, "api_window_seconds", 60.0),
            )
        else:
            log.warning("no Redis configured: the forum rate limit is not shared between processes")
            limiter = LocalRateLimiter(
                limit=settings.api_requests_per_minute,
                period=getattr(settings, "api_window_seconds", 60.0),
            )
        return cls(
            settings.forum_url,
            settings.api_key.get_secret_value(),
            settings.api_username,
            limiter=limiter,
            on_limit=on_limit,
            counts_redis=client,
            public_url=getattr(settings, "public_url", "") or settings.forum_url,
            **kwargs,
        )

    def as_user(self, username: str) -> ForumClient:
        """The same client (session, limiter, counts) acting as ``username`` (Api-Username)."""
        other = copy.copy(self)  # shallow: the session, limiter, counts and lock are shared
        lib = self._library
        other._library = _Library(other, lib.host, username, lib.api_key, lib.timeout)
        return other

    @property
    def host(self) -> str:
        """The API's base address (no trailing slash)."""
        return str(self._library.host)

    @property
    def api_username(self) -> str:
        """Who the calls act as (``Api-Username``)."""
        return str(self._library.api_username)

    @property
    def timeout(self) -> Timeout:
        """(connect, read) seconds, on every call."""
        timeout: Timeout = self._library.timeout
        return timeout

    def __repr__(self) -> str:  # the key stays out of reprs
        return f"ForumClient({self.host!r}, api_username={self.api_username!r}, api_key={MASK!r})"

    # ------------------------------------------------------------------ transport

    def _request(
        self,
        verb: str,
        path: str,
        params: dict[str, Any] | None = None,
        files: Any = None,
        data: Any = None,
        json: Any = None,
        override_request_kwargs: dict[str, Any] | None = None,
        *,
        template: str | None = None,
        reason: str | None = None,
    ) -> Any:
        """Send one call; returns the decoded JSON ({} for an empty body) or raises ForumError.

        pydiscourse's wrappers (``_Library``) call this with a concrete path; typed methods also
        pass the ``template`` the call is counted under and the ``reason`` logged
        with writes.
        """
        verb = verb.upper()
        template = template or guess_template(path)
        label = f"{verb} {template}"
        waited = 0.0
        failed_reads = 0
        while True:
            self._take_slot(label, waited_so_far=waited)
            self._count(label)
            try:
                response = self._send(
                    label, verb, path, params, files, data, json, override_request_kwargs
                )
                unavailable = response.status_code >= 500
            except ForumUnavailable:
                if verb != "GET" or failed_reads >= self.read_retry.attempts:
                    raise
                response, unavailable = None, True
            if unavailable and verb == "GET" and failed_reads < self.read_retry.attempts:
                # A read changes nothing: try it again here rather than fail the whole job
                # (a job of N calls would otherwise succeed with p**N). Writes are not
                # resent: their outcome is unknown, and the Applier checks it first.
                wait = self.read_retry.wait(response, failed_reads)
                failed_reads += 1
                log.info("forum unavailable on %s; read retried in %.1fs", label, wait)
                self._sleep(wait)
                continue
            assert response is not None  # a failed send of a write or a last read raised
            if response.status_code != 429:
                break
            wait = _rate_limit_wait(response)
            metrics.count(self.counts_redis, metrics.RATE_LIMITED_KEY, label)
            if self.limiter is not None:
                self.limiter.penalize(wait)
            if self.on_limit == "raise" or waited + wait > self.max_wait:
                raise RateLimited(wait, message=_rate_limit_message(response), path=label)
            log.warning("forum said 429 on %s; waiting %.1fs", label, wait)
            self._sleep(wait)
            waited += wait

        if verb != "GET":
            log.info(
                "forum %s -> %s%s",
                label,
                response.status_code,
                f" ({reason})" if reason else "",
            )
        else:
            log.debug("forum %s -> %s", label, response.status_code)
        if response.status_code >= 300:
            _raise_for(response, label)
        return _decode_success(response, label)

    def _take_slot(self, label: str, *, waited_so_far: float) -> None:
        if self.limiter is None:
            return
        waited = waited_so_far
        while (wait := self.limiter.acquire()) > 0:
            if self.on_limit == "raise" or waited + wait > self.max_wait:
                raise RateLimited(wait, message="forum request budget exhausted", path=label)
            # Say so: a terminal silent for up to a minute looks hung.
            log.log(
                logging.WARNING if wait >= 1 else logging.DEBUG,
                "forum API budget (%s a minute, shared) used up: waiting %.1f s before %s",
                getattr(self.limiter, "limit", "?"),
                wait,
                label,
            )
            metrics.count_budget_wait(self.counts_redis, wait)
            self._sleep(wait)
            waited += wait

    def _send(
        self,
        label: str,
        verb: str,
        path: str,
        params: Any,
        files: Any,
        data: Any,
        json: Any,
        override: dict[str, Any] | None,
    ) -> requests.Response:
        kwargs: dict[str, Any] = {
            "params": params or None,
            "files": files,
            "data": data or None,
            "json": json,
            "headers": {
                "Accept": "application/json",
                "Api-Key": self._library.api_key,
                "Api-Username": self.api_username,
            },
            "timeout": self.timeout,
            "allow_redirects": False,
        }
        kwargs.update(override or {})
        try:
            return self.session.request(verb, self.host + path, **kwargs)
        except requests.Timeout as exc:
            raise ForumUnavailable(self._clean(f"timed out: {exc}"), path=label) from None
        except requests.ConnectionError as exc:
            raise ForumUnavailable(self._clean(f"cannot connect: {exc}"), path=label) from None
        except requests.RequestException as exc:
            raise ForumUnavailable(self._clean(f"request failed: {exc}"), path=label) from None

    def _clean(self, text: str) -> str:
        """Scrub the key from text built out of requests' exceptions (they may quote URLs)."""
        if self._library.api_key:
            text = text.replace(self._library.api_key, MASK)
        return scrub(text)[:500]

    def _count(self, label: str) -> None:
        with self._counts_lock:
            self.call_counts[label] += 1
        if self.counts_redis is not None:
            try:
                self.counts_redis.hincrby(self.counts_key, label, 1)
            except redis.RedisError as exc:  # metrics must never break a forum call
                log.warning("could not mirror forum call count to Redis: %s", exc)

    def _call(
        self,
        verb: str,
        template: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        reason: str | None = None,
        **path_values: Any,
    ) -> Any:
        path = fill(template, **path_values)
        return self._request(verb, path, params=params, json=json, template=template, reason=reason)

    def _already(self, what: str, detail: str) -> dict[str, Any]:
        log.info("forum: %s already done (%s)", what, detail)
        return {"already_done": True, "detail": detail}

    # ------------------------------------------------------------------ users

    def get_user(self, username: str) -> dict[str, Any]:
        """Public profile: ``GET /u/{username}.json`` → the ``user`` object."""
        return self._call("GET", "/u/{username}.json", username=username).get("user", {})

    def admin_get_user(self, user_id: int) -> dict[str, Any]:
        """Admin view with ``user_fields``, ``approved``, ``silenced_till``, ``invited_by``..."""
        return self._call("GET", "/admin/users/{id}.json", id=user_id)

    def iter_admin_users(
        self, flag: str, *, show_emails: bool = False, filter: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """``GET /admin/users/list/{flag}.json?page=N`` (1-based) until a page comes back empty.

        ``show_emails`` adds emails but writes a staff-action-log entry per call
        (``StaffActionLogger#log_show_emails``): ask for it only when an email is needed.
        ``filter`` narrows the list to usernames/emails containing it.
        """
        if flag not in ADMIN_USER_FLAGS:
            raise ValueError(f"flag must be one of {sorted(ADMIN_USER_FLAGS)}, not {flag!r}")
        page = 1
        seen: set[Any] = set()
        while True:
            params: dict[str, Any] = {"page": page}
            if show_emails:
                params["show_emails"] = "true"
            if filter:
                params["filter"] = filter
            users = self._call("GET", "/admin/users/list/{flag}.json", flag=flag, params=params)
            fresh = _unseen(users or [], seen)
            if not fresh:
                return
            yield from fresh
            page += 1

    def create_user(
        self,
        name: str,
        username: str,
        email: str,
        password: str,
        *,
        active: bool = True,
        approved: bool | None = None,
        user_fields: dict[int, str] | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """``POST /users.json``; user fields go as ``{"user_fields": {"<id>": value}}``
        (the JSON form of Rails' ``user_fields[<id>]=value``)."""
        body: dict[str, Any] = {
            "name": name,
            "username": username,
            "email": email,
            "password": password,
            "active": active,
        }
        if approved is not None:
            body["approved"] = approved
        if user_fields:
            body["user_fields"] = {str(k): v for k, v in user_fields.items()}
        result = self._call("POST", "/users.json", json=body, reason=reason)
        # Discourse answers 200 {"success": false, "message": ...} on a refused signup.
        if result.get("success") is False:
            raise ForumRejected(
                result.get("message") or "signup refused",
                status=200,
                path="POST /users.json",
                errors=[str(result.get("message", ""))],
            )
        return result

    def approve_user(self, user_id: int, *, reason: str | None = None) -> dict[str, Any]:
        """``PUT /admin/users/{id}/approve.json`` (pydiscourse's ``approve()`` sends GET)."""
        try:
            return self._call("PUT", "/admin/users/{id}/approve.json", id=user_id, reason=reason)
        except NotFound:
            raise
        except ForumRejected as exc:
            # Discourse answers 403 (ensure_can_approve!) for an approved user. Its admin
            # serializer leaves ``approved`` out when must_approve_users is off: then an
            # active user needs no approval, which is what approving was for.
            if exc.status != 403:
                raise
            user = self.admin_get_user(user_id)
            if user.get("approved") or ("approved" not in user and user.get("active")):
                return self._already(f"approve user {user_id}", "already approved")
            if user.get("active") is False:  # the email is not confirmed yet: "not yet"
                raise NotActiveYet(
                    f"user {user_id} has not confirmed their email yet",
                    status=exc.status,
                    path=exc.path,
                ) from exc
            raise

    def delete_user(
        self,
        user_id: int,
        *,
        block_email: bool = False,
        block_ip: bool = False,
        block_urls: bool = False,
        delete_posts: bool = False,
        context: str | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """``DELETE /admin/users/{id}.json``; a user who is already gone counts as deleted."""
        body = _drop_none(
            delete_posts=delete_posts,
            block_email=block_email,
            block_urls=block_urls,
            block_ip=block_ip,
            context=context,
        )
        try:
            result = self._call(
                "DELETE", "/admin/users/{id}.json", id=user_id, json=body, reason=reason
            )
        except ForumRejected as exc:
            # A missing user gives 403 (guardian on nil), not 404: look before deciding.
            if exc.status in (403, 404):
                try:
                    self.admin_get_user(user_id)
                except NotFound:
                    return self._already(f"delete user {user_id}", "user does not exist")
            raise
        if result.get("deleted") is False:
            raise ForumRejected(
                result.get("message") or "Discourse did not delete the user",
                status=200,
                path="DELETE /admin/users/{id}.json",
            )
        return result

    def silence_user(
        self, user_id: int, until: datetime, reason: str, message: str | None = None
    ) -> dict[str, Any]:
        """``PUT /admin/users/{id}/silence.json`` with ``silenced_till`` (exact time) and reason."""
        body = _drop_none(silenced_till=_iso(until), reason=reason, message=message)
        try:
            return self._call(
                "PUT", "/admin/users/{id}/silence.json", id=user_id, json=body, reason=reason
            )
        except ForumRejected as exc:
            if exc.status == 409:
                return self._already(f"silence user {user_id}", exc.message)
            raise

    def unsilence_user(self, user_id: int, *, reason: str | None = None) -> dict[str, Any]:
        return self._call("PUT", "/admin/users/{id}/unsilence.json", id=user_id, reason=reason)

    def suspend_user(
        self, user_id: int, until: datetime, reason: str, message: str | None = None
    ) -> dict[str, Any]:
        """``PUT /admin/users/{id}/suspend.json`` with ``suspend_until`` (an exact time)."""
        body = _drop_none(suspend_until=_iso(until), reason=reason, message=message)
        try:
            return self._call(
                "PUT", "/admin/users/{id}/suspend.json", id=user_id, json=body, reason=reason
            )
        except ForumRejected as exc:
            if exc.status == 409:
                return self._already(f"suspend user {user_id}", exc.message)
            raise

    def unsuspend_user(self, user_id: int, *, reason: str | None = None) -> dict[str, Any]:
        return self._call("PUT", "/admin/users/{id}/unsuspend.json", id=user_id, reason=reason)

    def set_trust_level(
        self, user_id: int, level: int, *, reason: str | None = None
    ) -> dict[str, Any]:
        if level not in range(5):
            raise ValueError(f"trust level must be 0-4, not {level}")
        return self._call(
            "PUT",
            "/admin/users/{id}/trust_level.json",
            id=user_id,
            json={"level": level},
            reason=reason,
        )

    def set_user_field(
        self, username: str, field_id: int, value: str, *, reason: str | None = None
    ) -> dict[str, Any]:
        """Staff set a member's field: ``PUT /u/{username}.json`` ``user_fields[<id>]=value``."""
        return self._call(
            "PUT",
            "/u/{username}.json",
            username=username,
            json={"user_fields": {str(field_id): value}},
            reason=reason,
        )

    # ------------------------------------------------------------------ user fields

    def list_user_fields(self) -> list[dict[str, Any]]:
        return self._user_fields_call("GET", ".json").get("user_fields", [])

    def create_user_field(self, *, reason: str | None = None, **attrs: Any) -> dict[str, Any]:
        """``POST /admin/config/user_fields.json {"user_field": {name, field_type, ...}}``;
        Discourse answers ``{"success": "OK", "user_field": {...}}``."""
        return self._user_fields_call(
            "POST", ".json", json={"user_field": attrs}, reason=reason
        ).get("user_field", {})

    def update_user_field(
        self, field_id: int, *, reason: str | None = None, **attrs: Any
    ) -> dict[str, Any]:
        return self._user_fields_call(
            "PUT", "/{id}.json", id=field_id, json={"user_field": attrs}, reason=reason
        ).get("user_field", {})

    def delete_user_field(self, field_id: int, *, reason: str | None = None) -> dict[str, Any]:
        # Discourse answers 200 for a field that does not exist; 404 only on both paths.
        try:
            return self._user_fields_call("DELETE", "/{id}.json", id=field_id, reason=reason)
        except NotFound:
            return self._already(f"delete user field {field_id}", "not found")

    def _user_fields_call(self, verb: str, suffix: str, **kwargs: Any) -> Any:
        """User-field admin routes: ``/admin/config/user_fields`` on current Discourse,
        ``/admin/customize/user_fields`` on older forums (the other answers 404, a
        missing route). The one that answered is tried first from then on."""
        known = self._user_fields_prefix
        prefixes = [known] + [p for p in USER_FIELDS_PREFIXES if p != known]
        for prefix in prefixes:
            try:
                result = self._call(verb, prefix + suffix, **kwargs)
            except NotFound:
                if prefix == prefixes[-1]:
                    raise
                log.info("forum: no %s%s here; trying the other user-field path", prefix, suffix)
                continue
            self._user_fields_prefix = prefix
            return result
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ review queue

    def iter_reviewables(
        self, type: str = "ReviewableUser", status: str = "pending"
    ) -> Iterator[dict[str, Any]]:
        """``GET /review.json?type=&status=&offset=`` following ``meta.load_more_reviewables``."""
        offset = 0
        seen: set[Any] = set()
        while True:
            params = {"type": type, "status": status, "offset": offset}
            page = self._call("GET", "/review.json", params=params)
            items = page.get("reviewables") or []
            fresh = _unseen(items, seen)
            yield from fresh
            offset += len(items)
            if not fresh or not (page.get("meta") or {}).get("load_more_reviewables"):
                return

    def get_reviewable(self, reviewable_id: int) -> dict[str, Any]:
        return self._call("GET", "/review/{id}.json", id=reviewable_id).get("reviewable", {})

    def perform_reviewable(
        self,
        reviewable_id: int,
        action: str,
        version: int,
        *,
        reason: str | None = None,
        reject_reason: str | None = None,
        send_email: bool | None = None,
    ) -> dict[str, Any]:
        """``PUT /review/{id}/perform/{action}.json?version=N`` (approve_user, delete_user, ...).

        ``reject_reason``/``send_email`` reach ``ReviewableUser#perform_delete_user``: the
        applicant is emailed the reason (``signup_after_reject``) unless ``send_email`` is
        False (sent as the string "false": Discourse compares ``params[:send_email]`` with it).
        A stale ``version`` (409) is retried once with the current one; a reviewable
        already settled the way we asked is success.
        """
        if action not in REVIEWABLE_ACTIONS:
            raise ValueError(f"action must be one of {sorted(REVIEWABLE_ACTIONS)}, not {action!r}")
        body: dict[str, Any] = {}
        if reject_reason:
            body["reject_reason"] = reject_reason
        if send_email is not None:
            body["send_email"] = "true" if send_email else "false"
        for attempt in range(2):
            try:
                return self._call(
                    "PUT",
                    "/review/{id}/perform/{action}.json",
                    id=reviewable_id,
                    action=action,
                    params={"version": version},
                    json=body or None,
                    reason=reason,
                )
            except ForumRejected as exc:
                if exc.status not in (403, 404, 409):
                    raise
                try:
                    current = self.get_reviewable(reviewable_id)
                except NotFound:
                    if action != "approve_user":  # deleting the user removes its reviewable
                        return self._already(f"{action} reviewable {reviewable_id}", "gone")
                    raise exc from None
                if _settled_as(current.get("status"), action):
                    return self._already(
                        f"{action} reviewable {reviewable_id}", f"status {current.get('status')}"
                    )
                if exc.status == 409 and attempt == 0 and "version" in current:
                    version = int(current["version"])
                    continue
                raise
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ groups

    def get_group(self, name: str) -> dict[str, Any]:
        return self._call("GET", "/groups/{name}.json", name=name).get("group", {})

    def list_groups(self) -> list[dict[str, Any]]:
        """Every group, over ``GET /groups.json?page=N`` (0-based) pages."""
        groups: list[dict[str, Any]] = []
        seen: set[Any] = set()
        page = 0
        while True:
            result = self._call("GET", "/groups.json", params={"page": page})
            items = _unseen(result.get("groups") or [], seen)
            groups.extend(items)
            total = result.get("total_rows_groups")
            if not items or (total is not None and len(groups) >= total):
                return groups
            page += 1

    def create_group(
        self,
        name: str,
        full_name: str | None = None,
        *,
        reason: str | None = None,
        **attrs: Any,
    ) -> dict[str, Any]:
        """``POST /admin/groups.json {"group": {...}}``; ``name`` is a short ASCII slug."""
        group = {"name": name, **_drop_none(full_name=full_name), **attrs}
        return self._call("POST", "/admin/groups.json", json={"group": group}, reason=reason).get(
            "basic_group", {}
        )

    def update_group(
        self, group_id: int, *, reason: str | None = None, **attrs: Any
    ) -> dict[str, Any]:
        return self._call(
            "PUT", "/groups/{id}.json", id=group_id, json={"group": attrs}, reason=reason
        )

    def delete_group(self, group_id: int, *, reason: str | None = None) -> dict[str, Any]:
        return self._delete_idempotent(
            "/admin/groups/{id}.json", f"group {group_id}", reason, id=group_id
        )

    def add_group_members(
        self,
        group_id: int,
        usernames: Iterable[str],
        *,
        group_name: str | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """``PUT /groups/{id}/members.json usernames=a,b`` in chunks of at most 1000.

        Returns ``{"added", "already", "unknown"}``. Decided from facts, not from the
        forum's words (``GroupsController#add_members``):

        - a 422 carries ``member_already_exist`` as localised text with no ``error_type``,
          so the group's members are read (one more call per 500 members; the group's
          name is looked up first when not given): names already in are done, the rest
          are sent again (older Discourse refused a whole batch if any one was in); a 422
          with none of them in is a real refusal;
        - names without an account (a member who deleted theirs) are dropped by
          Discourse, or answered 400 ``invalid_parameters`` when none exists: they are
          skipped with a warning, never retried.
        """
        names = sorted(set(usernames))
        added: list[str] = []
        already: list[str] = []
        unknown: list[str] = []
        for chunk in _chunks(names, GROUP_MEMBERS_CHUNK):
            pending = chunk
            while pending:
                try:
                    result = self._call(
                        "PUT",
                        "/groups/{id}/members.json",
                        id=group_id,
                        json={"usernames": ",".join(pending)},
                        reason=reason,
                    )
                except ForumRejected as exc:
                    if _no_such_users(exc):
                        self._skip_unknown(group_id, pending, unknown)
                        pending = []
                        continue
                    if exc.status != 422:
                        raise
                    group_name = group_name or self._group_name(group_id)
                    members = {m.lower() for m in self._member_usernames(group_name)}
                    present = [n for n in pending if n.lower() in members]
                    if not present:
                        raise
                    log.info("forum: group %s already has %s", group_name, present)
                    already.extend(present)
                    pending = [n for n in pending if n.lower() not in members]
                    continue
                answered = {str(n).lower() for n in result.get("usernames") or ()}
                missing = [n for n in pending if n.lower() not in answered] if answered else []
                self._skip_unknown(group_id, missing, unknown)
                added.extend(n for n in pending if n not in missing)
                pending = []
        return {"success": "OK", "added": added, "already": already, "unknown": unknown}

    def _group_name(self, group_id: int) -> str:
        """``GET /groups/by-id/{id}.json``: member lists are read by name."""
        return str(self._call("GET", "/groups/by-id/{id}.json", id=group_id)["group"]["name"])

    def _member_usernames(self, group_name: str) -> list[str]:
        return [str(m.get("username", "")) for m in self.iter_group_members(group_name)]

    @staticmethod
    def _skip_unknown(group_id: int, names: list[str], unknown: list[str]) -> None:
        if names:
            log.warning(
                "forum: group %s: no account named %s (deleted?); skipped",
                group_id,
                ", ".join(names),
            )
            unknown.extend(names)

    def remove_group_members(
        self, group_id: int, usernames: Iterable[str], *, reason: str | None = None
    ) -> dict[str, Any]:
        """``DELETE /groups/{id}/members.json``; non-members come back in ``skipped_usernames``,
        and so (with a warning) do names without an account: Discourse drops those, or
        answers 400 ``invalid_parameters`` when none of the batch exists."""
        names = sorted(set(usernames))
        removed: list[str] = []
        skipped: list[str] = []
        for chunk in _chunks(names, GROUP_MEMBERS_CHUNK):
            try:
                result = self._call(
                    "DELETE",
                    "/groups/{id}/members.json",
                    id=group_id,
                    json={"usernames": ",".join(chunk)},
                    reason=reason,
                )
            except ForumRejected as exc:
                if not _no_such_users(exc):
                    raise
                self._skip_unknown(group_id, chunk, skipped)
                continue
            gone = list(result.get("usernames") or [])
            kept = list(result.get("skipped_usernames") or [])
            known = {n.lower() for n in gone + kept}
            removed.extend(gone)
            skipped.extend(kept)
            self._skip_unknown(group_id, [n for n in chunk if n.lower() not in known], skipped)
        return {"success": "OK", "usernames": removed, "skipped_usernames": skipped}

    def add_group_owners(
        self, group_id: int, usernames: Iterable[str], *, reason: str | None = None
    ) -> dict[str, Any]:
        """``PUT /groups/{id}/owners.json {"usernames": "a,b"}`` (adds them as members too).

        Older Discourse served this at ``/admin/groups/{id}/owners.json`` with the
        names under ``group``; current Discourse routes it to GroupsController.
        """
        names = ",".join(sorted(set(usernames)))
        return self._call(
            "PUT", "/groups/{id}/owners.json", id=group_id, json={"usernames": names}, reason=reason
        )

    def remove_group_owner(
        self, group_id: int, user_id: int, *, reason: str | None = None
    ) -> dict[str, Any]:
        """``DELETE /admin/groups/{id}/owners.json?user_id=`` (the user stays a member)."""
        return self._call(
            "DELETE",
            "/admin/groups/{id}/owners.json",
            id=group_id,
            params={"user_id": user_id},
            reason=reason,
        )

    def iter_group_members(self, name: str, *, limit: int = 500) -> Iterator[dict[str, Any]]:
        """Every member of a group (owners included, each marked ``"owner": bool``).

        ``GET /groups/{name}/members.json?limit=&offset=``; Discourse allows limit ≤ 1000.
        """
        if not 0 < limit <= 1000:
            raise ValueError("limit must be 1-1000")
        offset = 0
        seen: set[Any] = set()
        owner_ids: set[int] | None = None
        while True:
            params = {"limit": limit, "offset": offset}
            page = self._call("GET", "/groups/{name}/members.json", name=name, params=params)
            if owner_ids is None:
                owner_ids = {o["id"] for o in page.get("owners") or [] if "id" in o}
            members = page.get("members") or []
            fresh = _unseen(members, seen)
            for member in fresh:
                yield {**member, "owner": member.get("id") in owner_ids}
            offset += len(members)
            total = (page.get("meta") or {}).get("total")
            if not fresh or (total is not None and offset >= total):
                return

    # ------------------------------------------------------------------ categories

    def list_categories(self) -> list[dict[str, Any]]:
        """All categories, subcategories flattened in (each keeps ``parent_category_id``)."""
        result = self._call("GET", "/categories.json", params={"include_subcategories": "true"})
        flat: list[dict[str, Any]] = []
        stack = list(reversed((result.get("category_list") or {}).get("categories") or []))
        while stack:
            category = stack.pop()
            flat.append(category)
            stack.extend(reversed(category.get("subcategory_list") or []))
        return flat

    def get_category(self, category_id: int) -> dict[str, Any]:
        return self._call("GET", "/c/{id}/show.json", id=category_id).get("category", {})

    def find_categories(self, category_ids: list[int]) -> list[dict[str, Any]]:
        """``GET /categories/find.json?ids[]=..&include_permissions=true``: the categories as
        ``show`` gives them (CategorySerializer: ``group_permissions``, ``moderating_group_ids``),
        one call for many (CategoriesController#find). A forum before it answers 404."""
        params = {"ids[]": [int(i) for i in category_ids], "include_permissions": "true"}
        return list(self._call("GET", "/categories/find.json", params=params).get("categories", []))

    def create_category(
        self,
        name: str,
        *,
        slug: str | None = None,
        color: str = "0088CC",
        text_color: str = "FFFFFF",
        parent_category_id: int | None = None,
        permissions: dict[str, int] | None = None,
        moderating_group_ids: list[int] | None = None,
        description: str | None = None,
        reason: str | None = None,
        **attrs: Any,
    ) -> dict[str, Any]:
        """``POST /categories.json``; ``permissions={"group": 1|2|3}`` (full/create_post/readonly).

        ``moderating_group_ids`` is accepted by Discourse (it needs the site setting
        ``enable_category_group_moderation``) but absent from the documented schema.
        ``description`` is not a Discourse create parameter (the description lives in
        the category's "About" topic); it is sent for the sandbox and ignored by Discourse.
        """
        body = self._category_body(
            name=name,
            slug=slug,
            color=color,
            text_color=text_color,
            parent_category_id=parent_category_id,
            permissions=permissions,
            moderating_group_ids=moderating_group_ids,
            description=description,
            **attrs,
        )
        return self._call("POST", "/categories.json", json=body, reason=reason).get("category", {})

    def update_category(
        self, category_id: int, *, reason: str | None = None, **attrs: Any
    ) -> dict[str, Any]:
        """``PUT /categories/{id}.json``. Discourse requires ``name`` on update, as on create."""
        body = self._category_body(**attrs)
        return self._call(
            "PUT", "/categories/{id}.json", id=category_id, json=body, reason=reason
        ).get("category", {})

    @staticmethod
    def _category_body(**attrs: Any) -> dict[str, Any]:
        permissions = attrs.get("permissions")
        if permissions is not None:
            bad = {g: v for g, v in permissions.items() if v not in PERMISSION_LEVELS}
            if bad:
                raise ValueError(f"permission levels must be 1, 2 or 3, got {bad}")
        return _drop_none(**attrs)

    def delete_category(self, category_id: int, *, reason: str | None = None) -> dict[str, Any]:
        return self._delete_idempotent(
            "/categories/{id}.json", f"category {category_id}", reason, id=category_id
        )

    def iter_category_topics(
        self, category_id: int, *, slug_path: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """``GET /c/{slug path}/{id}.json?page=N`` (0-based) while ``more_topics_url`` says so.

        Discourse answers ``/c/{id}.json``, and any slug path that is not the category's
        full one (``parent/child``), with a 301 (``ListController#set_category``); the
        client does not follow redirects, so it asks for the canonical path. Without
        ``slug_path`` it is read from the category list, once per client (one call), and
        once more if a 301 says a slug changed since.
        """
        path = slug_path or self.category_slug_path(category_id)
        page = 0
        seen: set[Any] = set()
        reread = slug_path is None
        while True:
            try:
                result = self._category_page(path, category_id, page)
            except ForumRejected as exc:
                if not (reread and exc.status in (301, 302)):
                    raise
                reread = False
                path = self.category_slug_path(category_id, refresh=True)
                continue
            topic_list = result.get("topic_list") or {}
            fresh = _unseen(topic_list.get("topics") or [], seen)
            yield from fresh
            if not fresh or not topic_list.get("more_topics_url"):
                return
            page += 1

    def _category_page(self, slug_path: str, category_id: int, page: int) -> Any:
        # Each slug is quoted on its own ("%" kept: slugs of encoded sites are stored quoted).
        quoted = "/".join(quote(part, safe="%") for part in slug_path.split("/"))
        return self._request(
            "GET",
            f"/c/{quoted}/{int(category_id)}.json",
            params={"page": page},
            template="/c/{slug}/{id}.json",
        )

    def category_slug_path(self, category_id: int, *, refresh: bool = False) -> str:
        """``parent/child`` as in ``Category#full_slug("/")`` (a category without a slug
        is ``{id}-category``), from ``GET /categories.json`` read once per client."""
        if refresh or category_id not in self._category_paths:
            self._category_paths = _slug_paths(self.list_categories())
        try:
            return self._category_paths[category_id]
        except KeyError:
            raise NotFound(
                f"category {category_id} is not in the category list",
                status=404,
                path="GET /c/{slug}/{id}.json",
            ) from None

    # ------------------------------------------------------------------ topics and posts

    def create_topic(
        self,
        title: str,
        raw: str,
        category_id: int,
        *,
        created_at: datetime | None = None,
        tags: list[str] | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """``POST /posts.json`` with ``title`` and ``category`` (the documented key; not
        ``category_id``). ``created_at`` is honoured for admins; ``tags`` needs tagging."""
        body = _drop_none(
            title=title,
            raw=raw,
            category=category_id,
            created_at=_iso(created_at) if created_at else None,
            tags=tags,
        )
        return self._call("POST", "/posts.json", json=body, reason=reason)

    def create_post(
        self,
        topic_id: int,
        raw: str,
        *,
        reply_to_post_number: int | None = None,
        created_at: datetime | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]:
        body = _drop_none(
            topic_id=topic_id,
            raw=raw,
            reply_to_post_number=reply_to_post_number,
            created_at=_iso(created_at) if created_at else None,
        )
        return self._call("POST", "/posts.json", json=body, reason=reason)

    def send_private_message(
        self, recipients: list[str], title: str, raw: str, *, reason: str | None = None
    ) -> dict[str, Any]:
        """``POST /posts.json`` ``archetype=private_message``, ``target_recipients=a,b``."""
        if not recipients:
            raise ValueError("a private message needs at least one recipient")
        body = {
            "title": title,
            "raw": raw,
            "archetype": "private_message",
            "target_recipients": ",".join(recipients),
        }
        return self._call("POST", "/posts.json", json=body, reason=reason)

    def list_private_messages(self, username: str) -> list[dict[str, Any]]:
        """The newest page of ``username``'s messages (inbox and sent):
        ``GET /topics/private-messages/{username}.json`` (staff may read anyone's)."""
        answer = self._call("GET", "/topics/private-messages/{username}.json", username=username)
        return list((answer.get("topic_list") or {}).get("topics") or [])

    def get_post(self, post_id: int) -> dict[str, Any]:
        return self._call("GET", "/posts/{id}.json", id=post_id)

    def update_post(
        self,
        post_id: int,
        raw: str,
        edit_reason: str | None = None,
        *,
        reason: str | None = None,
    ) -> dict[str, Any]:
        body = {"post": _drop_none(raw=raw, edit_reason=edit_reason)}
        return self._call(
            "PUT", "/posts/{id}.json", id=post_id, json=body, reason=reason or edit_reason
        ).get("post", {})

    def delete_post(self, post_id: int, *, reason: str | None = None) -> dict[str, Any]:
        return self._delete_idempotent("/posts/{id}.json", f"post {post_id}", reason, id=post_id)

    def get_topic(self, topic_id: int) -> dict[str, Any]:
        return self._call("GET", "/t/{id}.json", id=topic_id)

    def iter_topic_posts(self, topic_id: int) -> Iterator[dict[str, Any]]:
        """Every post of a topic in stream order.

        ``GET /t/{id}.json`` carries the first posts and ``post_stream.stream`` (all
        ids); the rest come from ``/t/{id}/posts.json?post_ids[]=...`` 20 at a time.
        """
        topic = self.get_topic(topic_id)
        stream = topic.get("post_stream") or {}
        loaded = {p["id"]: p for p in stream.get("posts") or [] if "id" in p}
        ids: list[int] = stream.get("stream") or list(loaded)
        missing = [i for i in ids if i not in loaded]
        for chunk in _chunks(missing, TOPIC_POSTS_CHUNK):
            page = self._call(
                "GET", "/t/{id}/posts.json", id=topic_id, params={"post_ids[]": chunk}
            )
            for post in (page.get("post_stream") or {}).get("posts") or []:
                loaded[post["id"]] = post
        for post_id in ids:
            if post_id in loaded:  # a post deleted between the two calls is skipped
                yield loaded[post_id]

    def iter_posts_since(self, after_post_id: int) -> Iterator[dict[str, Any]]:
        """Public posts with ``id > after_post_id``, oldest first.

        ``GET /posts.json?before=N`` (Discourse's latest posts: newest first, 50 a
        page, ``id < before``), paging back until a page reaches ``after_post_id``.
        Private messages are not in this list.
        """
        found: dict[int, dict[str, Any]] = {}
        before: int | None = None
        while True:
            params = {"before": before} if before is not None else None
            page = self._call("GET", "/posts.json", params=params).get("latest_posts") or []
            ids = [p["id"] for p in page if "id" in p]
            new = [p for p in page if p.get("id") not in found]
            for post in new:
                if post["id"] > after_post_id:
                    found[post["id"]] = post
            if not new or min(ids) <= after_post_id:
                break
            before = min(ids)
        for post_id in sorted(found):
            yield found[post_id]

    def latest_post_id(self) -> int:
        """The newest public post's id (0 on an empty forum): one ``GET /posts.json``."""
        page = self._call("GET", "/posts.json").get("latest_posts") or []
        return max((int(p["id"]) for p in page if "id" in p), default=0)

    def like_post(self, post_id: int, *, reason: str | None = None) -> dict[str, Any]:
        """``POST /post_actions.json id=&post_action_type_id=2`` as the client's user."""
        try:
            return self._call(
                "POST",
                "/post_actions.json",
                json={"id": post_id, "post_action_type_id": 2},
                reason=reason,
            )
        except ForumRejected as exc:
            if exc.status == 403 and _ALREADY_PERFORMED.search(exc.message):
                return self._already(f"like post {post_id}", exc.message)
            raise

    # ------------------------------------------------------------------ badges

    def list_badges(self) -> list[dict[str, Any]]:
        return self._call("GET", "/admin/badges.json").get("badges", [])

    def create_badge(
        self,
        name: str,
        badge_type_id: int,
        description: str | None = None,
        *,
        reason: str | None = None,
        **attrs: Any,
    ) -> dict[str, Any]:
        """``POST /admin/badges.json``; badge_type_id 1 gold, 2 silver, 3 bronze."""
        if badge_type_id not in (1, 2, 3):
            raise ValueError("badge_type_id must be 1 (gold), 2 (silver) or 3 (bronze)")
        body = {
            "name": name,
            "badge_type_id": badge_type_id,
            **_drop_none(description=description),
            **_badge_flags(attrs),
        }
        return self._call("POST", "/admin/badges.json", json=body, reason=reason).get("badge", {})

    def update_badge(
        self, badge_id: int, *, reason: str | None = None, **attrs: Any
    ) -> dict[str, Any]:
        """``PUT /admin/badges/{id}.json``; Discourse requires ``name`` and ``badge_type_id``."""
        return self._call(
            "PUT", "/admin/badges/{id}.json", id=badge_id, json=_badge_flags(attrs), reason=reason
        ).get("badge", {})

    def delete_badge(self, badge_id: int, *, reason: str | None = None) -> dict[str, Any]:
        return self._delete_idempotent(
            "/admin/badges/{id}.json", f"badge {badge_id}", reason, id=badge_id
        )

    def grant_badge(self, username: str, badge_id: int, reason: str) -> dict[str, Any]:
        """``POST /user_badges.json``; ``reason`` is the post that earned it, best as the
        relative ``/t/{topic}/{post_number}``: ``UserBadgesController#create`` routes it with
        ``Discourse.route_for``, which refuses (400) an absolute URL on any host but the
        forum's public one, such as the internal address this client may use.

        Granting a badge the user already has (single-grant badge) is a 200 that
        returns the existing user badge: nothing special to do for retries.
        """
        body = {"username": username, "badge_id": badge_id, "reason": reason}
        return self._call(
            "POST", "/user_badges.json", json=body, reason=f"badge {badge_id} for {reason}"
        )

    def user_badges(self, username: str) -> dict[str, Any]:
        """``GET /user-badges/{username}.json``: ``user_badges`` (each with its ``id`` for
        revoking and ``badge_id``) plus the side-loaded ``badges``."""
        return self._call("GET", "/user-badges/{username}.json", username=username)

    def revoke_user_badge(self, user_badge_id: int, *, reason: str | None = None) -> dict[str, Any]:
        return self._delete_idempotent(
            "/user_badges/{id}.json", f"user badge {user_badge_id}", reason, id=user_badge_id
        )

    # ------------------------------------------------------------------ site settings

    def get_site_settings(self) -> dict[str, Any]:
        """``{name: value}`` from ``GET /admin/site_settings.json``."""
        rows = self._call("GET", "/admin/site_settings.json").get("site_settings") or []
        return {row["setting"]: row.get("value") for row in rows if "setting" in row}

    def set_site_setting(
        self, name: str, value: Any, *, reason: str | None = None
    ) -> dict[str, Any]:
        """``PUT /admin/site_settings/{name}.json {name: value}`` (the body key is the name)."""
        if isinstance(value, bool):
            value = "true" if value else "false"
        return self._call(
            "PUT",
            "/admin/site_settings/{name}.json",
            name=name,
            json={name: value},
            reason=reason,
        )

    # ------------------------------------------------------------------ webhooks

    def _webhooks_page(self, offset: int) -> dict[str, Any]:
        params = {"offset": offset} if offset else None
        return self._call("GET", "/admin/api/web_hooks.json", params=params)

    def list_webhooks(self) -> list[dict[str, Any]]:
        return self.list_webhooks_and_event_types()[0]

    def list_webhooks_and_event_types(
        self,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | list[Any]]:
        """Every webhook (paged, 50 a page) and the event types: each page carries them in
        ``extras`` (web_hooks_controller.rb#index), so both cost what the listing costs."""
        hooks: list[dict[str, Any]] = []
        seen: set[Any] = set()
        types: dict[str, Any] | list[Any] | None = None
        while True:
            page = self._webhooks_page(len(hooks))
            if types is None:
                types = _event_types(page)
            items = _unseen(page.get("web_hooks") or [], seen)
            hooks.extend(items)
            total = page.get("total_rows_web_hooks")
            if not items or total is None or len(hooks) >= total:
                return hooks, types

    def webhook_event_types(self) -> dict[str, Any] | list[Any]:
        """``extras.grouped_event_types`` (``{group: [types]}``), or ``event_types`` (a list)
        on older forums; ids differ between versions: never hard-code them."""
        return _event_types(self._webhooks_page(0))

    def create_webhook(
        self,
        payload_url: str,
        secret: str,
        event_type_ids: list[int],
        *,
        reason: str | None = None,
        **attrs: Any,
    ) -> dict[str, Any]:
        """``POST /admin/api/web_hooks.json {"web_hook": {...}}``; JSON bodies (content_type 1)."""
        hook = {
            "payload_url": payload_url,
            "secret": secret,
            "content_type": 1,
            "wildcard_web_hook": False,
            "verify_certificate": True,
            "active": True,
            "web_hook_event_type_ids": list(event_type_ids),
            **attrs,
        }
        return self._call(
            "POST", "/admin/api/web_hooks.json", json={"web_hook": hook}, reason=reason
        ).get("web_hook", {})

    def update_webhook(
        self, webhook_id: int, *, reason: str | None = None, **attrs: Any
    ) -> dict[str, Any]:
        if "event_type_ids" in attrs:
            attrs["web_hook_event_type_ids"] = list(attrs.pop("event_type_ids"))
        return self._call(
            "PUT",
            "/admin/api/web_hooks/{id}.json",
            id=webhook_id,
            json={"web_hook": attrs},
            reason=reason,
        ).get("web_hook", {})

    def delete_webhook(self, webhook_id: int, *, reason: str | None = None) -> dict[str, Any]:
        return self._delete_idempotent(
            "/admin/api/web_hooks/{id}.json", f"webhook {webhook_id}", reason, id=webhook_id
        )

    # ------------------------------------------------------------------ helpers

    def _delete_idempotent(
        self, template: str, what: str, reason: str | None, **path_values: Any
    ) -> dict[str, Any]:
        try:
            return self._call("DELETE", template, reason=reason, **path_values)
        except NotFound:
            return self._already(f"delete {what}", "not found")

    # ------------------------------------------------------------------ chat (core plugin)

    def create_category_channel(
        self,
        category_id: int,
        *,
        name: str | None = None,
        description: str | None = None,
        slug: str | None = None,
        auto_join_users: bool = True,
        threading_enabled: bool = False,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """``POST /chat/api/channels {"channel": {"chatable_id": category}}`` → the channel.

        With ``auto_join_users`` Discourse keeps its members in step with the category's
        groups that may post there (create_post or full), except users not seen for 30 days
        (they join on their next visit) and read-only groups. A second channel for the same
        category and name answers 400 (invalid_parameters); callers look first
        (``iter_chat_channels``).
        """
        body = _drop_none(
            chatable_id=category_id,
            name=name,
            description=description,
            slug=slug,
            auto_join_users=auto_join_users,
            threading_enabled=threading_enabled,
        )
        return self._call("POST", "/chat/api/channels", json={"channel": body}, reason=reason).get(
            "channel", {}
        )

    def iter_chat_channels(self, *, page_size: int = 25) -> Iterator[dict[str, Any]]:
        """Every channel the client's user can see: ``GET /chat/api/channels`` by offset."""
        seen: set[Any] = set()
        offset = 0
        while True:
            page = self._call(
                "GET", "/chat/api/channels", params={"limit": page_size, "offset": offset}
            )
            fresh = _unseen(page.get("channels") or [], seen)
            yield from fresh
            if len(page.get("channels") or []) < page_size or not fresh:
                return
            offset += page_size

    def iter_channel_memberships(
        self, channel_id: int, *, page_size: int = 50
    ) -> Iterator[dict[str, Any]]:
        """``GET /chat/api/channels/{id}/memberships`` (50 a page, Discourse's most) by offset;
        each item has ``user`` (id, username) and ``following``."""
        page_size = min(page_size, 50)
        seen: set[Any] = set()
        offset = 0
        while True:
            page = self._call(
                "GET",
                "/chat/api/channels/{id}/memberships",
                id=channel_id,
                params={"offset": offset, "limit": page_size},
            )
            items = page.get("memberships") or []
            fresh = [
                m for m in items if (m.get("user") or {}).get("id") not in seen and m.get("user")
            ]
            seen.update(m["user"].get("id") for m in fresh)
            yield from fresh
            total = (page.get("meta") or {}).get("total_rows")
            if len(items) < page_size or not fresh or (total is not None and offset >= total):
                return
            offset += page_size

    def iter_channel_messages_since(
        self, channel_id: int, after_message_id: int = 0, *, page_size: int = 100
    ) -> Iterator[dict[str, Any]]:
        """Messages with ``id > after_message_id``, oldest first (the catch-up read).

        ``GET /chat/api/channels/{id}/messages?target_message_id=N&direction=future``
        (Chat::MessagesQuery), page after page while ``meta.can_load_more_future``. Trashed
        messages come with ``deleted_at`` when the client's user moderates the channel
        (staff do). Discourse answers 404 when the target message no longer exists (chat
        retention deleted it): then the channel is read from its start and filtered here.
        """
        page_size = max(1, min(page_size, 500))  # MessagesQuery::MAX_PAGE_SIZE
        target: int | None = after_message_id or None
        while True:
            params: dict[str, Any] = {"direction": "future", "page_size": page_size}
            if target is not None:
                params["target_message_id"] = target
            try:
                page = self._call(
                    "GET", "/chat/api/channels/{id}/messages", id=channel_id, params=params
                )
            except NotFound:
                if target is None:
                    raise  # the channel itself is gone
                log.info("chat: message %s is gone from channel %s, rereading", target, channel_id)
                target = None
                continue
            messages = [
                m for m in page.get("messages") or [] if int(m.get("id", 0)) > after_message_id
            ]
            yield from messages
            listed = page.get("messages") or []
            if not (page.get("meta") or {}).get("can_load_more_future") or not listed:
                return
            target = max(int(m["id"]) for m in listed)
            after_message_id = max(after_message_id, target)

    def channel_messages_after(
        self, channel_id: int, after_message_id: int = 0, *, page_size: int = 500
    ) -> tuple[list[dict[str, Any]], bool]:
        """One page of messages with ``id > after_message_id``, oldest first, and whether
        more follow (``meta.can_load_more_future``): the catch-up's one call per channel.

        Same query as ``iter_channel_messages_since``; when the target message is gone
        (chat retention deleted it: 404) the channel is read from its start, a second call.
        """
        params: dict[str, Any] = {"direction": "future", "page_size": max(1, min(page_size, 500))}
        if after_message_id:
            params["target_message_id"] = after_message_id
        try:
            page = self._call(
                "GET", "/chat/api/channels/{id}/messages", id=channel_id, params=params
            )
        except NotFound:
            if not after_message_id:
                raise
            params.pop("target_message_id")
            page = self._call(
                "GET", "/chat/api/channels/{id}/messages", id=channel_id, params=params
            )
        listed = page.get("messages") or []
        fresh = [m for m in listed if int(m.get("id", 0)) > after_message_id]
        more = bool((page.get("meta") or {}).get("can_load_more_future")) and bool(listed)
        return fresh, more

    def latest_channel_messages(
        self, channel_id: int, *, page_size: int = 100
    ) -> list[dict[str, Any]]:
        """The channel's newest ``page_size`` messages, oldest first (one call).

        ``GET /chat/api/channels/{id}/messages?page_size=N`` without ``direction`` nor a
        target: Chat::MessagesQuery#query_paginated_messages takes the newest N (at most
        MAX_PAGE_SIZE 500; 500 when no page_size is given) and Chat::ListChannelMessages
        lists them oldest first. Thread replies are left out when the channel has threading
        on; trashed messages come with ``deleted_at`` for staff.
        """
        params = {"page_size": max(1, min(page_size, 500))}
        page = self._call("GET", "/chat/api/channels/{id}/messages", id=channel_id, params=params)
        return list(page.get("messages") or [])

    def send_chat_message(
        self,
        channel_id: int,
        message: str,
        *,
        in_reply_to_id: int | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """``POST /chat/{channel_id}`` → ``{"success": "OK", "message_id": N}``.

        Only channel members may send (404 otherwise; Diamond's API user is a member of the
        channels it created). Staff skip the chat flood limit, not the admin API bucket.
        """
        body = _drop_none(message=message, in_reply_to_id=in_reply_to_id)
        return self._call("POST", "/chat/{id}", id=channel_id, json=body, reason=reason)


# ---------------------------------------------------------------------- responses


def _pooled_session() -> requests.Session:
    session = requests.Session()
    # No automatic retries: retrying is the actor's decision (it knows idempotency).
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _json_or_none(response: requests.Response) -> Any:
    """The body as JSON whatever the Content-Type says, or None if it is not JSON."""
    text = response.content.strip()
    if not text:
        return None
    try:
        return jsonlib.loads(text)
    except ValueError:
        return None


def _decode_success(response: requests.Response, label: str) -> Any:
    if response.status_code == 204 or not response.content.strip():
        return {}
    body = _json_or_none(response)
    if body is None:
        # A 2xx that is not JSON is a proxy or login page, not Discourse: try later.
        raise ForumUnavailable(
            f"expected JSON, got {response.headers.get('Content-Type') or 'no Content-Type'}",
            status=response.status_code,
            path=label,
        )
    if isinstance(body, dict) and body.get("errors"):
        errors = [scrub(str(e)) for e in body["errors"]] if isinstance(body["errors"], list) else []
        raise ForumRejected(
            "; ".join(errors) or "Discourse reported errors",
            status=response.status_code,
            path=label,
            errors=errors,
            error_type=body.get("error_type"),
        )
    return body


def _error_details(response: requests.Response) -> tuple[str, list[str], str | None]:
    """(message, errors, error_type) from any error body, with registered secrets masked
    (a misbehaving proxy or plugin may echo request headers back)."""
    message, errors, error_type = _raw_error_details(response)
    return scrub(message), [scrub(e) for e in errors], error_type


def _raw_error_details(response: requests.Response) -> tuple[str, list[str], str | None]:
    body = _json_or_none(response)
    if isinstance(body, dict):
        raw = body.get("errors")
        errors = [str(e) for e in raw] if isinstance(raw, list) else ([str(raw)] if raw else [])
        extra = body.get("message") or body.get("error")
        if extra and not errors:
            errors = [str(extra)]
        message = "; ".join(errors) or response.reason or f"HTTP {response.status_code}"
        return message, errors, body.get("error_type")
    text = response.text if response.content else ""
    content_type = response.headers.get("Content-Type", "")
    if "html" in content_type or text.lstrip().startswith("<"):
        text = _TAGS.sub(" ", text)
    text = " ".join(text.split())[:200]
    return text or response.reason or f"HTTP {response.status_code}", [], None


def _rate_limit_wait(response: requests.Response) -> float:
    """Seconds to wait after a 429: the longest of Retry-After and the body's hints."""
    hints: list[float] = []
    body = _json_or_none(response)
    if isinstance(body, dict):
        extras = body.get("extras") or {}
        if isinstance(extras, dict) and isinstance(extras.get("wait_seconds"), int | float):
            hints.append(float(extras["wait_seconds"]))
    elif response.content:
        match = _SECONDS_IN_TEXT.search(_TAGS.sub(" ", response.text))
        if match:
            hints.append(float(match.group(1)))
    retry_after = _parse_retry_after(response.headers.get("Retry-After"))
    if retry_after is not None:
        hints.append(retry_after)
    return max(hints) if hints else DEFAULT_RATE_LIMIT_WAIT


def _parse_retry_after(value: str | None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _rate_limit_message(response: requests.Response) -> str:
    message, _, _ = _error_details(response)
    code = response.headers.get("Discourse-Rate-Limit-Error-Code")
    return f"rate limited ({code}): {message}" if code else f"rate limited: {message}"


def _raise_for(response: requests.Response, label: str) -> None:
    status = response.status_code
    message, errors, error_type = _error_details(response)
    if status >= 500:
        raise ForumUnavailable(message, status=status, path=label)
    if status == 404:
        raise NotFound(message, status=status, path=label, errors=errors, error_type=error_type)
    if 300 <= status < 400:
        # Redirects are not followed: a login redirect means a wrong URL or key.
        raise ForumRejected(
            f"unexpected redirect to {response.headers.get('Location', '?')}: "
            "check the forum URL and API key",
            status=status,
            path=label,
        )
    raise ForumRejected(message, status=status, path=label, errors=errors, error_type=error_type)


def _no_such_users(exc: ForumRejected) -> bool:
    """``users_from_params`` found none of the usernames: ``Discourse::InvalidParameters``,
    rendered as 400 with the (unlocalised) ``error_type`` ``invalid_parameters``."""
    return exc.status == 400 and exc.error_type == "invalid_parameters"


_REVIEWABLE_DONE = {
    "approve_user": {"approved", 1},
    "delete_user": {"rejected", "deleted", 2, 4},
    "delete_user_block": {"rejected", "deleted", 2, 4},
}


def _settled_as(status: Any, action: str) -> bool:
    """Has a reviewable already ended the way ``action`` would end it?"""
    return status in _REVIEWABLE_DONE.get(action, set())
