"""The WSGI application: faults, routing, authentication, admin rate limit, views.

Each ``views_*`` module lists its routes; a view gets a ``Ctx`` and the URL
arguments and returns a JSON-able value (200), a ``Reply``, or None (200, empty
body, like Discourse's ``render body: nil``). Views run under the forum lock.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from worker.sandbox.errors import (
    INVALID_API,
    ApiError,
    invalid_access,
    not_found,
    not_logged_in,
    rate_limited,
)
from worker.sandbox.faults import FaultInjector
from worker.sandbox.models import User
from worker.sandbox.params import request_params
from worker.sandbox.ratelimit import AdminRateLimiter
from worker.sandbox.state import Forum

log = logging.getLogger(__name__)

JSON_TYPE = "application/json; charset=utf-8"
# Endpoints anonymous visitors may use even with login_required (signing up).
_PUBLIC = {
    "views_users.create_user",
    "views_users.honeypot",
    "views_users.perform_account_activation",
}

View = Callable[..., Any]
Route = tuple[str, Iterable[str], View]


@dataclass
class Reply:
    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Ctx:
    forum: Forum
    request: Request
    params: dict[str, Any]
    actor: User | None
    via_api_key: bool

    @property
    def staff(self) -> bool:
        return self.actor is not None and self.actor.staff

    @property
    def admin(self) -> bool:
        return self.actor is not None and self.actor.admin

    def wrapped(self, key: str) -> dict[str, Any]:
        """The params under ``key`` when they are an object, else the top-level ones
        (what Rails' ``wrap_parameters`` lets a controller read either way)."""
        inner = self.params.get(key)
        return inner if isinstance(inner, dict) else self.params

    def require_login(self) -> User:
        if self.actor is None:
            raise not_logged_in()
        return self.actor

    def require_staff(self) -> User:
        user = self.require_login()
        if not user.staff:
            raise invalid_access()
        return user

    def require_admin(self) -> User:
        user = self.require_login()
        if not user.admin:
            raise invalid_access()
        return user


def _json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False),
        status=status,
        headers=headers or {},
        content_type=JSON_TYPE,
    )


class SandboxApp:
    """WSGI callable serving one ``Forum``."""

    def __init__(
        self,
        forum: Forum,
        *,
        faults: FaultInjector | None = None,
        limiter: AdminRateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        from worker.sandbox import (
            views_admin,
            views_badges,
            views_categories,
            views_chat,
            views_groups,
            views_posts,
            views_users,
        )

        self.forum = forum
        self.faults = faults or FaultInjector()
        self.limiter = limiter or AdminRateLimiter()
        self._sleep = sleep
        self.views: dict[str, View] = {}
        rules = []
        modules = (
            views_users,
            views_groups,
            views_categories,
            views_posts,
            views_badges,
            views_admin,
            views_chat,
        )
        for module in modules:
            for path, methods, view in module.ROUTES:
                endpoint = f"{module.__name__.rsplit('.', 1)[1]}.{view.__name__}"
                self.views[endpoint] = view
                rules.append(Rule(path, methods=list(methods), endpoint=endpoint))
        self.url_map = Map(rules, strict_slashes=False, merge_slashes=False)
        self.request_log: list[tuple[str, str, int]] = []

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = Request(environ)
        response = self.handle(request)
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        decision = self.faults.decide(request.method, request.path)
        if decision.latency:
            self._sleep(decision.latency)
        if decision.response is not None:
            fault = decision.response
            self._record(request, fault.status)
            return Response(
                fault.body,
                status=fault.status,
                headers=fault.headers,
                content_type=fault.content_type,
            )
        try:
            response = self._dispatch(request)
        except ApiError as error:
            response = _json_response(error.body, error.status, error.headers)
        except Exception:
            log.exception("sandbox view failed: %s %s", request.method, request.path)
            response = _json_response({"status": 500, "error": "Internal Server Error"}, 500)
        self._record(request, response.status_code)
        if decision.lost_answer is not None and response.status_code < 400:
            lost = decision.lost_answer  # done, but the client never learns it
            return Response(
                lost.body, status=lost.status, headers=lost.headers, content_type=lost.content_type
            )
        return response

    def _record(self, request: Request, status: int) -> None:
        with self.forum.lock:
            self.request_log.append((request.method, request.path, status))

    def _dispatch(self, request: Request) -> Response:
        endpoint, args = self._match(request)
        with self.forum.lock:
            actor, via_key, admin_key = self._authenticate(request)
        if request.path.startswith("/admin/") and not (actor and actor.staff):
            raise not_found()  # Discourse's StaffConstraint: the route does not exist
        if actor is None and self.forum.settings["login_required"] and endpoint not in _PUBLIC:
            raise not_logged_in()
        if admin_key:
            wait = self.limiter.hit()
            if wait is not None:
                raise rate_limited(wait)
        params = request_params(request)
        with self.forum.lock:
            ctx = Ctx(self.forum, request, params, actor, via_key)
            if actor is not None:
                first_visit = actor.last_seen_at is None
                actor.last_seen_at = self.forum.now()
                self.forum.chat_user_seen(actor, first_visit)
            result = self.views[endpoint](ctx, **args)
        if isinstance(result, Response):
            return result
        if isinstance(result, Reply):
            if result.body is None:
                return Response(
                    b"",
                    status=result.status,
                    headers=result.headers,
                    content_type="text/plain; charset=utf-8",
                )
            return _json_response(result.body, result.status, result.headers)
        if result is None:
            return Response(b"", status=200, content_type="text/plain; charset=utf-8")
        return _json_response(result)

    def _match(self, request: Request) -> tuple[str, dict[str, Any]]:
        """Route a request; like Rails, ``/users`` answers as ``/users.json`` for API clients."""
        adapter = self.url_map.bind_to_environ(request.environ)
        candidates = [request.path]
        if not request.path.endswith(".json"):
            candidates.append(request.path.rstrip("/") + ".json")
        for path in candidates:
            try:
                endpoint, values = adapter.match(path_info=path)
                return str(endpoint), dict(values)
            except (NotFound, MethodNotAllowed):
                continue
            except HTTPException as exc:  # e.g. RequestRedirect
                raise not_found() from exc
        raise not_found()

    def _authenticate(self, request: Request) -> tuple[User | None, bool, bool]:
        """(acting user, authenticated by API key, counts against the admin bucket)."""
        key = request.headers.get("Api-Key")
        username = request.headers.get("Api-Username")
        if not key:
            return None, False, False
        forum = self.forum
        if key == forum.api_key:
            user = forum.find_user(username or "system")
            if user is None:
                raise invalid_access(INVALID_API)
            self._check_can_act(user)
            return user, True, True
        if key not in forum.user_api_keys:
            raise invalid_access(INVALID_API)
        user_id = forum.user_api_keys[key]
        if user_id is None:  # an all-users key, like the master key
            user = forum.find_user(username or "system")
            if user is None:
                raise invalid_access(INVALID_API)
            self._check_can_act(user)
            return user, True, True
        if user_id not in forum.users:
            raise invalid_access(INVALID_API)
        user = forum.users[user_id]
        if username and username.lower() != user.username.lower():
            raise invalid_access(INVALID_API)
        self._check_can_act(user)
        return user, True, user.admin

    def _check_can_act(self, user: User) -> None:
        now = self.forum.now()
        if user.id < 0:
            return
        if user.suspended(now):
            raise invalid_access(
                "You have been suspended from this forum until "
                f"{user.suspended_till:%B %-d, %Y %-I:%M%p}."
            )
        if not user.active or (self.forum.settings["must_approve_users"] and not user.approved):
            raise invalid_access()
