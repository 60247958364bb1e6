"""Validation of a Pod and of the pod spec (of Pods and of workloads' pod templates):
the pod-level fields, with each container, volume, security context, DNS setting and
scheduling constraint checked by its own module, in Kubernetes' order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from navarch.api import errors, names
from navarch.api.core_v1 import Pod, PodSpec
from navarch.api.field_checks import (
    INT32_MAX,
    Errors,
    enum,
    in_range,
    named,
    non_negative,
    required_name,
    validate_labels,
)
from navarch.api.pod_kept import PodSecurityContext
from navarch.api.schema import join
from navarch.api.validation.containers import validate_container, validate_kept_container_fields
from navarch.api.validation.dns import DNS_POLICIES, validate_dns, validate_ip
from navarch.api.validation.ephemeral import validate_ephemeral_containers
from navarch.api.validation.ports import validate_host_ports
from navarch.api.validation.scheduling import (
    validate_node_affinity,
    validate_pod_affinity,
    validate_toleration,
    validate_topology_spread,
)
from navarch.api.validation.security import validate_pod_security_context
from navarch.api.validation.volumes import validate_volumes

RESTART_POLICIES = ("Always", "OnFailure", "Never")
PREEMPTION_POLICIES = ("PreemptLowerPriority", "Never")
OS_NAMES = ("linux", "windows")


def validate_pod(pod: Pod) -> Errors:
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
    errs += enum(spec.restart_policy, join(path, "restartPolicy"), RESTART_POLICIES)
    errs += non_negative(
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
        errs += validate_node_affinity(node_affinity, join(path, "affinity.nodeAffinity"))
    return errs


def validate_kept_pod_fields(spec: PodSpec, path: str, *, template: bool) -> Errors:
    """Errors in the fields of ``spec`` Navarch keeps but does not act on (the modelled
    ones are checked by ``validate_pod_spec``)."""
    errs, volumes = validate_volumes(spec.volumes, join(path, "volumes"))
    containers_path = join(path, "containers")
    for i, container in enumerate(spec.containers or ()):
        errs += validate_kept_container_fields(
            container, f"{containers_path}[{i}]", volumes, spec, init=False
        )
    init_path = join(path, "initContainers")
    for i, container in enumerate(spec.init_containers or ()):
        errs += validate_kept_container_fields(
            container, f"{init_path}[{i}]", volumes, spec, init=True
        )
    # A pod gets them through pods/ephemeralcontainers, once running (a pod's create
    # refuses them: navarch.api.validation.ephemeral.forbidden_on_create).
    if spec.ephemeral_containers and template:
        detail = "ephemeral containers not allowed in pod template"
        errs.append(errors.forbidden(join(path, "ephemeralContainers"), detail))
    elif spec.ephemeral_containers:
        errs += validate_ephemeral_containers(spec, path)
    errs += validate_host_ports(spec, path)
    for attr, wire, check in _POD_SCALARS:
        value = getattr(spec, attr)
        if value is not None:
            errs += check(value, join(path, wire))
    if spec.dns_policy == "None" or spec.dns_config is not None:
        errs += validate_dns(spec, path)
    if spec.share_process_namespace and spec.host_pid:
        errs.append(
            errors.invalid(
                join(path, "shareProcessNamespace"),
                True,
                "ShareProcessNamespace and HostPID cannot both be enabled",
            )
        )
    for i, alias in enumerate(spec.host_aliases or ()):
        alias_path = f"{join(path, 'hostAliases')}[{i}]"
        errs += validate_ip(alias.ip, join(alias_path, "ip"), required=True)
        for j, hostname in enumerate(alias.hostnames or ()):
            errs += named(
                hostname, f"{join(alias_path, 'hostnames')}[{j}]", names.dns1123_subdomain
            )
    for i, gate in enumerate(spec.readiness_gates or ()):
        errs += required_name(
            gate.condition_type,
            f"{join(path, 'readinessGates')}[{i}].conditionType",
            names.qualified_name,
        )
    for name, quantity in (spec.overhead or {}).items():
        item = f"{join(path, 'overhead')}[{name}]"
        errs += [errors.invalid(item, name, p) for p in names.qualified_name(name)]
        if quantity.value < 0:
            errs.append(errors.invalid(item, quantity.text, "must be greater than or equal to 0"))
    affinity = spec.affinity
    if affinity is not None:
        errs += validate_pod_affinity(affinity.pod_affinity, join(path, "affinity.podAffinity"))
        errs += validate_pod_affinity(
            affinity.pod_anti_affinity, join(path, "affinity.podAntiAffinity")
        )
    if spec.security_context is not None and spec.security_context != _EMPTY_POD_CONTEXT:
        errs += validate_pod_security_context(spec.security_context, join(path, "securityContext"))
    if spec.topology_spread_constraints:
        errs += validate_topology_spread(spec, path)
    if spec.os is not None:
        os_path = join(path, "os.name")
        errs += (
            [errors.required(os_path)]
            if not spec.os.name
            else enum(spec.os.name, os_path, OS_NAMES)
        )
    if spec.scheduling_gates:
        errs += _unique_names(
            [gate.name for gate in spec.scheduling_gates],
            join(path, "schedulingGates"),
            names.qualified_name,
        )
    if spec.resource_claims:
        errs += _resource_claims(spec, path)
    return errs


_EMPTY_POD_CONTEXT = PodSecurityContext()
# Pod-level scalars: (attribute, wire name, check of a present value). A table, so a
# field left absent (the usual case) costs one getattr on the API server's hot path.
_POD_SCALARS: tuple[tuple[str, str, Callable[[Any, str], Errors]], ...] = (
    ("dns_policy", "dnsPolicy", lambda v, p: enum(v, p, DNS_POLICIES)),
    ("active_deadline_seconds", "activeDeadlineSeconds", lambda v, p: in_range(v, p, 1, INT32_MAX)),
    (
        "service_account_name",
        "serviceAccountName",
        lambda v, p: named(v, p, names.dns1123_subdomain),
    ),
    ("service_account", "serviceAccount", lambda v, p: named(v, p, names.dns1123_subdomain)),
    ("priority_class_name", "priorityClassName", lambda v, p: named(v, p, names.dns1123_subdomain)),
    ("runtime_class_name", "runtimeClassName", lambda v, p: named(v, p, names.dns1123_subdomain)),
    ("hostname", "hostname", lambda v, p: named(v, p, names.dns1123_label)),
    ("subdomain", "subdomain", lambda v, p: named(v, p, names.dns1123_label)),
    ("preemption_policy", "preemptionPolicy", lambda v, p: enum(v, p, PREEMPTION_POLICIES)),
)


def _resource_claims(spec: PodSpec, path: str) -> Errors:
    errs: Errors = []
    seen: set[str] = set()
    for i, claim in enumerate(spec.resource_claims or ()):
        item = f"{join(path, 'resourceClaims')}[{i}]"
        errs += required_name(claim.name, join(item, "name"), names.dns1123_label)
        if claim.name in seen:
            errs.append(errors.duplicate(join(item, "name"), claim.name))
        seen.add(claim.name or "")
        given = [n for n in (claim.resource_claim_name, claim.resource_claim_template_name) if n]
        if len(given) != 1:
            errs.append(
                errors.invalid(
                    item,
                    claim.name,
                    "must specify exactly one of: `resourceClaimName`, `resourceClaimTemplateName`",
                )
            )
    return errs


def _unique_names(
    values: Iterable[str | None], path: str, rule: Callable[[str], list[str]]
) -> Errors:
    errs: Errors = []
    seen: set[str] = set()
    for i, value in enumerate(values):
        item = f"{path}[{i}].name"
        errs += required_name(value, item, rule)
        if value and value in seen:
            errs.append(errors.duplicate(item, value))
        seen.add(value or "")
    return errs
