"""The generic storage: create, get, list, update, patch, delete and watch for every
resource (Kubernetes' ``registry/generic/registry.Store``).

What differs per resource comes from its strategy (``Resource.strategy``,
:mod:`navarch.resources.strategy`);
every write passes the object model (defaults, strict decoding) and admission (the
core's validation first, then plugins). Every read-modify-write goes through
:meth:`Storage.guaranteed_update`: read, mutate, compare-and-swap on the revision read,
and on a lost race retry with the value the store's Conflict carried.
"""

from __future__ import annotations

import copy
import inspect
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, TypeVar

import orjson
import pluggy

from navarch import api
from navarch.admission import CREATE, UPDATE
from navarch.api import selectors
from navarch.api.errors import InvalidObject
from navarch.apiserver import codec, deletion, errors, objects
from navarch.apiserver.admitting import admit_delete, admit_write
from navarch.apiserver.apply import writes as field_management
from navarch.apiserver.codec import check_revision
from navarch.apiserver.fieldselectors import FieldSelector, selected, watch_event_type
from navarch.apiserver.objects import (
    Mutation,
    Obj,
    RawList,
    WatchEvent,
    WriteContext,
    Written,
    check_body,
    now,
)
from navarch.apiserver.objectsize import encode_within_limit
from navarch.resources.spec import Resource
from navarch.resources.strategy import PARTIAL_SUBRESOURCES
from navarch.store import DELETE, AlreadyExists, Compacted, Conflict, Store, StoreError

GENERATE_NAME_ATTEMPTS = 8  # Kubernetes retries a generated name that is taken
UPDATE_DEADLINE_SECONDS = 60.0  # see compare_and_swap
# (resource, the object as written, whether it was removed or only marked)
DeletionListener = Callable[[Resource, Obj, bool], None]
# Kubernetes' BeginCreate/BeginUpdate: (new, old or None, dry run) -> finish(written),
# for a kind whose write takes more of the store than its object (a Service's
# ClusterIP and NodePorts, :mod:`navarch.apiserver.serviceallocation`).
WriteHook = Callable[[Obj, Obj | None, bool], Awaitable[Callable[[bool], Awaitable[None]]]]
T = TypeVar("T")
_SERVER_SET_ON_CREATE = (
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "selfLink",
)
_KEPT_ON_UPDATE = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds")


class Storage:
    def __init__(self, store: Store, pm: pluggy.PluginManager):
        self.store = store
        self.pm = pm
        # Told of every object this server marks for deletion or removes (the object as
        # written): the grace-expiry loop and the namespace cache need not poll.
        self.deletion_listeners: list[DeletionListener] = []
        # By Resource.group_resource: see WriteHook.
        self.write_hooks: dict[str, WriteHook] = {}

    # Deletion is its own module (graceful marking, finalizers), bound here as methods.
    delete = deletion.delete
    delete_collection = deletion.delete_collection

    # --- reads -------------------------------------------------------------------------

    async def get(self, res: Resource, namespace: str, name: str) -> Obj:
        try:
            kv = await self.store.get(res.store_key(namespace, name))
        except StoreError as exc:
            raise errors.from_store(exc, res.plural, res.group, name) from None
        return codec.decode(kv)

    async def list(
        self,
        res: Resource,
        namespace: str,
        *,
        label_selector: selectors.Selector | None = None,
        field_selector: FieldSelector | None = None,
    ) -> Obj:
        """The List object with decoded items (for callers inside the server)."""
        listed = await self.list_raw(
            res, namespace, label_selector=label_selector, field_selector=field_selector
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
        reserve: Callable[[int], None] | None = None,
    ) -> RawList:
        """The List with each item as its stored JSON bytes (resourceVersion spliced in):
        without selectors no object is decoded at all, which keeps large lists fast.
        ``reserve(n)`` is told the bytes of each page kept, and may refuse by raising."""
        prefix = res.store_prefix(namespace)
        start, revision = (None, None)
        if continue_token:
            start, revision = codec.decode_continue(continue_token)
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
                kept = len(items)
                for kv in page.items:
                    if filtering and not selected(codec.decode(kv), label_selector, field_selector):
                        continue
                    if limit and len(items) == limit:
                        more, next_start = True, kv.key
                        break
                    items.append(codec.raw_with_version(kv))
                if reserve is not None:
                    reserve(sum(len(item) for item in items[kept:]))
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
            raise errors.from_store(exc, res.plural, res.group) from None
        metadata: Obj = {"resourceVersion": str(revision)}
        if more and next_start is not None:
            metadata["continue"] = codec.encode_continue(next_start, revision)
        return RawList(f"{res.kind}List", res.group_version, metadata, items)

    # --- create ------------------------------------------------------------------------

    async def create(
        self, res: Resource, namespace: str, body: Any, ctx: WriteContext | None = None
    ) -> Written:
        ctx = ctx or WriteContext()
        obj = check_body(res, namespace, body)
        metadata = obj["metadata"]
        for field in _SERVER_SET_ON_CREATE:
            metadata.pop(field, None)
        metadata["uid"] = str(uuid.uuid4())
        metadata["creationTimestamp"] = now()
        strategy = res.strategy
        strategy.prepare_for_create(obj)
        sent_fields = field_management.lift(obj)
        generated = not metadata.get("name") and isinstance(metadata.get("generateName"), str)
        for attempt in range(GENERATE_NAME_ATTEMPTS if generated else 1):
            if generated:
                metadata["name"] = metadata["generateName"] + objects.random_suffix()
            typed, admitted, warnings = admit_write(self.pm, res, obj, CREATE, None, ctx)
            problems = strategy.validate_create(typed)
            if problems:
                raise errors.from_invalid_object(
                    InvalidObject(res.kind, admitted["metadata"]["name"], problems), res.group
                )
            self._settle_fields(res, None, admitted, sent_fields, ctx)
            name = admitted["metadata"]["name"]
            finish = await self._begin_write(res, admitted, None, ctx)
            try:
                value = encode_within_limit(res, admitted)
            except BaseException:
                await finish(False)
                raise
            if ctx.dry_run:
                return Written(admitted, warnings)
            try:
                revision = await self.store.create(res.store_key(namespace, name), value)
                await finish(True)
            except StoreError as exc:
                await finish(False)
                if isinstance(exc, AlreadyExists) and generated:
                    if attempt < GENERATE_NAME_ATTEMPTS - 1:
                        continue
                    raise errors.names_exhausted(
                        metadata["generateName"], GENERATE_NAME_ATTEMPTS
                    ) from None
                raise errors.from_store(exc, res.plural, res.group, name) from None
            admitted["metadata"]["resourceVersion"] = str(revision)
            return Written(admitted, warnings)
        raise AssertionError("unreachable")

    # --- read-modify-write -------------------------------------------------------------

    async def guaranteed_update(
        self,
        res: Resource,
        namespace: str,
        name: str,
        mutate: Mutation,
        ctx: WriteContext | None = None,
        *,
        current: Obj | None = None,
    ) -> Written:
        """Read, ``mutate`` a copy, compare-and-swap; on a lost race call ``mutate`` again
        on the value that won. ``mutate`` raises an ApiError to refuse (a precondition
        that no longer holds, say); it returns the object wanted, whose resourceVersion,
        if it differs from the one read, is a precondition that fails with 409."""
        ctx = ctx or WriteContext()
        key = res.store_key(namespace, name)

        async def attempt(current: Obj) -> Written:
            read_version = current["metadata"]["resourceVersion"]
            wanted = mutate(copy.deepcopy(current))
            if inspect.isawaitable(wanted):
                wanted = await wanted
            new = check_body(res, namespace, wanted)
            wanted_version = new["metadata"].get("resourceVersion")
            if wanted_version not in (None, "") and str(wanted_version) != read_version:
                check_revision(wanted_version)
                raise errors.conflict(res.plural, res.group, name)
            written = await self._prepare_update(res, name, new, current, ctx)
            if written is None:  # nothing changed: no write, as Kubernetes does
                return Written(current)
            admitted, warnings = written
            # An object on its way out is not size-checked: it must stay removable.
            removing = self._may_remove(res, admitted)
            if removing:
                value = b""
            else:
                finish = await self._begin_write(res, admitted, current, ctx)
                try:
                    value = encode_within_limit(res, admitted, ctx.subresource)
                except BaseException:
                    await finish(False)
                    raise
            if ctx.dry_run:
                admitted["metadata"]["resourceVersion"] = read_version
                return Written(admitted, warnings)
            if removing:
                deleted = await self.store.delete(key, int(read_version))
                admitted["metadata"]["resourceVersion"] = str(deleted.mod_revision)
                self.deleting(res, admitted, removed=True)
            else:
                try:
                    revision = await self.store.update(key, value, int(read_version))
                except BaseException:
                    await finish(False)
                    raise
                await finish(True)
                admitted["metadata"]["resourceVersion"] = str(revision)
            return Written(admitted, warnings)

        if current is None:
            current = await self.get(res, namespace, name)
        return await self.compare_and_swap(res, namespace, name, current, attempt)

    async def compare_and_swap(
        self,
        res: Resource,
        namespace: str,
        name: str,
        current: Obj,
        attempt: Callable[[Obj], Awaitable[T]],
    ) -> T:
        """The one retry loop of every conditional write. ``attempt`` decides from
        ``current`` and writes conditionally on its revision; when the store answers
        Conflict (another write won), ``attempt`` runs again on the value that won,
        carried by the Conflict.

        There is no count limit (Kubernetes' GuaranteedUpdate has none either): every
        lost race means another write succeeded, so N concurrent writers need at most N
        attempts each. The deadline only guards against a store that keeps failing the
        compare for no reason."""
        deadline = time.monotonic() + UPDATE_DEADLINE_SECONDS
        while time.monotonic() < deadline:
            try:
                return await attempt(current)
            except Conflict as exc:
                current = (
                    codec.decode(exc.current)
                    if exc.current is not None
                    else await self.get(res, namespace, name)
                )
            except StoreError as exc:
                raise errors.from_store(exc, res.plural, res.group, name) from None
        raise errors.conflict(res.plural, res.group, name)

    async def _begin_write(
        self, res: Resource, new: Obj, old: Obj | None, ctx: WriteContext
    ) -> Callable[[bool], Awaitable[None]]:
        hook = self.write_hooks.get(res.group_resource)
        if hook is None or ctx.subresource == "status":
            return _nothing_to_finish
        return await hook(new, old, ctx.dry_run)

    def _may_remove(self, res: Resource, obj: Obj) -> bool:
        """A deleted object goes with its last finalizer, unless it is still within a
        grace period someone must confirm (a pod whose agent is stopping it)."""
        strategy = res.strategy
        meta = obj["metadata"]
        return bool(
            meta.get("deletionTimestamp")
            and not strategy.finalizers(obj)
            and (strategy.removes_without_finalizers or not meta.get("deletionGracePeriodSeconds"))
        )

    def deleting(self, res: Resource, obj: Obj, *, removed: bool) -> None:
        for listener in self.deletion_listeners:
            listener(res, obj, removed)

    def admit_delete(self, res: Resource, current: Obj, ctx: WriteContext) -> None:
        admit_delete(self.pm, res, current, ctx)

    async def _prepare_update(
        self, res: Resource, name: str, new: Obj, old: Obj, ctx: WriteContext
    ) -> tuple[Obj, tuple[str, ...]] | None:
        strategy = res.strategy
        body_name = new["metadata"].get("name")
        if body_name and body_name != name:
            raise errors.bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL ({name})"
            )
        new["metadata"]["name"] = name
        # managedFields as the write set them, before a subresource keeps only its part
        sent_fields = field_management.lift(new)
        if ctx.subresource in PARTIAL_SUBRESOURCES:
            new = strategy.prepare_for_subresource_update(ctx.subresource, new, old)
        else:
            meta, old_meta = new["metadata"], old["metadata"]
            for field in _KEPT_ON_UPDATE:
                if field in old_meta:
                    meta[field] = old_meta[field]
                else:
                    meta.pop(field, None)
            if ctx.subresource != "binding":  # binding writes spec and status together
                strategy.prepare_for_update(new, old)
        new["metadata"].pop("resourceVersion", None)
        if "generation" in old["metadata"]:
            new["metadata"]["generation"] = old["metadata"]["generation"]
        if res.unstructured:  # a custom object: the dict is what admission sees
            old_typed: Any = copy.deepcopy(old)
            old_ignored = frozenset[str]()
        else:
            old_decoding = api.decode(old)
            old_typed, old_ignored = old_decoding.obj, frozenset(old_decoding.ignored)
        field_management.lift(new)  # (a subresource's copy of the old object has the old ones)
        typed, admitted, warnings = admit_write(
            self.pm,
            res,
            new,
            UPDATE,
            old_typed,
            ctx,
            ignored_before=old_ignored,
        )
        problems = (
            strategy.validate_subresource_update(ctx.subresource, typed, old_typed)
            if ctx.subresource
            else strategy.validate_update(typed, old_typed)
        )
        if problems:
            raise errors.from_invalid_object(InvalidObject(res.kind, name, problems), res.group)
        if strategy.tracks_generation and strategy.spec_changed(typed, old_typed):
            admitted["metadata"]["generation"] = old["metadata"].get("generation", 0) + 1
        self._settle_fields(res, old, admitted, sent_fields, ctx)
        unchanged = {**old, "metadata": {**old["metadata"]}}
        unchanged["metadata"].pop("resourceVersion", None)
        if admitted == unchanged:
            return None
        return admitted, warnings

    async def update(
        self, res: Resource, namespace: str, name: str, body: Any, ctx: WriteContext | None = None
    ) -> Written:
        """PUT: replace the object; a resourceVersion in the body is a precondition."""
        obj = check_body(res, namespace, body)
        # A fresh copy each attempt: a retry must still see the body's resourceVersion
        # (the precondition), which preparing the first attempt removed.
        return await self.guaranteed_update(
            res, namespace, name, lambda _current: copy.deepcopy(obj), ctx
        )

    # --- watch -------------------------------------------------------------------------

    async def watch(
        self,
        res: Resource,
        namespace: str,
        start: int,
        *,
        label_selector: selectors.Selector | None = None,
        field_selector: FieldSelector | None = None,
    ) -> AsyncGenerator[WatchEvent, None]:
        """Changes from revision ``start`` on, straight from the store; 410 Gone once
        ``start`` has left history."""
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
            raise errors.from_store(exc, res.plural, res.group) from None

    def _settle_fields(
        self, res: Resource, old: Obj | None, admitted: Obj, sent: Any, ctx: WriteContext
    ) -> None:
        """managedFields after admission: who owns what this write set (apply.writes)."""
        field_management.settle(
            old,
            admitted,
            sent,
            field_manager=ctx.field_manager,
            applied=ctx.applied,
            api_version=res.group_version,
            subresource=ctx.subresource,
            has_status=res.has_status,
            now=now(),
        )


async def _nothing_to_finish(written: bool) -> None:
    return None


def _watch_event(
    event: Any, label_selector: selectors.Selector | None, field_selector: FieldSelector | None
) -> WatchEvent | None:
    previous = codec.decode(event.prev_kv) if event.prev_kv is not None else None
    deleted = event.type == DELETE
    current = previous if deleted else codec.decode(event.kv)
    kind = watch_event_type(deleted, current, previous, label_selector, field_selector)
    if kind is None or current is None:
        return None
    current["metadata"]["resourceVersion"] = str(event.revision)
    return WatchEvent(kind, current)
