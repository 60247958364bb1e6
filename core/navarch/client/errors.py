"""Errors the API answered, one class per reason a caller acts on."""

from __future__ import annotations

from typing import Any

# The answers a request is tried again for (429 with its Retry-After, and the server
# errors that may pass): the Client's retry loop and navctl's plain transport read this.
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})


class ApiException(Exception):
    """A non-success answer; ``status`` is the Kubernetes Status body."""

    def __init__(self, code: int, status: dict[str, Any]):
        self.code = code
        self.status = status
        self.reason = status.get("reason", "")
        super().__init__(f"{code} {self.reason}: {status.get('message', '')}")


class Unauthorized(ApiException): ...


class Forbidden(ApiException): ...


class NotFound(ApiException): ...


class AlreadyExists(ApiException): ...


class Conflict(ApiException): ...


class Gone(ApiException):
    """The resourceVersion is too old: list again, then watch from the list's version."""


class EventTooLarge(ApiException):
    """A watch sent a line longer than any event the API server's object limit allows
    (another server, or an object stored before the limit): the watch ends; list again."""


class Invalid(ApiException):
    @property
    def causes(self) -> list[dict[str, Any]]:
        return (self.status.get("details") or {}).get("causes") or []


def from_status(code: int, status: dict[str, Any]) -> ApiException:
    reason = status.get("reason")
    if code == 409:
        return AlreadyExists(code, status) if reason == "AlreadyExists" else Conflict(code, status)
    cls = {401: Unauthorized, 403: Forbidden, 404: NotFound, 410: Gone, 422: Invalid}.get(
        code, ApiException
    )
    return cls(code, status)
