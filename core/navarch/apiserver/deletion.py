"""Deletion as Kubernetes does it: an object that must wait — finalizers, or a pod on a
node that has to stop first (its grace period) — is marked (``deletionTimestamp``)
instead of removed; everything else goes at once, conditional on the version read.

:class:`GracefulDeletion` is a base of :class:`~navarch.apiserver.storage.Storage`,
kept apart because it is its own concern; it relies on the storage's ``store``,
``get``, ``list``, ``compare_and_swap`` and ``on_terminating``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from navarch.api import selectors
from navarch.apiserver import codec, errors
from navarch.apiserver.fieldselectors import FieldSelector
from navarch.apiserver.objects import Obj, WriteContext, in_seconds, now
from navarch.apiserver.resources import Resource
from navarch.apiserver.strategy import Strategy, for_resource
from navarch.store import Store

T = TypeVar("T")


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

        async def compare_and_swap(
            self,
            res: Resource,
            namespace: str,
            name: str,
            current: Obj,
            attempt: Callable[[Obj], Awaitable[T]],
        ) -> T: ...

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
        dry_run = ctx is not None and ctx.dry_run

        async def attempt(current: Obj) -> Obj:
            meta = current["metadata"]
            if preconditions.get("uid") and preconditions["uid"] != meta.get("uid"):
                raise errors.conflict(res.plural, res.group, name)
            wanted = preconditions.get("resourceVersion")
            if wanted and wanted != meta["resourceVersion"]:
                raise errors.conflict(res.plural, res.group, name)
            grace = strategy.grace_period(current, options.get("gracePeriodSeconds"))
            if strategy.finalizers(current) or grace is not None:
                # Finalizers, or a pod on a node that must stop first: mark, do not
                # remove. Marking is the object's own lifecycle, not a user's change:
                # it bypasses admission, as Kubernetes' graceful deletion does.
                if meta.get("deletionTimestamp"):
                    return current  # already on its way out
                marked = _marked(current, strategy, grace)
                if dry_run:
                    return marked
                read_version = int(marked["metadata"].pop("resourceVersion"))
                revision = await self.store.update(key, codec.encode(marked), read_version)
                marked["metadata"]["resourceVersion"] = str(revision)
                if grace is not None and self.on_terminating is not None:
                    self.on_terminating(res, namespace, name, time.monotonic() + grace)
                return marked
            if dry_run:
                return current
            deleted = await self.store.delete(key, int(meta["resourceVersion"]))
            current["metadata"]["resourceVersion"] = str(deleted.mod_revision)
            return current

        current = await self.get(res, namespace, name)
        return await self.compare_and_swap(res, namespace, name, current, attempt)

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


def _marked(current: Obj, strategy: Strategy, grace: int | None) -> Obj:
    """A copy of ``current`` marked for deletion (after ``grace`` seconds, if any)."""
    marked = copy.deepcopy(current)
    strategy.mark_terminating(marked)
    meta = marked["metadata"]
    meta["deletionTimestamp"] = now() if grace is None else in_seconds(grace)
    if grace is not None:
        meta["deletionGracePeriodSeconds"] = grace
    return marked
