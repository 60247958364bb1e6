"""The scheduler's view of each node: what it offers and what is already asked of it.

Sums are kept incrementally (a pod added or removed changes them in O(1)), so a
scheduling cycle never re-adds the requests of every pod on every node. Quantities
are integers: CPU in millicores, memory in bytes, as Kubernetes' scheduler counts.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import attrs

from navarch.api.core_v1 import Node, Pod, Taint
from navarch.api.quantity import Quantity

# What a pod without requests counts as when *scoring* (never when fitting):
# Kubernetes' DefaultMilliCPURequest and DefaultMemoryRequest.
DEFAULT_SCORE_CPU = 100
DEFAULT_SCORE_MEMORY = 200 * 1024 * 1024


@attrs.frozen
class PodRequest:
    """A pod's demand, computed once per pod."""

    key: str
    cpu: int
    memory: int
    owner: str  # the controlling owner's uid ("" for none): spreading keeps replicas apart

    @classmethod
    def of(cls, pod: Pod) -> PodRequest:
        cpu = memory = 0
        for container in (pod.spec.containers if pod.spec else None) or ():
            resources = container.resources
            requests = dict((resources.requests if resources else None) or {})
            # Kubernetes: a container with limits but no requests requests its limits.
            for name, limit in ((resources.limits if resources else None) or {}).items():
                requests.setdefault(name, limit)
            cpu += _milli(requests.get("cpu"))
            memory += _whole(requests.get("memory"))
        owner = ""
        for ref in (pod.metadata.owner_references if pod.metadata else None) or ():
            if ref.controller:
                owner = ref.uid or ""
        return cls(pod.key(), cpu, memory, owner)


def _milli(quantity: Quantity | None) -> int:
    return quantity.milli() if quantity is not None else 0


def _whole(quantity: Quantity | None) -> int:
    return quantity.ceil() if quantity is not None else 0


@attrs.define
class NodeInfo:
    name: str
    node: Node
    labels: dict[str, str]
    taints: tuple[Taint, ...]
    unschedulable: bool
    allocatable_cpu: int
    allocatable_memory: int
    allocatable_pods: int
    requested_cpu: int = 0
    requested_memory: int = 0
    # Like requested_*, with Kubernetes' non-zero defaults for pods that request nothing.
    score_cpu: int = 0
    score_memory: int = 0
    pods: dict[str, PodRequest] = attrs.field(factory=dict)
    owners: Counter[str] = attrs.field(factory=Counter)

    @classmethod
    def of(cls, node: Node) -> NodeInfo:
        allocatable = dict((node.status.allocatable if node.status else None) or {})
        if not allocatable and node.status and node.status.capacity:
            allocatable = dict(node.status.capacity)
        spec = node.spec
        return cls(
            name=node.name,
            node=node,
            labels=node.labels,
            taints=tuple((spec.taints if spec else None) or ()),
            unschedulable=bool(spec.unschedulable) if spec else False,
            allocatable_cpu=_milli(allocatable.get("cpu")),
            allocatable_memory=_whole(allocatable.get("memory")),
            allocatable_pods=_whole(allocatable.get("pods")),
        )

    def refresh(self, node: Node) -> None:
        """The Node object changed: take its new capacity, labels and taints, keep the pods."""
        fresh = NodeInfo.of(node)
        fresh.pods, fresh.owners = self.pods, self.owners
        fresh.requested_cpu, fresh.requested_memory = self.requested_cpu, self.requested_memory
        fresh.score_cpu, fresh.score_memory = self.score_cpu, self.score_memory
        for field in attrs.fields(NodeInfo):
            setattr(self, field.name, getattr(fresh, field.name))

    def add(self, request: PodRequest) -> None:
        if request.key in self.pods:
            return
        self.pods[request.key] = request
        self.requested_cpu += request.cpu
        self.requested_memory += request.memory
        self.score_cpu += request.cpu or DEFAULT_SCORE_CPU
        self.score_memory += request.memory or DEFAULT_SCORE_MEMORY
        if request.owner:
            self.owners[request.owner] += 1

    def remove(self, key: str) -> PodRequest | None:
        request = self.pods.pop(key, None)
        if request is None:
            return None
        self.requested_cpu -= request.cpu
        self.requested_memory -= request.memory
        self.score_cpu -= request.cpu or DEFAULT_SCORE_CPU
        self.score_memory -= request.memory or DEFAULT_SCORE_MEMORY
        if request.owner:
            self.owners[request.owner] -= 1
            if not self.owners[request.owner]:
                del self.owners[request.owner]
        return request

    def describe(self) -> dict[str, Any]:
        return {
            "cpu": f"{self.requested_cpu}m/{self.allocatable_cpu}m",
            "memory": f"{self.requested_memory}/{self.allocatable_memory}",
            "pods": f"{len(self.pods)}/{self.allocatable_pods}",
        }
