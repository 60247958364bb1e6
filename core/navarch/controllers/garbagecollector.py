"""The garbage collector: what an owner leaves behind goes after it, as Kubernetes'
garbage collector does it, by ``metadata.ownerReferences`` (matched by uid).

It watches every kind whose strategy takes part in garbage collection
(:attr:`Strategy.garbage_collection` other than ``Unsupported``: the core's pods,
ReplicaSets and Deployments, and any plugin kind that declares it, such as an
operator's custom kind owning the pods it makes; namespaces empty themselves through
their own controller) and keeps them findable by the uids their references name. A
work-queue key is one object, ``plural/namespace/name``; its sync does one of three
things:

* the object is being deleted with the ``orphan`` finalizer: every dependent loses its
  reference to it, then the finalizer is removed (the object goes);
* it is being deleted with the ``foregroundDeletion`` finalizer: its dependents are
  deleted first; once none is left whose reference has ``blockOwnerDeletion``, the
  finalizer is removed;
* it has owners: each is looked up — in the caches, and when absent there (or holding
  another uid) with a GET, so that a cache a step behind never deletes anything. With
  at least one owner alive, references to owners that are gone (or waiting for their
  dependents) are removed; when every owner is gone it is deleted itself (Background,
  or the policy its own finalizers ask for; Foreground when an owner waits for it and
  it has dependents of its own), on the uid and resourceVersion just read.

An owner that leaves prompts its dependents; a dependent that leaves (or drops a
reference) prompts the owners it named, so a foreground deletion is released as soon
as its last blocking dependent is gone. See ``docs/controllers.md``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from navarch.apiserver.propagation import FOREGROUND_FINALIZER, ORPHAN_FINALIZER
from navarch.client.errors import NotFound
from navarch.controllers.base import QueueController
from navarch.controllers.context import ControllerContext
from navarch.resources.registry import registry
from navarch.resources.spec import Resource
from navarch.resources.strategy import UNSUPPORTED

NAME = "garbage-collector"
OWNER_UID_INDEX = "garbage-collector/owner-uid"


class GarbageCollector(QueueController):
    def __init__(self, context: ControllerContext):
        super().__init__(context)
        self.informers = {plural: context.informers.informer(plural) for plural in watched()}
        for plural, informer in self.informers.items():
            informer.add_index(OWNER_UID_INDEX, _owner_uids)
            informer.add_handler(
                on_add=lambda obj, plural=plural: self._observed(plural, obj),
                on_update=lambda old, new, plural=plural: self._updated(plural, old, new),
                on_delete=lambda obj, plural=plural: self._removed(obj),
            )

    # --- what prompts a sync -------------------------------------------------------------

    def _observed(self, plural: str, obj: Any) -> None:
        if obj.metadata.owner_references or _gc_finalizer(obj):
            self.queue.add(_key(plural, obj))

    def _updated(self, plural: str, old: Any, new: Any) -> None:
        self._observed(plural, new)
        kept = {ref.uid for ref in new.metadata.owner_references or ()}
        # An owner this object no longer names may be waiting for it to go.
        self._enqueue_owners(
            old, [r for r in old.metadata.owner_references or () if r.uid not in kept]
        )

    def _removed(self, obj: Any) -> None:
        for plural, dependent in self._cached_dependents(obj.metadata.uid):
            self.queue.add(_key(plural, dependent))
        self._enqueue_owners(obj, obj.metadata.owner_references or ())

    def _enqueue_owners(self, obj: Any, refs: Iterable[Any]) -> None:
        for ref in refs:
            res = _resource_of(ref)
            if res is not None and res.plural in self.informers:
                namespace = obj.metadata.namespace if res.namespaced else ""
                self.queue.add(f"{res.plural}/{namespace or ''}/{ref.name}")

    # --- sync --------------------------------------------------------------------------

    async def sync(self, key: str) -> float | None:
        plural, namespace, name = key.split("/", 2)
        cached = self.informers[plural].get(f"{namespace}/{name}" if namespace else name)
        if cached is None:
            return None  # gone: its dependents were queued when it went
        meta = cached.metadata
        finalizers = meta.finalizers or ()
        if meta.deletion_timestamp:
            if ORPHAN_FINALIZER in finalizers:
                await self._orphan_dependents(plural, cached)
            elif FOREGROUND_FINALIZER in finalizers:
                await self._delete_dependents_first(plural, cached)
            return None  # otherwise already on its way out
        if meta.owner_references and not self._owners_alive_in_cache(cached):
            await self._collect(plural, cached)
        return None

    def _owners_alive_in_cache(self, obj: Any) -> bool:
        """Whether every owner is in the caches with the uid named and not waiting for
        its dependents: the common case, decided without a request."""
        for ref in obj.metadata.owner_references or ():
            owner = self._cached_owner(obj, ref)
            if owner is None or owner.metadata.uid != ref.uid or _waits_for_dependents(owner):
                return False
        return True

    async def _collect(self, plural: str, cached: Any) -> None:
        """Decide on the live object (the cache may be a step behind: say, the orphan
        step just removed the reference that looks dangling here)."""
        obj = await self._live(plural, cached)
        if obj is None or obj.metadata.deletion_timestamp:
            return
        by_state: dict[str, list[Any]] = {"solid": [], "gone": [], "waiting": []}
        for ref in obj.metadata.owner_references or ():
            by_state[await self._owner_state(obj, ref)].append(ref)
        solid, gone, waiting = by_state["solid"], by_state["gone"], by_state["waiting"]
        log = self.log.bind(object=_key(plural, obj))
        if solid:
            dropped = {ref.uid for ref in gone + waiting}
            if dropped:
                await self._drop_references(plural, obj, dropped)
                log.bind(owners=sorted(dropped)).info("references to owners gone removed")
            return
        finalizers = obj.metadata.finalizers or ()
        if waiting and self._cached_dependents(obj.metadata.uid):
            policy = "Foreground"  # its owner waits for it, and it has dependents of its own
        elif ORPHAN_FINALIZER in finalizers:
            policy = "Orphan"
        elif FOREGROUND_FINALIZER in finalizers:
            policy = "Foreground"
        else:
            policy = "Background"
        try:
            await getattr(self.client, plural).delete(
                obj.name,
                obj.metadata.namespace,
                propagation_policy=policy,
                uid=obj.metadata.uid,
                resource_version=obj.metadata.resource_version,
            )
        except NotFound:
            return
        # Conflict: it changed since it was read; raised, so the sync runs again.
        log.bind(policy=policy).info("owners gone: deleted")

    async def _owner_state(self, obj: Any, ref: Any) -> str:
        """``solid`` (alive), ``gone`` (absent, or its name holds another uid) or
        ``waiting`` (being deleted in the foreground). Gone is only ever decided by the
        API server's answer, never by a cache miss. A reference the collector cannot
        resolve (a kind Navarch does not serve, no uid) counts as alive."""
        res = _resource_of(ref)
        if res is None or not ref.uid or not ref.name:
            self.log.bind(object=obj.key(), kind=ref.kind, api_version=ref.api_version).warning(
                "ownerReference names nothing this server serves; left alone"
            )
            return "solid"
        owner = self._cached_owner(obj, ref)
        if owner is None or owner.metadata.uid != ref.uid:
            namespace = obj.metadata.namespace if res.namespaced else None
            try:
                owner = await getattr(self.client, res.plural).get(ref.name, namespace)
            except NotFound:
                return "gone"
            if owner.metadata.uid != ref.uid:
                return "gone"
        return "waiting" if _waits_for_dependents(owner) else "solid"

    async def _delete_dependents_first(self, plural: str, owner: Any) -> None:
        uid = owner.metadata.uid
        dependents = self._cached_dependents(uid)
        if not any(_blocks(dependent, uid) for _, dependent in dependents):
            dependents = await self._live_dependents(owner)  # confirm before releasing
        # Every dependent goes (those that do not block only need not be waited for).
        for dependent_plural, dependent in dependents:
            if not dependent.metadata.deletion_timestamp:
                self.queue.add(_key(dependent_plural, dependent))
        if not any(_blocks(dependent, uid) for _, dependent in dependents):
            await self._drop_finalizer(plural, owner, FOREGROUND_FINALIZER)
            self.log.bind(object=_key(plural, owner)).info(
                "foreground deletion: no blocking dependent left; released"
            )
        # Otherwise each dependent that goes queues this owner again (see _removed).

    async def _orphan_dependents(self, plural: str, owner: Any) -> None:
        uid = owner.metadata.uid
        for dependent_plural, dependent in await self._live_dependents(owner):
            await self._drop_references(dependent_plural, dependent, {uid})
        await self._drop_finalizer(plural, owner, ORPHAN_FINALIZER)
        self.log.bind(object=_key(plural, owner)).info("dependents orphaned; released")

    # --- writes ------------------------------------------------------------------------

    async def _drop_references(self, plural: str, obj: Any, uids: set[str]) -> None:
        """Remove the references to ``uids`` from ``obj`` (this very object, as read)."""
        live = await self._live(plural, obj)
        if live is None:
            return
        refs = live.metadata.owner_references or ()
        kept = [_ref_body(ref) for ref in refs if ref.uid not in uids]
        if len(kept) == len(refs):
            return
        await self._patch_metadata(plural, live, {"ownerReferences": kept or None})

    async def _drop_finalizer(self, plural: str, obj: Any, finalizer: str) -> None:
        live = await self._live(plural, obj)
        if live is None or finalizer not in (live.metadata.finalizers or ()):
            return
        kept = [f for f in live.metadata.finalizers or () if f != finalizer]
        await self._patch_metadata(plural, live, {"finalizers": kept or None})

    async def _patch_metadata(self, plural: str, live: Any, changes: dict[str, Any]) -> None:
        """A merge patch conditional on the version read (a Conflict is raised: the
        sync runs again on what changed)."""
        patch = {"metadata": {**changes, "resourceVersion": live.metadata.resource_version}}
        try:
            await getattr(self.client, plural).patch(live.name, patch, live.metadata.namespace)
        except NotFound:
            return

    # --- reads -------------------------------------------------------------------------

    async def _live(self, plural: str, obj: Any) -> Any | None:
        """The object as the API server has it now, or None when it is gone or its name
        holds another object."""
        try:
            live = await getattr(self.client, plural).get(obj.name, obj.metadata.namespace)
        except NotFound:
            return None
        return live if live.metadata.uid == obj.metadata.uid else None

    def _cached_owner(self, obj: Any, ref: Any) -> Any | None:
        res = _resource_of(ref)
        if res is None or res.plural not in self.informers:
            return None
        namespace = obj.metadata.namespace if res.namespaced else ""
        return self.informers[res.plural].get(f"{namespace}/{ref.name}" if namespace else ref.name)

    def _cached_dependents(self, uid: str | None) -> list[tuple[str, Any]]:
        if not uid:
            return []
        return [
            (plural, dependent)
            for plural, informer in self.informers.items()
            for dependent in informer.by_index(OWNER_UID_INDEX, uid)
        ]

    async def _live_dependents(self, owner: Any) -> list[tuple[str, Any]]:
        """The owner's dependents as listed now (for the steps that let the owner go: a
        dependent the caches have not seen yet is not left behind)."""
        uid = owner.metadata.uid
        namespace = owner.metadata.namespace
        found = []
        for plural in self.informers:
            listed = await getattr(self.client, plural).list(namespace or None)
            found += [(plural, item) for item in listed.items if uid in _owner_uids(item)]
        return found


def watched() -> tuple[str, ...]:
    """The plurals of the kinds the collector watches: those whose strategy takes part in
    garbage collection, as the process's registry (the core's and the installed
    plugins' kinds) has them when the controller is built."""
    return tuple(
        resource.plural
        for resource in registry()
        if resource.strategy.garbage_collection != UNSUPPORTED
    )


def _key(plural: str, obj: Any) -> str:
    return f"{plural}/{obj.metadata.namespace or ''}/{obj.metadata.name}"


def _owner_uids(obj: Any) -> list[str]:
    return [ref.uid for ref in obj.metadata.owner_references or () if ref.uid]


def _gc_finalizer(obj: Any) -> bool:
    finalizers = obj.metadata.finalizers or ()
    return ORPHAN_FINALIZER in finalizers or FOREGROUND_FINALIZER in finalizers


def _waits_for_dependents(owner: Any) -> bool:
    meta = owner.metadata
    return bool(meta.deletion_timestamp) and FOREGROUND_FINALIZER in (meta.finalizers or ())


def _blocks(dependent: Any, owner_uid: str | None) -> bool:
    return any(
        ref.uid == owner_uid and ref.block_owner_deletion
        for ref in dependent.metadata.owner_references or ()
    )


def _resource_of(ref: Any) -> Resource | None:
    """The resource an ownerReference names (its kind, in the group of its apiVersion)."""
    res = registry().for_kind(ref.kind or "")
    group = (ref.api_version or "").rpartition("/")[0]
    return res if res is not None and res.group == group else None


def _ref_body(ref: Any) -> dict[str, Any]:
    body = {
        "apiVersion": ref.api_version,
        "kind": ref.kind,
        "name": ref.name,
        "uid": ref.uid,
        "controller": ref.controller,
        "blockOwnerDeletion": ref.block_owner_deletion,
    }
    return {k: v for k, v in body.items() if v is not None}
