"""The ServiceLB controller (k3s' ServiceLB, formerly Klipper): a LoadBalancer Service
gets the nodes' addresses as its load balancer.

For each Service of type LoadBalancer with no ``spec.loadBalancerClass`` (or ours,
``navarch.io/servicelb``), ``status.loadBalancer.ingress`` is the InternalIP of every
Ready, schedulable node (not labelled ``node.kubernetes.io/exclude-from-external-load-
balancers``), sorted, and follows the nodes as they come, go, or fail. k3s makes a
DaemonSet of ``svclb`` pods holding each port as a hostPort on every node; Navarch's
nodes' Service proxy treats the ingress addresses like node addresses instead, so the
port answers there without a pod of its own.

As with k3s' hostPorts, one port/protocol serves one LoadBalancer Service: a Service
asking for a port that an older LoadBalancer Service (by creation time, then
namespace/name) already uses stays Pending — no ingress, and a Warning Event
``PortInUse`` naming the holder — until the holder goes or gives the port up. A
Service whose type changes away from LoadBalancer loses its ``status.loadBalancer``
in the same write (the API server's strategy, as Kubernetes' dropTypeDependentFields).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from navarch import api
from navarch.api.core_v1_service import LOAD_BALANCER
from navarch.client.errors import Conflict, NotFound
from navarch.controllers.base import QueueController
from navarch.controllers.context import ControllerContext

NAME = "servicelb"
LOAD_BALANCER_CLASS = "navarch.io/servicelb"
# Kubernetes' well-known label: a node that carries it takes no load balancer traffic.
EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
PORT_IN_USE = "PortInUse"
Obj = dict[str, Any]


def is_ours(svc: Obj) -> bool:
    spec = svc.get("spec") or {}
    return spec.get("type") == LOAD_BALANCER and spec.get("loadBalancerClass") in (
        None,
        LOAD_BALANCER_CLASS,
    )


def port_keys(svc: Obj) -> list[tuple[int, str]]:
    return [
        (int(p["port"]), str(p.get("protocol") or "TCP"))
        for p in (svc.get("spec") or {}).get("ports") or []
        if isinstance(p, dict) and isinstance(p.get("port"), int)
    ]


def _age_order(svc: Obj) -> tuple[str, str, str]:
    meta = svc.get("metadata") or {}
    return meta.get("creationTimestamp") or "", meta.get("namespace", ""), meta.get("name", "")


def _key(svc: Obj) -> str:
    meta = svc.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def node_ingress_address(node: Any) -> str | None:
    """The node's first InternalIP when it is Ready, schedulable and not excluded."""
    wire = api.dump(node)
    if EXCLUDE_LABEL in ((wire.get("metadata") or {}).get("labels") or {}):
        return None
    if (wire.get("spec") or {}).get("unschedulable"):
        return None
    status = wire.get("status") or {}
    if not any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    ):
        return None
    for address in status.get("addresses") or []:
        if address.get("type") == "InternalIP" and address.get("address"):
            return str(address["address"])
    return None


def ingress_of(nodes: list[Any]) -> list[Obj]:
    addresses = {a for a in (node_ingress_address(n) for n in nodes) if a}
    parsed = sorted((ipaddress.ip_address(a) for a in addresses), key=lambda a: (a.version, a))
    return [{"ip": str(a)} for a in parsed]


def holder_of_ports(svc: Obj, services: list[Obj]) -> tuple[Obj, tuple[int, str]] | None:
    """The older LoadBalancer Service of ours that holds a port ``svc`` asks for."""
    wanted = set(port_keys(svc))
    mine = _age_order(svc)
    holders = sorted(
        (o for o in services if is_ours(o) and _key(o) != _key(svc) and _age_order(o) < mine),
        key=_age_order,
    )
    for other in holders:
        shared = sorted(wanted & set(port_keys(other)))
        if shared:
            return other, shared[0]
    return None


class ServiceLBController(QueueController):
    def __init__(self, context: ControllerContext):
        super().__init__(context)
        self.services = context.informers.informer("services")
        self.nodes = context.informers.informer("nodes")
        # Service key -> the holder its last PortInUse Event named (one Event per holder).
        self._told: dict[str, str] = {}
        self.services.add_handler(
            on_add=self._service_changed,
            on_update=self._service_updated,
            on_delete=self._service_changed,
        )
        self.nodes.add_handler(
            on_add=self._node_changed,
            on_update=lambda old, new: self._node_changed(new, old),
            on_delete=self._node_changed,
        )

    def _service_updated(self, old: Any, new: Any) -> None:
        self._service_changed(old)
        self._service_changed(new)

    def _service_changed(self, service: Any) -> None:
        """The Service itself, and the LoadBalancer Services sharing one of its ports
        (a holder that goes frees the port for the next)."""
        self.enqueue(service)
        wire = api.dump(service)
        if not is_ours(wire):
            return  # holds no port: nobody waits for it
        ports = set(port_keys(wire))
        for other in self._load_balancers():
            if ports & set(port_keys(other)):
                self.queue.add(_key(other))

    def _node_changed(self, node: Any, old: Any | None = None) -> None:
        if old is not None and node_ingress_address(old) == node_ingress_address(node):
            return  # a heartbeat: nothing the ingress depends on changed
        for service in self._load_balancers():
            self.queue.add(_key(service))

    def _load_balancers(self) -> list[Obj]:
        """The LoadBalancer Services of ours, as wire dicts (only those are dumped:
        most Services are not LoadBalancers)."""
        candidates = (
            s for s in self.services.list() if s.spec is not None and s.spec.type == LOAD_BALANCER
        )
        return [wire for wire in map(api.dump, candidates) if is_ours(wire)]

    async def sync(self, key: str) -> float | None:
        service = self.services.get(key)
        if service is None:
            self._told.pop(key, None)
            return None
        svc = api.dump(service)
        current = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        if not is_ours(svc):  # a type changed away: the API server cleared the status
            self._told.pop(key, None)
            return None
        if (svc.get("metadata") or {}).get("deletionTimestamp"):
            return None
        held = holder_of_ports(svc, self._load_balancers())
        if held is not None:
            holder, (port, protocol) = held
            if current and not await self._publish(service, []):
                return 0.0
            if self._told.get(key) != _key(holder):
                self._told[key] = _key(holder)
                message = (
                    f"port {port}/{protocol} is already used by LoadBalancer Service "
                    f"{_key(holder)}; this Service stays pending until it is free"
                )
                self.log.bind(service=key, holder=_key(holder)).info("load balancer port in use")
                await self.context.recorder.record(service, "Warning", PORT_IN_USE, message)
            return None
        self._told.pop(key, None)
        wanted = ingress_of(self.nodes.list())
        if current != wanted:
            if not await self._publish(service, wanted):
                return 0.0
            self.log.bind(service=key, ingress=[i["ip"] for i in wanted]).info(
                "load balancer ingress published"
            )
        return None

    async def _publish(self, service: Any, ingress: list[Obj]) -> bool:
        """Write the ingress on the version of the Service it was worked out from
        (a type changed meanwhile must not get a load balancer back); False when
        that version is gone, to look again."""
        body: Obj = {
            "metadata": {"resourceVersion": service.metadata.resource_version},
            # a merge patch removes a key given as null
            "status": {"loadBalancer": {"ingress": ingress or None}},
        }
        try:
            await self.client.services.patch(
                service.name, body, service.namespace, subresource="status"
            )
        except Conflict:
            return False
        except NotFound:  # deleted meanwhile: nothing to publish
            pass
        return True
