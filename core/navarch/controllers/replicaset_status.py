"""The status a ReplicaSet's sync writes: its pods counted (``replicaset_pods.counts``),
the generation it acted on, and the ReplicaFailure condition while creating or
deleting pods fails (a quota refused them, the template is invalid …)."""

from __future__ import annotations

from typing import Any

from navarch import api
from navarch.api.apps_v1 import ReplicaSet
from navarch.client.events import rfc3339_now

REPLICA_FAILURE = "ReplicaFailure"


def new_status(
    rs: ReplicaSet, counted: dict[str, Any], failure: tuple[str, str] | None
) -> dict[str, Any]:
    """The wire status. ``failure`` is (reason, message) when the sync's creations
    (``FailedCreate``) or deletions (``FailedDelete``) failed: the ReplicaFailure
    condition is set (the first failure's kept while it lasts); None removes it."""
    old = api.dump(rs.status) if rs.status else {}
    conditions = [c for c in old.get("conditions") or [] if c.get("type") != REPLICA_FAILURE]
    current = next(
        (c for c in old.get("conditions") or [] if c.get("type") == REPLICA_FAILURE), None
    )
    if failure is not None:
        reason, message = failure
        if current is not None:
            conditions.append(current)  # Kubernetes keeps the first failure's condition
        else:
            conditions.append(
                {
                    "type": REPLICA_FAILURE,
                    "status": "True",
                    "lastTransitionTime": rfc3339_now(),
                    "reason": reason,
                    "message": message,
                }
            )
    status: dict[str, Any] = {
        "replicas": counted["replicas"],
        "fullyLabeledReplicas": counted["fullyLabeledReplicas"],
        "readyReplicas": counted["readyReplicas"],
        "availableReplicas": counted["availableReplicas"],
        "observedGeneration": rs.metadata.generation if rs.metadata else None,
    }
    if conditions:
        status["conditions"] = conditions
    return status


def unchanged(rs: ReplicaSet, status: dict[str, Any]) -> bool:
    """Whether writing ``status`` would change nothing (zeros and absent alike)."""
    old = api.dump(rs.status) if rs.status else {}
    return all(
        (old.get(field) or 0) == (status.get(field) or 0)
        for field in (
            "replicas",
            "fullyLabeledReplicas",
            "readyReplicas",
            "availableReplicas",
            "observedGeneration",
        )
    ) and (old.get("conditions") or []) == (status.get("conditions") or [])
