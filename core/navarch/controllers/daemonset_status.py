"""The status a DaemonSet's sync writes (Kubernetes' updateDaemonSetStatus): per node
that should run the daemon, whether it has a pod, whether the oldest is ready,
available (ready for ``minReadySeconds``) and of the current revision; pods on nodes
that should not run it are misscheduled. ``kubectl rollout status ds/x`` reads
``observedGeneration``, ``updatedNumberScheduled``, ``numberAvailable`` and
``desiredNumberScheduled``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from navarch import api
from navarch.api.apps_v1 import DaemonSet
from navarch.api.core_v1 import Node, Pod
from navarch.controllers.daemonset_nodes import Placement
from navarch.controllers.daemonset_plan import oldest_first, pod_hash
from navarch.controllers.replicaset_pods import available_in, is_ready

COUNTS = (
    "desiredNumberScheduled",
    "currentNumberScheduled",
    "numberMisscheduled",
    "numberReady",
    "updatedNumberScheduled",
    "numberAvailable",
    "numberUnavailable",
)


def new_status(
    ds: DaemonSet,
    nodes: Sequence[Node],
    placement: Placement,
    pods: Mapping[str, Sequence[Pod]],
    hash_: str,
    now: float,
    *,
    observed: bool,
    collision_count: int | None,
) -> tuple[dict[str, Any], float | None]:
    """The wire status, and the seconds until a ready pod becomes available (when the
    sync should look again; None when none is waiting). ``observed``: the sync acted
    on this generation (not when it still waits for its last actions to show)."""
    min_ready = (ds.spec.min_ready_seconds if ds.spec else None) or 0
    counts = dict.fromkeys(COUNTS, 0)
    waits: list[float] = []
    for node in nodes:
        should_run, _ = placement.should_run(node)
        on_node = list(pods.get(node.name or "", ()))
        if not should_run:
            counts["numberMisscheduled"] += bool(on_node)
            continue
        counts["desiredNumberScheduled"] += 1
        if not on_node:
            continue
        counts["currentNumberScheduled"] += 1
        pod = oldest_first(on_node)[0]
        if is_ready(pod):
            counts["numberReady"] += 1
            left = available_in(pod, min_ready, now)
            if left == 0.0:
                counts["numberAvailable"] += 1
            elif left is not None:
                waits.append(left)
        if pod_hash(pod) == hash_:
            counts["updatedNumberScheduled"] += 1
    counts["numberUnavailable"] = counts["desiredNumberScheduled"] - counts["numberAvailable"]
    old = api.dump(ds.status) if ds.status else {}
    status: dict[str, Any] = {**old, **counts}
    if observed:
        status["observedGeneration"] = ds.metadata.generation if ds.metadata else None
    if collision_count is not None:
        status["collisionCount"] = collision_count
    return status, (min(waits) if waits else None)


def unchanged(ds: DaemonSet, status: Mapping[str, Any]) -> bool:
    """Whether writing ``status`` would change nothing (zeros and absent alike)."""
    old = api.dump(ds.status) if ds.status else {}
    fields = (*COUNTS, "observedGeneration", "collisionCount")
    return all((old.get(f) or 0) == (status.get(f) or 0) for f in fields)
