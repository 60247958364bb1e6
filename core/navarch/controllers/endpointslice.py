"""The EndpointSlice controller (Kubernetes' pkg/controller/endpointslice): for every
Service with a selector, EndpointSlices listing the pods it selects.

A sync of one Service (its key) reads the caches: the pods its selector matches, their
nodes, and the slices it manages (labelled ``kubernetes.io/service-name=<svc>`` and
``endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io``, owned by
the Service). The endpoints (:mod:`navarch.controllers.endpointslice_plan`) are grouped
by address type and port set, each group cut into slices of at most
``MAX_ENDPOINTS_PER_SLICE`` (100, Kubernetes' default); existing slices of the same
group are reused in name order, changed ones updated, missing ones created
(``generateName: <svc>-``) and the rest deleted. A Service with no endpoints keeps one
empty slice (Kubernetes' placeholder). A Service without a selector is left alone: its
slices are the user's. A deleted Service's slices go with it (garbage collector,
through their owner reference).

Wake-ups: those of :mod:`navarch.controllers.endpointslice_triggers` (Services, pods,
nodes), and a managed slice changing or going (its Service: a slice edited by hand is
put back).
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any

from navarch import api
from navarch.api.core_v1_endpoints import MANAGED_BY_LABEL, SERVICE_NAME_LABEL
from navarch.api.core_v1_service import CLUSTER_IP_NONE
from navarch.client.errors import Conflict, NotFound
from navarch.controllers.context import ControllerContext
from navarch.controllers.endpointslice_plan import (
    EndpointOfPod,
    address_type,
    endpoints_of,
    has_selector,
    port_dicts,
    selected_pods,
)
from navarch.controllers.endpointslice_triggers import ServiceEndpointsController

NAME = "endpointslice"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
HEADLESS_LABEL = "service.kubernetes.io/headless"
Obj = dict[str, Any]
GroupKey = tuple[str, tuple[tuple[str, str, int], ...]]


# Kubernetes' default --max-endpoints-per-slice.
MAX_ENDPOINTS_PER_SLICE = 100


def desired_slices(service: Obj, endpoints: list[EndpointOfPod], per_slice: int) -> list[Obj]:
    """The slices wanted, without names: (addressType, ports, endpoints) per group,
    cut at ``per_slice``; one empty slice when there is no endpoint."""
    groups: dict[GroupKey, list[Obj]] = {}
    for endpoint in endpoints:
        key = (address_type(endpoint.ip), endpoint.ports)
        groups.setdefault(key, []).append(endpoint.slice_endpoint())
    if not groups:
        families = (service.get("spec") or {}).get("ipFamilies") or ["IPv4"]
        return [{"addressType": families[0], "ports": None, "endpoints": []}]
    wanted = []
    for (kind, ports), members in sorted(groups.items()):
        for start in range(0, len(members), per_slice):
            wanted.append(
                {
                    "addressType": kind,
                    "ports": port_dicts(ports),
                    "endpoints": members[start : start + per_slice],
                }
            )
    return wanted


def slice_labels(service: Obj) -> dict[str, str]:
    meta, spec = service["metadata"], service.get("spec") or {}
    labels = dict(meta.get("labels") or {})
    labels[SERVICE_NAME_LABEL] = meta["name"]
    labels[MANAGED_BY_LABEL] = CONTROLLER_NAME
    if spec.get("clusterIP") == CLUSTER_IP_NONE:
        labels[HEADLESS_LABEL] = ""
    return labels


def owner_reference(service: Obj) -> Obj:
    meta = service["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "name": meta["name"],
        "uid": meta.get("uid", ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _group_of(slice_: Obj) -> tuple[str, str]:
    return str(slice_.get("addressType")), repr(slice_.get("ports") or None)


def _content(slice_: Obj) -> tuple[Any, ...]:
    meta = slice_.get("metadata") or {}
    return (
        slice_.get("endpoints") or [],
        slice_.get("ports") or None,
        meta.get("labels") or {},
        meta.get("ownerReferences") or [],
    )


class EndpointSliceController(ServiceEndpointsController):
    def __init__(self, context: ControllerContext, per_slice: int = MAX_ENDPOINTS_PER_SLICE):
        super().__init__(context)
        self.per_slice = per_slice
        self.slices = context.informers.informer("endpointslices")
        self.slices.add_handler(on_update=lambda old, new: self._slice(new), on_delete=self._slice)

    def _slice(self, slice_: Any) -> None:
        labels = slice_.labels
        if labels.get(MANAGED_BY_LABEL) == CONTROLLER_NAME and labels.get(SERVICE_NAME_LABEL):
            self.queue.add(f"{slice_.namespace}/{labels[SERVICE_NAME_LABEL]}")

    # --- sync -------------------------------------------------------------------------

    async def sync(self, key: str) -> float | None:
        namespace, _, name = key.partition("/")
        service = self.services.get(key)
        if service is None:
            return None  # its slices go with it (owner references)
        svc = api.dump(service)
        if svc["metadata"].get("deletionTimestamp") or not has_selector(svc):
            return None
        pods = [api.dump(p) for p in self.pods.list() if p.namespace == namespace]
        nodes = {n.name: api.dump(n) for n in self.nodes.list()}
        endpoints = endpoints_of(svc, selected_pods(svc, pods), nodes)
        wanted = desired_slices(svc, endpoints, self.per_slice)
        existing = sorted(
            (
                api.dump(s)
                for s in self.slices.list()
                if s.namespace == namespace
                and s.labels.get(SERVICE_NAME_LABEL) == name
                and s.labels.get(MANAGED_BY_LABEL) == CONTROLLER_NAME
            ),
            key=lambda s: s["metadata"]["name"],
        )
        await self._reconcile(svc, wanted, existing)
        return None

    async def _reconcile(self, svc: Obj, wanted: list[Obj], existing: list[Obj]) -> None:
        namespace = svc["metadata"]["namespace"]
        labels, owner = slice_labels(svc), owner_reference(svc)
        unused: dict[tuple[str, str], list[Obj]] = {}
        for current in existing:
            unused.setdefault(_group_of(current), []).append(current)
        for slice_ in wanted:
            reuse = unused.get(_group_of(slice_)) or []
            if not reuse:
                body: Obj = {
                    "apiVersion": "discovery.k8s.io/v1",
                    "kind": "EndpointSlice",
                    "metadata": {
                        "generateName": f"{svc['metadata']['name']}-",
                        "namespace": namespace,
                        "labels": labels,
                        "ownerReferences": [owner],
                    },
                    **{k: v for k, v in slice_.items() if v is not None},
                }
                created = await self.client.endpointslices.create(body, namespace)
                self.log.bind(service=f"{namespace}/{svc['metadata']['name']}").bind(
                    slice=created.name, endpoints=len(slice_["endpoints"])
                ).info("created an EndpointSlice")
                continue
            current = reuse.pop(0)
            updated = copy.deepcopy(current)
            updated["metadata"]["labels"] = labels
            updated["metadata"]["ownerReferences"] = [owner]
            updated["endpoints"] = slice_["endpoints"]
            if slice_["ports"] is None:
                updated.pop("ports", None)
            else:
                updated["ports"] = slice_["ports"]
            if _content(updated) != _content(current):
                try:
                    await self.client.endpointslices.update(updated, namespace)
                except (Conflict, NotFound):
                    self.queue.add(f"{namespace}/{svc['metadata']['name']}")
        for leftovers in unused.values():
            for current in leftovers:
                with contextlib.suppress(NotFound):
                    await self.client.endpointslices.delete(current["metadata"]["name"], namespace)
