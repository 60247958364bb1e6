"""Validation of NetworkPolicies, as Kubernetes' ValidateNetworkPolicy
(pkg/apis/networking/validation) with its messages: label selectors, ports (a number or
an IANA name, endPort only after a numeric port and not below it), peers (at least
one of podSelector, namespaceSelector, ipBlock; ipBlock alone), ipBlock CIDRs with
``except`` strictly inside ``cidr``, and the policy types."""

from __future__ import annotations

import ipaddress

from navarch.api import errors
from navarch.api.field_checks import Errors, enum, in_range, validate_label_selector
from navarch.api.meta import LabelSelector
from navarch.api.networking_v1 import (
    NETWORK_POLICY_PROTOCOLS,
    POLICY_TYPES,
    IPBlock,
    NetworkPolicy,
    NetworkPolicyPeer,
    NetworkPolicyPort,
    NetworkPolicySpec,
)
from navarch.api.schema import join
from navarch.api.validation.nodes import CIDR_MESSAGE
from navarch.api.validation.ports import validate_port_name

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_cidr(value: str) -> Network | None:
    """A CIDR as Kubernetes' ParseCIDRSloppy reads it: an address and a prefix length
    (host bits may be set); None when it is not one."""
    if "/" not in value:
        return None
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


def validate_network_policy(policy: NetworkPolicy) -> Errors:
    return validate_network_policy_spec(policy.spec or NetworkPolicySpec(), "spec")


def validate_network_policy_spec(spec: NetworkPolicySpec, path: str) -> Errors:
    errs: Errors = _selector(spec.pod_selector or LabelSelector(), join(path, "podSelector"))
    for i, ingress in enumerate(spec.ingress or ()):
        rule_path = f"{join(path, 'ingress')}[{i}]"
        for j, port in enumerate(ingress.ports or ()):
            errs += validate_port(port, f"{rule_path}.ports[{j}]")
        for j, peer in enumerate(ingress.from_ or ()):
            errs += validate_peer(peer, f"{rule_path}.from[{j}]")
    for i, egress in enumerate(spec.egress or ()):
        rule_path = f"{join(path, 'egress')}[{i}]"
        for j, port in enumerate(egress.ports or ()):
            errs += validate_port(port, f"{rule_path}.ports[{j}]")
        for j, peer in enumerate(egress.to or ()):
            errs += validate_peer(peer, f"{rule_path}.to[{j}]")
    types = spec.policy_types or ()
    if len(types) > len(POLICY_TYPES):
        errs.append(
            errors.invalid(
                join(path, "policyTypes"), list(types), "may not specify more than two policyTypes"
            )
        )
        return errs
    for i, policy_type in enumerate(types):
        errs += enum(policy_type, f"{join(path, 'policyTypes')}[{i}]", POLICY_TYPES)
    return errs


def _selector(selector: LabelSelector, path: str) -> Errors:
    errs, _ = validate_label_selector(selector, path)
    return errs


def validate_port(port: NetworkPolicyPort, path: str) -> Errors:
    errs: Errors = enum(port.protocol, join(path, "protocol"), NETWORK_POLICY_PROTOCOLS)
    end_path = join(path, "endPort")
    if port.port is None:
        if port.end_port is not None:
            errs.append(
                errors.invalid(
                    end_path, port.end_port, "may not be specified when `port` is not specified"
                )
            )
        return errs
    if isinstance(port.port, int):
        errs += in_range(port.port, join(path, "port"), 1, 65535)
        if port.end_port is not None:
            if port.end_port < port.port:
                errs.append(
                    errors.invalid(end_path, port.port, "must be greater than or equal to `port`")
                )
            errs += in_range(port.end_port, end_path, 1, 65535)
        return errs
    if port.end_port is not None:
        errs.append(
            errors.invalid(
                end_path, port.end_port, "may not be specified when `port` is non-numeric"
            )
        )
    return errs + validate_port_name(port.port, join(path, "port"))


def validate_peer(peer: NetworkPolicyPeer, path: str) -> Errors:
    errs: Errors = []
    if peer.pod_selector is not None:
        errs += _selector(peer.pod_selector, join(path, "podSelector"))
    if peer.namespace_selector is not None:
        errs += _selector(peer.namespace_selector, join(path, "namespaceSelector"))
    if peer.ip_block is not None:
        errs += validate_ip_block(peer.ip_block, join(path, "ipBlock"))
    given = [peer.pod_selector, peer.namespace_selector, peer.ip_block]
    count = sum(part is not None for part in given)
    if count == 0:
        errs.append(errors.required(path, "must specify a peer"))
    elif count > 1 and peer.ip_block is not None:
        errs.append(errors.forbidden(path, "may not specify both ipBlock and another peer"))
    return errs


def validate_ip_block(block: IPBlock, path: str) -> Errors:
    cidr_path = join(path, "cidr")
    if not block.cidr:
        return [errors.required(cidr_path)]
    network = parse_cidr(block.cidr)
    if network is None:
        return [errors.invalid(cidr_path, block.cidr, CIDR_MESSAGE)]
    errs: Errors = []
    for i, text in enumerate(block.except_ or ()):
        except_path = f"{join(path, 'except')}[{i}]"
        excepted = parse_cidr(text)
        if excepted is None:
            errs.append(errors.invalid(except_path, text, CIDR_MESSAGE))
            continue
        inside = excepted.version == network.version and network.supernet_of(excepted)  # type: ignore[arg-type]
        if not inside or excepted.prefixlen <= network.prefixlen:
            errs.append(errors.invalid(except_path, text, "must be a strict subset of `cidr`"))
    return errs
