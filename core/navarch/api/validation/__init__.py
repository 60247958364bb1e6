"""Validation of decoded objects: every field error at once, each at its Kubernetes path.

Rules follow Kubernetes' own validation (names, labels, quantities, enumerations,
required fields, selector vs template labels, references between fields). The PodSpec
fields Navarch keeps without acting on are validated too: a pod Kubernetes would
refuse is refused. Only the rare ``kubernetes_only`` fields kept verbatim (uncommon
volume sources, status details) pass unvalidated.

``validate(obj)`` is the entry point; it checks what every object has (``object_meta``)
and hands the rest to the module of the object's kind (``pods``, ``workloads``,
``nodes``, ``events``, ``leases``). A pod spec is checked piece by piece:
``containers``, ``probes``, ``env``, ``ports``, ``volumes`` (with ``files``),
``security``, ``scheduling``, ``dns``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from navarch.api import errors, names
from navarch.api.apps_v1 import Deployment, ReplicaSet
from navarch.api.coordination_v1 import Lease
from navarch.api.core_v1 import Event, Namespace, Node, Pod
from navarch.api.field_checks import Errors
from navarch.api.meta import TopLevel
from navarch.api.validation.containers import validate_container, validate_resources
from navarch.api.validation.events import validate_event
from navarch.api.validation.leases import validate_lease
from navarch.api.validation.nodes import validate_node
from navarch.api.validation.object_meta import validate_annotations, validate_object_meta
from navarch.api.validation.pods import validate_pod, validate_pod_spec
from navarch.api.validation.scheduling import validate_node_selector_term, validate_toleration
from navarch.api.validation.workloads import validate_deployment, validate_replica_set

__all__ = [
    "validate",
    "validate_annotations",
    "validate_container",
    "validate_node_selector_term",
    "validate_object_meta",
    "validate_pod_spec",
    "validate_resources",
    "validate_toleration",
]


def validate(obj: TopLevel) -> Errors:
    """All field errors of ``obj`` (empty when valid)."""
    errs: Errors = []
    if obj.api_version != obj.API_VERSION:
        errs.append(errors.not_supported("apiVersion", obj.api_version, [obj.API_VERSION]))
    if obj.kind != obj.KIND:
        errs.append(errors.not_supported("kind", obj.kind, [obj.KIND]))
    name_rule = names.dns1123_label if isinstance(obj, Namespace) else names.dns1123_subdomain
    errs += validate_object_meta(obj.metadata, "metadata", obj.NAMESPACED, name_rule)
    validator = _BY_KIND.get(type(obj))
    if validator is not None:
        errs += validator(obj)
    return errs


_BY_KIND: dict[type, Callable[[Any], Errors]] = {
    Pod: validate_pod,
    Node: validate_node,
    ReplicaSet: validate_replica_set,
    Deployment: validate_deployment,
    Event: validate_event,
    Lease: validate_lease,
}
