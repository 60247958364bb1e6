"""The storage.k8s.io/v1 kinds: StorageClass."""

from __future__ import annotations

from navarch.api.meta import TopLevel
from navarch.api.schema import Model, kept, model, wire

BINDING_IMMEDIATE = "Immediate"
BINDING_WAIT_FOR_FIRST_CONSUMER = "WaitForFirstConsumer"
VOLUME_BINDING_MODES = (BINDING_IMMEDIATE, BINDING_WAIT_FOR_FIRST_CONSUMER)
# The annotation that makes a class the default for claims naming none (and its beta
# name, which Kubernetes still honours).
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
BETA_DEFAULT_CLASS_ANNOTATION = "storageclass.beta.kubernetes.io/is-default-class"


def is_default_class(annotations: dict[str, str] | None) -> bool:
    """Kubernetes' IsDefaultAnnotation: either annotation set to "true"."""
    annotations = annotations or {}
    return "true" in (
        annotations.get(DEFAULT_CLASS_ANNOTATION),
        annotations.get(BETA_DEFAULT_CLASS_ANNOTATION),
    )


@model()
class TopologySelectorLabelRequirement(Model):
    key: str | None = wire()
    values: tuple[str, ...] | None = wire()


@model()
class TopologySelectorTerm(Model):
    match_label_expressions: tuple[TopologySelectorLabelRequirement, ...] | None = wire()


@model()
class StorageClass(TopLevel):
    API_VERSION, KIND, RESOURCE, NAMESPACED = (
        "storage.k8s.io/v1",
        "StorageClass",
        "storageclasses",
        False,
    )

    provisioner: str | None = wire()
    parameters: dict[str, str] | None = wire()
    reclaim_policy: str | None = wire()
    volume_binding_mode: str | None = wire()
    allow_volume_expansion: bool | None = kept(default=False)
    mount_options: tuple[str, ...] | None = kept()
    allowed_topologies: tuple[TopologySelectorTerm, ...] | None = kept()

    @property
    def is_default(self) -> bool:
        return is_default_class(self.metadata.annotations if self.metadata else None)
