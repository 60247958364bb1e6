"""ownerReferences as Kubernetes' controllers read and write them: which object
controls another (the one reference with ``controller: true``), and the reference an
owner puts on what it makes or adopts.

    ref = owner_reference(replicaset)            # for a pod's metadata.ownerReferences
    if is_controlled_by(pod, replicaset): ...
    owner = controller_of(pod)                   # an OwnerReference, or None (an orphan)

References are compared by uid: an owner deleted and recreated under the same name is
another owner, and what the first one owned is not the second's.
"""

from __future__ import annotations

from typing import Any

from navarch.api.meta import OwnerReference, TopLevel


def controller_of(obj: TopLevel) -> OwnerReference | None:
    """The reference to ``obj``'s controller (``controller: true``), or None."""
    meta = obj.metadata
    for ref in (meta.owner_references if meta else None) or ():
        if ref.controller:
            return ref
    return None


def is_controlled_by(obj: TopLevel, owner: TopLevel) -> bool:
    """Whether ``owner`` (this very object: its uid) is ``obj``'s controller."""
    ref = controller_of(obj)
    uid = owner.metadata.uid if owner.metadata else None
    return ref is not None and bool(uid) and ref.uid == uid


def owner_reference(
    owner: TopLevel, controller: bool = True, block_owner_deletion: bool = True
) -> dict[str, Any]:
    """The wire form of a reference to ``owner`` (``apiVersion``, ``kind``, ``name``,
    ``uid``, ``controller``, ``blockOwnerDeletion``), ready for a create or patch body.
    ``blockOwnerDeletion`` keeps a foreground deletion of the owner waiting for this
    dependent; a controller sets both on what it makes."""
    if owner.metadata is None or not owner.metadata.uid:
        raise ValueError(f"{owner.KIND} {owner.key()} has no uid yet: it cannot own anything")
    return {
        "apiVersion": owner.API_VERSION,
        "kind": owner.KIND,
        "name": owner.name,
        "uid": owner.metadata.uid,
        "controller": controller,
        "blockOwnerDeletion": block_owner_deletion,
    }
