"""Validation of decoded objects: every field error at once, each at its Kubernetes path.

Rules follow Kubernetes' own validation (names, labels, quantities, enumerations,
required fields, selector vs template labels, references between fields). The PodSpec
fields Navarch keeps without acting on are validated too (``pod_validation``): a pod
Kubernetes would refuse is refused. Only the rare ``kubernetes_only`` fields kept
verbatim (uncommon volume sources, status details) pass unvalidated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from navarch.api import errors, names, selectors
from navarch.api.apps_v1 import Deployment, ReplicaSet
from navarch.api.coordination_v1 import Lease
from navarch.api.core_v1 import (
    Container,
    Event,
    Namespace,
    Node,
    NodeSelectorTerm,
    Pod,
    PodSpec,
    PodTemplateSpec,
    ResourceRequirements,
    Toleration,
)
from navarch.api.errors import FieldError
from navarch.api.field_checks import enum as _enum
from navarch.api.field_checks import non_negative as _non_negative
from navarch.api.field_checks import validate_label_selector, validate_labels
from navarch.api.meta import LabelSelector, ObjectMeta, TopLevel
from navarch.api.pod_validation import validate_kept_pod_fields
from navarch.api.schema import join

RESTART_POLICIES = ("Always", "OnFailure", "Never")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
PROTOCOLS = ("TCP", "UDP", "SCTP")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
TOLERATION_OPERATORS = ("Exists", "Equal")
STRATEGIES = ("RollingUpdate", "Recreate")
ANNOTATIONS_MAX_BYTES = 256 * 1024

Errors = list[FieldError]


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


# --- pods ----------------------------------------------------------------------------


def _validate_pod(pod: Pod) -> Errors:
    return validate_pod_spec(pod.spec, "spec")


def validate_pod_spec(spec: PodSpec | None, path: str, *, template: bool = False) -> Errors:
    """Every error of a pod's spec (``template``: of a workload's pod template)."""
    if spec is None:
        return [errors.required(path)]
    errs: Errors = []
    containers_path = join(path, "containers")
    if not spec.containers:
        errs.append(errors.required(containers_path, "a pod needs at least one container"))
    # Container names are unique across containers, init and ephemeral containers.
    seen: set[str] = set()
    for key, containers in (
        ("containers", spec.containers),
        ("initContainers", spec.init_containers),
        ("ephemeralContainers", spec.ephemeral_containers),
    ):
        for i, container in enumerate(containers or ()):
            item = f"{join(path, key)}[{i}]"
            errs += validate_container(container, item)
            if container.name:
                if container.name in seen:
                    errs.append(errors.duplicate(f"{item}.name", container.name))
                seen.add(container.name)
    errs += validate_kept_pod_fields(spec, path, template=template)
    errs += _enum(spec.restart_policy, join(path, "restartPolicy"), RESTART_POLICIES)
    errs += _non_negative(
        spec.termination_grace_period_seconds, join(path, "terminationGracePeriodSeconds")
    )
    if spec.node_name:
        errs += [
            errors.invalid(join(path, "nodeName"), spec.node_name, p)
            for p in names.dns1123_subdomain(spec.node_name)
        ]
    errs += validate_labels(spec.node_selector, join(path, "nodeSelector"))
    for i, toleration in enumerate(spec.tolerations or ()):
        errs += validate_toleration(toleration, f"{join(path, 'tolerations')}[{i}]")
    node_affinity = spec.affinity.node_affinity if spec.affinity else None
    if node_affinity is not None:
        affinity_path = join(path, "affinity.nodeAffinity")
        required = node_affinity.required_during_scheduling_ignored_during_execution
        if required is not None:
            req_path = join(affinity_path, "requiredDuringSchedulingIgnoredDuringExecution")
            terms_path = join(req_path, "nodeSelectorTerms")
            if not required.node_selector_terms:
                errs.append(
                    errors.required(terms_path, "must have at least one node selector term")
                )
            for i, term in enumerate(required.node_selector_terms or ()):
                errs += validate_node_selector_term(term, f"{terms_path}[{i}]")
        preferred = node_affinity.preferred_during_scheduling_ignored_during_execution
        pref_path = join(affinity_path, "preferredDuringSchedulingIgnoredDuringExecution")
        for i, pref in enumerate(preferred or ()):
            item = f"{pref_path}[{i}]"
            if pref.weight is None or not 1 <= pref.weight <= 100:
                errs.append(
                    errors.invalid(join(item, "weight"), pref.weight, "must be in the range 1-100")
                )
            if pref.preference is None:
                errs.append(errors.required(join(item, "preference")))
            else:
                errs += validate_node_selector_term(pref.preference, join(item, "preference"))
    return errs


def validate_container(container: Container, path: str) -> Errors:
    errs: Errors = []
    if not container.name:
        errs.append(errors.required(join(path, "name")))
    else:
        errs += [
            errors.invalid(join(path, "name"), container.name, p)
            for p in names.dns1123_label(container.name)
        ]
    if not container.image or not container.image.strip():
        errs.append(errors.required(join(path, "image")))
    errs += _enum(container.image_pull_policy, join(path, "imagePullPolicy"), PULL_POLICIES)
    for i, env in enumerate(container.env or ()):
        env_path = f"{join(path, 'env')}[{i}]"
        if not env.name:
            errs.append(errors.required(join(env_path, "name")))
        else:
            errs += [
                errors.invalid(join(env_path, "name"), env.name, p)
                for p in names.env_var_name(env.name)
            ]
    port_names: set[str] = set()
    for i, port in enumerate(container.ports or ()):
        port_path = f"{join(path, 'ports')}[{i}]"
        if port.container_port is None:
            errs.append(errors.required(join(port_path, "containerPort")))
        elif not 1 <= port.container_port <= 65535:
            errs.append(
                errors.invalid(
                    join(port_path, "containerPort"),
                    port.container_port,
                    "must be between 1 and 65535, inclusive",
                )
            )
        if port.host_port is not None and not 0 <= port.host_port <= 65535:
            errs.append(
                errors.invalid(
                    join(port_path, "hostPort"),
                    port.host_port,
                    "must be between 0 and 65535, inclusive",
                )
            )
        errs += _enum(port.protocol, join(port_path, "protocol"), PROTOCOLS)
        if port.name:
            if port.name in port_names:
                errs.append(errors.duplicate(join(port_path, "name"), port.name))
            port_names.add(port.name)
    if container.resources is not None:
        errs += validate_resources(container.resources, join(path, "resources"))
    return errs


def validate_resources(resources: ResourceRequirements, path: str) -> Errors:
    errs: Errors = []
    for section in ("limits", "requests"):
        for name, quantity in (getattr(resources, section) or {}).items():
            item = f"{join(path, section)}[{name}]"
            errs += [errors.invalid(item, name, p) for p in names.qualified_name(name)]
            if quantity.value < 0:
                errs.append(
                    errors.invalid(item, quantity.text, "must be greater than or equal to 0")
                )
    limits, requests = resources.limits or {}, resources.requests or {}
    for name, request in requests.items():
        limit = limits.get(name)
        if limit is not None and request.value > limit.value:
            errs.append(
                errors.invalid(
                    f"{join(path, 'requests')}[{name}]",
                    request.text,
                    f"must be less than or equal to {name} limit of {limit.text}",
                )
            )
    return errs


def validate_toleration(toleration: Toleration, path: str) -> Errors:
    errs: Errors = []
    operator = toleration.operator or "Equal"
    errs += _enum(toleration.operator, join(path, "operator"), TOLERATION_OPERATORS)
    if toleration.key:
        errs += [
            errors.invalid(join(path, "key"), toleration.key, p)
            for p in names.qualified_name(toleration.key)
        ]
    elif operator != "Exists":
        errs.append(
            errors.invalid(
                join(path, "operator"), operator, "operator must be Exists when `key` is empty"
            )
        )
    if operator == "Exists" and toleration.value:
        errs.append(
            errors.invalid(
                join(path, "operator"), operator, "value must be empty when `operator` is 'Exists'"
            )
        )
    errs += _enum(toleration.effect or None, join(path, "effect"), TAINT_EFFECTS)
    if toleration.toleration_seconds is not None and toleration.effect != "NoExecute":
        errs.append(
            errors.invalid(
                join(path, "effect"),
                toleration.effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            )
        )
    return errs


def validate_node_selector_term(term: NodeSelectorTerm, path: str) -> Errors:
    errs: Errors = []
    for field, wire_name in (
        ("match_expressions", "matchExpressions"),
        ("match_fields", "matchFields"),
    ):
        for i, req in enumerate(getattr(term, field) or ()):
            req_path = f"{join(path, wire_name)}[{i}]"
            if not req.key:
                errs.append(errors.required(join(req_path, "key")))
            if req.operator not in selectors.NODE_OPERATORS:
                errs.append(
                    errors.not_supported(
                        join(req_path, "operator"), req.operator, selectors.NODE_OPERATORS
                    )
                )
                continue
            requirement = selectors.Requirement(
                req.key or "", req.operator, tuple(req.values or ())
            )
            for problem in selectors.validate_requirement(requirement):
                errs.append(
                    errors.invalid(join(req_path, "values"), list(req.values or ()), problem)
                )
    return errs


# --- nodes ---------------------------------------------------------------------------


def _validate_node(node: Node) -> Errors:
    errs: Errors = []
    for i, taint in enumerate((node.spec.taints if node.spec else None) or ()):
        path = f"spec.taints[{i}]"
        if not taint.key:
            errs.append(errors.required(join(path, "key")))
        else:
            errs += [
                errors.invalid(join(path, "key"), taint.key, p)
                for p in names.qualified_name(taint.key)
            ]
        if taint.value:
            errs += [
                errors.invalid(join(path, "value"), taint.value, p)
                for p in names.label_value(taint.value)
            ]
        if not taint.effect:
            errs.append(errors.required(join(path, "effect")))
        else:
            errs += _enum(taint.effect, join(path, "effect"), TAINT_EFFECTS)
    status = node.status
    for section in ("capacity", "allocatable"):
        for name, quantity in ((getattr(status, section) if status else None) or {}).items():
            if quantity.value < 0:
                errs.append(
                    errors.invalid(
                        f"status.{section}[{name}]",
                        quantity.text,
                        "must be greater than or equal to 0",
                    )
                )
    return errs


# --- workloads -----------------------------------------------------------------------


def _validate_replica_set(rs: ReplicaSet) -> Errors:
    if rs.spec is None:
        return [errors.required("spec")]
    return _validate_workload(
        rs.spec.replicas, rs.spec.selector, rs.spec.template, rs.spec.min_ready_seconds
    )


def _validate_deployment(deployment: Deployment) -> Errors:
    spec = deployment.spec
    if spec is None:
        return [errors.required("spec")]
    errs = _validate_workload(spec.replicas, spec.selector, spec.template, spec.min_ready_seconds)
    errs += _non_negative(spec.revision_history_limit, "spec.revisionHistoryLimit")
    deadline = spec.progress_deadline_seconds
    if deadline is not None and deadline <= (spec.min_ready_seconds or 0):
        errs.append(
            errors.invalid(
                "spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"
            )
        )
    strategy = spec.strategy
    if strategy is not None:
        errs += _enum(strategy.type, "spec.strategy.type", STRATEGIES)
        rolling = strategy.rolling_update
        if rolling is not None and strategy.type == "Recreate":
            errs.append(
                errors.forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                )
            )
        elif rolling is not None:
            surge = _int_or_percent(rolling.max_surge, "spec.strategy.rollingUpdate.maxSurge", errs)
            unavailable = _int_or_percent(
                rolling.max_unavailable, "spec.strategy.rollingUpdate.maxUnavailable", errs
            )
            if surge == 0 and unavailable == 0:
                errs.append(
                    errors.invalid(
                        "spec.strategy.rollingUpdate.maxUnavailable",
                        rolling.max_unavailable,
                        "may not be 0 when `maxSurge` is 0",
                    )
                )
            if (
                isinstance(rolling.max_unavailable, str)
                and unavailable is not None
                and unavailable > 100
            ):
                errs.append(
                    errors.invalid(
                        "spec.strategy.rollingUpdate.maxUnavailable",
                        rolling.max_unavailable,
                        "must not be greater than 100%",
                    )
                )
    return errs


def _validate_workload(
    replicas: int | None,
    selector: LabelSelector | None,
    template: PodTemplateSpec | None,
    min_ready_seconds: int | None,
) -> Errors:
    errs: Errors = _non_negative(replicas, "spec.replicas")
    errs += _non_negative(min_ready_seconds, "spec.minReadySeconds")
    parsed = None
    if selector is None:
        errs.append(errors.required("spec.selector"))
    else:
        selector_errs, parsed = validate_label_selector(selector, "spec.selector")
        errs += selector_errs
        if parsed is not None and parsed.is_empty():
            errs.append(
                errors.invalid("spec.selector", {}, "empty selector is invalid for deployment")
            )
    if template is None:
        errs.append(errors.required("spec.template"))
        return errs
    template_labels = (template.metadata.labels if template.metadata else None) or {}
    errs += validate_labels(template_labels, "spec.template.metadata.labels")
    if parsed is not None and not parsed.is_empty() and not parsed.matches(template_labels):
        errs.append(
            errors.invalid(
                "spec.template.metadata.labels",
                template_labels,
                "`selector` does not match template `labels`",
            )
        )
    errs += validate_pod_spec(template.spec, "spec.template.spec", template=True)
    if template.spec is not None and template.spec.restart_policy not in (None, "Always"):
        errs.append(
            errors.not_supported(
                "spec.template.spec.restartPolicy", template.spec.restart_policy, ["Always"]
            )
        )
    return errs


# --- events and leases ---------------------------------------------------------------


def _validate_event(event: Event) -> Errors:
    errs: Errors = []
    ref = event.involved_object
    if ref is None:
        errs.append(errors.required("involvedObject"))
    elif not ref.kind:
        errs.append(errors.required("involvedObject.kind"))
    errs += _enum(event.type, "type", ("Normal", "Warning"))
    errs += _non_negative(event.count, "count")
    return errs


def _validate_lease(lease: Lease) -> Errors:
    spec = lease.spec
    if spec is None:
        return []
    errs: Errors = []
    if spec.lease_duration_seconds is not None and spec.lease_duration_seconds <= 0:
        errs.append(
            errors.invalid(
                "spec.leaseDurationSeconds", spec.lease_duration_seconds, "must be greater than 0"
            )
        )
    errs += _non_negative(spec.lease_transitions, "spec.leaseTransitions")
    return errs


_BY_KIND: dict[type, Callable[[Any], Errors]] = {
    Pod: _validate_pod,
    Node: _validate_node,
    ReplicaSet: _validate_replica_set,
    Deployment: _validate_deployment,
    Event: _validate_event,
    Lease: _validate_lease,
}


# --- helpers -------------------------------------------------------------------------


def _int_or_percent(value: int | str | None, path: str, errs: Errors) -> int | None:
    """The number in an int-or-percent ("25%" -> 25, 3 -> 3); records a bad value."""
    if value is None:
        return None
    if isinstance(value, int):
        if value < 0:
            errs.append(errors.invalid(path, value, "must be greater than or equal to 0"))
        return value
    if value.endswith("%") and value[:-1].isdigit():
        return int(value[:-1])
    errs.append(errors.invalid(path, value, "must be an integer or percentage (e.g '5%')"))
    return None
