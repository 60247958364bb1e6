"""Validation of decoded objects: every field error at once, each at its Kubernetes path.

Rules follow Kubernetes' own validation (names, labels, quantities, enumerations,
required fields, selector vs template labels, references between fields). The PodSpec
fields Navarch keeps without acting on are validated too: a pod Kubernetes would
refuse is refused. Only the rare ``kubernetes_only`` fields kept verbatim (uncommon
volume sources, status details) pass unvalidated.

``validate(obj)`` is the entry point; it checks what every object has (``object_meta``)
and hands the rest to the kind's strategy, found through the resource registry
(``Strategy.validate``, beside the kind in :mod:`navarch.resources.core`, which calls
the module of its kind here: ``pods``, ``workloads``, ``nodes``, ``events``,
``leases``). A plugin's kind gets the same call. A pod spec is checked piece by piece:
``containers``, ``probes``, ``env``, ``ports``, ``volumes`` (with ``files``),
``security``, ``scheduling``, ``dns``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from navarch.api import errors
from navarch.api.field_checks import Errors
from navarch.api.meta import TopLevel
from navarch.api.validation.containers import validate_container, validate_resources
from navarch.api.validation.object_meta import validate_annotations, validate_object_meta
from navarch.api.validation.pods import validate_pod_spec
from navarch.api.validation.scheduling import validate_node_selector_term, validate_toleration

if TYPE_CHECKING:
    from navarch.resources.strategy import Strategy

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


def validate(obj: TopLevel, strategy: Strategy | None = None) -> Errors:
    """All field errors of ``obj`` (empty when valid): what every object has, then its
    kind's rules (``strategy``; by default the one the registry serves the kind with)."""
    if strategy is None:
        strategy = strategy_for(obj)
    errs: Errors = []
    if obj.api_version != obj.API_VERSION:
        errs.append(errors.not_supported("apiVersion", obj.api_version, [obj.API_VERSION]))
    if obj.kind != obj.KIND:
        errs.append(errors.not_supported("kind", obj.kind, [obj.KIND]))
    errs += validate_object_meta(obj.metadata, "metadata", obj.NAMESPACED, strategy.validate_name)
    errs += strategy.validate(obj)
    return errs


def strategy_for(obj: TopLevel) -> Strategy:
    """The strategy of ``obj``'s kind; the default one for a model no registered
    resource serves (its generic checks still apply)."""
    # imported here: the registry imports the core's kinds, whose strategies import this
    from navarch.resources.registry import registry
    from navarch.resources.strategy import DEFAULT

    resource = registry().for_kind(obj.KIND, obj.API_VERSION)
    return resource.strategy if resource is not None else DEFAULT
