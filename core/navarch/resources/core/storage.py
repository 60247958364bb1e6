"""PersistentVolumes, PersistentVolumeClaims (core/v1) and StorageClasses
(storage.k8s.io/v1): how the API server serves them.

Both volumes and claims are protected as Kubernetes' StorageObjectInUseProtection
admission plugin does: each gets its protection finalizer on create, and the PV
controller (:mod:`navarch.controllers.volumeprotection`) removes it only once a claim is
used by no pod, or a volume is bound to no claim.
"""

from __future__ import annotations

from typing import Any

from navarch.api.core_v1_storage import (
    PENDING,
    RECLAIM_DELETE,
    RECLAIM_RETAIN,
    PersistentVolume,
    PersistentVolumeClaim,
)
from navarch.api.errors import FieldError
from navarch.api.storage_v1 import BINDING_IMMEDIATE, StorageClass
from navarch.api.timefmt import rfc3339
from navarch.api.validation.storage import (
    validate_persistent_volume,
    validate_persistent_volume_claim,
    validate_persistent_volume_claim_update,
    validate_persistent_volume_update,
    validate_storage_class,
    validate_storage_class_update,
)
from navarch.printers.storage import (
    PERSISTENT_VOLUME_CLAIM_PRINTER,
    PERSISTENT_VOLUME_PRINTER,
    STORAGE_CLASS_PRINTER,
)
from navarch.resources.spec import Resource
from navarch.resources.strategy import DELETE_DEPENDENTS, Obj, Strategy

PVC_PROTECTION_FINALIZER = "kubernetes.io/pvc-protection"
PV_PROTECTION_FINALIZER = "kubernetes.io/pv-protection"
FILESYSTEM = "Filesystem"


def _add_finalizer(obj: Obj, finalizer: str) -> None:
    metadata = obj["metadata"]
    finalizers = list(metadata.get("finalizers") or [])
    if finalizer not in finalizers:
        metadata["finalizers"] = [*finalizers, finalizer]


def _spec(obj: Obj) -> dict[str, Any]:
    spec = obj.get("spec")
    if spec is None:
        spec = obj["spec"] = {}
    return spec if isinstance(spec, dict) else {}


class PersistentVolumeStrategy(Strategy):
    has_status = True

    def default(self, obj: Obj) -> None:
        spec = _spec(obj)
        spec.setdefault("persistentVolumeReclaimPolicy", RECLAIM_RETAIN)
        spec.setdefault("volumeMode", FILESYSTEM)

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_persistent_volume(obj)

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return validate_persistent_volume_update(new, old)

    def prepare_for_create(self, obj: Obj) -> None:
        # Kubernetes' PV strategy: a new volume is Pending since now, whatever was sent.
        obj["status"] = {"phase": PENDING, "lastPhaseTransitionTime": rfc3339()}
        _add_finalizer(obj, PV_PROTECTION_FINALIZER)


class PersistentVolumeClaimStrategy(Strategy):
    has_status = True
    # claims take part in garbage collection: a StatefulSet's retention policy
    # (whenDeleted/whenScaled: Delete) makes the set or a scaled-away pod their owner
    garbage_collection = DELETE_DEPENDENTS

    def default(self, obj: Obj) -> None:
        _spec(obj).setdefault("volumeMode", FILESYSTEM)

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_persistent_volume_claim(obj)

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return validate_persistent_volume_claim_update(new, old)

    def prepare_for_create(self, obj: Obj) -> None:
        obj["status"] = {"phase": PENDING}
        _add_finalizer(obj, PVC_PROTECTION_FINALIZER)


class StorageClassStrategy(Strategy):
    def default(self, obj: Obj) -> None:
        obj.setdefault("reclaimPolicy", RECLAIM_DELETE)
        obj.setdefault("volumeBindingMode", BINDING_IMMEDIATE)

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_storage_class(obj)

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return validate_storage_class_update(new, old)


PERSISTENT_VOLUMES = Resource.for_model(
    PersistentVolume,
    short_names=("pv",),
    subresources=("status",),
    strategy=PersistentVolumeStrategy(),
    printer=PERSISTENT_VOLUME_PRINTER,
    description=(
        "PersistentVolume (PV) is a storage resource provisioned by an administrator or a "
        "provisioner, bound to at most one claim."
    ),
)
PERSISTENT_VOLUME_CLAIMS = Resource.for_model(
    PersistentVolumeClaim,
    short_names=("pvc",),
    subresources=("status",),
    strategy=PersistentVolumeClaimStrategy(),
    printer=PERSISTENT_VOLUME_CLAIM_PRINTER,
    description="PersistentVolumeClaim is a user's request for and claim to a persistent volume.",
)
STORAGE_CLASSES = Resource.for_model(
    StorageClass,
    short_names=("sc",),
    strategy=StorageClassStrategy(),
    printer=STORAGE_CLASS_PRINTER,
    description=(
        "StorageClass describes the parameters for a class of storage for which "
        "PersistentVolumes can be dynamically provisioned."
    ),
)

RESOURCES: tuple[Resource, ...] = (
    PERSISTENT_VOLUME_CLAIMS,
    PERSISTENT_VOLUMES,
    STORAGE_CLASSES,
)
