"""The stored-object size limits (:mod:`navarch.api.limits`), checked where an object
is encoded for the store on a create or an update, before the store's own check: the
answer names the object and the limit, a dry run is refused too, and the limit holds
whatever ``max_value_bytes`` the store is configured with.

An object above the limit would be written and then break every watch that carries
it (a reader sized for the limit must drop the line, or a reader with no limit hold
any size), so it is refused before the write: 413 RequestEntityTooLarge, as
Kubernetes answers when etcd refuses a value. Marking an object for deletion is not
checked: it adds a few bytes, and an object at the limit must stay deletable.
"""

from __future__ import annotations

from navarch.api.limits import MAX_OBJECT_BYTES, MAX_WRITE_BYTES
from navarch.apiserver import codec, errors
from navarch.apiserver.objects import Obj
from navarch.resources.spec import Resource


def encode_within_limit(res: Resource, obj: Obj, subresource: str = "") -> bytes:
    """The stored bytes of ``obj``; 413 when they exceed the limit: MAX_WRITE_BYTES
    through the object itself, MAX_OBJECT_BYTES through a subresource (status and
    binding add to an object someone else made, into the reserve kept for them)."""
    limit = MAX_OBJECT_BYTES if subresource else MAX_WRITE_BYTES
    data = codec.encode(obj)
    if len(data) > limit:
        raise object_too_large(res, obj, len(data), limit)
    return data


def object_too_large(res: Resource, obj: Obj, size: int, limit: int) -> errors.ApiError:
    name = (obj.get("metadata") or {}).get("name") or ""
    return errors.ApiError(
        413,
        "RequestEntityTooLarge",
        f"{res.kind} {name!r} is too large: {size} bytes as stored, the limit is {limit} "
        f"bytes ({limit / 1024:g} KiB); keep large data out of objects (in an image, "
        "a volume or a registry)",
        details={"name": name, "group": res.group, "kind": res.plural},
    )
