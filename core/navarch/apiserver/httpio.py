"""Reading request bodies and query parameters, and writing JSON answers, the way
Kubernetes does (a body without Content-Type is JSON; answers end with a newline)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from navarch.apiserver import codec, errors

JSON_TYPES = ("application/json",)
DELETE_PROPAGATION = ("Orphan", "Background", "Foreground")


async def read_json(request: web.Request, check_type: bool = True) -> Any:
    # No Content-Type means JSON, as in Kubernetes (the official Python client relies on it).
    declared = "Content-Type" in request.headers
    if check_type and declared and request.content_type not in JSON_TYPES:
        raise errors.unsupported_media_type(request.content_type, list(JSON_TYPES))
    raw = await request.read()
    if not raw:
        raise errors.bad_request("the request body is empty; send a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise errors.bad_request(f"the request body is not valid JSON: {exc}") from None


async def delete_options(request: web.Request) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if request.can_read_body:
        raw = await request.read()
        if raw:
            try:
                options = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise errors.bad_request(f"DeleteOptions is not valid JSON: {exc}") from None
            if not isinstance(options, dict):
                raise errors.bad_request("DeleteOptions must be a JSON object")
    if "gracePeriodSeconds" in request.query:
        options["gracePeriodSeconds"] = int_query(request.query, "gracePeriodSeconds", 0)
    if "propagationPolicy" in request.query:
        options["propagationPolicy"] = request.query["propagationPolicy"]
    policy = options.get("propagationPolicy")
    if policy is not None and policy not in DELETE_PROPAGATION:
        raise errors.bad_request(
            f"propagationPolicy {policy!r} is not one of {', '.join(DELETE_PROPAGATION)}"
        )
    preconditions = options.get("preconditions")
    if preconditions is not None and not (
        isinstance(preconditions, dict)
        and all(isinstance(preconditions.get(k, ""), str) for k in ("uid", "resourceVersion"))
    ):
        raise errors.bad_request(
            "DeleteOptions.preconditions must be an object with string uid and resourceVersion"
        )
    grace = options.get("gracePeriodSeconds")
    if grace is not None and (not isinstance(grace, int) or isinstance(grace, bool) or grace < 0):
        raise errors.bad_request(
            f"DeleteOptions.gracePeriodSeconds must be a non-negative integer, got {grace!r}"
        )
    # kubectl delete --dry-run=server sends dryRun in the body, not the query.
    dry = options.get("dryRun")
    if dry is not None and (not isinstance(dry, list) or any(v != "All" for v in dry)):
        raise errors.bad_request(f'DeleteOptions.dryRun {dry!r} is not supported; use ["All"]')
    return options


def int_query(query: Any, name: str, default: int) -> int:
    raw = query.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise errors.bad_request(
            f"query parameter {name}={raw!r} must be a non-negative integer"
        ) from None
    if value < 0:
        raise errors.bad_request(f"query parameter {name}={raw!r} must be a non-negative integer")
    return value


def dry_run(request: web.Request) -> bool:
    """``?dryRun=All``: everything but the write (the only value Kubernetes knows)."""
    values = request.query.getall("dryRun", [])
    for value in values:
        if value != "All":
            raise errors.bad_request(f"dryRun={value!r} is not supported; the only value is All")
    return bool(values)


def field_validation(request: web.Request) -> str:
    """``?fieldValidation=``: what to do with unknown fields (kubectl's --validate=strict,
    warn, false send Strict, Warn, Ignore). Absent means Strict: Navarch refuses unknown
    fields unless the client says otherwise."""
    value = request.query.get("fieldValidation") or "Strict"
    if value not in ("Strict", "Warn", "Ignore"):
        raise errors.bad_request(f"fieldValidation={value!r} is not one of Strict, Warn, Ignore")
    return value


def json_response(body: Any, status: int = 200, warnings: tuple[str, ...] = ()) -> web.Response:
    headers = {"Warning": ", ".join(_warning(w) for w in warnings)} if warnings else None
    payload = codec.dumps(codec.ordered(body) if _is_object(body) else body)
    return web.Response(
        body=payload, status=status, content_type="application/json", headers=headers
    )


def raw_response(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="application/json")


def success_status(code: int) -> web.Response:
    return json_response(errors.success(code), status=code)


def _is_object(body: Any) -> bool:
    return isinstance(body, dict) and isinstance(body.get("metadata"), dict) and "kind" in body


def _warning(text: str) -> str:
    """One RFC 7234 warning value; the text is a quoted-string, so quotes and
    backslashes in it are escaped (kubectl drops a warning it cannot parse)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{escaped}"'
