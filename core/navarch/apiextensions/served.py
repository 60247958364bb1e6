"""How CustomResourceDefinitions are served: the ``customresourcedefinitions`` resource
itself (its strategy: Kubernetes' CRD defaults and validation, the clean-up finalizer),
and the unstructured :class:`~navarch.resources.Resource` one CRD makes for its objects
(:func:`custom_resource`), whose strategy admits plain dicts against the CRD's schema.

The API server's :mod:`navarch.apiserver.crds` watches CRDs and adds or removes the
resources made here; nothing in this module serves anything by itself.

Worked example: the docs' CronTab CRD (``crontabs.stable.example.com``, v1, short name
``ct``, columns Spec/Replicas/Age) gives a namespaced ``Resource`` with group
``stable.example.com``, version ``v1``, plural ``crontabs``, kind ``CronTab``, no model,
``printer`` Name/Spec/Replicas/Age and ``openapi_schema`` the version's
openAPIV3Schema; ``strategy.admit_unstructured`` defaults, prunes and validates a
CronTab as :mod:`~navarch.apiextensions.custom_objects` does.
"""

from __future__ import annotations

import copy
from typing import Any

from navarch.api.errors import FieldError, InvalidObject
from navarch.api.errors import unknown as unknown_field
from navarch.apiextensions import columns
from navarch.apiextensions.crd_defaults import apply_crd_defaults
from navarch.apiextensions.crd_validation import validate_crd, validate_crd_update
from navarch.apiextensions.custom_objects import CustomKind, object_errors, prepare
from navarch.apiextensions.structural import Structural, structural
from navarch.apiextensions.v1 import (
    CONDITION_TRUE,
    NAMESPACE_SCOPED,
    TERMINATING,
    CustomResourceDefinition,
)
from navarch.printers.cells import NAME_COLUMN, Column, Printer, name_of
from navarch.resources.spec import Resource, ScalePaths
from navarch.resources.strategy import Strategy

CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
CRD_PLUGIN_PREFIX = "customresourcedefinition/"  # the registry's "plugin" of a CRD's kind
STRICT, WARN = "Strict", "Warn"
Obj = dict[str, Any]


class CustomResourceDefinitionStrategy(Strategy):
    """Kubernetes' CRD strategy: status is a subresource, generation counts spec
    changes, and a delete waits for the clean-up finalizer (the CRD controller removes
    every object of the kind, then the finalizer)."""

    has_status = True
    tracks_generation = True

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)  # status reset; then storedVersions defaulted
        apply_crd_defaults(obj)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        apply_crd_defaults(new)

    def validate_create(self, new: Any) -> list[FieldError]:
        return validate_crd(new) if isinstance(new, CustomResourceDefinition) else []

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        if isinstance(new, CustomResourceDefinition) and isinstance(old, CustomResourceDefinition):
            return validate_crd_update(new, old)
        return []

    def finalizers(self, obj: Obj) -> list[str]:
        found = super().finalizers(obj)
        # Kubernetes' CRD delete adds the clean-up finalizer: the objects go first.
        if not obj["metadata"].get("deletionTimestamp") and CLEANUP_FINALIZER not in found:
            found.append(CLEANUP_FINALIZER)
        return found

    def mark_terminating(self, obj: Obj) -> None:
        meta = obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        if CLEANUP_FINALIZER not in finalizers:
            finalizers.append(CLEANUP_FINALIZER)
        meta["finalizers"] = finalizers
        status = obj.setdefault("status", {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != TERMINATING]
        conditions.append(
            {
                "type": TERMINATING,
                "status": CONDITION_TRUE,
                "reason": "InstanceDeletionPending",
                "message": "CustomResourceDefinition marked for deletion; "
                "its objects are being removed",
            }
        )
        status["conditions"] = conditions


class CustomResourceStrategy(Strategy):
    """The write path of one CRD's objects: plain dicts defaulted, pruned and validated
    against the CRD version's structural schema (:mod:`.custom_objects`);
    ``metadata.generation`` counts every change but metadata's (and status', when status
    is a subresource), as Kubernetes counts a custom object's."""

    tracks_generation = True

    def __init__(self, schema: Structural, kind: CustomKind, *, status: bool, crd_name: str):
        self.schema = schema
        self.kind = kind
        self.has_status = status
        self.crd_name = crd_name
        # Set while the CRD is being deleted: its objects may be read and deleted,
        # never created (Kubernetes answers 405).
        self.terminating = False

    def prepare_for_create(self, obj: Obj) -> None:
        if self.terminating:
            from navarch.apiserver import errors  # raised on the server's write path only

            raise errors.ApiError(
                405,
                "MethodNotAllowed",
                f"create not allowed while custom resource definition {self.crd_name} "
                "is terminating",
            )
        if self.has_status:
            obj.pop("status", None)  # a custom object's status starts empty
        obj["metadata"]["generation"] = 1

    def admit_unstructured(self, obj: Obj, field_validation: str) -> tuple[Obj, tuple[str, ...]]:
        prepared = prepare(obj, self.schema)
        errs = object_errors(prepared.obj, self.schema, self.kind)
        pruned = [w.removeprefix('unknown field "').removesuffix('"') for w in prepared.warnings]
        warnings: tuple[str, ...] = ()
        if field_validation == STRICT:
            errs = [*(unknown_field(path) for path in pruned), *errs]
        elif field_validation == WARN:
            warnings = prepared.warnings
        if errs:
            name = (prepared.obj.get("metadata") or {}).get("name")
            raise InvalidObject(
                self.kind.qualified_kind, name if isinstance(name, str) else None, errs
            )
        return prepared.obj, warnings

    def spec_changed(self, new: Any, old: Any) -> bool:
        return _counted(new, self.has_status) != _counted(old, self.has_status)


def _counted(obj: Any, has_status: bool) -> Any:
    """What a custom object's generation counts changes of."""
    if not isinstance(obj, dict):
        return obj
    skipped = {"metadata", "status"} if has_status else {"metadata"}
    return {k: v for k, v in obj.items() if k not in skipped}


# kubectl get crd: NAME, CREATED AT (the timestamp itself, as Kubernetes prints it)
CRD_PRINTER = Printer(
    (
        NAME_COLUMN,
        Column("Created At", "date", "When the CustomResourceDefinition was created."),
    ),
    lambda obj, now: [name_of(obj), obj["metadata"].get("creationTimestamp")],
)

CUSTOM_RESOURCE_DEFINITIONS = Resource.for_model(
    CustomResourceDefinition,
    short_names=("crd", "crds"),
    categories=("api-extensions",),
    subresources=("status",),
    strategy=CustomResourceDefinitionStrategy(),
    printer=CRD_PRINTER,
    description="CustomResourceDefinition represents a resource that should be exposed on "
    "the API server. Its name MUST be in the format <.spec.name>.<.spec.group>.",
)


def custom_resource(crd: CustomResourceDefinition) -> Resource:
    """The unstructured resource ``crd`` (valid, as stored) serves: its one version.
    Raises ValueError when the CRD cannot be served (its schema is not structural; a
    stored CRD always is, as creating it checked)."""
    spec = crd.spec
    crd_name = crd.metadata.name if crd.metadata is not None else None
    names = spec.names if spec is not None else None
    version = crd.storage_version()
    if spec is None or names is None or version is None or not version.name:
        raise ValueError(f"CustomResourceDefinition {crd_name} has no storage version")
    group, kind, plural = spec.group or "", names.kind or "", names.plural or ""
    namespaced = spec.scope == NAMESPACE_SCOPED
    raw_schema = copy.deepcopy(version.open_api_v3_schema() or {"type": "object"})
    tree = structural(raw_schema)
    subresources: list[str] = []
    scale = None
    if version.has_status():
        subresources.append("status")
    if version.subresources is not None and version.subresources.scale is not None:
        paths = version.subresources.scale
        subresources.append("scale")
        scale = ScalePaths(
            spec_replicas=(paths.spec_replicas_path or ".spec.replicas").lstrip("."),
            status_replicas=(paths.status_replicas_path or ".status.replicas").lstrip("."),
            label_selector=(paths.label_selector_path or "").lstrip("."),
        )
    custom_kind = CustomKind(f"{group}/{version.name}", kind, namespaced)
    return Resource(
        group=group,
        version=version.name,
        kind=kind,
        plural=plural,
        namespaced=namespaced,
        model=None,
        singular=names.singular or kind.lower(),
        short_names=tuple(names.short_names or ()),
        categories=tuple(names.categories or ()),
        subresources=tuple(subresources),
        strategy=CustomResourceStrategy(
            tree, custom_kind, status=version.has_status(), crd_name=crd_name or ""
        ),
        printer=columns.printer(version.additional_printer_columns),
        scale=scale,
        openapi_schema=raw_schema,
        description=str(raw_schema.get("description") or ""),
    )
