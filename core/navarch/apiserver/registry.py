"""Object semantics over the store: what create, update, patch, delete, list and watch
mean for a Kubernetes object.

Objects are kept as the wire JSON without ``metadata.resourceVersion``; the store's
``mod_revision`` *is* the resourceVersion, set on every read. Writes go through the
object model (defaults, decoding) and admission (the core's validation first, then
plugins). Every update is a compare-and-swap on the revision that was read, so two
writers never silently overwrite each other.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import attrs
import orjson
import pluggy
from loguru import logger

from navarch import api
from navarch.admission import CREATE, UPDATE, AdmissionRequest, admit
from navarch.api import selectors
from navarch.api.errors import InvalidObject
from navarch.apiserver import errors, patch
from navarch.apiserver.fieldselectors import FieldSelector, selected, watch_event_type
from navarch.apiserver.resources import Resource
from navarch.store import (
    DELETE,
    AlreadyExists,
    Compacted,
    Conflict,
    KeyValue,
    NotFound,
    Store,
    StoreError,
    TooLarge,
    Unavailable,
)

log = logger.bind(component="apiserver")

# Pod spec fields an update may change (Kubernetes' pod update rule, the subset we model).
_MUTABLE_POD_SPEC = ("containers", "tolerations", "activeDeadlineSeconds")
_PATCH_RETRIES = 5


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
class Written:
    obj: dict[str, Any]
    warnings: tuple[str, ...] = ()


@attrs.frozen
class RawList:
    kind: str
    api_version: str
    metadata: dict[str, Any]
    items: list[bytes]

    def head(self) -> dict[str, Any]:
        return {"kind": self.kind, "apiVersion": self.api_version, "metadata": self.metadata}

    def to_bytes(self) -> bytes:
        head = orjson.dumps(self.head())
        return head[:-1] + b',"items":[' + b",".join(self.items) + b"]}"


@attrs.frozen
class WatchEvent:
    type: str  # ADDED MODIFIED DELETED BOOKMARK ERROR
    obj: dict[str, Any]


class ObjectRegistry:
    def __init__(self, store: Store, pm: pluggy.PluginManager):
        self.store = store
        self.pm = pm
        # Pods given a deletionTimestamp by this server: key -> deadline (monotonic).
        self.terminating: dict[tuple[Resource, str, str], float] = {}

    # --- reads -------------------------------------------------------------------------

    async def get(self, res: Resource, namespace: str, name: str) -> dict[str, Any]:
        try:
            kv = await self.store.get(res.store_key(namespace, name))
        except NotFound:
            raise errors.not_found(res.plural, res.group, name) from None
        except StoreError as exc:
            raise _store_error(exc) from None
        return _decode(kv)

    async def list(
        self,
        res: Resource,
        namespace: str,
        *,
        label_selector: selectors.Selector | None = None,
        field_selector: FieldSelector | None = None,
        limit: int = 0,
        continue_token: str | None = None,
    ) -> dict[str, Any]:
        """The List object, items decoded (for callers inside the server)."""
        listed = await self.list_raw(
            res,
            namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            limit=limit,
            continue_token=continue_token,
        )
        return {**listed.head(), "items": [orjson.loads(item) for item in listed.items]}

    async def list_raw(
        self,
        res: Resource,
        namespace: str,
        *,
        label_selector: selectors.Selector | None = None,
        field_selector: FieldSelector | None = None,
        limit: int = 0,
        continue_token: str | None = None,
    ) -> RawList:
        """The List with each item as its stored JSON bytes (resourceVersion spliced in):
        without selectors no object is decoded at all, which keeps large lists fast."""
        prefix = res.store_prefix(namespace)
        start, revision = (None, None)
        if continue_token:
            start, revision = _decode_continue(continue_token)
        filtering = label_selector is not None or field_selector is not None
        items: list[bytes] = []
        more = False
        next_start: bytes | None = None
        try:
            while True:
                page = await self.store.range(
                    prefix,
                    limit=max(limit, 500) if limit else 0,
                    continue_from=start,
                    revision=revision,
                )
                revision = page.revision
                for kv in page.items:
                    if filtering and not selected(_decode(kv), label_selector, field_selector):
                        continue
                    if limit and len(items) == limit:
                        more, next_start = True, kv.key
                        break
                    items.append(_raw_with_version(kv))
                if more or not page.more:
                    break
                start = page.continue_from
        except Compacted:
            raise errors.gone(
                "The provided continue parameter is too old to display a consistent "
                "list result. You can start a new list without the continue "
                "parameter."
            ) from None
        except StoreError as exc:
            raise _store_error(exc) from None
        metadata: dict[str, Any] = {"resourceVersion": str(revision)}
        if more and next_start is not None:
            metadata["continue"] = _encode_continue(next_start, revision)
        return RawList(f"{res.kind}List", res.group_version, metadata, items)

    # --- create ----------------------------------------------------------------------------

    async def create(self, res: Resource, namespace: str, body: Any) -> Written:
        obj = self._check_body(res, namespace, body)
        metadata = obj["metadata"]
        if not metadata.get("name") and isinstance(metadata.get("generateName"), str):
            metadata["name"] = metadata["generateName"] + _random_suffix()
        for field in (
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "selfLink",
            "managedFields",
        ):
            metadata.pop(field, None)
        metadata["uid"] = str(uuid.uuid4())
        metadata["creationTimestamp"] = now()
        if "spec" in obj or res.kind in ("Pod", "Deployment", "ReplicaSet"):
            metadata["generation"] = 1
        if res.kind == "Pod":
            obj["status"] = {"phase": "Pending"}
        elif res.kind in ("Deployment", "ReplicaSet"):
            obj["status"] = {}
        elif res.kind == "Namespace":
            obj["status"] = {"phase": "Active"}
        admitted, warnings = self._admit(res, obj, CREATE, None)
        name = admitted["metadata"]["name"]
        try:
            revision = await self.store.create(res.store_key(namespace, name), _encode(admitted))
        except AlreadyExists:
            raise errors.already_exists(res.plural, res.group, name) from None
        except StoreError as exc:
            raise _store_error(exc) from None
        admitted["metadata"]["resourceVersion"] = str(revision)
        return Written(admitted, warnings)

    # --- update and patch --------------------------------------------------------------------

    async def update(
        self, res: Resource, namespace: str, name: str, body: Any, subresource: str | None = None
    ) -> Written:
        obj = self._check_body(res, namespace, body)
        body_name = obj["metadata"].get("name")
        if body_name and body_name != name:
            raise errors.bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL ({name})"
            )
        obj["metadata"]["name"] = name
        old = await self.get(res, namespace, name)
        wanted = obj["metadata"].get("resourceVersion")
        if wanted not in (None, "") and str(wanted) != old["metadata"]["resourceVersion"]:
            check_revision(wanted)
            raise errors.conflict(res.plural, res.group, name)
        return await self.replace(res, namespace, name, old, obj, subresource)

    async def patch(
        self,
        res: Resource,
        namespace: str,
        name: str,
        patch_type: str,
        body: Any,
        subresource: str | None = None,
    ) -> Written:
        for attempt in range(_PATCH_RETRIES):
            old = await self.get(res, namespace, name)
            new = patch.apply(patch_type, copy.deepcopy(old), body)
            if not isinstance(new, dict):
                raise patch.invalid_patch("the result is not an object")
            wanted = (new.get("metadata") or {}).get("resourceVersion")
            if wanted not in (None, "") and str(wanted) != old["metadata"]["resourceVersion"]:
                raise errors.conflict(res.plural, res.group, name)
            new = self._check_body(res, namespace, new)
            try:
                return await self.replace(res, namespace, name, old, new, subresource)
            except errors.ApiError as exc:
                # A patch without a resourceVersion is applied to whatever is current:
                # on a lost race, read again and re-apply.
                if exc.reason != "Conflict" or wanted or attempt == _PATCH_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    async def replace(
        self,
        res: Resource,
        namespace: str,
        name: str,
        old: dict[str, Any],
        new: dict[str, Any],
        subresource: str | None,
    ) -> Written:
        old_meta = old["metadata"]
        new = copy.deepcopy(new)  # callers may share structure with ``old``
        if subresource == "status":
            merged = copy.deepcopy(old)
            merged["status"] = new.get("status")
            new = merged
        else:
            meta = new["metadata"]
            for field in (
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
            ):
                if field in old_meta:
                    meta[field] = old_meta[field]
                else:
                    meta.pop(field, None)
            if res.has_status:
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
                else:
                    new.pop("status", None)
            if "generation" in old_meta:
                changed = new.get("spec") != old.get("spec")
                meta["generation"] = old_meta["generation"] + (1 if changed else 0)
            if res.kind == "Pod" and subresource != "binding":
                _check_pod_update(old, new)
        new["metadata"].pop("resourceVersion", None)
        admitted, warnings = self._admit(res, new, UPDATE, old)
        expected = int(old_meta["resourceVersion"])
        key = res.store_key(namespace, name)
        try:
            if (
                admitted["metadata"].get("deletionTimestamp")
                and not admitted["metadata"].get("finalizers")
                and res.kind != "Pod"
            ):
                deleted = await self.store.delete(key, expected)  # the last finalizer is gone
                admitted["metadata"]["resourceVersion"] = str(deleted.mod_revision)
                return Written(admitted, warnings)
            revision = await self.store.update(key, _encode(admitted), expected)
        except Conflict:
            raise errors.conflict(res.plural, res.group, name) from None
        except NotFound:
            raise errors.not_found(res.plural, res.group, name) from None
        except StoreError as exc:
            raise _store_error(exc) from None
        admitted["metadata"]["resourceVersion"] = str(revision)
        return Written(admitted, warnings)

    # --- delete ------------------------------------------------------------------------------

    async def delete(
        self, res: Resource, namespace: str, name: str, options: dict[str, Any]
    ) -> dict[str, Any]:
        for _ in range(_PATCH_RETRIES):
            old = await self.get(res, namespace, name)
            meta = old["metadata"]
            preconditions = options.get("preconditions") or {}
            if preconditions.get("uid") and preconditions["uid"] != meta.get("uid"):
                raise errors.conflict(res.plural, res.group, name)
            if (
                preconditions.get("resourceVersion")
                and preconditions["resourceVersion"] != meta["resourceVersion"]
            ):
                raise errors.conflict(res.plural, res.group, name)
            graceful = self._grace_period(res, old, options.get("gracePeriodSeconds"))
            terminating = bool(meta.get("deletionTimestamp"))
            try:
                # Finalizers, or a pod on a node that must stop first: mark, do not remove.
                if meta.get("finalizers") or graceful is not None:
                    if terminating:
                        return old  # already on its way out
                    return await self._mark_terminating(res, namespace, name, old, graceful)
                deleted = await self.store.delete(
                    res.store_key(namespace, name), int(meta["resourceVersion"])
                )
            except Conflict:
                continue
            except NotFound:
                raise errors.not_found(res.plural, res.group, name) from None
            except StoreError as exc:
                raise _store_error(exc) from None
            self.terminating.pop((res, namespace, name), None)
            old["metadata"]["resourceVersion"] = str(deleted.mod_revision)
            return old
        raise errors.conflict(res.plural, res.group, name)

    def _grace_period(self, res: Resource, obj: dict[str, Any], requested: Any) -> int | None:
        """Seconds a pod bound to a node is given to stop (None: delete at once)."""
        if res.kind != "Pod" or not (obj.get("spec") or {}).get("nodeName"):
            return None
        if requested is not None:
            if not isinstance(requested, int) or isinstance(requested, bool) or requested < 0:
                raise errors.bad_request(
                    f"gracePeriodSeconds must be a non-negative integer, got {requested!r}"
                )
            return requested or None
        return (obj.get("spec") or {}).get("terminationGracePeriodSeconds", 30) or None

    async def _mark_terminating(
        self, res: Resource, namespace: str, name: str, old: dict[str, Any], grace: int | None
    ) -> dict[str, Any]:
        new = copy.deepcopy(old)
        meta = new["metadata"]
        meta["deletionTimestamp"] = now() if grace is None else _in_seconds(grace)
        if grace is not None:
            meta["deletionGracePeriodSeconds"] = grace
            self.terminating[(res, namespace, name)] = time.monotonic() + grace
        meta.pop("resourceVersion")
        revision = await self.store.update(
            res.store_key(namespace, name), _encode(new), int(old["metadata"]["resourceVersion"])
        )
        meta["resourceVersion"] = str(revision)
        return new

    async def delete_collection(
        self,
        res: Resource,
        namespace: str,
        options: dict[str, Any],
        label_selector: selectors.Selector | None,
        field_selector: FieldSelector | None,
    ) -> dict[str, Any]:
        listed = await self.list(
            res, namespace, label_selector=label_selector, field_selector=field_selector
        )
        items = []
        for item in listed["items"]:
            meta = item["metadata"]
            try:
                items.append(
                    await self.delete(res, meta.get("namespace", ""), meta["name"], options)
                )
            except errors.ApiError as exc:
                if exc.reason != "NotFound":
                    raise
        listed["items"] = items
        return listed

    async def expire_terminating(self) -> int:
        """Delete pods whose grace period has passed without their agent confirming."""
        due = [key for key, deadline in self.terminating.items() if deadline <= time.monotonic()]
        for res, namespace, name in due:
            self.terminating.pop((res, namespace, name), None)
            try:
                await self.delete(res, namespace, name, {"gracePeriodSeconds": 0})
                log.bind(pod=f"{namespace}/{name}").info("grace period over: pod deleted")
            except errors.ApiError as exc:
                if exc.reason != "NotFound":
                    log.bind(pod=f"{namespace}/{name}", error=exc.message).warning(
                        "could not expire pod"
                    )
        return len(due)

    async def find_terminating(self, res: Resource) -> None:
        """At start-up: pick up pods that were already terminating."""
        listed = await self.list(res, "")
        for item in listed["items"]:
            meta = item["metadata"]
            if meta.get("deletionTimestamp") and meta.get("deletionGracePeriodSeconds") is not None:
                left = _seconds_until(meta["deletionTimestamp"])
                self.terminating[(res, meta["namespace"], meta["name"])] = time.monotonic() + left

    # --- watch -------------------------------------------------------------------------------

    async def watch(
        self,
        res: Resource,
        namespace: str,
        start: int,
        *,
        label_selector: selectors.Selector | None = None,
        field_selector: FieldSelector | None = None,
    ) -> AsyncIterator[WatchEvent]:
        """Changes from revision ``start`` on, straight from the store (the API's watch
        uses this only for versions older than the shared fan-out's buffer); 410 Gone
        once ``start`` has left history."""
        prefix = res.store_prefix(namespace)
        try:
            async for event in self.store.watch(prefix, start):
                converted = _watch_event(event, label_selector, field_selector)
                if converted is not None:
                    yield converted
        except Compacted as exc:
            raise errors.gone(
                f"too old resource version: {start - 1} ({exc.compacted_revision or 'unknown'})"
            ) from None
        except StoreError as exc:
            raise _store_error(exc) from None

    # --- helpers ----------------------------------------------------------------------------

    def _check_body(self, res: Resource, namespace: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise errors.bad_request(
                f"the request body must be a JSON object, not {type(body).__name__}"
            )
        obj = body  # the caller owns it (parsed from this request, or a fresh patch result)
        api_version = obj.setdefault("apiVersion", res.group_version)
        kind = obj.setdefault("kind", res.kind)
        if api_version != res.group_version or kind != res.kind:
            raise errors.bad_request(
                f"the object's apiVersion/kind ({api_version}/{kind}) does not match the URL, "
                f"which serves {res.group_version}/{res.kind}"
            )
        metadata = obj.setdefault("metadata", {})
        if not isinstance(metadata, dict):
            raise errors.ApiError(
                422,
                "Invalid",
                f"{res.kind} is invalid: metadata: must be an object",
                details={
                    "kind": res.kind,
                    "causes": [
                        {
                            "field": "metadata",
                            "reason": "FieldValueTypeInvalid",
                            "message": "must be an object",
                        }
                    ],
                },
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

    def _admit(
        self, res: Resource, obj: dict[str, Any], operation: str, old: dict[str, Any] | None
    ) -> tuple[dict[str, Any], tuple[str, ...]]:
        try:
            decoding = api.decode(obj)
        except api.UnknownKind as exc:
            raise errors.bad_request(str(exc)) from None
        except InvalidObject as exc:
            raise _invalid(exc) from None
        try:
            typed = admit(self.pm, AdmissionRequest(operation, res.kind, decoding.obj, old))
            problems: list[Any] = []
        except InvalidObject as exc:
            problems = list(exc.errors)
        if decoding.errors or problems:
            merged = api.merge_errors(decoding.errors, problems)
            raise _invalid(InvalidObject(res.kind, decoding.name, merged)) from None
        warnings = tuple(
            f"ignored field {path}: Navarch keeps it but does not act on it"
            for path in decoding.ignored
        )
        return api.dump(typed), warnings


def _invalid(exc: InvalidObject) -> errors.ApiError:
    status = exc.to_status()
    return errors.ApiError(422, "Invalid", status["message"], details=status["details"])


def _check_pod_update(old: dict[str, Any], new: dict[str, Any]) -> None:
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    fixed_old = {k: v for k, v in old_spec.items() if k not in _MUTABLE_POD_SPEC}
    fixed_new = {k: v for k, v in new_spec.items() if k not in _MUTABLE_POD_SPEC}
    strip = lambda cs: [{k: v for k, v in c.items() if k != "image"} for c in cs or []]  # noqa: E731
    if fixed_old != fixed_new or strip(old_spec.get("containers")) != strip(
        new_spec.get("containers")
    ):
        raise errors.ApiError(
            422,
            "Invalid",
            f'Pod "{old["metadata"]["name"]}" is invalid: spec: Forbidden: pod updates may not '
            "change fields other than `spec.containers[*].image`, `spec.activeDeadlineSeconds` and "
            "`spec.tolerations`; bind a pod with the binding subresource",
            details={
                "name": old["metadata"]["name"],
                "kind": "Pod",
                "causes": [
                    {
                        "reason": "FieldValueForbidden",
                        "field": "spec",
                        "message": "pod updates may not change these fields",
                    }
                ],
            },
        )


def _watch_event(
    event: Any, label_selector: selectors.Selector | None, field_selector: FieldSelector | None
) -> WatchEvent | None:
    previous = _decode(event.prev_kv) if event.prev_kv is not None else None
    deleted = event.type == DELETE
    current = previous if deleted else _decode(event.kv)
    kind = watch_event_type(deleted, current, previous, label_selector, field_selector)
    if kind is None or current is None:
        return None
    current["metadata"]["resourceVersion"] = str(event.revision)
    return WatchEvent(kind, current)


# Stored objects always begin with their metadata, so a read can splice the
# resourceVersion in at a fixed offset without decoding the object.
_STORED_HEAD = b'{"metadata":{'


def _encode(obj: dict[str, Any]) -> bytes:
    return orjson.dumps({"metadata": obj["metadata"], **obj})


def _raw_with_version(kv: KeyValue) -> bytes:
    value = kv.value
    if value.startswith(_STORED_HEAD):
        cut = len(_STORED_HEAD)
        return b'%s"resourceVersion":"%d",%s' % (value[:cut], kv.mod_revision, value[cut:])
    return orjson.dumps(_decode(kv))


def _decode(kv: KeyValue) -> dict[str, Any]:
    obj = orjson.loads(kv.value)
    obj["metadata"]["resourceVersion"] = str(kv.mod_revision)
    return obj


def _encode_continue(start: bytes, revision: int) -> str:
    raw = orjson.dumps({"rv": revision, "start": start.hex()})
    return base64.urlsafe_b64encode(raw).decode()


def _decode_continue(token: str) -> tuple[bytes, int]:
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


def _store_error(exc: StoreError) -> errors.ApiError:
    if isinstance(exc, TooLarge):
        return errors.too_large(exc.limit)
    if isinstance(exc, Unavailable):
        return errors.unavailable(f"storage is unavailable: {exc}")
    if isinstance(exc, Compacted):
        return errors.gone(str(exc))
    return errors.internal(f"storage error: {type(exc).__name__}")


def _random_suffix() -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(secrets.choice(alphabet) for _ in range(5))


def _in_seconds(seconds: int) -> str:
    return datetime.fromtimestamp(time.time() + seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds_until(timestamp: str) -> float:
    try:
        when = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return 0.0
    return max(0.0, when - time.time())


async def expire_loop(registry: ObjectRegistry, interval: float = 1.0) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await registry.expire_terminating()
        except Exception as exc:  # never let the sweeper die
            log.bind(error=repr(exc)).warning("terminating-pod sweep failed")
