"""Validation of every object's metadata: name or generateName, namespace, generation,
labels, annotations (and their total size), owner references.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from navarch.api import errors, names
from navarch.api.errors import FieldError
from navarch.api.field_checks import Errors, validate_labels
from navarch.api.meta import ObjectMeta
from navarch.api.schema import join

ANNOTATIONS_MAX_BYTES = 256 * 1024


def validate_object_meta(
    meta: ObjectMeta | None,
    path: str,
    namespaced: bool,
    name_rule: Callable[[str], list[str]] = names.dns1123_subdomain,
) -> Errors:
    if meta is None:
        return [errors.required(path)]
    errs: Errors = []
    if meta.name:
        errs += [errors.invalid(join(path, "name"), meta.name, p) for p in name_rule(meta.name)]
    elif not meta.generate_name:
        errs.append(errors.required(join(path, "name"), "name or generateName is required"))
    if namespaced:
        if meta.namespace:
            errs += [
                errors.invalid(join(path, "namespace"), meta.namespace, p)
                for p in names.dns1123_label(meta.namespace)
            ]
    elif meta.namespace:
        errs.append(errors.forbidden(join(path, "namespace"), "not allowed on this type"))
    if meta.generation is not None and meta.generation < 0:
        errs.append(errors.invalid(join(path, "generation"), meta.generation, "must be >= 0"))
    errs += validate_labels(meta.labels, join(path, "labels"))
    errs += validate_annotations(meta.annotations, join(path, "annotations"))
    for i, ref in enumerate(meta.owner_references or ()):
        ref_path = f"{join(path, 'ownerReferences')}[{i}]"
        for attr, wire in (
            ("api_version", "apiVersion"),
            ("kind", "kind"),
            ("name", "name"),
            ("uid", "uid"),
        ):
            if not getattr(ref, attr):
                errs.append(errors.required(join(ref_path, wire)))
    return errs


def validate_annotations(annotations: Mapping[str, str] | None, path: str) -> Errors:
    errs: Errors = []
    size = 0
    for key, value in (annotations or {}).items():
        errs += [errors.invalid(path, key, p) for p in names.qualified_name(key.lower())]
        size += len(key.encode()) + len(value.encode())
    if size > ANNOTATIONS_MAX_BYTES:
        errs.append(
            FieldError(
                path, errors.TOO_LONG, f"Too long: must have at most {ANNOTATIONS_MAX_BYTES} bytes"
            )
        )
    return errs
