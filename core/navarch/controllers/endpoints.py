"""The Endpoints controller (Kubernetes' pkg/controller/endpoint): the legacy
``Endpoints`` object of each Service with a selector, named like the Service.

One subset per port set (Kubernetes' RepackSubsets): ready pods under ``addresses``,
the others under ``notReadyAddresses``; a terminating pod is left out unless the
Service publishes not-ready addresses. The pods and their conditions are the
EndpointSlice controller's (:mod:`navarch.controllers.endpointslice_plan`). A Service
deleted, or without a selector any more, loses the Endpoints this controller made
(Endpoints have no owner reference, as in Kubernetes).
"""

from __future__ import annotations

import contextlib
from typing import Any

from navarch import api
from navarch.client.errors import AlreadyExists, Conflict, NotFound
from navarch.controllers.context import ControllerContext
from navarch.controllers.endpointslice_plan import (
    EndpointOfPod,
    endpoints_of,
    has_selector,
    port_dicts,
    selected_pods,
)
from navarch.controllers.endpointslice_triggers import ServiceEndpointsController

NAME = "endpoints"
# Set on the Endpoints objects this controller keeps, so a user's own (a Service
# without a selector) are never touched.
MANAGED_BY_LABEL = "endpoints.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpoint-controller"
Obj = dict[str, Any]


def subsets(endpoints: list[EndpointOfPod], publish_not_ready: bool) -> list[Obj]:
    groups: dict[tuple[tuple[str, str, int], ...], Obj] = {}
    for endpoint in endpoints:
        if endpoint.terminating and not publish_not_ready:
            continue
        subset = groups.setdefault(endpoint.ports, {"addresses": [], "notReadyAddresses": []})
        address: Obj = {"ip": endpoint.ip, "targetRef": dict(endpoint.target_ref)}
        if endpoint.node_name:
            address["nodeName"] = endpoint.node_name
        if endpoint.hostname:
            address["hostname"] = endpoint.hostname
        which = "addresses" if endpoint.ready else "notReadyAddresses"
        subset[which].append(address)
    result = []
    for ports, subset in sorted(groups.items()):
        if not ports:
            continue  # no port of the Service resolves on these pods
        packed = {k: v for k, v in subset.items() if v}
        packed["ports"] = [{k: v for k, v in p.items() if v != ""} for p in port_dicts(ports)]
        result.append(packed)
    return result


class EndpointsController(ServiceEndpointsController):
    def __init__(self, context: ControllerContext):
        super().__init__(context)
        self.endpoints = context.informers.informer("endpoints")
        self.endpoints.add_handler(on_update=lambda old, new: self._mine(new), on_delete=self._mine)

    def _mine(self, endpoints: Any) -> None:
        if endpoints.labels.get(MANAGED_BY_LABEL) == CONTROLLER_NAME:
            self.enqueue(endpoints)

    async def sync(self, key: str) -> float | None:
        namespace, _, name = key.partition("/")
        service = self.services.get(key)
        current = self.endpoints.get(key)
        mine = current is not None and current.labels.get(MANAGED_BY_LABEL) == CONTROLLER_NAME
        svc = api.dump(service) if service is not None else None
        if svc is None or svc["metadata"].get("deletionTimestamp") or not has_selector(svc):
            if mine:
                with contextlib.suppress(NotFound):
                    await self.client.endpoints.delete(name, namespace)
            return None
        pods = [api.dump(p) for p in self.pods.list() if p.namespace == namespace]
        nodes = {n.name: api.dump(n) for n in self.nodes.list()}
        found = endpoints_of(svc, selected_pods(svc, pods), nodes)
        publish = bool((svc.get("spec") or {}).get("publishNotReadyAddresses"))
        labels = {
            **(svc["metadata"].get("labels") or {}),
            MANAGED_BY_LABEL: CONTROLLER_NAME,
        }
        wanted: Obj = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
        }
        packed = subsets(found, publish)
        if packed:
            wanted["subsets"] = packed
        if current is None:
            try:
                await self.client.endpoints.create(wanted, namespace)
            except AlreadyExists:
                return 0.0
            return None
        existing = api.dump(current)
        if (
            existing.get("subsets") == wanted.get("subsets")
            and (existing["metadata"].get("labels") or {}) == labels
        ):
            return None
        existing["metadata"]["labels"] = labels
        existing.pop("subsets", None)
        if packed:
            existing["subsets"] = packed
        try:
            await self.client.endpoints.update(existing, namespace)
        except (Conflict, NotFound):
            return 0.0
        return None
