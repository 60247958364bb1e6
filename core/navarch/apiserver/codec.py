"""Objects as the store keeps them, and as the wire shows them.

An object is stored as its wire JSON without ``metadata.resourceVersion``: the store's
``mod_revision`` *is* the resourceVersion, put in on every read. Stored bytes are laid
out in Kubernetes' own field order (kind, apiVersion, metadata, spec, status; in
metadata name, generateName, namespace, uid, resourceVersion, generation,
creationTimestamp, ...), so a read splices the version in without decoding::

    stored  {"kind":"Pod",...,"metadata":{"name":"a","uid":"u","creationTimestamp":...
    served  {"kind":"Pod",...,"metadata":{"name":"a","uid":"u","resourceVersion":"7",
             "creationTimestamp":...

The splice point is just before ``"generation"`` or ``"creationTimestamp"``: the fields
in front of it (name, generateName, namespace, uid) are validated names that never
hold a quote, so the first match is the real key.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from navarch.api.meta import OBJECT_META_FIELDS
from navarch.apiserver import errors
from navarch.store import KeyValue

_TOP_ORDER = ("kind", "apiVersion", "metadata")
_META_ORDER = OBJECT_META_FIELDS
_SPLICE_MARKS = (b',"generation":', b',"creationTimestamp":')
_SPLICE_WINDOW = 1024  # the marks sit in the first few hundred bytes


def encode(obj: dict[str, Any]) -> bytes:
    """Stored bytes of ``obj`` (its resourceVersion left out)."""
    return orjson.dumps(ordered(obj, with_version=False))


def ordered(obj: dict[str, Any], *, with_version: bool = True) -> dict[str, Any]:
    """``obj`` with Kubernetes' field order at the top and in metadata."""
    meta = obj.get("metadata")
    out: dict[str, Any] = {k: obj[k] for k in _TOP_ORDER if k in obj}
    if isinstance(meta, dict):
        known = {k: meta[k] for k in _META_ORDER if k in meta}
        if not with_version:
            known.pop("resourceVersion", None)
        out["metadata"] = {**known, **{k: v for k, v in meta.items() if k not in _META_ORDER}}
    out.update((k, v) for k, v in obj.items() if k not in out)
    return out


def decode(kv: KeyValue) -> dict[str, Any]:
    """The object of a key-value, its resourceVersion set."""
    obj = orjson.loads(kv.value)
    obj["metadata"]["resourceVersion"] = str(kv.mod_revision)
    return obj


def raw_with_version(kv: KeyValue) -> bytes:
    """The wire bytes of a stored object, without decoding it when the layout allows."""
    value = kv.value
    head = value[:_SPLICE_WINDOW]
    for mark in _SPLICE_MARKS:
        cut = head.find(mark)
        if cut > 0:
            return b'%s,"resourceVersion":"%d"%s' % (value[:cut], kv.mod_revision, value[cut:])
    return orjson.dumps(ordered(decode(kv)))


def dumps(obj: Any) -> bytes:
    """A wire body: JSON ending with a newline, as Kubernetes writes it."""
    return orjson.dumps(obj) + b"\n"


def encode_continue(start: bytes, revision: int) -> str:
    raw = orjson.dumps({"rv": revision, "start": start.hex()})
    return base64.urlsafe_b64encode(raw).decode()


def decode_continue(token: str) -> tuple[bytes, int]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token.encode()))
        return bytes.fromhex(data["start"]), int(data["rv"])
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise errors.bad_request(
            f"continue token {token!r} is not valid; start a new list"
        ) from None


def check_revision(value: Any) -> int:
    """A resourceVersion from a request as a revision, or 400 saying it is not one."""
    try:
        revision = int(value)
    except (TypeError, ValueError):
        raise errors.bad_request(
            f"resourceVersion {value!r} is not valid: it must be a number returned by this server"
        ) from None
    if revision < 0:
        raise errors.bad_request(f"resourceVersion {value!r} is not valid")
    return revision
