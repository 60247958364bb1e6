"""What a node may change on a PersistentVolume (NodeRestriction's rule for the
local-path hand-off): the authoriser lets a node update only a volume pinned to it
(:mod:`navarch.apiserver.authz`), and only so that its agent can release the volume
once its directory is gone (:mod:`navarch.agent.localpath`). This plugin keeps it to
that: the one change a node may make is removing the ``navarch.io/local-path-cleanup``
finalizer. Everything else — the source, claim, reclaim policy, labels, the other
finalizers, the status — stays the administrator's and the PV controller's.

A refusal is 403 Forbidden, as NodeRestriction's are.
"""

from __future__ import annotations

from typing import Any

from navarch import hookimpl
from navarch.admission import UPDATE, AdmissionRequest, handles
from navarch.api.volume_binding import LOCAL_PATH_CLEANUP_FINALIZER
from navarch.apiserver import errors
from navarch.apiserver.auth import NODE


def _kept(obj: Any) -> tuple[Any, ...]:
    """What a node may not change: everything but the finalizers and the versions."""
    meta = obj.metadata
    return (
        obj.spec,
        obj.status,
        meta.labels if meta else None,
        meta.annotations if meta else None,
        meta.owner_references if meta else None,
    )


@hookimpl
@handles(kinds=("PersistentVolume",), operations=(UPDATE,))
def navarch_admission_validate(request: AdmissionRequest) -> None:
    user = request.user
    if user is None or getattr(user, "role", None) != NODE:
        return None
    obj, old = request.obj, request.old
    finalizers = set((obj.metadata.finalizers if obj.metadata else None) or ())
    before = set((old.metadata.finalizers if old.metadata else None) or ())
    allowed = finalizers in (before, before - {LOCAL_PATH_CLEANUP_FINALIZER})
    if request.subresource or not allowed or _kept(obj) != _kept(old):
        raise errors.forbidden(
            user.name,
            "update",
            "persistentvolumes",
            "",
            "",
            request.name,
            f"node {user.node_name!r} may only remove the {LOCAL_PATH_CLEANUP_FINALIZER} "
            "finalizer of a volume",
        )
    return None
