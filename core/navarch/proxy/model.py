"""What the Service proxy needs of Services and EndpointSlices, reduced to plain records
(kube-proxy's ServicePortName, ServicePort and Endpoint): one :class:`ServicePort` per
port of a Service that has a ClusterIP, with the endpoints its EndpointSlices list for
that port.

Input is wire dicts (an informer's model objects go through ``to_dict()`` first), so the
renderer and the benchmark feed it without an API server. EndpointSlices already carry
the resolved port numbers (a named ``targetPort`` is looked up in each pod by the
EndpointSlice controller), so the proxy matches a slice's port to the Service's by
name and protocol, as kube-proxy does.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from navarch.api.core_v1_endpoints import SERVICE_NAME_LABEL
from navarch.api.core_v1_service import (
    AFFINITY_CLIENT_IP,
    CLUSTER_IP_NONE,
    DEFAULT_CLIENT_IP_TIMEOUT_SECONDS,
    EXTERNAL_NAME,
    POLICY_LOCAL,
    needs_node_ports,
)

Obj = Mapping[str, Any]
# The protocols a Service port may name, as nft spells them.
PROTOCOLS = {"TCP": "tcp", "UDP": "udp", "SCTP": "sctp"}


@attrs.frozen
class Endpoint:
    """One address and port serving a Service port (an EndpointSlice endpoint)."""

    ip: str
    port: int
    node_name: str = ""
    ready: bool = True
    serving: bool = True
    terminating: bool = False


@attrs.frozen
class ServicePort:
    """One port of one Service, with everything the rules for it depend on."""

    namespace: str
    name: str
    port_name: str
    protocol: str  # tcp | udp | sctp
    port: int
    cluster_ip: str
    node_port: int | None = None
    external_ips: tuple[str, ...] = ()
    load_balancer_ips: tuple[str, ...] = ()
    affinity_seconds: int | None = None  # sessionAffinity ClientIP's timeout
    internal_local: bool = False  # internalTrafficPolicy: Local
    external_local: bool = False  # externalTrafficPolicy: Local
    endpoints: tuple[Endpoint, ...] = ()

    @property
    def key(self) -> str:
        """``namespace/name/protocol/port-name`` (kube-proxy's ServicePortName)."""
        return f"{self.namespace}/{self.name}/{self.protocol}/{self.port_name or self.port}"

    @property
    def external_addresses(self) -> tuple[str, ...]:
        """Addresses answering on the service port besides the ClusterIP: externalIPs
        and the load balancer's ingress IPs (the node addresses ServiceLB publishes)."""
        return tuple(dict.fromkeys((*self.external_ips, *self.load_balancer_ips)))

    @property
    def has_external(self) -> bool:
        return bool(self.node_port or self.external_addresses)


def usable(endpoints: Iterable[Endpoint]) -> tuple[Endpoint, ...]:
    """The endpoints traffic goes to: the ready ones; when none is ready, the serving
    ones that are terminating (kube-proxy's fallback, so a rolling update's last old
    pod still answers while its successor starts)."""
    endpoints = tuple(endpoints)
    ready = tuple(e for e in endpoints if e.ready)
    if ready:
        return ready
    return tuple(e for e in endpoints if e.serving and e.terminating)


def _ipv4(value: Any) -> bool:
    try:
        return ipaddress.ip_address(str(value)).version == 4
    except ValueError:
        return False


def _endpoints_for(port: Obj, slices: Iterable[Obj]) -> tuple[Endpoint, ...]:
    name, protocol = port.get("name") or "", port.get("protocol") or "TCP"
    found: dict[tuple[str, int], Endpoint] = {}
    for slice_ in slices:
        if slice_.get("addressType", "IPv4") != "IPv4":
            continue  # the table is IPv4 only
        number = None
        for slice_port in slice_.get("ports") or []:
            if (slice_port.get("name") or "") == name and (
                slice_port.get("protocol") or "TCP"
            ) == protocol:
                number = slice_port.get("port")
        if not number:
            continue
        for endpoint in slice_.get("endpoints") or []:
            addresses = [a for a in endpoint.get("addresses") or [] if _ipv4(a)]
            if not addresses:
                continue
            conditions = endpoint.get("conditions") or {}
            # Kubernetes: an unset ready or serving means true, unset terminating false.
            ready = conditions.get("ready") is not False
            serving = conditions.get("serving", ready) is not False
            # The same endpoint may sit in two slices while the controller moves it.
            found.setdefault(
                (addresses[0], int(number)),
                Endpoint(
                    ip=addresses[0],
                    port=int(number),
                    node_name=endpoint.get("nodeName") or "",
                    ready=ready,
                    serving=serving,
                    terminating=bool(conditions.get("terminating")),
                ),
            )
    return tuple(sorted(found.values(), key=lambda e: (e.ip, e.port)))


def _affinity_seconds(spec: Obj) -> int | None:
    if spec.get("sessionAffinity") != AFFINITY_CLIENT_IP:
        return None
    client_ip = (spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}
    return int(client_ip.get("timeoutSeconds") or DEFAULT_CLIENT_IP_TIMEOUT_SECONDS)


def service_ports(services: Iterable[Obj], slices: Iterable[Obj]) -> list[ServicePort]:
    """The proxied ports of ``services`` with their endpoints from ``slices`` (matched
    by namespace and the ``kubernetes.io/service-name`` label), sorted by key.
    Headless and ExternalName Services, and IPv6 ClusterIPs, have no rules."""
    by_service: dict[tuple[str, str], list[Obj]] = {}
    for slice_ in slices:
        meta = slice_.get("metadata") or {}
        owner = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if owner:
            by_service.setdefault((meta.get("namespace") or "", owner), []).append(slice_)
    result = []
    for service in services:
        meta, spec = service.get("metadata") or {}, service.get("spec") or {}
        cluster_ip = spec.get("clusterIP") or ""
        if spec.get("type") == EXTERNAL_NAME or cluster_ip == CLUSTER_IP_NONE:
            continue
        if not _ipv4(cluster_ip):
            continue
        namespace, name = meta.get("namespace") or "", meta.get("name") or ""
        own_slices = by_service.get((namespace, name), [])
        ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        load_balancer_ips = tuple(i["ip"] for i in ingress if _ipv4(i.get("ip")))
        node_ports = needs_node_ports(spec.get("type"))
        for port in spec.get("ports") or []:
            protocol = PROTOCOLS.get(port.get("protocol") or "TCP")
            if protocol is None or not port.get("port"):
                continue
            result.append(
                ServicePort(
                    namespace=namespace,
                    name=name,
                    port_name=port.get("name") or "",
                    protocol=protocol,
                    port=int(port["port"]),
                    cluster_ip=cluster_ip,
                    node_port=int(port["nodePort"])
                    if node_ports and port.get("nodePort")
                    else None,
                    external_ips=tuple(ip for ip in spec.get("externalIPs") or [] if _ipv4(ip)),
                    load_balancer_ips=load_balancer_ips,
                    affinity_seconds=_affinity_seconds(spec),
                    internal_local=spec.get("internalTrafficPolicy") == POLICY_LOCAL,
                    external_local=spec.get("externalTrafficPolicy") == POLICY_LOCAL,
                    endpoints=_endpoints_for(port, own_slices),
                )
            )
    return sorted(result, key=lambda p: p.key)
