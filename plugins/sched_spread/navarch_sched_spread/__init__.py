"""Spread: least-allocated nodes first, and the pods of one owner on different nodes."""

from __future__ import annotations

from collections.abc import Sequence

from navarch import hookimpl
from navarch.scheduler.framework import TAINT_TOLERATION, CycleState, ScoreResult, request_of
from navarch.scheduler.nodeinfo import DEFAULT_SCORE_CPU, DEFAULT_SCORE_MEMORY, NodeInfo

LEAST_ALLOCATED = "least-allocated"
OWNER_SPREAD = "owner-spread"
PROFILE = {LEAST_ALLOCATED: 1, OWNER_SPREAD: 2, TAINT_TOLERATION: 1}


def least_allocated(free_after: int, allocatable: int) -> int:
    """score = 100 * (allocatable - requested_with_pod) / allocatable, per resource.

    A node with no allocatable of a resource scores 0 for it (nothing to spread onto).
    """
    if allocatable <= 0:
        return 0
    return max(0, free_after * 100 // allocatable)


def node_least_allocated(info: NodeInfo, cpu: int, memory: int) -> int:
    """The mean of least_allocated over CPU and memory, the pod included (one call per node)."""
    return (
        least_allocated(info.allocatable_cpu - info.score_cpu - cpu, info.allocatable_cpu)
        + least_allocated(
            info.allocatable_memory - info.score_memory - memory, info.allocatable_memory
        )
    ) // 2


def owner_spread(count: int, most: int) -> int:
    """score = 100 * (most - count) / most: the fewer replicas of the pod's owner a node
    already runs, the higher (100 everywhere when no node runs any)."""
    if most <= 0:
        return 100
    return (most - count) * 100 // most


@hookimpl
def navarch_score(pod, nodes: Sequence[NodeInfo], state: CycleState) -> list[ScoreResult] | None:
    if not (state.wants(LEAST_ALLOCATED) or state.wants(OWNER_SPREAD)):
        return None
    request = request_of(pod, state)
    cpu = request.cpu or DEFAULT_SCORE_CPU
    memory = request.memory or DEFAULT_SCORE_MEMORY
    results = []
    if state.wants(LEAST_ALLOCATED):
        scores = {info.name: node_least_allocated(info, cpu, memory) for info in nodes}
        results.append(ScoreResult(LEAST_ALLOCATED, scores))
    if request.owner and state.wants(OWNER_SPREAD):
        counts = {info.name: info.owners.get(request.owner, 0) for info in nodes}
        most = max(counts.values(), default=0)
        results.append(
            ScoreResult(OWNER_SPREAD, {n: owner_spread(c, most) for n, c in counts.items()})
        )
    return results


@hookimpl
def navarch_register_scheduler_profiles(register) -> None:
    register("spread", PROFILE)
