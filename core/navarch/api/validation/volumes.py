"""Validation of a pod's volumes (a valid name, exactly one source, each common source's
required fields, paths and modes) and of the volume mounts and devices through which
containers use them (naming declared volumes, unique paths).
"""

from __future__ import annotations

from collections.abc import Sequence

from navarch.api import errors, names
from navarch.api.core_v1 import Container
from navarch.api.field_checks import Errors, enum, required_name
from navarch.api.pod_kept import DownwardAPIVolumeFile, KeyToPath, Volume
from navarch.api.schema import join
from navarch.api.validation.env import validate_field_ref, validate_resource_field_ref
from navarch.api.validation.files import (
    validate_config_key,
    validate_file_mode,
    validate_local_non_reserved_path,
    validate_relative_path,
)

HOST_PATH_TYPES = (
    "",
    "DirectoryOrCreate",
    "Directory",
    "FileOrCreate",
    "File",
    "Socket",
    "CharDevice",
    "BlockDevice",
)
MOUNT_PROPAGATIONS = ("None", "HostToContainer", "Bidirectional")
RECURSIVE_READ_ONLY = ("Disabled", "IfPossible", "Enabled")
IMAGE_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
VOLUME_FIELD_PATHS = (
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
)
MIN_TOKEN_SECONDS = 600
MAX_TOKEN_SECONDS = 2**32


def validate_volumes(
    volumes: Sequence[Volume] | None, path: str
) -> tuple[Errors, dict[str, Volume]]:
    """Errors of ``spec.volumes`` and the declared volumes by name (for mounts)."""
    errs: Errors = []
    declared: dict[str, Volume] = {}
    for i, volume in enumerate(volumes or ()):
        item = f"{path}[{i}]"
        name_errs = required_name(volume.name, join(item, "name"), names.dns1123_label)
        errs += name_errs
        if volume.name and volume.name in declared:
            errs.append(errors.duplicate(join(item, "name"), volume.name))
        elif volume.name and not name_errs:
            declared[volume.name] = volume
        errs += _volume_source(volume, item)
    return errs, declared


def _volume_source(volume: Volume, path: str) -> Errors:
    sources = volume.source_names()
    if not sources:
        return [errors.required(path, "must specify a volume type")]
    errs = [
        errors.forbidden(join(path, extra), "may not specify more than 1 volume type")
        for extra in sources[1:]
    ]
    if volume.host_path is not None:
        source_path = join(path, "hostPath")
        errs += _absolute_or_required(
            volume.host_path.path, join(source_path, "path"), absolute=False
        )
        errs += enum(volume.host_path.type, join(source_path, "type"), HOST_PATH_TYPES)
    size_limit = volume.empty_dir.size_limit if volume.empty_dir else None
    if size_limit is not None and size_limit.value < 0:
        errs.append(
            errors.forbidden(
                join(path, "emptyDir.sizeLimit"),
                "SizeLimit field must be a valid resource quantity",
            )
        )
    if volume.secret is not None:
        source_path = join(path, "secret")
        errs += required_name(
            volume.secret.secret_name, join(source_path, "secretName"), names.dns1123_subdomain
        )
        errs += validate_file_mode(volume.secret.default_mode, join(source_path, "defaultMode"))
        errs += _key_to_paths(volume.secret.items, join(source_path, "items"))
    if volume.config_map is not None:
        source_path = join(path, "configMap")
        errs += required_name(
            volume.config_map.name, join(source_path, "name"), names.dns1123_subdomain
        )
        errs += validate_file_mode(volume.config_map.default_mode, join(source_path, "defaultMode"))
        errs += _key_to_paths(volume.config_map.items, join(source_path, "items"))
    if volume.persistent_volume_claim is not None:
        claim = volume.persistent_volume_claim.claim_name
        if not claim:
            errs.append(errors.required(join(path, "persistentVolumeClaim.claimName")))
    if volume.downward_api is not None:
        source_path = join(path, "downwardAPI")
        errs += validate_file_mode(
            volume.downward_api.default_mode, join(source_path, "defaultMode")
        )
        errs += _downward_files(volume.downward_api.items, join(source_path, "items"))
    if volume.projected is not None:
        errs += _projected(volume, join(path, "projected"))
    if volume.nfs is not None:
        source_path = join(path, "nfs")
        if not volume.nfs.server:
            errs.append(errors.required(join(source_path, "server")))
        errs += _absolute_or_required(volume.nfs.path, join(source_path, "path"), absolute=True)
    if volume.csi is not None and not volume.csi.driver:
        errs.append(errors.required(join(path, "csi.driver")))
    if volume.image is not None:
        errs += enum(volume.image.pull_policy, join(path, "image.pullPolicy"), IMAGE_PULL_POLICIES)
    return errs


def _projected(volume: Volume, path: str) -> Errors:
    projected = volume.projected
    assert projected is not None
    errs = validate_file_mode(projected.default_mode, join(path, "defaultMode"))
    paths: set[str] = set()
    for i, source in enumerate(projected.sources or ()):
        item = f"{join(path, 'sources')}[{i}]"
        kinds = [
            wire
            for wire, value in (
                ("secret", source.secret),
                ("downwardAPI", source.downward_api),
                ("configMap", source.config_map),
                ("serviceAccountToken", source.service_account_token),
                ("clusterTrustBundle", source.cluster_trust_bundle),
                ("podCertificate", source.unmodeled.get("podCertificate")),
            )
            if value is not None
        ]
        if not kinds:
            errs.append(errors.required(item, "must specify exactly one projection type"))
        if len(kinds) > 1:
            errs.append(
                errors.forbidden(item, "may not specify more than 1 volume type per source")
            )
        file_paths: list[str] = []
        for wire, ref in (("secret", source.secret), ("configMap", source.config_map)):
            if ref is not None:
                errs += required_name(ref.name, join(item, f"{wire}.name"), names.dns1123_subdomain)
                errs += _key_to_paths(ref.items, join(item, f"{wire}.items"))
                file_paths += [k.path for k in ref.items or () if k.path]
        if source.downward_api is not None:
            errs += _downward_files(source.downward_api.items, join(item, "downwardAPI.items"))
            file_paths += [f.path for f in source.downward_api.items or () if f.path]
        token = source.service_account_token
        if token is not None:
            token_path = join(item, "serviceAccountToken")
            seconds = token.expiration_seconds
            if seconds is not None and seconds < MIN_TOKEN_SECONDS:
                errs.append(
                    errors.invalid(
                        join(token_path, "expirationSeconds"),
                        seconds,
                        "may not specify a duration less than 10 minutes",
                    )
                )
            elif seconds is not None and seconds > MAX_TOKEN_SECONDS:
                errs.append(
                    errors.invalid(
                        join(token_path, "expirationSeconds"),
                        seconds,
                        "may not specify a duration larger than 2^32 seconds",
                    )
                )
            errs += validate_local_non_reserved_path(token.path, join(token_path, "path"))
            if token.path:
                file_paths.append(token.path)
        bundle = source.cluster_trust_bundle
        if bundle is not None:
            bundle_path = join(item, "clusterTrustBundle")
            errs += validate_local_non_reserved_path(bundle.path, join(bundle_path, "path"))
            if bool(bundle.name) == bool(bundle.signer_name):
                errs.append(
                    errors.invalid(
                        bundle_path, bundle.name, "must specify exactly one of name or signerName"
                    )
                )
            if bundle.path:
                file_paths.append(bundle.path)
        for file_path in file_paths:
            if file_path in paths:
                errs.append(errors.invalid(item, file_path, "conflicting duplicate paths"))
            paths.add(file_path)
    return errs


def _key_to_paths(items: Sequence[KeyToPath] | None, path: str) -> Errors:
    errs: Errors = []
    for i, item in enumerate(items or ()):
        item_path = f"{path}[{i}]"
        errs += validate_config_key(item.key, join(item_path, "key"))
        errs += validate_local_non_reserved_path(item.path, join(item_path, "path"))
        errs += validate_file_mode(item.mode, join(item_path, "mode"))
    return errs


def _downward_files(items: Sequence[DownwardAPIVolumeFile] | None, path: str) -> Errors:
    errs: Errors = []
    for i, item in enumerate(items or ()):
        item_path = f"{path}[{i}]"
        errs += validate_local_non_reserved_path(item.path, join(item_path, "path"))
        errs += validate_file_mode(item.mode, join(item_path, "mode"))
        if item.field_ref is not None and item.resource_field_ref is not None:
            errs.append(
                errors.invalid(
                    item_path,
                    "resource",
                    "fieldRef and resourceFieldRef can not be specified simultaneously",
                )
            )
        elif item.field_ref is not None:
            errs += validate_field_ref(
                item.field_ref, join(item_path, "fieldRef"), VOLUME_FIELD_PATHS
            )
        elif item.resource_field_ref is not None:
            ref_path = join(item_path, "resourceFieldRef")
            if not item.resource_field_ref.container_name:
                errs.append(errors.required(join(ref_path, "containerName")))
            errs += validate_resource_field_ref(item.resource_field_ref, ref_path)
        else:
            errs.append(
                errors.required(item_path, "one of fieldRef and resourceFieldRef is required")
            )
    return errs


def _absolute_or_required(value: str | None, path: str, *, absolute: bool) -> Errors:
    if not value:
        return [errors.required(path)]
    if absolute and not value.startswith("/"):
        return [errors.invalid(path, value, "must be an absolute path")]
    if ".." in value.split("/"):
        return [errors.invalid(path, value, "must not contain '..'")]
    return []


def validate_volume_mounts(container: Container, path: str, volumes: dict[str, Volume]) -> Errors:
    errs: Errors = []
    mount_paths: set[str] = set()
    privileged = bool(container.security_context and container.security_context.privileged)
    for i, mount in enumerate(container.volume_mounts or ()):
        item = f"{join(path, 'volumeMounts')}[{i}]"
        if not mount.name:
            errs.append(errors.required(join(item, "name")))
        elif mount.name not in volumes:
            errs.append(errors.not_found(join(item, "name"), mount.name))
        if not mount.mount_path:
            errs.append(errors.required(join(item, "mountPath")))
        elif mount.mount_path in mount_paths:
            errs.append(errors.invalid(join(item, "mountPath"), mount.mount_path, "must be unique"))
        mount_paths.add(mount.mount_path or "")
        if mount.sub_path:
            errs += validate_relative_path(mount.sub_path, join(item, "subPath"))
        if mount.sub_path_expr:
            if mount.sub_path:
                errs.append(
                    errors.invalid(
                        join(item, "subPathExpr"),
                        mount.sub_path_expr,
                        "subPathExpr and subPath are mutually exclusive",
                    )
                )
            errs += validate_relative_path(mount.sub_path_expr, join(item, "subPathExpr"))
        propagation_path = join(item, "mountPropagation")
        errs += enum(mount.mount_propagation, propagation_path, MOUNT_PROPAGATIONS)
        if mount.mount_propagation == "Bidirectional" and not privileged:
            errs.append(
                errors.forbidden(
                    propagation_path,
                    "Bidirectional mount propagation is available only to privileged containers",
                )
            )
        rro_path = join(item, "recursiveReadOnly")
        errs += enum(mount.recursive_read_only, rro_path, RECURSIVE_READ_ONLY)
        if mount.recursive_read_only not in (None, "Disabled") and not mount.read_only:
            errs.append(errors.forbidden(rro_path, "may only be specified when readOnly is true"))
        if mount.recursive_read_only == "Enabled" and mount.mount_propagation not in (None, "None"):
            errs.append(
                errors.forbidden(
                    rro_path, "may only be specified when mountPropagation is None or not specified"
                )
            )
    device_paths: set[str] = set()
    for i, device in enumerate(container.volume_devices or ()):
        item = f"{join(path, 'volumeDevices')}[{i}]"
        volume = volumes.get(device.name or "")
        if not device.name:
            errs.append(errors.required(join(item, "name")))
        elif volume is None:
            errs.append(errors.not_found(join(item, "name"), device.name))
        elif volume.persistent_volume_claim is None and "ephemeral" not in volume.unmodeled:
            errs.append(
                errors.invalid(
                    join(item, "name"),
                    device.name,
                    "can only use volume source type of PersistentVolumeClaim or Ephemeral "
                    "for block mode",
                )
            )
        device_path = join(item, "devicePath")
        if not device.device_path:
            errs.append(errors.required(device_path))
        elif device.device_path in device_paths:
            errs.append(errors.invalid(device_path, device.device_path, "must be unique"))
        elif device.device_path in mount_paths:
            errs.append(
                errors.invalid(
                    device_path, device.device_path, "must not already exist in volumeMounts"
                )
            )
        device_paths.add(device.device_path or "")
    return errs
