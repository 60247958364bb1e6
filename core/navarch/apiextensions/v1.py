"""apiextensions.k8s.io/v1: the CustomResourceDefinition kind.

A CustomResourceDefinition (CRD) names a new kind and describes it: its group, names
(plural, singular, kind, listKind, shortNames, categories), scope, and one entry per
version with the version's OpenAPI v3 schema, subresources and printer columns::

    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata: {name: crontabs.stable.example.com}      # <plural>.<group>
    spec:
      group: stable.example.com
      scope: Namespaced
      names: {plural: crontabs, singular: crontab, kind: CronTab, shortNames: [ct]}
      versions:
      - name: v1
        served: true
        storage: true
        schema:
          openAPIV3Schema: {type: object, properties: {spec: {type: object, ...}}}

``CustomResourceDefinition.from_dict(wire)`` decodes one strictly (an unknown key is a
field error) and ``to_dict()`` gives the same wire dict back. The OpenAPI schema is kept
as the JSON the user wrote (a ``dict``): its keywords are checked by
:mod:`navarch.apiextensions.structural`, which also turns it into the typed tree that
validation, pruning and defaulting walk. ``selectableFields`` (Kubernetes 1.31) is kept
verbatim: Navarch stores and returns it but serves no field selector from it yet.
"""

from __future__ import annotations

from typing import Any

import attrs

from navarch.api.meta import ListMeta, TopLevel
from navarch.api.schema import Model, model, wire

GROUP = "apiextensions.k8s.io"
API_VERSION = f"{GROUP}/v1"

NAMESPACE_SCOPED = "Namespaced"
CLUSTER_SCOPED = "Cluster"
SCOPES = (CLUSTER_SCOPED, NAMESPACE_SCOPED)

NONE_CONVERTER = "None"
WEBHOOK_CONVERTER = "Webhook"
CONVERSION_STRATEGIES = (NONE_CONVERTER, WEBHOOK_CONVERTER)

# Condition types (CustomResourceDefinitionConditionType) and the statuses they take.
ESTABLISHED = "Established"
NAMES_ACCEPTED = "NamesAccepted"
NON_STRUCTURAL_SCHEMA = "NonStructuralSchema"
TERMINATING = "Terminating"
API_APPROVAL_POLICY_CONFORMANT = "KubernetesAPIApprovalPolicyConformant"
CONDITION_TRUE, CONDITION_FALSE, CONDITION_UNKNOWN = "True", "False", "Unknown"


@model()
class CustomResourceDefinitionNames(Model):
    plural: str | None = wire()
    singular: str | None = wire()
    short_names: tuple[str, ...] | None = wire()
    kind: str | None = wire()
    list_kind: str | None = wire()
    categories: tuple[str, ...] | None = wire()


@model()
class CustomResourceValidation(Model):
    # The JSON schema as written; see navarch.apiextensions.structural.
    open_api_v3_schema: dict[str, Any] | None = wire("openAPIV3Schema")


@model()
class CustomResourceSubresourceScale(Model):
    spec_replicas_path: str | None = wire()
    status_replicas_path: str | None = wire()
    label_selector_path: str | None = wire()


@model()
class CustomResourceSubresources(Model):
    # ``status: {}`` turns the status subresource on; the object has no fields.
    status: dict[str, Any] | None = wire()
    scale: CustomResourceSubresourceScale | None = wire()


@model()
class CustomResourceColumnDefinition(Model):
    name: str | None = wire()
    type: str | None = wire()
    format: str | None = wire()
    description: str | None = wire()
    priority: int | None = wire()
    json_path: str | None = wire("jsonPath")


@model(kubernetes_only=("selectableFields",))
class CustomResourceDefinitionVersion(Model):
    name: str | None = wire()
    served: bool | None = wire()
    storage: bool | None = wire()
    deprecated: bool | None = wire()
    deprecation_warning: str | None = wire()
    schema: CustomResourceValidation | None = wire()
    subresources: CustomResourceSubresources | None = wire()
    additional_printer_columns: tuple[CustomResourceColumnDefinition, ...] | None = wire()

    def open_api_v3_schema(self) -> dict[str, Any] | None:
        return self.schema.open_api_v3_schema if self.schema else None

    def has_status(self) -> bool:
        return self.subresources is not None and self.subresources.status is not None


@model()
class ServiceReference(Model):
    namespace: str | None = wire()
    name: str | None = wire()
    path: str | None = wire()
    port: int | None = wire()


@model()
class WebhookClientConfig(Model):
    url: str | None = wire()
    service: ServiceReference | None = wire()
    ca_bundle: str | None = wire()


@model()
class WebhookConversion(Model):
    client_config: WebhookClientConfig | None = wire()
    conversion_review_versions: tuple[str, ...] | None = wire()


@model()
class CustomResourceConversion(Model):
    strategy: str | None = wire()
    webhook: WebhookConversion | None = wire()


@model()
class CustomResourceDefinitionSpec(Model):
    group: str | None = wire()
    names: CustomResourceDefinitionNames | None = wire()
    scope: str | None = wire()
    versions: tuple[CustomResourceDefinitionVersion, ...] | None = wire()
    conversion: CustomResourceConversion | None = wire()
    preserve_unknown_fields: bool | None = wire()


@model(kubernetes_only=("observedGeneration",))
class CustomResourceDefinitionCondition(Model):
    type: str | None = wire()
    status: str | None = wire()
    last_transition_time: str | None = wire()
    reason: str | None = wire()
    message: str | None = wire()


@model()
class CustomResourceDefinitionStatus(Model):
    conditions: tuple[CustomResourceDefinitionCondition, ...] | None = wire()
    accepted_names: CustomResourceDefinitionNames | None = wire()
    stored_versions: tuple[str, ...] | None = wire()


@model()
class CustomResourceDefinition(TopLevel):
    API_VERSION, KIND, RESOURCE, NAMESPACED = (
        API_VERSION,
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
    )

    spec: CustomResourceDefinitionSpec | None = wire()
    status: CustomResourceDefinitionStatus | None = wire()

    def versions(self) -> tuple[CustomResourceDefinitionVersion, ...]:
        return self.spec.versions or () if self.spec else ()

    def storage_version(self) -> CustomResourceDefinitionVersion | None:
        return next((v for v in self.versions() if v.storage), None)

    def served_versions(self) -> tuple[CustomResourceDefinitionVersion, ...]:
        return tuple(v for v in self.versions() if v.served)

    def version(self, name: str) -> CustomResourceDefinitionVersion | None:
        return next((v for v in self.versions() if v.name == name), None)

    def condition(self, type_: str) -> CustomResourceDefinitionCondition | None:
        conditions = self.status.conditions or () if self.status else ()
        return next((c for c in conditions if c.type == type_), None)

    def is_condition_true(self, type_: str) -> bool:
        found = self.condition(type_)
        return found is not None and found.status == CONDITION_TRUE


@model()
class CustomResourceDefinitionList(Model):
    API_VERSION, KIND = API_VERSION, "CustomResourceDefinitionList"

    api_version: str | None = wire()
    kind: str | None = wire()
    metadata: ListMeta | None = wire()
    items: tuple[CustomResourceDefinition, ...] | None = wire()


def set_condition(
    conditions: tuple[CustomResourceDefinitionCondition, ...] | None,
    new: CustomResourceDefinitionCondition,
) -> tuple[CustomResourceDefinitionCondition, ...]:
    """``conditions`` with ``new`` in place of the condition of its type (Kubernetes'
    ``SetCRDCondition``): the old ``lastTransitionTime`` is kept while the status stays
    the same, so a controller re-asserting ``Established=True`` does not move it."""
    existing = tuple(conditions or ())
    for i, old in enumerate(existing):
        if old.type != new.type:
            continue
        if old.status == new.status:
            new = attrs.evolve(new, last_transition_time=old.last_transition_time)
        return (*existing[:i], new, *existing[i + 1 :])
    return (*existing, new)
