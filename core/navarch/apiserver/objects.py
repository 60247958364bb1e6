"""Objects on their way through the generic storage: who writes them and how
(:class:`WriteContext`), what a write returns, lists and watch events as the wire
shows them, the check of a body against its URL, and the server's clock."""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import attrs
import orjson

from navarch.apiserver import errors
from navarch.resources.spec import Resource

Obj = dict[str, Any]
Mutation = Callable[[Obj], Obj | Awaitable[Obj]]

_clock: list[Any] = [0, ""]  # (second, its RFC 3339 text): formatted once a second


def now() -> str:
    second = int(time.time())
    if _clock[0] != second:
        _clock[0], _clock[1] = (
            second,
            datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
    return _clock[1]


@attrs.frozen
class WriteContext:
    """Who writes, and how (what admission and field management see)."""

    user: Any = None
    subresource: str = ""
    dry_run: bool = False
    field_manager: str = ""  # the request's manager; "" for the server's own writes
    applied: bool = False  # server-side apply already set the object's managedFields
    field_validation: str = "Strict"  # unknown fields: Strict refuses, Warn/Ignore drop


@attrs.frozen
class Written:
    obj: Obj
    warnings: tuple[str, ...] = ()


@attrs.frozen
class RawList:
    kind: str
    api_version: str
    metadata: Obj
    items: list[bytes]

    def head(self) -> Obj:
        return {"kind": self.kind, "apiVersion": self.api_version, "metadata": self.metadata}

    def to_bytes(self) -> bytes:
        head, tail = self.framing()
        return head + b",".join(self.items) + tail

    def framing(self) -> tuple[bytes, bytes]:
        """The bytes before the first item and after the last."""
        return orjson.dumps(self.head())[:-1] + b',"items":[', b"]}\n"


@attrs.frozen
class WatchEvent:
    type: str  # ADDED MODIFIED DELETED
    obj: Obj


def check_body(res: Resource, namespace: str, body: Any) -> Obj:
    """The request's object, checked against the URL (the caller owns ``body``)."""
    if not isinstance(body, dict):
        raise errors.bad_request(
            f"the request body must be a JSON object, not {type(body).__name__}"
        )
    obj = body
    api_version = obj.setdefault("apiVersion", res.group_version)
    kind = obj.setdefault("kind", res.kind)
    if api_version != res.group_version or kind != res.kind:
        raise errors.bad_request(
            f"the object's apiVersion/kind ({api_version}/{kind}) does not match the URL, "
            f"which serves {res.group_version}/{res.kind}"
        )
    metadata = obj.setdefault("metadata", {})
    if not isinstance(metadata, dict):
        raise errors.invalid(
            res.kind,
            res.group,
            "",
            [
                {
                    "reason": "FieldValueTypeInvalid",
                    "message": "must be an object",
                    "field": "metadata",
                }
            ],
        )
    if res.namespaced:
        body_namespace = metadata.get("namespace")
        if body_namespace not in (None, "") and body_namespace != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the "
                f"namespace sent on the request ({body_namespace} != {namespace})"
            )
        metadata["namespace"] = namespace
    return obj


def random_suffix() -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(secrets.choice(alphabet) for _ in range(5))


def in_seconds(seconds: int) -> str:
    return datetime.fromtimestamp(time.time() + seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def seconds_until(timestamp: str) -> float:
    try:
        when = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return 0.0
    return max(0.0, when - time.time())
