"""core/v1 Service: one stable address (a ClusterIP, NodePorts) for the pods a label
selector picks. The API server allocates the addresses
(:mod:`navarch.apiserver.serviceallocation`); the EndpointSlice controller lists the
pods behind them. Nothing routes traffic to a ClusterIP yet (no service proxy).
"""

from __future__ import annotations

from navarch.api.meta import TopLevel
from navarch.api.schema import IntOrString, Model, model, wire

CLUSTER_IP = "ClusterIP"
NODE_PORT = "NodePort"
LOAD_BALANCER = "LoadBalancer"
EXTERNAL_NAME = "ExternalName"
SERVICE_TYPES = (CLUSTER_IP, EXTERNAL_NAME, NODE_PORT, LOAD_BALANCER)
# spec.clusterIP of a headless Service: no address, DNS answers with the pods'.
CLUSTER_IP_NONE = "None"
AFFINITY_NONE, AFFINITY_CLIENT_IP = "None", "ClientIP"
POLICY_CLUSTER, POLICY_LOCAL = "Cluster", "Local"
SINGLE_STACK, PREFER_DUAL_STACK, REQUIRE_DUAL_STACK = (
    "SingleStack",
    "PreferDualStack",
    "RequireDualStack",
)
IPV4, IPV6 = "IPv4", "IPv6"
PROTOCOLS = ("TCP", "UDP", "SCTP")
# Kubernetes' default sessionAffinityConfig.clientIP.timeoutSeconds (three hours).
DEFAULT_CLIENT_IP_TIMEOUT_SECONDS = 10800


def needs_node_ports(service_type: str | None) -> bool:
    return service_type in (NODE_PORT, LOAD_BALANCER)


@model(kubernetes_only=("appProtocol",))
class ServicePort(Model):
    name: str | None = wire()
    protocol: str | None = wire()
    port: int | None = wire()
    target_port: IntOrString | None = wire()
    node_port: int | None = wire()


@model(
    kubernetes_only=(
        "sessionAffinityConfig",
        "loadBalancerSourceRanges",
        "loadBalancerIP",
        "healthCheckNodePort",
        "trafficDistribution",
    )
)
class ServiceSpec(Model):
    type: str | None = wire()
    ports: tuple[ServicePort, ...] | None = wire()
    selector: dict[str, str] | None = wire()
    cluster_ip: str | None = wire("clusterIP")
    cluster_ips: tuple[str, ...] | None = wire("clusterIPs")
    external_ips: tuple[str, ...] | None = wire("externalIPs")
    external_name: str | None = wire()
    session_affinity: str | None = wire()
    external_traffic_policy: str | None = wire()
    internal_traffic_policy: str | None = wire()
    ip_families: tuple[str, ...] | None = wire("ipFamilies")
    ip_family_policy: str | None = wire()
    publish_not_ready_addresses: bool | None = wire()
    allocate_load_balancer_node_ports: bool | None = wire()
    # Which load balancer implementation serves it: none or navarch.io/servicelb is the
    # ServiceLB controller's (navarch.controllers.servicelb); any other is left alone.
    load_balancer_class: str | None = wire()


@model(kubernetes_only=("ports", "ipMode"))
class LoadBalancerIngress(Model):
    ip: str | None = wire()
    hostname: str | None = wire()


@model()
class LoadBalancerStatus(Model):
    ingress: tuple[LoadBalancerIngress, ...] | None = wire()


@model(kubernetes_only=("conditions",))
class ServiceStatus(Model):
    load_balancer: LoadBalancerStatus | None = wire()


@model()
class Service(TopLevel):
    API_VERSION, KIND, RESOURCE = "v1", "Service", "services"

    spec: ServiceSpec | None = wire()
    status: ServiceStatus | None = wire()
