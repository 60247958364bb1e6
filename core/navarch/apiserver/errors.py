"""API errors: each becomes a Kubernetes ``Status`` with the right code and reason."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web


class ApiError(Exception):
    """An answer other than success; ``to_status()`` is the body sent."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details = details
        self.headers = headers or {}

    def to_status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            status["details"] = self.details
        return status

    def response(self) -> web.Response:
        return web.Response(
            body=orjson.dumps(self.to_status()),
            status=self.code,
            content_type="application/json",
            headers=self.headers,
        )


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def unauthorized() -> ApiError:
    return ApiError(
        401,
        "Unauthorized",
        "Unauthorized: send 'Authorization: Bearer <token>' "
        "with a token from the server's token file",
    )


def forbidden(
    user: str, verb: str, resource: str, group: str, namespace: str, name: str, why: str
) -> ApiError:
    subject = f'{_qualified(resource, group)} "{name}"' if name else _qualified(resource, group)
    where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    return ApiError(
        403,
        "Forbidden",
        f'{subject} is forbidden: User "{user}" cannot {verb} resource "{resource}" in API group '
        f'"{group}"{where}: {why}',
        details={"name": name, "group": group, "kind": resource},
    )


def not_found(resource: str, group: str, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{_qualified(resource, group)} "{name}" not found',
        details={"name": name, "group": group, "kind": resource},
    )


def path_not_found(path: str) -> ApiError:
    return ApiError(404, "NotFound", f"the server could not find the requested resource ({path})")


def method_not_allowed(method: str, path: str) -> ApiError:
    return ApiError(
        405,
        "MethodNotAllowed",
        f"the server does not allow this method on the requested resource ({method} {path})",
    )


def already_exists(resource: str, group: str, name: str) -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{_qualified(resource, group)} "{name}" already exists',
        details={"name": name, "group": group, "kind": resource},
    )


def conflict(resource: str, group: str, name: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": the object has '
        "been modified; please apply your changes to the latest version and try again",
        details={"name": name, "group": group, "kind": resource},
    )


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def too_large(limit: int) -> ApiError:
    return ApiError(
        413, "RequestEntityTooLarge", f"the request body is larger than the limit of {limit} bytes"
    )


def unsupported_media_type(content_type: str, allowed: list[str]) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format ({content_type!r}); "
        f"accepted: {', '.join(allowed)}",
    )


def too_many_requests(retry_after: int = 1) -> ApiError:
    return ApiError(
        429,
        "TooManyRequests",
        "too many requests in flight; retry after a moment",
        details={"retryAfterSeconds": retry_after},
        headers={"Retry-After": str(retry_after)},
    )


def unavailable(message: str) -> ApiError:
    return ApiError(503, "ServiceUnavailable", message, headers={"Retry-After": "1"})


def internal(message: str) -> ApiError:
    return ApiError(500, "InternalError", message)
