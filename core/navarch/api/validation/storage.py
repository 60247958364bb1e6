"""Validation of PersistentVolumes, PersistentVolumeClaims and StorageClasses, with
Kubernetes' messages (pkg/apis/core/validation ValidatePersistentVolume*,
pkg/apis/storage/validation ValidateStorageClass*)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from navarch.api import errors, names
from navarch.api.core_v1 import NodeSelector
from navarch.api.core_v1_storage import (
    ACCESS_MODES,
    BOUND,
    READ_WRITE_ONCE_POD,
    RECLAIM_DELETE,
    RECLAIM_RECYCLE,
    RECLAIM_RETAIN,
    PersistentVolume,
    PersistentVolumeClaim,
    PersistentVolumeSpec,
)
from navarch.api.field_checks import Errors, enum, named, validate_label_selector
from navarch.api.quantity import Quantity
from navarch.api.schema import join
from navarch.api.storage_v1 import VOLUME_BINDING_MODES, StorageClass
from navarch.api.validation.scheduling import validate_node_selector_term
from navarch.api.validation.volumes import HOST_PATH_TYPES

PV_RECLAIM_POLICIES = (RECLAIM_DELETE, RECLAIM_RECYCLE, RECLAIM_RETAIN)
CLASS_RECLAIM_POLICIES = (RECLAIM_DELETE, RECLAIM_RETAIN)
VOLUME_MODES = ("Block", "Filesystem")
NOT_POSITIVE = "must be greater than zero"


def _access_modes(modes: Sequence[str] | None, path: str, required_detail: str) -> Errors:
    if not modes:
        return [errors.required(path, required_detail)]
    errs = [
        errors.not_supported(path, mode, ACCESS_MODES) for mode in modes if mode not in ACCESS_MODES
    ]
    if READ_WRITE_ONCE_POD in modes and any(mode != READ_WRITE_ONCE_POD for mode in modes):
        errs.append(errors.forbidden(path, "may not use ReadWriteOncePod with other access modes"))
    return errs


def _positive(quantity: Quantity, path: str) -> Errors:
    if quantity.value <= 0:
        return [errors.invalid(path, quantity.canonical(), NOT_POSITIVE)]
    return []


def _class_name(name: str | None, path: str) -> Errors:
    return named(name, path, names.dns1123_subdomain)


def _node_selector(selector: NodeSelector, path: str) -> Errors:
    terms_path = join(path, "nodeSelectorTerms")
    if not selector.node_selector_terms:
        return [errors.required(terms_path, "must have at least one node selector term")]
    errs: Errors = []
    for i, term in enumerate(selector.node_selector_terms):
        errs += validate_node_selector_term(term, f"{terms_path}[{i}]")
    return errs


def _local_path(value: str | None, path: str) -> Errors:
    if not value:
        return [errors.required(path)]
    if ".." in value.split("/"):
        return [errors.invalid(path, value, "must not contain '..'")]
    return []


def validate_persistent_volume_spec(
    spec: PersistentVolumeSpec | None, path: str = "spec"
) -> Errors:
    spec = spec or PersistentVolumeSpec()
    errs = _access_modes(spec.access_modes, join(path, "accessModes"), "")
    capacity_path = join(path, "capacity")
    capacity = spec.capacity or {}
    if not capacity:
        errs.append(errors.required(capacity_path))
    if "storage" not in capacity or len(capacity) > 1:
        errs.append(
            errors.not_supported(
                capacity_path, {k: str(v) for k, v in capacity.items()}, ("storage",)
            )
        )
    for resource, quantity in capacity.items():
        errs += _positive(quantity, f"{capacity_path}[{resource}]")
    errs += enum(
        spec.persistent_volume_reclaim_policy,
        join(path, "persistentVolumeReclaimPolicy"),
        PV_RECLAIM_POLICIES,
    )
    errs += _class_name(spec.storage_class_name, join(path, "storageClassName"))
    errs += enum(spec.volume_mode, join(path, "volumeMode"), VOLUME_MODES)
    affinity_path = join(path, "nodeAffinity")
    if spec.node_affinity is not None:
        if spec.node_affinity.required is None:
            errs.append(
                errors.required(
                    join(affinity_path, "required"), "must specify required node constraints"
                )
            )
        else:
            errs += _node_selector(spec.node_affinity.required, join(affinity_path, "required"))
    sources = spec.source_names()
    if not sources:
        errs.append(errors.required(path, "must specify a volume type"))
    errs += [
        errors.forbidden(join(path, extra), "may not specify more than 1 volume type")
        for extra in sources[1:]
    ]
    if spec.host_path is not None:
        host_path = join(path, "hostPath")
        errs += _local_path(spec.host_path.path, join(host_path, "path"))
        errs += enum(spec.host_path.type, join(host_path, "type"), HOST_PATH_TYPES)
        if (
            spec.host_path.path
            and spec.host_path.path.rstrip("/") == ""
            and spec.persistent_volume_reclaim_policy == RECLAIM_RECYCLE
        ):
            errs.append(
                errors.forbidden(
                    join(path, "persistentVolumeReclaimPolicy"),
                    "may not be 'recycle' for a hostPath mount of '/'",
                )
            )
    if spec.local is not None:
        errs += _local_path(spec.local.path, join(path, "local.path"))
        if spec.node_affinity is None:
            errs.append(errors.required(affinity_path, "Local volume requires node affinity"))
    if spec.nfs is not None:
        if not spec.nfs.server:
            errs.append(errors.required(join(path, "nfs.server")))
        if not spec.nfs.path:
            errs.append(errors.required(join(path, "nfs.path")))
        elif not spec.nfs.path.startswith("/"):
            errs.append(
                errors.invalid(join(path, "nfs.path"), spec.nfs.path, "must be an absolute path")
            )
    if spec.claim_ref is not None and not spec.claim_ref.name:
        errs.append(errors.required(join(path, "claimRef.name")))
    return errs


def validate_persistent_volume(pv: PersistentVolume) -> Errors:
    return validate_persistent_volume_spec(pv.spec)


def _source(spec: PersistentVolumeSpec | None) -> tuple[object, ...]:
    spec = spec or PersistentVolumeSpec()
    rare = {name: spec.unmodeled.get(name) for name in spec.source_names()}
    return (spec.host_path, spec.local, spec.nfs, rare)


def validate_persistent_volume_update(new: PersistentVolume, old: PersistentVolume) -> Errors:
    errs: Errors = []
    if _source(new.spec) != _source(old.spec):
        errs.append(
            errors.forbidden(
                "spec.persistentvolumesource",
                "spec.persistentvolumesource is immutable after creation",
            )
        )
    new_spec, old_spec = new.spec or PersistentVolumeSpec(), old.spec or PersistentVolumeSpec()
    if new_spec.volume_mode != old_spec.volume_mode:
        errs.append(errors.invalid("volumeMode", new_spec.volume_mode, "field is immutable"))
    # Kubernetes lets a PV without node affinity gain one, never change it after.
    if old_spec.node_affinity is not None and new_spec.node_affinity != old_spec.node_affinity:
        errs.append(errors.invalid("nodeAffinity", "<affinity>", "field is immutable"))
    return errs


def validate_persistent_volume_claim(pvc: PersistentVolumeClaim) -> Errors:
    spec = pvc.spec
    if spec is None:
        return [errors.required("spec.accessModes", "at least 1 access mode is required")]
    errs = _access_modes(
        spec.access_modes, "spec.accessModes", "at least 1 access mode is required"
    )
    if spec.selector is not None:
        errs += validate_label_selector(spec.selector, "spec.selector")[0]
    storage_path = "spec.resources[storage]"
    storage = pvc.requested_storage()
    if storage is None:
        errs.append(errors.required(storage_path))
    else:
        errs += _positive(storage, storage_path)
    errs += _class_name(spec.storage_class_name, "spec.storageClassName")
    errs += enum(spec.volume_mode, "spec.volumeMode", VOLUME_MODES)
    return errs


def validate_persistent_volume_claim_update(
    new: PersistentVolumeClaim, old: PersistentVolumeClaim
) -> Errors:
    """Kubernetes' ValidatePersistentVolumeClaimUpdate: a claim's spec is fixed once made
    (quota and limits are judged on it) except what the binder sets once (volumeName; a
    class for a claim that named none: the retroactive default class) and, for a bound
    claim, a larger storage request (expansion)."""
    new_spec = new.spec
    old_spec = old.spec
    if new_spec is None or old_spec is None:
        return []
    allowed = old_spec
    if not old_spec.volume_name:
        allowed = attrs.evolve(allowed, volume_name=new_spec.volume_name)
    if old_spec.storage_class_name is None and new_spec.storage_class_name is not None:
        allowed = attrs.evolve(allowed, storage_class_name=new_spec.storage_class_name)
    phase = new.status.phase if new.status else None
    if phase == BOUND and new_spec.resources is not None and new_spec.resources.requests:
        requests = dict(new_spec.resources.requests)
        old_requests = (old_spec.resources.requests if old_spec.resources else None) or {}
        if "storage" in old_requests:
            requests["storage"] = old_requests["storage"]
        else:
            requests.pop("storage", None)
        new_spec = attrs.evolve(
            new_spec, resources=attrs.evolve(new_spec.resources, requests=requests)
        )
    errs: Errors = []
    if new_spec != allowed:
        errs.append(
            errors.forbidden(
                "spec",
                "spec is immutable after creation except resources.requests and "
                "volumeAttributesClassName for bound claims",
            )
        )
    new_size, old_size = new.requested_storage(), old.requested_storage()
    if new_size is not None and old_size is not None and new_size < old_size:
        errs.append(
            errors.forbidden(
                "spec.resources.requests.storage", "field can not be less than previous value"
            )
        )
    return errs


def validate_storage_class(sc: StorageClass) -> Errors:
    errs: Errors = []
    if not sc.provisioner:
        errs.append(errors.required("provisioner"))
    else:
        errs += [
            errors.invalid("provisioner", sc.provisioner, problem)
            for problem in names.qualified_name(sc.provisioner.lower())
        ]
    errs += _parameters(sc.parameters)
    errs += enum(sc.reclaim_policy, "reclaimPolicy", CLASS_RECLAIM_POLICIES)
    if sc.volume_binding_mode is None:
        errs.append(errors.required("volumeBindingMode"))
    else:
        errs += enum(sc.volume_binding_mode, "volumeBindingMode", VOLUME_BINDING_MODES)
    return errs


def _parameters(parameters: Mapping[str, str] | None) -> Errors:
    if parameters and len(parameters) > 512:
        return [errors.invalid("parameters", "<map>", "can't have more than 512 parameters")]
    if parameters and any(not key for key in parameters):
        return [errors.invalid("parameters", "", "field can not be empty.")]
    return []


def validate_storage_class_update(new: StorageClass, old: StorageClass) -> Errors:
    errs: Errors = []
    if (new.parameters or {}) != (old.parameters or {}):
        errs.append(errors.forbidden("parameters", "updates to parameters are forbidden."))
    if new.provisioner != old.provisioner:
        errs.append(errors.forbidden("provisioner", "updates to provisioner are forbidden."))
    if new.reclaim_policy != old.reclaim_policy:
        errs.append(errors.forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."))
    if new.volume_binding_mode != old.volume_binding_mode:
        errs.append(
            errors.invalid("volumeBindingMode", new.volume_binding_mode, "field is immutable")
        )
    return errs
