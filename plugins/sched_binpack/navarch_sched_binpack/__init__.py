"""Bin-pack: the most-allocated nodes first, so work fills as few nodes as possible."""

from __future__ import annotations

from collections.abc import Sequence

from navarch import hookimpl
from navarch.scheduler.framework import TAINT_TOLERATION, CycleState, ScoreResult, request_of
from navarch.scheduler.nodeinfo import DEFAULT_SCORE_CPU, DEFAULT_SCORE_MEMORY, NodeInfo

MOST_ALLOCATED = "most-allocated"
PROFILE = {MOST_ALLOCATED: 1, TAINT_TOLERATION: 1}


def most_allocated(requested_with_pod: int, allocatable: int) -> int:
    """score = 100 * requested_with_pod / allocatable, per resource (capped at 100).

    A node with no allocatable of a resource scores 0 for it.
    """
    if allocatable <= 0:
        return 0
    return min(100, requested_with_pod * 100 // allocatable)


def node_most_allocated(info: NodeInfo, cpu: int, memory: int) -> int:
    """The mean of most_allocated over CPU and memory, the pod included (one call per node)."""
    return (
        most_allocated(info.score_cpu + cpu, info.allocatable_cpu)
        + most_allocated(info.score_memory + memory, info.allocatable_memory)
    ) // 2


@hookimpl
def navarch_score(pod, nodes: Sequence[NodeInfo], state: CycleState) -> ScoreResult | None:
    if not state.wants(MOST_ALLOCATED):
        return None
    request = request_of(pod, state)
    cpu = request.cpu or DEFAULT_SCORE_CPU
    memory = request.memory or DEFAULT_SCORE_MEMORY
    return ScoreResult(
        MOST_ALLOCATED, {info.name: node_most_allocated(info, cpu, memory) for info in nodes}
    )


@hookimpl
def navarch_register_scheduler_profiles(register) -> None:
    register("binpack", PROFILE)
