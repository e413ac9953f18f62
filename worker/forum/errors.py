"""Errors from the forum, classified by what the caller should do about them.

Actors map them to dramatiq behaviour: ``RateLimited`` → retry after
``wait_seconds``; ``ForumUnavailable`` → retry with backoff; ``ForumRejected``
→ do not retry. Messages never carry the API key.
"""

from __future__ import annotations


class ForumError(Exception):
    """Base class for every failure talking to the forum."""

    retriable: bool = False

    def __init__(self, message: str, *, status: int | None = None, path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.path = path

    def __str__(self) -> str:
        where = (
            f" ({self.status} {self.path})"
            if self.status
            else (f" ({self.path})" if self.path else "")
        )
        return f"{self.message}{where}"


class RateLimited(ForumError):
    """429 from Discourse, its per-IP middleware or a proxy: come back after ``wait_seconds``."""

    retriable = True

    def __init__(
        self, wait_seconds: float, *, message: str = "rate limited", path: str = ""
    ) -> None:
        super().__init__(message, status=429, path=path)
        self.wait_seconds = max(0.0, float(wait_seconds))


class ForumUnavailable(ForumError):
    """5xx, timeout or connection failure: the same request may succeed later."""

    retriable = True


class ForumRejected(ForumError):
    """A 4xx other than 429: Discourse refused the request; retrying will not help."""

    retriable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        path: str = "",
        errors: list[str] | None = None,
        error_type: str | None = None,
    ) -> None:
        super().__init__(message, status=status, path=path)
        self.errors = errors or []
        self.error_type = error_type


class NotFound(ForumRejected):
    """404: the thing does not exist (or is hidden from this API user)."""


class NotActiveYet(ForumRejected):
    """403 on approving an account whose email is not confirmed yet (Guardian#can_approve?
    needs an active user): not a failure, the approval waits for ``user_confirmed_email``."""
