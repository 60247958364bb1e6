"""What the endpoints of a Service are, from its pods and their nodes (pure functions on
wire dicts, shared by the EndpointSlice and Endpoints controllers; Kubernetes'
pkg/controller/util/endpoint and endpointslice/utils).

A pod is an endpoint of a Service when the selector matches it, it is not finished
(Succeeded/Failed) and it has an IP: ``status.podIPs`` / ``status.podIP``, or for a
``hostNetwork`` pod its node's InternalIP. Its conditions, as Kubernetes sets them:

* ``serving``: the pod is Ready — and (Navarch adds what Kubernetes leaves to the node
  lifecycle controller marking pods NotReady) its node is Ready;
* ``terminating``: the pod is being deleted;
* ``ready``: serving and not terminating, or always when the Service sets
  ``publishNotReadyAddresses``.

A service port's ``targetPort`` by name is looked up in the pod's container ports
(``FindPort``); a pod without that port is left out of that port, so pods resolving
ports differently land in different slices (one port set per slice).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from navarch.api import selectors
from navarch.api.core_v1_service import EXTERNAL_NAME

ZONE_LABEL = "topology.kubernetes.io/zone"
Obj = dict[str, Any]


def has_selector(service: Obj) -> bool:
    """Whether the controllers keep the Service's endpoints (else they are the user's)."""
    spec = service.get("spec") or {}
    return bool(spec.get("selector")) and spec.get("type") != EXTERNAL_NAME


def selected_pods(service: Obj, pods: Iterable[Obj]) -> list[Obj]:
    selector = selectors.from_match((service.get("spec") or {}).get("selector"))
    return [p for p in pods if selector.matches((p.get("metadata") or {}).get("labels"))]


def condition_true(obj: Obj, kind: str) -> bool:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return condition.get("status") == "True"
    return False


def node_ip(node: Obj | None) -> str:
    for address in ((node or {}).get("status") or {}).get("addresses") or []:
        if address.get("type") == "InternalIP":
            return str(address.get("address") or "")
    return ""


def pod_ip(pod: Obj, node: Obj | None) -> str:
    status = pod.get("status") or {}
    ips = [entry.get("ip") for entry in status.get("podIPs") or [] if entry.get("ip")]
    if ips:
        return str(ips[0])
    if status.get("podIP"):
        return str(status["podIP"])
    if (pod.get("spec") or {}).get("hostNetwork"):
        return node_ip(node)
    return ""


def address_type(ip: str) -> str:
    return "IPv6" if ipaddress.ip_address(ip).version == 6 else "IPv4"


def find_port(pod: Obj, service_port: Obj) -> int | None:
    """The pod's port for ``service_port`` (Kubernetes' podutil.FindPort)."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol") or "TCP"
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return int(port["containerPort"])
    return None


@attrs.frozen
class EndpointOfPod:
    """One pod as an endpoint; ``ports`` are (name, protocol, port) it resolves."""

    pod_name: str
    ip: str
    ready: bool
    serving: bool
    terminating: bool
    node_name: str
    zone: str
    hostname: str
    target_ref: Mapping[str, str]
    ports: tuple[tuple[str, str, int], ...]

    def slice_endpoint(self) -> Obj:
        endpoint: Obj = {
            "addresses": [self.ip],
            "conditions": {
                "ready": self.ready,
                "serving": self.serving,
                "terminating": self.terminating,
            },
            "targetRef": dict(self.target_ref),
        }
        if self.hostname:
            endpoint["hostname"] = self.hostname
        if self.node_name:
            endpoint["nodeName"] = self.node_name
        if self.zone:
            endpoint["zone"] = self.zone
        return endpoint


def endpoints_of(service: Obj, pods: list[Obj], nodes: Mapping[str, Obj]) -> list[EndpointOfPod]:
    """The endpoints of ``service`` among ``pods`` (already matched by its selector),
    sorted by pod name so slices fill the same way on every sync."""
    spec = service.get("spec") or {}
    publish_not_ready = bool(spec.get("publishNotReadyAddresses"))
    service_name = (service.get("metadata") or {}).get("name", "")
    result = []
    for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
        meta, pod_spec = pod["metadata"], pod.get("spec") or {}
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        node_name = pod_spec.get("nodeName") or ""
        node = nodes.get(node_name)
        ip = pod_ip(pod, node)
        if not ip:
            continue
        node_ready = node is not None and condition_true(node, "Ready")
        serving = condition_true(pod, "Ready") and node_ready
        terminating = bool(meta.get("deletionTimestamp"))
        ports = []
        for port in spec.get("ports") or []:
            number = find_port(pod, port)
            if number is not None:
                ports.append((port.get("name") or "", port.get("protocol") or "TCP", number))
        hostname = ""
        if pod_spec.get("hostname") and pod_spec.get("subdomain") == service_name:
            hostname = pod_spec["hostname"]
        result.append(
            EndpointOfPod(
                pod_name=meta["name"],
                ip=ip,
                ready=publish_not_ready or (serving and not terminating),
                serving=serving,
                terminating=terminating,
                node_name=node_name,
                zone=((node or {}).get("metadata") or {}).get("labels", {}).get(ZONE_LABEL, ""),
                hostname=hostname,
                target_ref={
                    "kind": "Pod",
                    "namespace": meta.get("namespace", ""),
                    "name": meta["name"],
                    "uid": meta.get("uid", ""),
                },
                ports=tuple(ports),
            )
        )
    return result


def port_dicts(ports: tuple[tuple[str, str, int], ...]) -> list[Obj]:
    return [{"name": name, "protocol": protocol, "port": port} for name, protocol, port in ports]
