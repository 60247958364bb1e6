"""A Deployment's status as Kubernetes computes it: the replica counts summed over its
ReplicaSets, the Available condition, and the Progressing condition that tells
``kubectl rollout status`` whether the rollout moves, is done, or is stuck past
``progressDeadlineSeconds``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from typing import Any

from navarch.api.timefmt import parse_rfc3339, rfc3339
from navarch.controllers.deployment_rolling import max_unavailable, replicas_of, status_count

AVAILABLE = "Available"
PROGRESSING = "Progressing"
REPLICA_FAILURE = "ReplicaFailure"

# Progressing reasons
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
# Available reasons
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"

# progressDeadlineSeconds of MaxInt32 means "no deadline" (what the v1beta1 default was).
_NO_DEADLINE = 2**31 - 1


def condition(status: dict[str, Any], type_: str) -> dict[str, Any] | None:
    for cond in status.get("conditions") or ():
        if cond.get("type") == type_:
            return cond
    return None


def new_condition(
    type_: str, status: str, reason: str, message: str, now: float | None = None
) -> dict[str, Any]:
    stamp = rfc3339(now)
    return {
        "type": type_,
        "status": status,
        "lastUpdateTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }


def set_condition(status: dict[str, Any], cond: dict[str, Any]) -> None:
    """Kubernetes' SetDeploymentCondition: the same status and reason changes nothing;
    the same status keeps its lastTransitionTime; one condition per type."""
    current = condition(status, cond["type"])
    if (
        current is not None
        and current.get("status") == cond["status"]
        and current.get("reason") == cond["reason"]
    ):
        return
    if current is not None and current.get("status") == cond["status"]:
        cond = {**cond, "lastTransitionTime": current.get("lastTransitionTime")}
    others = [c for c in status.get("conditions") or () if c.get("type") != cond["type"]]
    status["conditions"] = [*others, cond]


def remove_condition(status: dict[str, Any], type_: str) -> None:
    kept = [c for c in status.get("conditions") or () if c.get("type") != type_]
    status["conditions"] = kept


def has_deadline(deployment: dict[str, Any]) -> bool:
    seconds = (deployment.get("spec") or {}).get("progressDeadlineSeconds")
    return seconds is not None and seconds != _NO_DEADLINE


def calculate(
    deployment: dict[str, Any], all_rs: Sequence[dict[str, Any]], new_rs: dict[str, Any] | None
) -> dict[str, Any]:
    """The status the Deployment should have for these ReplicaSets (its conditions
    copied, Available set)."""
    available = sum(status_count(rs, "availableReplicas") for rs in all_rs)
    wanted = sum(replicas_of(rs) for rs in all_rs)
    current = copy.deepcopy(deployment.get("status") or {})
    status: dict[str, Any] = {
        "observedGeneration": (deployment.get("metadata") or {}).get("generation") or 0,
        "replicas": sum(status_count(rs, "replicas") for rs in all_rs),
        "updatedReplicas": status_count(new_rs, "replicas") if new_rs is not None else 0,
        "readyReplicas": sum(status_count(rs, "readyReplicas") for rs in all_rs),
        "availableReplicas": available,
        "unavailableReplicas": max(wanted - available, 0),
        "conditions": list(current.get("conditions") or ()),
    }
    if current.get("collisionCount") is not None:
        status["collisionCount"] = current["collisionCount"]
    if available >= replicas_of(deployment) - max_unavailable(deployment):
        cond = new_condition(
            AVAILABLE, "True", MIN_AVAILABLE, "Deployment has minimum availability."
        )
    else:
        cond = new_condition(
            AVAILABLE, "False", MIN_UNAVAILABLE, "Deployment does not have minimum availability."
        )
    set_condition(status, cond)
    return status


def complete(deployment: dict[str, Any], status: dict[str, Any]) -> bool:
    """Every replica updated and available, none old left, and this generation seen."""
    desired = replicas_of(deployment)
    return (
        status.get("updatedReplicas") == desired
        and status.get("replicas") == desired
        and status.get("availableReplicas") == desired
        and (status.get("observedGeneration") or 0)
        >= ((deployment.get("metadata") or {}).get("generation") or 0)
    )


def progressing(deployment: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether the new status is a step on from the Deployment's current one."""
    old = deployment.get("status") or {}

    def n(status: dict[str, Any], field: str) -> int:
        return int(status.get(field) or 0)

    return (
        n(new, "updatedReplicas") > n(old, "updatedReplicas")
        or n(new, "replicas") - n(new, "updatedReplicas")
        < n(old, "replicas") - n(old, "updatedReplicas")
        or n(new, "readyReplicas") > n(old, "readyReplicas")
        or n(new, "availableReplicas") > n(old, "availableReplicas")
    )


def timed_out(deployment: dict[str, Any], status: dict[str, Any], now: float) -> bool:
    """Whether the last progress was longer than progressDeadlineSeconds ago."""
    if not has_deadline(deployment):
        return False
    cond = condition(status, PROGRESSING)
    if cond is None:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    if cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    since = parse_rfc3339(cond.get("lastUpdateTime") or "") or now
    return since + deployment["spec"]["progressDeadlineSeconds"] < now


def rollout_status(
    deployment: dict[str, Any],
    all_rs: Sequence[dict[str, Any]],
    new_rs: dict[str, Any] | None,
    now: float | None = None,
) -> dict[str, Any]:
    """The status with the Progressing condition brought up to date (Kubernetes'
    syncRolloutStatus, without the write)."""
    now = time.time() if now is None else now
    status = calculate(deployment, all_rs, new_rs)
    if not has_deadline(deployment):
        remove_condition(status, PROGRESSING)
        return status
    current = condition(status, PROGRESSING)
    done_before = (
        status["replicas"] == status["updatedReplicas"]
        and current is not None
        and current.get("reason") == NEW_RS_AVAILABLE
    )
    if done_before:
        return status
    name = ((new_rs or {}).get("metadata") or {}).get("name", "")
    if complete(deployment, status):
        set_condition(
            status,
            new_condition(
                PROGRESSING,
                "True",
                NEW_RS_AVAILABLE,
                f'ReplicaSet "{name}" has successfully progressed.',
                now,
            ),
        )
    elif progressing(deployment, status):
        cond = new_condition(
            PROGRESSING, "True", RS_UPDATED, f'ReplicaSet "{name}" is progressing.', now
        )
        if current is not None and current.get("status") == "True":
            cond["lastTransitionTime"] = current.get("lastTransitionTime")
        # progress renews lastUpdateTime, which the deadline counts from
        remove_condition(status, PROGRESSING)
        set_condition(status, cond)
    elif timed_out(deployment, status, now):
        set_condition(
            status,
            new_condition(
                PROGRESSING,
                "False",
                TIMED_OUT,
                f'ReplicaSet "{name}" has timed out progressing.',
                now,
            ),
        )
    return status


def recheck_after(
    deployment: dict[str, Any], status: dict[str, Any], now: float | None = None
) -> float | None:
    """Seconds until a rollout that is progressing would pass its deadline (so the
    controller looks again then), or None when there is nothing to wait for."""
    if not has_deadline(deployment):
        return None
    cond = condition(status, PROGRESSING)
    if cond is None or cond.get("reason") in (NEW_RS_AVAILABLE, TIMED_OUT):
        return None
    if cond.get("status") != "True":
        return None
    now = time.time() if now is None else now
    since = parse_rfc3339(cond.get("lastUpdateTime") or "") or now
    return max(since + deployment["spec"]["progressDeadlineSeconds"] - now, 0.0) + 0.5


def same_status(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal but for the timestamps in conditions of unchanged status and reason."""

    def shape(status: dict[str, Any]) -> Any:
        plain = {k: v for k, v in status.items() if k != "conditions" and v not in (None, 0)}
        conds = sorted(
            (c.get("type"), c.get("status"), c.get("reason"), c.get("message"))
            for c in status.get("conditions") or ()
        )
        return plain, conds

    return shape(a) == shape(b)
