"""From NetworkPolicies, pods and namespaces to what each pod of one node may send and
receive: per local pod and direction, either "not isolated" or the list of allowed
peers and ports. No nftables here (:mod:`navarch.netpol.ruleset` renders the result).

Kubernetes' semantics ("Network Policies" in its documentation):

* a pod is isolated for ingress (egress) when some policy of its namespace selects it
  and has Ingress (Egress) among its policyTypes; a pod no such policy selects is not
  restricted in that direction;
* an isolated pod accepts what the union of its policies' rules allows; a policy with
  no rules of that direction adds nothing (default deny);
* a rule with no peers allows every peer, with no ports every port; its peers are
  pods (podSelector: in the policy's namespace; namespaceSelector: every pod of the
  matching namespaces; both: the pods matching podSelector in those namespaces) or
  an ipBlock (its cidr but its ``except`` ranges);
* a named port is resolved against the destination pod's container ports: the local
  pod itself for ingress, each peer pod for egress (an ipBlock has no container ports,
  so a named port with one allows nothing);
* pods on the host's network, pods without an IP and finished pods are neither
  restricted nor peers (kube-router and Calico skip them too).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from navarch.api import selectors
from navarch.api.core_v1 import Pod
from navarch.api.meta import LabelSelector
from navarch.api.networking_v1 import (
    POLICY_EGRESS,
    POLICY_INGRESS,
    IPBlock,
    NetworkPolicy,
    NetworkPolicyPeer,
    NetworkPolicyPort,
    NetworkPolicySpec,
    policy_types_of,
)

# Kubernetes sets this label on every namespace (NamespaceDefaultLabelName), and policies
# select namespaces by name with it; it counts here even where a namespace lacks it.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
_FINISHED = ("Succeeded", "Failed")


@attrs.frozen(order=True)
class PortRange:
    """Traffic to ports ``first``..``last`` over ``protocol``; 0: any port."""

    protocol: str
    first: int = 0
    last: int = 0


@attrs.frozen(order=True)
class Allow:
    """One allowed kind of traffic: from (ingress) or to (egress) ``addresses`` but
    ``excepted`` (CIDRs; None: any address), on any of ``ports`` (empty: any port)."""

    addresses: tuple[str, ...] | None
    excepted: tuple[str, ...] = ()
    ports: tuple[PortRange, ...] = ()


@attrs.frozen
class PodPolicy:
    """What one local pod may receive and send; None: not isolated in that direction."""

    key: str  # namespace/name
    ip: str
    ingress: tuple[Allow, ...] | None
    egress: tuple[Allow, ...] | None


@attrs.frozen
class PodView:
    """What policies need of a pod."""

    key: str
    namespace: str
    node: str
    ip: str
    labels: Mapping[str, str]
    # (name, protocol) -> container port
    named_ports: Mapping[tuple[str, str], int]

    @classmethod
    def of(cls, pod: Pod) -> PodView | None:
        """The pod as policies see it; None when policies ignore it."""
        spec, status = pod.spec, pod.status
        if spec is None or spec.host_network or status is None or not status.pod_ip:
            return None
        if status.phase in _FINISHED:
            return None
        named: dict[tuple[str, str], int] = {}
        for container in (*(spec.init_containers or ()), *(spec.containers or ())):
            for port in container.ports or ():
                if port.name and port.container_port:
                    named.setdefault((port.name, port.protocol or "TCP"), port.container_port)
        return cls(
            key=pod.key(),
            namespace=pod.namespace,
            node=spec.node_name or "",
            ip=status.pod_ip,
            labels=pod.labels,
            named_ports=named,
        )


def _selector(selector: LabelSelector | None) -> selectors.Selector:
    selector = selector or LabelSelector()
    expressions = [
        (e.key or "", e.operator or "", tuple(e.values or ()))
        for e in selector.match_expressions or ()
    ]
    return selectors.from_match(selector.match_labels, expressions)


@attrs.define
class Cluster:
    """The pods and namespace labels a compilation looks at."""

    pods: list[PodView]
    namespace_labels: dict[str, dict[str, str]]

    @classmethod
    def of(cls, pods: Iterable[Pod], namespaces: Iterable[Any]) -> Cluster:
        labels: dict[str, dict[str, str]] = {}
        for namespace in namespaces:
            labels[namespace.name] = {**namespace.labels, NAMESPACE_NAME_LABEL: namespace.name}
        views = [view for pod in pods if (view := PodView.of(pod)) is not None]
        return cls(sorted(views, key=lambda v: v.key), labels)

    def peer_pods(self, peer: NetworkPolicyPeer, policy_namespace: str) -> list[PodView]:
        pod_selector = _selector(peer.pod_selector)
        if peer.namespace_selector is None:
            in_namespace = [p for p in self.pods if p.namespace == policy_namespace]
            return [p for p in in_namespace if pod_selector.matches(p.labels)]
        namespace_selector = _selector(peer.namespace_selector)
        return [
            p
            for p in self.pods
            if namespace_selector.matches(self.namespace_labels.get(p.namespace, {}))
            and pod_selector.matches(p.labels)
        ]


def compile_policies(
    policies: Sequence[NetworkPolicy], cluster: Cluster, node: str
) -> list[PodPolicy]:
    """What each pod of ``node`` may receive and send, in pod key order."""
    result = []
    for pod in cluster.pods:
        if pod.node != node:
            continue
        selecting = [
            p
            for p in policies
            if p.namespace == pod.namespace
            and _selector((p.spec or NetworkPolicySpec()).pod_selector).matches(pod.labels)
        ]
        ingress = [p for p in selecting if POLICY_INGRESS in policy_types_of(p.spec or _EMPTY)]
        egress = [p for p in selecting if POLICY_EGRESS in policy_types_of(p.spec or _EMPTY)]
        result.append(
            PodPolicy(
                key=pod.key,
                ip=pod.ip,
                ingress=_ingress(pod, ingress, cluster) if ingress else None,
                egress=_egress(egress, cluster) if egress else None,
            )
        )
    return result


_EMPTY = NetworkPolicySpec()


def _ingress(pod: PodView, policies: list[NetworkPolicy], cluster: Cluster) -> tuple[Allow, ...]:
    allows: set[Allow] = set()
    for policy in policies:
        for rule in (policy.spec or _EMPTY).ingress or ():
            ports = _numeric(rule.ports or ())
            for name, protocol in _named(rule.ports or ()):
                number = pod.named_ports.get((name, protocol))
                if number is not None:
                    ports.append(PortRange(protocol, number, number))
            if rule.ports and not ports:
                continue  # every port it names is a name this pod does not have
            for peer in rule.from_ or (None,):
                allows.update(_peer_allows(peer, policy.namespace, tuple(ports), cluster))
    return tuple(sorted(allows, key=_allow_order))


def _egress(policies: list[NetworkPolicy], cluster: Cluster) -> tuple[Allow, ...]:
    allows: set[Allow] = set()
    for policy in policies:
        for rule in (policy.spec or _EMPTY).egress or ():
            numeric, named = tuple(_numeric(rule.ports or ())), _named(rule.ports or ())
            for peer in rule.to or (None,):
                if numeric or not rule.ports:
                    allows.update(_peer_allows(peer, policy.namespace, numeric, cluster))
                if named and (peer is None or peer.ip_block is None):
                    targets = (
                        cluster.pods if peer is None else cluster.peer_pods(peer, policy.namespace)
                    )
                    allows.update(_named_port_allows(targets, named))
    return tuple(sorted(allows, key=_allow_order))


def _peer_allows(
    peer: NetworkPolicyPeer | None, namespace: str, ports: tuple[PortRange, ...], cluster: Cluster
) -> list[Allow]:
    ports = tuple(sorted(set(ports)))
    if peer is None:
        return [Allow(None, (), ports)]
    if peer.ip_block is not None:
        return [_block_allow(peer.ip_block, ports)]
    addresses = tuple(sorted({p.ip for p in cluster.peer_pods(peer, namespace)}))
    return [Allow(addresses, (), ports)] if addresses else []


def _block_allow(block: IPBlock, ports: tuple[PortRange, ...]) -> Allow:
    network = ipaddress.ip_network(block.cidr or "", strict=False)
    excepted = [ipaddress.ip_network(e, strict=False) for e in block.except_ or ()]
    # Overlapping ranges in one nft set are refused; merged, they are not.
    same_family = [e for e in excepted if e.version == network.version]
    collapsed = ipaddress.collapse_addresses(same_family)  # type: ignore[type-var]
    return Allow((str(network),), tuple(str(e) for e in collapsed), ports)


def _named_port_allows(targets: list[PodView], named: list[tuple[str, str]]) -> list[Allow]:
    """Egress to named ports: each destination pod's own number for the name."""
    by_port: dict[PortRange, set[str]] = {}
    for target in targets:
        for name, protocol in named:
            number = target.named_ports.get((name, protocol))
            if number is not None:
                by_port.setdefault(PortRange(protocol, number, number), set()).add(target.ip)
    return [Allow(tuple(sorted(ips)), (), (port,)) for port, ips in by_port.items()]


def _numeric(ports: Iterable[NetworkPolicyPort]) -> list[PortRange]:
    out = []
    for port in ports:
        protocol = port.protocol or "TCP"
        if port.port is None:
            out.append(PortRange(protocol))
        elif isinstance(port.port, int):
            out.append(PortRange(protocol, port.port, port.end_port or port.port))
    return out


def _named(ports: Iterable[NetworkPolicyPort]) -> list[tuple[str, str]]:
    return [(p.port, p.protocol or "TCP") for p in ports if isinstance(p.port, str)]


def _allow_order(allow: Allow) -> tuple[Any, ...]:
    return (allow.addresses is not None, allow.addresses or (), allow.excepted, allow.ports)
