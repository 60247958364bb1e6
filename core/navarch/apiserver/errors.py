"""API errors: each becomes a Kubernetes ``Status`` with the right code and reason.

``details`` is filled as apimachinery's constructors fill it (NewNotFound,
NewAlreadyExists, NewConflict, NewForbidden, NewInvalid, NewMethodNotSupported,
NewInternalError, NewGenericServerResponse for an unknown path): clients read it
without checking it is there — kubectl debug reads ``details.name`` of a 404 to tell a
missing pod from a server without the pods/ephemeralcontainers subresource, and
panicked on a Status without ``details``. Errors whose Kubernetes constructor has none
(NewBadRequest, NewUnauthorized, NewResourceExpired, NewServiceUnavailable) have none.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from navarch import store
from navarch.api.errors import InvalidObject
from navarch.store import StoreError


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
        # Kubernetes' field order (metav1.Status): details before code; empty fields,
        # and a core group's "", are left out.
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:  # present even when empty, as Kubernetes sends {}
            status["details"] = {k: v for k, v in self.details.items() if v not in ("", None)}
        status["code"] = self.code
        return status

    def response(self) -> web.Response:
        return web.Response(
            body=orjson.dumps(self.to_status()) + b"\n",
            status=self.code,
            content_type="application/json",
            headers=self.headers,
        )


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def _details(resource: str, group: str, name: str, **more: Any) -> dict[str, Any]:
    return {"name": name, "group": group, "kind": resource, **more}


def success(code: int) -> dict[str, Any]:
    """The Status of a success that has no object to return (a binding, say)."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code}


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
        details=_details(resource, group, name),
    )


def not_found(resource: str, group: str, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{_qualified(resource, group)} "{name}" not found',
        details=_details(resource, group, name),
    )


def path_not_found(path: str) -> ApiError:
    # Kubernetes' answer for a path it does not serve: empty details, so a client can
    # tell it from a named object that is missing (details.name set).
    return ApiError(
        404,
        "NotFound",
        f"the server could not find the requested resource ({path})",
        details={},
    )


def method_not_allowed(method: str, path: str, resource: str = "", group: str = "") -> ApiError:
    return ApiError(
        405,
        "MethodNotAllowed",
        f"the server does not allow this method on the requested resource ({method} {path})",
        details={"group": group, "kind": resource},
    )


def namespace_terminating(namespace: str) -> ApiError:
    return ApiError(
        403,
        "Forbidden",
        f"unable to create new content in namespace {namespace} because it is being terminated",
        details={"name": namespace, "kind": "namespaces"},
    )


def already_assigned(pod: str, node: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on pods/binding "{pod}": pod {pod} is already '
        f'assigned to node "{node}"',
        details={"name": pod, "kind": "pods/binding"},
    )


def names_exhausted(
    generate_name: str, attempts: int, resource: str = "", group: str = ""
) -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f"{attempts} names generated from {generate_name!r} were all taken; retry the request",
        details=_details(resource, group, generate_name, retryAfterSeconds=1),
    )


def already_exists(resource: str, group: str, name: str) -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{_qualified(resource, group)} "{name}" already exists',
        details=_details(resource, group, name),
    )


def conflict(resource: str, group: str, name: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": the object has '
        "been modified; please apply your changes to the latest version and try again",
        details=_details(resource, group, name),
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
    return ApiError(500, "InternalError", message, details={"causes": [{"message": message}]})


def invalid(kind: str, group: str, name: str, causes: list[dict[str, str]]) -> ApiError:
    """422 Invalid naming every field; the message is Kubernetes' aggregate form."""
    described = [
        f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes
    ]
    summary = described[0] if len(described) == 1 else f"[{', '.join(described)}]"
    qualified = f"{kind}.{group}" if group else kind
    return ApiError(
        422,
        "Invalid",
        f'{qualified} "{name}" is invalid: {summary}',
        details=_details(kind, group, name, causes=causes),
    )


def from_invalid_object(exc: InvalidObject, group: str = "") -> ApiError:
    return invalid(exc.kind, group, exc.name, [e.to_cause() for e in exc.errors])


def from_store(exc: StoreError, resource: str = "", group: str = "", name: str = "") -> ApiError:
    """The one mapping from store errors to API errors."""
    if isinstance(exc, store.NotFound):
        return not_found(resource, group, name)
    if isinstance(exc, store.AlreadyExists):
        return already_exists(resource, group, name)
    if isinstance(exc, store.Conflict):
        return conflict(resource, group, name)
    if isinstance(exc, store.TooLarge):
        return too_large(exc.limit)
    if isinstance(exc, store.Unavailable):
        return unavailable(f"storage is unavailable: {exc}")
    if isinstance(exc, store.Compacted):
        return gone(str(exc))
    return internal(f"storage error: {type(exc).__name__}")
