"""Adopting and releasing objects as Kubernetes' controller ref manager does
(pkg/controller/controller_ref_manager.go): a controller takes an orphan that its
selector matches by adding itself as the controlling owner, and lets go of one that no
longer matches by removing its reference. Both are JSON patches that first *test* what
the controller looked at, so a patch never lands on another object that took the name
meanwhile, nor removes a reference another writer moved: the API server answers 422
and the controller looks again at its next sync.

ReplicaSets, DaemonSets and StatefulSets claim pods; DaemonSets and StatefulSets claim
ControllerRevisions; Jobs claim pods with their tracking finalizer (``extra``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from navarch.api.meta import TopLevel
from navarch.client.client import JSON_PATCH
from navarch.controllers.owners import owner_reference

Patch = list[dict[str, Any]]


def adoption_patch(owner: TopLevel, obj: TopLevel) -> Patch:
    """The patch making ``owner`` the controller of the orphan ``obj`` (that very
    object: its uid is tested)."""
    meta = obj.metadata
    ref = owner_reference(owner)
    return [
        {"op": "test", "path": "/metadata/uid", "value": meta.uid if meta else None},
        {"op": "add", "path": "/metadata/ownerReferences/-", "value": ref}
        if meta and meta.owner_references
        else {"op": "add", "path": "/metadata/ownerReferences", "value": [ref]},
    ]


def release_patch(owner: TopLevel, obj: TopLevel) -> Patch:
    """The patch removing ``owner``'s reference from ``obj`` (which must hold one)."""
    meta = obj.metadata
    uid = owner.metadata.uid if owner.metadata else None
    refs = (meta.owner_references if meta else None) or ()
    index = next(i for i, ref in enumerate(refs) if ref.uid == uid)
    return [
        {"op": "test", "path": "/metadata/uid", "value": meta.uid if meta else None},
        {"op": "test", "path": f"/metadata/ownerReferences/{index}/uid", "value": uid},
        {"op": "remove", "path": f"/metadata/ownerReferences/{index}"},
    ]


async def adopt(
    resource: Any, owner: TopLevel, obj: TopLevel, extra: Sequence[dict[str, Any]] = ()
) -> Any:
    """Adopt ``obj`` through ``resource`` (the client of its kind, e.g.
    ``client.pods``), with ``extra`` operations in the same patch; returns the object
    as written."""
    patch = adoption_patch(owner, obj) + list(extra)
    return await resource.patch(obj.name, patch, obj.namespace, patch_type=JSON_PATCH)


async def release(
    resource: Any, owner: TopLevel, obj: TopLevel, extra: Sequence[dict[str, Any]] = ()
) -> None:
    """Release ``obj`` from ``owner`` through ``resource``, with ``extra`` operations."""
    patch = release_patch(owner, obj) + list(extra)
    await resource.patch(obj.name, patch, obj.namespace, patch_type=JSON_PATCH)
