"""Services (core/v1): how the API server serves them.

Defaults are Kubernetes' (SetDefaults_Service, and the service REST storage's IP family
fields): type ClusterIP, sessionAffinity None, ports TCP with targetPort the port,
SingleStack IPv4, internalTrafficPolicy Cluster, externalTrafficPolicy Cluster for
NodePort and LoadBalancer. An update keeps what the API server allocated when the new
object leaves it out (the REST storage's patchAllocatedValues: ``kubectl apply`` of a
manifest without a clusterIP), and drops what the new type has no use for (a ClusterIP
going to ExternalName, NodePorts going to ClusterIP). The addresses themselves are
allocated by :mod:`navarch.apiserver.serviceallocation`, hooked on the write path.
"""

from __future__ import annotations

from typing import Any

from navarch.api.core_v1_service import (
    AFFINITY_CLIENT_IP,
    AFFINITY_NONE,
    CLUSTER_IP,
    DEFAULT_CLIENT_IP_TIMEOUT_SECONDS,
    EXTERNAL_NAME,
    IPV4,
    LOAD_BALANCER,
    POLICY_CLUSTER,
    SINGLE_STACK,
    Service,
    needs_node_ports,
)
from navarch.api.errors import FieldError
from navarch.api.validation.services import (
    dns1035_label,
    validate_service,
    validate_service_update,
)
from navarch.printers.services import SERVICE_PRINTER
from navarch.resources.spec import Resource
from navarch.resources.strategy import DELETE_DEPENDENTS, Obj, Strategy


def _spec(obj: Obj) -> dict[str, Any]:
    spec = obj.get("spec")
    if spec is None:
        spec = obj["spec"] = {}
    return spec if isinstance(spec, dict) else {}


def _port_key(port: dict[str, Any]) -> tuple[Any, Any]:
    return port.get("port"), port.get("protocol") or "TCP"


class ServiceStrategy(Strategy):
    has_status = True
    garbage_collection = DELETE_DEPENDENTS

    def default(self, obj: Obj) -> None:
        spec = _spec(obj)
        spec.setdefault("type", CLUSTER_IP)
        spec["type"] = spec["type"] or CLUSTER_IP
        if not spec.get("sessionAffinity"):
            spec["sessionAffinity"] = AFFINITY_NONE
        if spec["sessionAffinity"] == AFFINITY_CLIENT_IP and not spec.get("sessionAffinityConfig"):
            spec["sessionAffinityConfig"] = {
                "clientIP": {"timeoutSeconds": DEFAULT_CLIENT_IP_TIMEOUT_SECONDS}
            }
        ports = spec.get("ports")
        for port in ports if isinstance(ports, list) else []:
            if not isinstance(port, dict):
                continue
            if not port.get("protocol"):
                port["protocol"] = "TCP"
            if port.get("targetPort") in (None, 0, ""):
                port["targetPort"] = port.get("port")
        service_type = spec["type"]
        if needs_node_ports(service_type) and not spec.get("externalTrafficPolicy"):
            spec["externalTrafficPolicy"] = POLICY_CLUSTER
        if service_type == LOAD_BALANCER and spec.get("allocateLoadBalancerNodePorts") is None:
            spec["allocateLoadBalancerNodePorts"] = True
        if service_type == EXTERNAL_NAME:
            return
        if not spec.get("internalTrafficPolicy"):
            spec["internalTrafficPolicy"] = POLICY_CLUSTER
        cluster_ip = spec.get("clusterIP")
        if cluster_ip and not spec.get("clusterIPs"):
            spec["clusterIPs"] = [cluster_ip]
        elif not cluster_ip and isinstance(spec.get("clusterIPs"), list) and spec["clusterIPs"]:
            spec["clusterIP"] = spec["clusterIPs"][0]
        if not spec.get("ipFamilyPolicy"):
            spec["ipFamilyPolicy"] = SINGLE_STACK
        if not spec.get("ipFamilies"):
            spec["ipFamilies"] = [IPV4]

    def validate_name(self, name: str) -> list[str]:
        return dns1035_label(name)

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_service(obj)

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return validate_service_update(new, old)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        spec, old_spec = _spec(new), old.get("spec") or {}
        new_type = spec.get("type") or CLUSTER_IP
        _drop_type_dependent_fields(spec, old_spec, new_type)
        if new_type != LOAD_BALANCER and isinstance(new.get("status"), dict):
            # Kubernetes clears a load balancer no longer wanted at once, not when its
            # controller gets to it.
            new["status"].pop("loadBalancer", None)
        if new_type == EXTERNAL_NAME:
            if old_spec.get("type") != EXTERNAL_NAME:
                for field in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                    if spec.get(field) == old_spec.get(field):
                        spec.pop(field, None)
        elif (
            not spec.get("clusterIP") and not spec.get("clusterIPs") and old_spec.get("clusterIP")
        ):  # left out: keep the allocated one
            spec["clusterIP"] = old_spec["clusterIP"]
            spec["clusterIPs"] = list(old_spec.get("clusterIPs") or [old_spec["clusterIP"]])
        old_ports = {_port_key(p): p.get("nodePort") for p in old_spec.get("ports") or []}
        ports = spec.get("ports")
        for port in ports if isinstance(ports, list) else []:
            if not isinstance(port, dict):
                continue
            if needs_node_ports(new_type):
                if not port.get("nodePort") and old_ports.get(_port_key(port)):
                    port["nodePort"] = old_ports[_port_key(port)]
            elif port.get("nodePort") and port.get("nodePort") == old_ports.get(_port_key(port)):
                port.pop("nodePort")  # the old type's port, not asked for again


def _drop_type_dependent_fields(
    spec: dict[str, Any], old_spec: dict[str, Any], new_type: str
) -> None:
    """Kubernetes' dropTypeDependentFields: what the old type had and the new one has no
    use for goes, when the update left it as it was (a user setting it anew is told
    by validation that it does not fit)."""
    old_type = old_spec.get("type") or CLUSTER_IP
    if old_type == LOAD_BALANCER and new_type != LOAD_BALANCER:
        for field in ("allocateLoadBalancerNodePorts", "loadBalancerClass"):
            if field in spec and spec.get(field) == old_spec.get(field):
                spec.pop(field)
    if needs_node_ports(old_type) and not needs_node_ports(new_type):
        policy = spec.get("externalTrafficPolicy")
        if (
            policy
            and policy == old_spec.get("externalTrafficPolicy")
            and not spec.get("externalIPs")
        ):
            spec.pop("externalTrafficPolicy")


SERVICES = Resource.for_model(
    Service,
    short_names=("svc",),
    categories=("all",),
    subresources=("status",),
    strategy=ServiceStrategy(),
    printer=SERVICE_PRINTER,
    description="Service is a named abstraction of software service (for example, mysql) "
    "consisting of local port (for example 3306) that the proxy listens on, and the "
    "selector that determines which pods will answer requests sent through the proxy.",
)

RESOURCES: tuple[Resource, ...] = (SERVICES,)
