"""networking.k8s.io/v1 NetworkPolicy: which traffic may reach (ingress) and leave
(egress) the pods a label selector picks. The API server stores and validates them;
each node's policy enforcer (:mod:`navarch.netpol`) turns them into nftables rules.

Semantics are Kubernetes' ("Network Policies" in its documentation): a pod that no
policy of a direction selects is not isolated in that direction; a selected pod
accepts only what the union of its policies' rules allows; replies of an allowed
connection always pass.
"""

from __future__ import annotations

from navarch.api.meta import LabelSelector, TopLevel
from navarch.api.schema import IntOrString, Model, model, wire

POLICY_INGRESS, POLICY_EGRESS = "Ingress", "Egress"
POLICY_TYPES = (POLICY_INGRESS, POLICY_EGRESS)
NETWORK_POLICY_PROTOCOLS = ("TCP", "UDP", "SCTP")


@model()
class IPBlock(Model):
    cidr: str | None = wire()
    except_: tuple[str, ...] | None = wire("except")


@model()
class NetworkPolicyPeer(Model):
    pod_selector: LabelSelector | None = wire()
    namespace_selector: LabelSelector | None = wire()
    ip_block: IPBlock | None = wire("ipBlock")


@model()
class NetworkPolicyPort(Model):
    protocol: str | None = wire()
    port: IntOrString | None = wire()
    end_port: int | None = wire()


@model()
class NetworkPolicyIngressRule(Model):
    from_: tuple[NetworkPolicyPeer, ...] | None = wire("from")
    ports: tuple[NetworkPolicyPort, ...] | None = wire()


@model()
class NetworkPolicyEgressRule(Model):
    to: tuple[NetworkPolicyPeer, ...] | None = wire()
    ports: tuple[NetworkPolicyPort, ...] | None = wire()


@model()
class NetworkPolicySpec(Model):
    pod_selector: LabelSelector | None = wire()
    ingress: tuple[NetworkPolicyIngressRule, ...] | None = wire()
    egress: tuple[NetworkPolicyEgressRule, ...] | None = wire()
    policy_types: tuple[str, ...] | None = wire()


@model()
class NetworkPolicy(TopLevel):
    API_VERSION, KIND, RESOURCE = "networking.k8s.io/v1", "NetworkPolicy", "networkpolicies"

    spec: NetworkPolicySpec | None = wire()


def policy_types_of(spec: NetworkPolicySpec) -> tuple[str, ...]:
    """The directions a policy isolates: its policyTypes, or, when it names none,
    Kubernetes' default (SetDefaults_NetworkPolicy): Ingress, plus Egress when it has
    egress rules."""
    if spec.policy_types:
        return spec.policy_types
    return (POLICY_INGRESS, POLICY_EGRESS) if spec.egress else (POLICY_INGRESS,)
