"""The ``nodedns`` controller: the endpoints of the ``kube-system/kube-dns`` Service
are the nodes' own DNS servers (:mod:`navarch.dns.node`), not pods.

Each agent serving cluster DNS announces where on its Node
(``metadata.annotations["navarch.io/dns-address"] = "<ip>:<port>"``). This controller
keeps EndpointSlices for ``kube-dns`` with one endpoint per Ready node announcing one,
``nodeName`` set, so that the Service proxy, with the Service's
``internalTrafficPolicy: Local``, sends each pod to its own node's server. Nodes
announcing different ports (several agents on one machine, the tests) get one slice
per port and address family: ``kube-dns-<port>`` (``kube-dns-v6-<port>``), each with the
ports ``dns`` (UDP) and ``dns-tcp`` (TCP). A node that is not Ready, or stops
announcing, drops out; slices left with no endpoint are deleted.

The slices carry ``endpointslice.kubernetes.io/managed-by: nodedns.navarch.io``: the
EndpointSlice controller leaves them alone (the Service has no selector) and this one
touches no other. Every change of a node or of these slices syncs the one key.
"""

from __future__ import annotations

import contextlib
import ipaddress
from typing import Any

from navarch import api
from navarch.api.core_v1_endpoints import MANAGED_BY_LABEL, SERVICE_NAME_LABEL
from navarch.client.errors import AlreadyExists, Conflict, NotFound
from navarch.controllers.base import QueueController
from navarch.controllers.context import ControllerContext
from navarch.controllers.endpointslice_plan import condition_true
from navarch.dns import ADDRESS_ANNOTATION as ANNOTATION
from navarch.dns import SERVICE_NAME as SERVICE
from navarch.dns import SERVICE_NAMESPACE as NAMESPACE
from navarch.dns.server import split_host_port

NAME = "nodedns"
CONTROLLER_NAME = "nodedns.navarch.io"
KEY = f"{NAMESPACE}/{SERVICE}"
Obj = dict[str, Any]


def announced(node: Obj) -> tuple[str, int] | None:
    """The node's (ip, port) when it is Ready and announces a valid address."""
    text = ((node.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION)
    if not text or not condition_true(node, "Ready"):
        return None
    try:
        ip, port = split_host_port(text)
        ipaddress.ip_address(ip)
    except ValueError:
        return None
    if not 0 < port < 65536:
        return None
    return ip, port


def desired_slices(nodes: list[Obj]) -> dict[str, Obj]:
    """Slice name -> slice, for the nodes' announcements."""
    groups: dict[tuple[int, int], list[tuple[str, str]]] = {}
    for node in nodes:
        found = announced(node)
        if found is None:
            continue
        ip, port = found
        family: int = ipaddress.ip_address(ip).version
        groups.setdefault((family, port), []).append((node["metadata"]["name"], ip))
    slices = {}
    for (family, port), members in sorted(groups.items()):
        name = f"{SERVICE}-{port}" if family == 4 else f"{SERVICE}-v6-{port}"
        slices[name] = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": name,
                "namespace": NAMESPACE,
                "labels": {SERVICE_NAME_LABEL: SERVICE, MANAGED_BY_LABEL: CONTROLLER_NAME},
            },
            "addressType": "IPv4" if family == 4 else "IPv6",
            "endpoints": [
                {
                    "addresses": [ip],
                    "conditions": {"ready": True, "serving": True, "terminating": False},
                    "nodeName": node_name,
                }
                for node_name, ip in sorted(members)
            ],
            "ports": [
                {"name": "dns", "port": port, "protocol": "UDP"},
                {"name": "dns-tcp", "port": port, "protocol": "TCP"},
            ],
        }
    return slices


class NodeDnsController(QueueController):
    workers = 1  # one key

    def __init__(self, context: ControllerContext):
        super().__init__(context)
        self.nodes = context.informers.informer("nodes")
        self.slices = context.informers.informer("endpointslices")
        self.nodes.add_handler(self._wake, lambda old, new: self._wake(new), self._wake)
        self.slices.add_handler(self._slice, lambda old, new: self._slice(new), self._slice)

    def _wake(self, _obj: Any = None) -> None:
        self.queue.add(KEY)

    def _slice(self, endpoint_slice: Any) -> None:
        if endpoint_slice.labels.get(MANAGED_BY_LABEL) == CONTROLLER_NAME:
            self._wake()

    async def sync(self, key: str) -> float | None:
        wanted = desired_slices([api.dump(n) for n in self.nodes.list()])
        current = {
            s.name: s
            for s in self.slices.list()
            if s.namespace == NAMESPACE and s.labels.get(MANAGED_BY_LABEL) == CONTROLLER_NAME
        }
        again = None
        for name, body in wanted.items():
            existing = current.get(name)
            try:
                if existing is None:
                    await self.client.endpointslices.create(body, NAMESPACE)
                    self.log.bind(slice=name, nodes=len(body["endpoints"])).info("slice made")
                    continue
                old = api.dump(existing)
                if all(old.get(f) == body[f] for f in ("addressType", "endpoints", "ports")):
                    continue
                old.update({f: body[f] for f in ("endpoints", "ports")})
                await self.client.endpointslices.update(old, NAMESPACE)
                self.log.bind(slice=name, nodes=len(body["endpoints"])).info("slice updated")
            except (AlreadyExists, Conflict, NotFound):
                again = 0.0  # the cache was behind: look again with the newer one
        for name in current.keys() - wanted.keys():
            with contextlib.suppress(NotFound):
                await self.client.endpointslices.delete(name, NAMESPACE)
            self.log.bind(slice=name).info("slice deleted: no node serves DNS on its port")
        return again
