"""The core/v1 storage kinds: PersistentVolume and PersistentVolumeClaim.

A PersistentVolume is a piece of storage (on Navarch: a directory on one node, a
``hostPath`` or ``local`` source with node affinity, or an NFS export); a claim asks for
one by size, access modes and class, and the PV controller binds the two
(:mod:`navarch.controllers.pvbinder`). Sources Navarch does not mount (cloud disks,
CSI, iSCSI, ...) are kept verbatim: they still count as "a volume type".
"""

from __future__ import annotations

from navarch.api.core_v1 import NodeSelector, ObjectReference
from navarch.api.meta import LabelSelector, TopLevel
from navarch.api.pod_kept import HostPathVolumeSource, NFSVolumeSource
from navarch.api.quantity import Quantity
from navarch.api.schema import Model, kept, model, wire

# Access modes, in the order kubectl abbreviates them (helper.GetAccessModesAsString).
READ_WRITE_ONCE = "ReadWriteOnce"
READ_ONLY_MANY = "ReadOnlyMany"
READ_WRITE_MANY = "ReadWriteMany"
READ_WRITE_ONCE_POD = "ReadWriteOncePod"
ACCESS_MODES = (READ_WRITE_ONCE, READ_ONLY_MANY, READ_WRITE_MANY, READ_WRITE_ONCE_POD)

# Phases (Kubernetes' PersistentVolumePhase and PersistentVolumeClaimPhase).
PENDING, AVAILABLE, BOUND, RELEASED, FAILED, LOST = (
    "Pending",
    "Available",
    "Bound",
    "Released",
    "Failed",
    "Lost",
)

RECLAIM_RETAIN, RECLAIM_DELETE, RECLAIM_RECYCLE = "Retain", "Delete", "Recycle"

# PV sources Navarch keeps but does not mount.
RARE_PV_SOURCES = (
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "glusterfs",
    "rbd",
    "iscsi",
    "cinder",
    "cephfs",
    "fc",
    "flocker",
    "flexVolume",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
)


@model()
class LocalVolumeSource(Model):
    path: str | None = wire()
    fs_type: str | None = wire()


@model()
class VolumeNodeAffinity(Model):
    required: NodeSelector | None = wire()


@model(kubernetes_only=RARE_PV_SOURCES)
class PersistentVolumeSpec(Model):
    capacity: dict[str, Quantity] | None = wire()
    access_modes: tuple[str, ...] | None = wire()
    claim_ref: ObjectReference | None = wire()
    persistent_volume_reclaim_policy: str | None = wire()
    storage_class_name: str | None = wire()
    node_affinity: VolumeNodeAffinity | None = wire()
    host_path: HostPathVolumeSource | None = wire()
    local: LocalVolumeSource | None = wire()
    nfs: NFSVolumeSource | None = wire()
    mount_options: tuple[str, ...] | None = kept()
    volume_mode: str | None = kept(default="Filesystem")
    volume_attributes_class_name: str | None = kept()

    def source_names(self) -> list[str]:
        """The wire names of the volume sources set (Kubernetes requires exactly one)."""
        typed = [("hostPath", self.host_path), ("local", self.local), ("nfs", self.nfs)]
        names = [name for name, source in typed if source is not None]
        return names + [name for name in RARE_PV_SOURCES if name in self.unmodeled]


@model()
class PersistentVolumeStatus(Model):
    phase: str | None = wire()
    message: str | None = wire()
    reason: str | None = wire()
    last_phase_transition_time: str | None = wire()


@model()
class PersistentVolume(TopLevel):
    API_VERSION, KIND, RESOURCE, NAMESPACED = "v1", "PersistentVolume", "persistentvolumes", False

    spec: PersistentVolumeSpec | None = wire()
    status: PersistentVolumeStatus | None = wire()


@model()
class VolumeResourceRequirements(Model):
    limits: dict[str, Quantity] | None = wire()
    requests: dict[str, Quantity] | None = wire()


@model()
class TypedLocalObjectReference(Model):
    api_group: str | None = wire()
    kind: str | None = wire()
    name: str | None = wire()


@model()
class TypedObjectReference(Model):
    api_group: str | None = wire()
    kind: str | None = wire()
    name: str | None = wire()
    namespace: str | None = wire()


@model()
class PersistentVolumeClaimSpec(Model):
    access_modes: tuple[str, ...] | None = wire()
    selector: LabelSelector | None = wire()
    resources: VolumeResourceRequirements | None = wire()
    volume_name: str | None = wire()
    storage_class_name: str | None = wire()
    volume_mode: str | None = kept(default="Filesystem")
    data_source: TypedLocalObjectReference | None = kept()
    data_source_ref: TypedObjectReference | None = kept()
    volume_attributes_class_name: str | None = kept()


@model()
class PersistentVolumeClaimCondition(Model):
    type: str | None = wire()
    status: str | None = wire()
    last_probe_time: str | None = wire()
    last_transition_time: str | None = wire()
    reason: str | None = wire()
    message: str | None = wire()


@model(
    kubernetes_only=(
        "allocatedResources",
        "allocatedResourceStatuses",
        "currentVolumeAttributesClassName",
        "modifyVolumeStatus",
    )
)
class PersistentVolumeClaimStatus(Model):
    phase: str | None = wire()
    access_modes: tuple[str, ...] | None = wire()
    capacity: dict[str, Quantity] | None = wire()
    conditions: tuple[PersistentVolumeClaimCondition, ...] | None = wire()


@model()
class PersistentVolumeClaim(TopLevel):
    API_VERSION, KIND, RESOURCE = "v1", "PersistentVolumeClaim", "persistentvolumeclaims"

    spec: PersistentVolumeClaimSpec | None = wire()
    status: PersistentVolumeClaimStatus | None = wire()

    def requested_storage(self) -> Quantity | None:
        requests = self.spec.resources.requests if self.spec and self.spec.resources else None
        return (requests or {}).get("storage")
