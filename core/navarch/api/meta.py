"""ObjectMeta, OwnerReference, ListMeta and the base of every top-level object."""

from __future__ import annotations

from typing import Any, ClassVar

from navarch.api.schema import Model, model, wire


@model()
class OwnerReference(Model):
    api_version: str | None = wire()
    kind: str | None = wire()
    name: str | None = wire()
    uid: str | None = wire()
    controller: bool | None = wire()
    block_owner_deletion: bool | None = wire()


# ObjectMeta's wire fields in Kubernetes' order (the modelled ones and the kept
# Kubernetes-only ones; a test checks both lists against the class): the order the
# API server writes them in, and what a custom object's metadata is pruned to.
OBJECT_META_FIELDS: tuple[str, ...] = (
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
)


@model(kubernetes_only=("selfLink", "managedFields", "deletionGracePeriodSeconds"))
class ObjectMeta(Model):
    name: str | None = wire()
    generate_name: str | None = wire()
    namespace: str | None = wire()
    uid: str | None = wire()
    resource_version: str | None = wire()
    generation: int | None = wire()
    creation_timestamp: str | None = wire()
    deletion_timestamp: str | None = wire()
    labels: dict[str, str] | None = wire()
    annotations: dict[str, str] | None = wire()
    owner_references: tuple[OwnerReference, ...] | None = wire()
    finalizers: tuple[str, ...] | None = wire()


@model(kubernetes_only=("selfLink",))
class ListMeta(Model):
    resource_version: str | None = wire()
    continue_: str | None = wire("continue")
    remaining_item_count: int | None = wire()


@model()
class LabelSelectorRequirement(Model):
    key: str | None = wire()
    operator: str | None = wire()
    values: tuple[str, ...] | None = wire()


@model()
class LabelSelector(Model):
    match_labels: dict[str, str] | None = wire()
    match_expressions: tuple[LabelSelectorRequirement, ...] | None = wire()


@model()
class TopLevel(Model):
    """The base of every kind: ``apiVersion``, ``kind``, ``metadata``.

    Subclasses set ``API_VERSION``, ``KIND`` and ``NAMESPACED``; ``RESOURCE`` is the
    plural used in URLs.
    """

    API_VERSION: ClassVar[str] = ""
    KIND: ClassVar[str] = ""
    RESOURCE: ClassVar[str] = ""
    NAMESPACED: ClassVar[bool] = True

    api_version: str | None = wire()
    kind: str | None = wire()
    metadata: ObjectMeta | None = wire()

    @property
    def name(self) -> str:
        return self.metadata.name if self.metadata and self.metadata.name else ""

    @property
    def namespace(self) -> str:
        return self.metadata.namespace if self.metadata and self.metadata.namespace else ""

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.metadata.labels or {}) if self.metadata else {}

    def key(self) -> str:
        """``namespace/name`` for namespaced kinds, ``name`` otherwise (work-queue keys)."""
        return f"{self.namespace}/{self.name}" if self.NAMESPACED else self.name

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {"apiVersion": cls.API_VERSION, "kind": cls.KIND, "resource": cls.RESOURCE}
