"""Deletion as Kubernetes does it: an object that must wait — finalizers, or a pod on a
node that has to stop first (its grace period) — is marked (``deletionTimestamp``)
instead of removed; everything else goes at once, conditional on the version read.
The delete's propagation policy may add the garbage collector's ``orphan`` or
``foregroundDeletion`` finalizer (:mod:`navarch.apiserver.propagation`), which makes
the object wait too.

:func:`delete` and :func:`delete_collection` are methods of
:class:`~navarch.apiserver.storage.Storage` (bound there), kept apart because deletion
is its own concern; they use the storage's reads, its compare-and-swap loop, DELETE
admission and deletion listeners.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from navarch.api import selectors
from navarch.apiserver import codec, errors, propagation
from navarch.apiserver.fieldselectors import FieldSelector
from navarch.apiserver.objects import Obj, WriteContext, in_seconds, now
from navarch.resources.spec import Resource
from navarch.resources.strategy import Strategy

if TYPE_CHECKING:
    from navarch.apiserver.storage import Storage


async def delete(
    storage: Storage,
    res: Resource,
    namespace: str,
    name: str,
    options: Obj,
    ctx: WriteContext | None = None,
) -> Obj:
    strategy = res.strategy
    key = res.store_key(namespace, name)
    preconditions = options.get("preconditions") or {}
    propagation.check_options(options)
    ctx = ctx or WriteContext()

    async def attempt(current: Obj) -> Obj:
        meta = current["metadata"]
        if preconditions.get("uid") and preconditions["uid"] != meta.get("uid"):
            raise errors.conflict(res.plural, res.group, name)
        wanted = preconditions.get("resourceVersion")
        if wanted and wanted != meta["resourceVersion"]:
            raise errors.conflict(res.plural, res.group, name)
        storage.admit_delete(res, current, ctx)
        grace = strategy.grace_period(current, options.get("gracePeriodSeconds"))
        if _graceful_pending(meta, grace):
            # Kubernetes neither hastens nor changes the finalizers of a deletion whose
            # grace period is running, unless the grace period is shortened.
            return current
        finalizers = propagation.finalizers_after_delete(strategy.garbage_collection, meta, options)
        changed = finalizers != list(meta.get("finalizers") or [])
        if changed:
            current = _with_finalizers(current, finalizers)
        if strategy.finalizers(current) or grace is not None:
            # Finalizers, or a pod on a node that must stop first: mark, do not
            # remove. Marking is the object's own lifecycle, not a user's change:
            # no update admission, as in Kubernetes' graceful deletion.
            marked = _marked(current, strategy, grace or 0, finalizers_changed=changed)
            if marked is None:
                return current  # already on its way out, no sooner than asked
            if ctx.dry_run:
                return marked
            read_version = int(marked["metadata"].pop("resourceVersion"))
            revision = await storage.store.update(key, codec.encode(marked), read_version)
            marked["metadata"]["resourceVersion"] = str(revision)
            storage.deleting(res, marked, removed=False)
            return marked
        if ctx.dry_run:
            return current
        deleted = await storage.store.delete(key, int(meta["resourceVersion"]))
        current["metadata"]["resourceVersion"] = str(deleted.mod_revision)
        storage.deleting(res, current, removed=True)
        return current

    current = await storage.get(res, namespace, name)
    return await storage.compare_and_swap(res, namespace, name, current, attempt)


async def delete_collection(
    storage: Storage,
    res: Resource,
    namespace: str,
    options: Obj,
    label_selector: selectors.Selector | None,
    field_selector: FieldSelector | None,
    ctx: WriteContext | None = None,
) -> Obj:
    listed = await storage.list(
        res, namespace, label_selector=label_selector, field_selector=field_selector
    )
    items = []
    for item in listed["items"]:
        meta = item["metadata"]
        try:
            items.append(
                await storage.delete(res, meta.get("namespace", ""), meta["name"], options, ctx)
            )
        except errors.ApiError as exc:
            if exc.reason != "NotFound":
                raise
    listed["items"] = items
    return listed


def _graceful_pending(meta: Obj, grace: int | None) -> bool:
    """Whether the object is already within a grace period that ``grace`` does not
    shorten (None: at once, which does)."""
    pending = meta.get("deletionGracePeriodSeconds") or 0
    return (
        bool(meta.get("deletionTimestamp"))
        and pending > 0
        and grace is not None
        and (grace >= pending)
    )


def _with_finalizers(current: Obj, finalizers: list[str]) -> Obj:
    """A copy of ``current`` with ``metadata.finalizers`` as given."""
    changed = copy.deepcopy(current)
    if finalizers:
        changed["metadata"]["finalizers"] = finalizers
    else:
        changed["metadata"].pop("finalizers", None)
    return changed


def _marked(
    current: Obj, strategy: Strategy, grace: int, *, finalizers_changed: bool = False
) -> Obj | None:
    """A copy of ``current`` marked for deletion in ``grace`` seconds, or None when it is
    already marked for no later than that (and its finalizers did not change). A second
    delete with a shorter grace period brings the deletion forward (Kubernetes does the
    same); 0 means as soon as the finalizers are done."""
    meta = current["metadata"]
    if meta.get("deletionTimestamp") and grace >= (meta.get("deletionGracePeriodSeconds") or 0):
        return copy.deepcopy(current) if finalizers_changed else None
    marked = copy.deepcopy(current)
    if not meta.get("deletionTimestamp"):
        strategy.mark_terminating(marked)
    marked["metadata"]["deletionTimestamp"] = now() if grace == 0 else in_seconds(grace)
    marked["metadata"]["deletionGracePeriodSeconds"] = grace
    return marked
