"""Tables of PersistentVolumes, PersistentVolumeClaims and StorageClasses: kubectl's
columns (pkg/printers/internalversion printPersistentVolume, printPersistentVolumeClaim,
printStorageClass)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from navarch.api.core_v1_storage import ACCESS_MODES
from navarch.api.quantity import Quantity, QuantityError
from navarch.api.storage_v1 import is_default_class
from navarch.printers.cells import (
    AGE_COLUMN,
    NAME_COLUMN,
    Cells,
    Column,
    Printer,
    age_of,
    get_in,
    name_of,
    wide,
)

# kubectl's abbreviations, in its order (helper.GetAccessModesAsString).
_ABBREVIATIONS = dict(zip(ACCESS_MODES, ("RWO", "ROX", "RWX", "RWOP"), strict=True))
UNSET = "<unset>"
TERMINATING = "Terminating"


def access_modes(modes: Any) -> str:
    """``RWO,RWX``: the modes kubectl abbreviates, each once, in its fixed order."""
    present = set(modes) if isinstance(modes, list) else set()
    return ",".join(short for mode, short in _ABBREVIATIONS.items() if mode in present)


def _storage(resources: Any) -> str:
    """A storage quantity as kubectl prints it (Go's Quantity.String: canonical)."""
    raw = resources.get("storage") if isinstance(resources, dict) else None
    if raw is None:
        return "0"
    try:
        return Quantity.parse(raw).canonical()
    except QuantityError:
        return str(raw)


def _phase(obj: dict[str, Any]) -> str:
    if get_in(obj, "metadata", "deletionTimestamp"):
        return TERMINATING
    return get_in(obj, "status", "phase") or ""


def _class(obj: dict[str, Any]) -> str:
    # helper.GetPersistentVolume(Claim)Class: the field, else the beta annotation.
    return get_in(obj, "spec", "storageClassName") or (
        get_in(obj, "metadata", "annotations", "volume.beta.kubernetes.io/storage-class") or ""
    )


def persistent_volume_cells(obj: dict[str, Any], now: dt.datetime) -> Cells:
    claim = get_in(obj, "spec", "claimRef")
    claim_text = f"{claim.get('namespace', '')}/{claim.get('name', '')}" if claim else ""
    return [
        name_of(obj),
        _storage(get_in(obj, "spec", "capacity")),
        access_modes(get_in(obj, "spec", "accessModes")),
        get_in(obj, "spec", "persistentVolumeReclaimPolicy") or "",
        _phase(obj),
        claim_text,
        _class(obj),
        get_in(obj, "spec", "volumeAttributesClassName") or UNSET,
        get_in(obj, "status", "reason") or "",
        age_of(obj, now),
        get_in(obj, "spec", "volumeMode") or UNSET,
    ]


def persistent_volume_claim_cells(obj: dict[str, Any], now: dt.datetime) -> Cells:
    volume = get_in(obj, "spec", "volumeName") or ""
    capacity = modes = ""
    if volume:  # kubectl shows the bound volume's, never the request
        capacity = _storage(get_in(obj, "status", "capacity"))
        modes = access_modes(get_in(obj, "status", "accessModes"))
    return [
        name_of(obj),
        _phase(obj),
        volume,
        capacity,
        modes,
        _class(obj),
        get_in(obj, "spec", "volumeAttributesClassName") or UNSET,
        age_of(obj, now),
        get_in(obj, "spec", "volumeMode") or UNSET,
    ]


def storage_class_cells(obj: dict[str, Any], now: dt.datetime) -> Cells:
    name = name_of(obj)
    annotations = get_in(obj, "metadata", "annotations")
    if is_default_class(annotations if isinstance(annotations, dict) else None):
        name += " (default)"
    return [
        name,
        obj.get("provisioner") or "",
        obj.get("reclaimPolicy") or "Delete",
        obj.get("volumeBindingMode") or "Immediate",
        bool(obj.get("allowVolumeExpansion")),
        age_of(obj, now),
    ]


_VOLUME_MODE = wide("VolumeMode", "How the volume is consumed: Filesystem or Block.")
_ACCESS_MODES = Column("Access Modes", description="The access modes, abbreviated.")
_STORAGE_CLASS = Column("StorageClass", description="The storage class.")
_ATTRIBUTES_CLASS = Column("VolumeAttributesClass", description="The volume attributes class.")

PERSISTENT_VOLUME_PRINTER = Printer(
    (
        NAME_COLUMN,
        Column("Capacity", description="The volume's storage capacity."),
        _ACCESS_MODES,
        Column("Reclaim Policy", description="What happens to the volume once released."),
        Column("Status", description="The volume's phase."),
        Column("Claim", description="The claim bound to the volume (namespace/name)."),
        _STORAGE_CLASS,
        _ATTRIBUTES_CLASS,
        Column("Reason", description="Why the volume is in its phase."),
        AGE_COLUMN,
        _VOLUME_MODE,
    ),
    persistent_volume_cells,
)
PERSISTENT_VOLUME_CLAIM_PRINTER = Printer(
    (
        NAME_COLUMN,
        Column("Status", description="The claim's phase."),
        Column("Volume", description="The volume bound to the claim."),
        Column("Capacity", description="The bound volume's storage capacity."),
        _ACCESS_MODES,
        _STORAGE_CLASS,
        _ATTRIBUTES_CLASS,
        AGE_COLUMN,
        _VOLUME_MODE,
    ),
    persistent_volume_claim_cells,
)
STORAGE_CLASS_PRINTER = Printer(
    (
        NAME_COLUMN,
        Column("Provisioner", description="The provisioner that makes the class's volumes."),
        Column("ReclaimPolicy", description="The reclaim policy of provisioned volumes."),
        Column("VolumeBindingMode", description="When claims are bound and provisioned."),
        Column("AllowVolumeExpansion", description="Whether claims may grow."),
        AGE_COLUMN,
    ),
    storage_class_cells,
)
