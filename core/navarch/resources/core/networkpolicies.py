"""NetworkPolicies (networking.k8s.io/v1, ``netpol``): how the API server serves them.

Defaults are Kubernetes' (SetDefaults_NetworkPolicy and _NetworkPolicyPort): an empty
``spec.podSelector`` (every pod of the namespace) when left out, ``policyTypes``
Ingress, plus Egress when there are egress rules, when it names none, and protocol TCP
on every port. There is no status (Kubernetes removed it). Enforcement is each node's
(:mod:`navarch.netpol`).
"""

from __future__ import annotations

from typing import Any

from navarch.api.errors import FieldError
from navarch.api.networking_v1 import POLICY_EGRESS, POLICY_INGRESS, NetworkPolicy
from navarch.api.validation.networkpolicies import validate_network_policy
from navarch.printers.networkpolicies import NETWORK_POLICY_PRINTER
from navarch.resources.spec import Resource
from navarch.resources.strategy import DELETE_DEPENDENTS, Obj, Strategy


def _default_ports(rules: Any) -> None:
    for rule in rules if isinstance(rules, list) else []:
        ports = rule.get("ports") if isinstance(rule, dict) else None
        for port in ports if isinstance(ports, list) else []:
            if isinstance(port, dict) and not port.get("protocol"):
                port["protocol"] = "TCP"


class NetworkPolicyStrategy(Strategy):
    garbage_collection = DELETE_DEPENDENTS
    tracks_generation = True

    def default(self, obj: Obj) -> None:
        if obj.get("spec") is None:
            obj["spec"] = {}
        spec = obj["spec"]
        if not isinstance(spec, dict):
            return
        if spec.get("podSelector") is None:
            spec["podSelector"] = {}
        _default_ports(spec.get("ingress"))
        _default_ports(spec.get("egress"))
        if not spec.get("policyTypes"):
            spec["policyTypes"] = [POLICY_INGRESS] + ([POLICY_EGRESS] if spec.get("egress") else [])

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_network_policy(obj)


NETWORK_POLICIES = Resource.for_model(
    NetworkPolicy,
    short_names=("netpol",),
    strategy=NetworkPolicyStrategy(),
    printer=NETWORK_POLICY_PRINTER,
    description="NetworkPolicy describes what network traffic is allowed for a set of Pods.",
)

RESOURCES: tuple[Resource, ...] = (NETWORK_POLICIES,)
