"""Discourse's error answers, as the sandbox raises them inside views.

Bodies follow Discourse's ``ApplicationController`` (``rescue_discourse_actions``
and ``render_json_error``): ``{"errors": [...], "error_type": "..."}``; plain
validation failures (422) carry no ``error_type``.
"""

from __future__ import annotations

from typing import Any

NOT_FOUND = "The requested URL or resource could not be found."
INVALID_ACCESS = "You are not permitted to view the requested resource."
INVALID_API = (
    "You are not permitted to view the requested resource. The API username or key is invalid."
)
NOT_LOGGED_IN = "You need to be logged in to do that."


class ApiError(Exception):
    """An error answer: status code plus Discourse's JSON body."""

    def __init__(
        self,
        status: int,
        errors: list[str] | None = None,
        error_type: str | None = None,
        *,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {errors or body}")
        self.status = status
        self.headers = headers or {}
        if body is None:
            body = {"errors": errors or []}
            if error_type:
                body["error_type"] = error_type
        self.body = body


def not_found() -> ApiError:
    return ApiError(404, [NOT_FOUND], "not_found")


def invalid_access(message: str = INVALID_ACCESS) -> ApiError:
    return ApiError(403, [message], "invalid_access")


def not_logged_in() -> ApiError:
    return ApiError(403, [NOT_LOGGED_IN], "not_logged_in")


def invalid_parameters(name: str) -> ApiError:
    return ApiError(
        400, [f"You supplied invalid parameters to the request: {name}"], "invalid_parameters"
    )


def param_missing(name: str) -> ApiError:
    # ActionController::ParameterMissing is rendered with render_json_error: no error_type.
    return ApiError(400, [f"param is missing or the value is empty: {name}"])


def unprocessable(*messages: str) -> ApiError:
    return ApiError(422, list(messages))


def rate_limited(wait_seconds: int) -> ApiError:
    wait = max(1, int(wait_seconds))
    left = f"{wait} second" if wait == 1 else f"{wait} seconds"
    if wait >= 60:
        minutes = round(wait / 60)
        left = f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"
    return ApiError(
        429,
        body={
            "errors": [
                "You’ve performed this action too many times. "
                f"Please wait {left} before trying again."
            ],
            "error_type": "rate_limit",
            "extras": {"wait_seconds": wait, "time_left": left},
        },
        headers={"Retry-After": str(wait), "Discourse-Rate-Limit-Error-Code": "admin_api_min"},
    )
