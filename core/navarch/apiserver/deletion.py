"""Deletion as Kubernetes does it: an object that must wait — finalizers, or a pod on a
node that has to stop first (its grace period) — is marked (``deletionTimestamp``)
instead of removed; everything else goes at once, conditional on the version read.

:class:`GracefulDeletion` is a base of :class:`~navarch.apiserver.storage.Storage`,
kept apart because it is its own concern; it relies on the storage's ``store``,
``get``, ``list``, ``_current_after`` and ``on_terminating``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from navarch.api import selectors
from navarch.apiserver import codec, errors
from navarch.apiserver.fieldselectors import FieldSelector
from navarch.apiserver.objects import Obj, WriteContext, in_seconds, now
from navarch.apiserver.resources import Resource
from navarch.apiserver.strategy import for_resource
from navarch.store import Conflict, Store, StoreError

# A lost race is retried with the value that won, without a count limit (as Kubernetes'
# GuaranteedUpdate does): every lost race means another write succeeded, so the system
# as a whole progresses, and N concurrent writers need at most N attempts each. The
# deadline only guards against a store that keeps failing the compare for no reason.
UPDATE_DEADLINE_SECONDS = 60.0


class GracefulDeletion:
    store: Store
    on_terminating: Callable[[Resource, str, str, float], None] | None

    if TYPE_CHECKING:

        async def get(self, res: Resource, namespace: str, name: str) -> Obj: ...

        async def list(
            self,
            res: Resource,
            namespace: str,
            *,
            label_selector: selectors.Selector | None = None,
            field_selector: FieldSelector | None = None,
        ) -> Obj: ...

        async def _current_after(
            self, res: Resource, namespace: str, name: str, conflict: Conflict
        ) -> Obj: ...

    async def delete(
        self,
        res: Resource,
        namespace: str,
        name: str,
        options: Obj,
        ctx: WriteContext | None = None,
    ) -> Obj:
        strategy = for_resource(res.plural)
        key = res.store_key(namespace, name)
        preconditions = options.get("preconditions") or {}
        current = await self.get(res, namespace, name)
        deadline = time.monotonic() + UPDATE_DEADLINE_SECONDS
        while time.monotonic() < deadline:
            meta = current["metadata"]
            if preconditions.get("uid") and preconditions["uid"] != meta.get("uid"):
                raise errors.conflict(res.plural, res.group, name)
            wanted = preconditions.get("resourceVersion")
            if wanted and wanted != meta["resourceVersion"]:
                raise errors.conflict(res.plural, res.group, name)
            grace = strategy.grace_period(current, options.get("gracePeriodSeconds"))
            if strategy.finalizers(current) or grace is not None:
                # Finalizers, or a pod on a node that must stop first: mark, do not remove.
                if meta.get("deletionTimestamp"):
                    return current  # already on its way out
                return await self._mark_terminating(res, namespace, name, current, grace, ctx)
            if ctx is not None and ctx.dry_run:
                return current
            try:
                deleted = await self.store.delete(key, int(meta["resourceVersion"]))
            except Conflict as exc:
                current = await self._current_after(res, namespace, name, exc)
                continue
            except StoreError as exc:
                raise errors.from_store(exc, res.plural, res.group, name) from None
            current["metadata"]["resourceVersion"] = str(deleted.mod_revision)
            return current
        raise errors.conflict(res.plural, res.group, name)

    async def _mark_terminating(
        self,
        res: Resource,
        namespace: str,
        name: str,
        current: Obj,
        grace: int | None,
        ctx: WriteContext | None,
    ) -> Obj:
        strategy = for_resource(res.plural)

        def mark(obj: Obj) -> Obj:
            meta = obj["metadata"]
            if not meta.get("deletionTimestamp"):
                strategy.mark_terminating(obj)
                meta["deletionTimestamp"] = now() if grace is None else in_seconds(grace)
                if grace is not None:
                    meta["deletionGracePeriodSeconds"] = grace
            return obj

        # Marking is a write of the object's own lifecycle, not a user's change: it
        # bypasses admission (as Kubernetes' graceful deletion does).
        key = res.store_key(namespace, name)
        deadline = time.monotonic() + UPDATE_DEADLINE_SECONDS
        while time.monotonic() < deadline:
            marked = mark(copy.deepcopy(current))
            if ctx is not None and ctx.dry_run:
                return marked
            read_version = int(marked["metadata"].pop("resourceVersion"))
            try:
                revision = await self.store.update(key, codec.encode(marked), read_version)
            except Conflict as exc:
                current = await self._current_after(res, namespace, name, exc)
                if current["metadata"].get("deletionTimestamp"):
                    return current
                continue
            except StoreError as exc:
                raise errors.from_store(exc, res.plural, res.group, name) from None
            marked["metadata"]["resourceVersion"] = str(revision)
            if grace is not None and self.on_terminating is not None:
                self.on_terminating(res, namespace, name, time.monotonic() + grace)
            return marked
        raise errors.conflict(res.plural, res.group, name)

    async def delete_collection(
        self,
        res: Resource,
        namespace: str,
        options: Obj,
        label_selector: selectors.Selector | None,
        field_selector: FieldSelector | None,
        ctx: WriteContext | None = None,
    ) -> Obj:
        listed = await self.list(
            res, namespace, label_selector=label_selector, field_selector=field_selector
        )
        items = []
        for item in listed["items"]:
            meta = item["metadata"]
            try:
                items.append(
                    await self.delete(res, meta.get("namespace", ""), meta["name"], options, ctx)
                )
            except errors.ApiError as exc:
                if exc.reason != "NotFound":
                    raise
        listed["items"] = items
        return listed
