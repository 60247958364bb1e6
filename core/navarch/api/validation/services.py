"""Validation of Services as Kubernetes' ValidateService and ValidateServiceUpdate
(pkg/apis/core/validation), with their messages. Whether a requested ClusterIP or
NodePort is free and in range is the allocator's question
(:mod:`navarch.apiserver.serviceallocation`), asked after these rules pass."""

from __future__ import annotations

import ipaddress
import re

from navarch.api import errors, names
from navarch.api.core_v1_service import (
    AFFINITY_CLIENT_IP,
    AFFINITY_NONE,
    CLUSTER_IP_NONE,
    EXTERNAL_NAME,
    IPV4,
    IPV6,
    LOAD_BALANCER,
    NODE_PORT,
    POLICY_CLUSTER,
    POLICY_LOCAL,
    PREFER_DUAL_STACK,
    PROTOCOLS,
    REQUIRE_DUAL_STACK,
    SERVICE_TYPES,
    SINGLE_STACK,
    Service,
    ServicePort,
    ServiceSpec,
    needs_node_ports,
)
from navarch.api.field_checks import Errors, enum, in_range, validate_labels
from navarch.api.validation.ports import validate_port_name, validate_port_num_or_name

_DNS1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
DNS1035_MESSAGE = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
    "with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',"
    "  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)


def dns1035_label(value: str) -> list[str]:
    """Kubernetes' IsDNS1035Label: a Service's name (it becomes a DNS label)."""
    problems = []
    if len(value) > 63:
        problems.append("must be no more than 63 characters")
    if not _DNS1035.fullmatch(value):
        problems.append(DNS1035_MESSAGE)
    return problems


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def validate_service(svc: Service) -> Errors:
    spec = svc.spec or ServiceSpec()
    errs: Errors = []
    errs += enum(spec.type, "spec.type", SERVICE_TYPES)
    errs += enum(spec.session_affinity, "spec.sessionAffinity", (AFFINITY_CLIENT_IP, AFFINITY_NONE))
    headless = spec.cluster_ip == CLUSTER_IP_NONE
    errs += _validate_cluster_ips(spec, headless)
    if spec.type == EXTERNAL_NAME:
        if not spec.external_name:
            errs.append(errors.required("spec.externalName"))
        else:
            errs += [
                errors.invalid("spec.externalName", spec.external_name, p)
                for p in names.dns1123_subdomain(spec.external_name.rstrip("."))
            ]
    ports: tuple[ServicePort, ...] = spec.ports or ()
    if not ports and spec.type != EXTERNAL_NAME and not headless:
        errs.append(errors.required("spec.ports"))
    seen_names: set[str] = set()
    seen_ports: set[tuple[int | None, str | None]] = set()
    for i, port in enumerate(ports):
        path = f"spec.ports[{i}]"
        errs += _validate_port(port, path, len(ports) > 1, spec.type)
        if port.name:
            if port.name in seen_names:
                errs.append(errors.duplicate(f"{path}.name", port.name))
            seen_names.add(port.name)
        key = (port.port, port.protocol)
        if key in seen_ports:
            errs.append(errors.duplicate(path, f"{port.port}/{port.protocol}"))
        seen_ports.add(key)
    if spec.selector:
        errs += validate_labels(spec.selector, "spec.selector")
    for i, ip in enumerate(spec.external_ips or []):
        if not is_ip(ip):
            errs.append(errors.invalid(f"spec.externalIPs[{i}]", ip, "must be a valid IP address"))
    errs += _validate_traffic_policies(spec)
    errs += _validate_load_balancer_fields(spec)
    errs += _validate_load_balancer_status(svc)
    errs += enum(
        spec.ip_family_policy,
        "spec.ipFamilyPolicy",
        (SINGLE_STACK, PREFER_DUAL_STACK, REQUIRE_DUAL_STACK),
    )
    for i, family in enumerate(spec.ip_families or []):
        errs += enum(family, f"spec.ipFamilies[{i}]", (IPV4, IPV6))
    return errs


def _validate_cluster_ips(spec: ServiceSpec, headless: bool) -> Errors:
    ips: tuple[str, ...] = spec.cluster_ips or ()
    if spec.type == EXTERNAL_NAME:
        if spec.cluster_ip or ips:
            return [errors.forbidden("spec.clusterIPs", "may not be set for ExternalName services")]
        return []
    errs: Errors = []
    if spec.cluster_ip and ips and ips[0] != spec.cluster_ip:
        errs.append(errors.invalid("spec.clusterIPs", ips, "first value must match `clusterIP`"))
    if len(ips) > 1:
        errs.append(
            errors.invalid("spec.clusterIPs", ips, "only one IP family is served (SingleStack)")
        )
    for i, ip in enumerate(ips):
        if ip == CLUSTER_IP_NONE:
            if i or not headless:
                errs.append(
                    errors.invalid(f"spec.clusterIPs[{i}]", ip, "must be a valid IP address")
                )
            elif spec.type in (NODE_PORT, LOAD_BALANCER):
                errs.append(
                    errors.invalid(
                        f"spec.clusterIPs[{i}]",
                        ip,
                        f"may not be set to 'None' for {spec.type} services",
                    )
                )
        elif not is_ip(ip):
            errs.append(
                errors.invalid(
                    f"spec.clusterIPs[{i}]",
                    ip,
                    "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                )
            )
    return errs


def _validate_port(port: ServicePort, path: str, several: bool, service_type: str | None) -> Errors:
    errs: Errors = []
    if port.name:
        errs += [
            errors.invalid(f"{path}.name", port.name, p) for p in names.dns1123_label(port.name)
        ]
    elif several:
        errs.append(errors.required(f"{path}.name"))
    errs += (
        in_range(port.port, f"{path}.port", 1, 65535)
        if port.port is not None
        else [errors.required(f"{path}.port")]
    )
    errs += enum(port.protocol, f"{path}.protocol", PROTOCOLS)
    if isinstance(port.target_port, str):
        errs += validate_port_name(port.target_port, f"{path}.targetPort")
    else:
        errs += validate_port_num_or_name(port.target_port, f"{path}.targetPort")
    if port.node_port:
        if not needs_node_ports(service_type):
            errs.append(
                errors.forbidden(
                    f"{path}.nodePort", f"may not be used when `type` is '{service_type}'"
                )
            )
        else:
            errs += in_range(port.node_port, f"{path}.nodePort", 1, 65535)
    return errs


def _validate_traffic_policies(spec: ServiceSpec) -> Errors:
    errs: Errors = []
    policies = (POLICY_CLUSTER, POLICY_LOCAL)
    if spec.external_traffic_policy:
        if not needs_node_ports(spec.type) and not spec.external_ips:
            errs.append(
                errors.invalid(
                    "spec.externalTrafficPolicy",
                    spec.external_traffic_policy,
                    "may only be set for externally-accessible services",
                )
            )
        else:
            errs += enum(spec.external_traffic_policy, "spec.externalTrafficPolicy", policies)
    elif needs_node_ports(spec.type):
        errs.append(errors.required("spec.externalTrafficPolicy"))
    if spec.type == EXTERNAL_NAME:
        return errs
    if not spec.internal_traffic_policy:
        errs.append(errors.required("spec.internalTrafficPolicy"))
    else:
        errs += enum(spec.internal_traffic_policy, "spec.internalTrafficPolicy", policies)
    return errs


def _validate_load_balancer_fields(spec: ServiceSpec) -> Errors:
    errs: Errors = []
    only_lb = "may only be used when `type` is 'LoadBalancer'"
    if spec.allocate_load_balancer_node_ports is not None and spec.type != LOAD_BALANCER:
        errs.append(errors.forbidden("spec.allocateLoadBalancerNodePorts", only_lb))
    if spec.load_balancer_class is not None:
        if spec.type != LOAD_BALANCER:
            errs.append(errors.forbidden("spec.loadBalancerClass", only_lb))
        errs += [
            errors.invalid("spec.loadBalancerClass", spec.load_balancer_class, p)
            for p in names.qualified_name(spec.load_balancer_class)
        ]
    return errs


def _validate_load_balancer_status(svc: Service) -> Errors:
    """Kubernetes' ValidateLoadBalancerStatus: the proxies program these addresses."""
    balancer = svc.status.load_balancer if svc.status else None
    errs: Errors = []
    for i, ingress in enumerate((balancer.ingress if balancer else None) or ()):
        path = f"status.loadBalancer.ingress[{i}]"
        if ingress.ip and not is_ip(ingress.ip):
            errs.append(
                errors.invalid(
                    f"{path}.ip",
                    ingress.ip,
                    "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                )
            )
        if ingress.hostname:
            errs += [
                errors.invalid(f"{path}.hostname", ingress.hostname, p)
                for p in names.dns1123_subdomain(ingress.hostname)
            ]
            if is_ip(ingress.hostname):
                not_ip = "must be a DNS name, not an IP address"
                errs.append(errors.invalid(f"{path}.hostname", ingress.hostname, not_ip))
    return errs


def _validate_load_balancer_class_update(spec: ServiceSpec, old_spec: ServiceSpec) -> Errors:
    """Kubernetes: a LoadBalancer's class is chosen once (None counts as a choice); a
    Service becoming a LoadBalancer may choose any."""
    if old_spec.type != LOAD_BALANCER or spec.type != LOAD_BALANCER:
        return []
    if spec.load_balancer_class != old_spec.load_balancer_class:
        return [
            errors.invalid(
                "spec.loadBalancerClass", spec.load_balancer_class, "may not change once set"
            )
        ]
    return []


def validate_service_update(new: Service, old: Service) -> Errors:
    """Kubernetes' rule: a ClusterIP may not change once set, unless the Service goes to
    or from ExternalName (which has none)."""
    spec, old_spec = new.spec or ServiceSpec(), old.spec or ServiceSpec()
    errs: Errors = _validate_load_balancer_class_update(spec, old_spec)
    if EXTERNAL_NAME in (spec.type, old_spec.type):
        return errs
    new_ips: tuple[str, ...] = spec.cluster_ips or ()
    old_ips: tuple[str, ...] = old_spec.cluster_ips or ()
    for i, ip in enumerate(old_ips[: len(new_ips)]):
        if new_ips[i] != ip:
            errs.append(errors.invalid(f"spec.clusterIPs[{i}]", new_ips, "may not change once set"))
    if old_ips and not new_ips:
        errs.append(
            errors.invalid("spec.clusterIPs[0]", new_ips, "primary clusterIP can not be unset")
        )
    return errs
