"""A Job's status conditions as Kubernetes (1.31 and later) sets them: an interim
condition first — ``SuccessCriteriaMet`` when the completions are reached,
``FailureTarget`` when the Job is to fail — and the terminal ``Complete`` or
``Failed`` (same reason and message) only once none of its pods is still running or
terminating; ``Suspended`` True while suspended, False once resumed.

All functions work on the status's wire dict (the controller's own copy).
"""

from __future__ import annotations

from typing import Any

COMPLETE, FAILED = "Complete", "Failed"
SUCCESS_CRITERIA_MET, FAILURE_TARGET, SUSPENDED = "SuccessCriteriaMet", "FailureTarget", "Suspended"

# reasons and messages of Kubernetes' job controller
COMPLETIONS_REACHED = ("CompletionsReached", "Reached expected number of succeeded pods")
BACKOFF_LIMIT_EXCEEDED = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
DEADLINE_EXCEEDED = ("DeadlineExceeded", "Job was active longer than specified deadline")
POD_FAILURE_POLICY = "PodFailurePolicy"
JOB_SUSPENDED = ("JobSuspended", "Job suspended")
JOB_RESUMED = ("JobResumed", "Job resumed")


def find(status: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for condition in status.get("conditions") or []:
        if condition.get("type") == kind:
            return condition
    return None


def is_true(status: dict[str, Any], kind: str) -> bool:
    condition = find(status, kind)
    return condition is not None and condition.get("status") == "True"


def is_finished(status: dict[str, Any]) -> bool:
    return is_true(status, COMPLETE) or is_true(status, FAILED)


def set_condition(
    status: dict[str, Any], kind: str, value: str, reason: str, message: str, now: str
) -> bool:
    """Set condition ``kind``; whether anything changed. The transition time moves
    only when the status does (Kubernetes' rule)."""
    conditions = status.setdefault("conditions", [])
    current = find(status, kind)
    if current is None:
        conditions.append(
            {
                "type": kind,
                "status": value,
                "lastProbeTime": now,
                "lastTransitionTime": now,
                "reason": reason,
                "message": message,
            }
        )
        return True
    if (current.get("status"), current.get("reason"), current.get("message")) == (
        value,
        reason,
        message,
    ):
        return False
    if current.get("status") != value:
        current["lastTransitionTime"] = now
    current.update(status=value, reason=reason, message=message, lastProbeTime=now)
    return True


def interim_failure(status: dict[str, Any]) -> tuple[str, str] | None:
    """The reason and message of a FailureTarget already set (the Job is failing)."""
    condition = find(status, FAILURE_TARGET)
    if condition is None or condition.get("status") != "True":
        return None
    return condition.get("reason") or "", condition.get("message") or ""
