"""Validation of a container's environment sources (``env[].valueFrom``, ``envFrom``),
and of the references to the pod's own fields and resources that downward-API volumes
share with them.
"""

from __future__ import annotations

import re

from navarch.api import errors, names
from navarch.api.core_v1 import EnvVar, PodSpec
from navarch.api.field_checks import Errors, enum, named, required_name
from navarch.api.pod_kept import (
    EnvFromSource,
    KeySelector,
    ObjectFieldSelector,
    ResourceFieldSelector,
)
from navarch.api.schema import join
from navarch.api.validation.files import validate_config_key, validate_relative_path

ENV_FIELD_PATHS = (
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
)
RESOURCE_FIELDS = (
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
)
_SUBSCRIPTED_FIELD = re.compile(r"metadata\.(labels|annotations)\['([^']+)'\]")


def validate_env_value_from(env: EnvVar, path: str, spec: PodSpec) -> Errors:
    source = env.value_from
    if source is None:
        return []
    source_path = join(path, "valueFrom")
    errs: Errors = []
    kinds = [
        wire
        for wire, value in (
            ("fieldRef", source.field_ref),
            ("resourceFieldRef", source.resource_field_ref),
            ("configMapKeyRef", source.config_map_key_ref),
            ("secretKeyRef", source.secret_key_ref),
            ("fileKeyRef", source.file_key_ref),
        )
        if value is not None
    ]
    if env.value:
        errs.append(
            errors.invalid(source_path, "", "may not be specified when `value` is not empty")
        )
    if not kinds:
        errs.append(
            errors.invalid(
                source_path,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef`, "
                "`secretKeyRef` or `fileKeyRef`",
            )
        )
    elif len(kinds) > 1:
        errs.append(
            errors.invalid(source_path, "", "may not have more than one field specified at a time")
        )
    if source.field_ref is not None:
        errs += validate_field_ref(source.field_ref, join(source_path, "fieldRef"), ENV_FIELD_PATHS)
    if source.resource_field_ref is not None:
        ref = source.resource_field_ref
        ref_path = join(source_path, "resourceFieldRef")
        errs += validate_resource_field_ref(ref, ref_path)
        containers = {c.name for c in (*(spec.containers or ()), *(spec.init_containers or ()))}
        if ref.container_name and ref.container_name not in containers:
            errs.append(errors.not_found(join(ref_path, "containerName"), ref.container_name))
    for wire, selector in (
        ("configMapKeyRef", source.config_map_key_ref),
        ("secretKeyRef", source.secret_key_ref),
    ):
        if selector is not None:
            errs += _key_selector(selector, join(source_path, wire))
    file_ref = source.file_key_ref
    if file_ref is not None:
        file_path = join(source_path, "fileKeyRef")
        for value, wire in ((file_ref.volume_name, "volumeName"), (file_ref.key, "key")):
            if not value:
                errs.append(errors.required(join(file_path, wire)))
        errs += validate_relative_path(file_ref.path, join(file_path, "path"))
    return errs


def _key_selector(selector: KeySelector, path: str) -> Errors:
    errs = required_name(selector.name, join(path, "name"), names.dns1123_subdomain)
    return errs + validate_config_key(selector.key, join(path, "key"))


def validate_field_ref(ref: ObjectFieldSelector, path: str, supported: tuple[str, ...]) -> Errors:
    field_path = join(path, "fieldPath")
    if not ref.field_path:
        return [errors.required(field_path)]
    if ref.api_version not in (None, "v1"):
        return [errors.invalid(join(path, "apiVersion"), ref.api_version, 'only "v1" is supported')]
    subscripted = _SUBSCRIPTED_FIELD.fullmatch(ref.field_path)
    if subscripted is not None:
        return named(subscripted.group(2), field_path, names.qualified_name)
    return enum(ref.field_path, field_path, supported)


def validate_resource_field_ref(ref: ResourceFieldSelector, path: str) -> Errors:
    resource_path = join(path, "resource")
    if not ref.resource:
        return [errors.required(resource_path)]
    errs: Errors = []
    hugepages = ref.resource.startswith(("limits.hugepages-", "requests.hugepages-"))
    if not hugepages:
        errs += enum(ref.resource, resource_path, RESOURCE_FIELDS)
    if ref.divisor is not None and ref.divisor.value <= 0:
        errs.append(
            errors.invalid(join(path, "divisor"), ref.divisor.text, "must be greater than 0")
        )
    return errs


def validate_env_from(source: EnvFromSource, path: str) -> Errors:
    errs: Errors = []
    refs = [
        (wire, ref)
        for wire, ref in (("configMapRef", source.config_map_ref), ("secretRef", source.secret_ref))
        if ref is not None
    ]
    if not refs:
        errs.append(errors.invalid(path, "", "must specify one of: `configMapRef` or `secretRef`"))
    elif len(refs) > 1:
        errs.append(
            errors.invalid(path, "", "may not have more than one field specified at a time")
        )
    for wire, ref in refs:
        errs += required_name(ref.name, join(path, f"{wire}.name"), names.dns1123_subdomain)
    if source.prefix:
        errs += named(source.prefix, join(path, "prefix"), names.env_var_name)
    return errs
