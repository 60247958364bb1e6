"""A pod's status as Kubernetes reports it, computed from what the runtime says
(container instances), what the agent could not do (waiting reasons) and what the
probes found. Pure functions: the worker calls them and writes only on change."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from navarch.agent.timefmt import rfc3339
from navarch.runtime import ContainerState, ContainerStatus

TERMINAL_PHASES = ("Succeeded", "Failed")


@attrs.frozen
class Waiting:
    """Why a container is not running, when the runtime cannot tell (the agent could
    not pull, create or start it, or holds it back)."""

    reason: str
    message: str = ""


@attrs.frozen
class PodView:
    """Everything the status is computed from."""

    pod: Any
    runtime_name: str
    instances: Mapping[str, Sequence[ContainerStatus]]  # by container name, newest first
    waiting: Mapping[str, Waiting]
    ready: Mapping[str, bool]  # readiness by container name (no probe: running)
    started: Mapping[str, bool]  # startup probe passed (no probe: running)
    host_ip: str
    pod_ip: str
    now: float


def container_status(view: PodView, container: Any, initializing: bool = False) -> dict[str, Any]:
    name = container.name
    instances = view.instances.get(name) or ()
    latest = instances[0] if instances else None
    previous = instances[1] if len(instances) > 1 else None
    waiting = view.waiting.get(name)
    status: dict[str, Any] = {
        "name": name,
        "image": container.image,
        "imageID": latest.image_id if latest else "",
        "restartCount": latest.attempt if latest else 0,
        "ready": False,
        "started": False,
    }
    last = None
    if latest is not None and latest.state == ContainerState.RUNNING:
        state: dict[str, Any] = {"running": {"startedAt": rfc3339(latest.started_at)}}
        status["ready"] = bool(view.ready.get(name, True))
        status["started"] = bool(view.started.get(name, True))
        last = previous
    elif waiting is not None:
        state = {"waiting": _drop_empty({"reason": waiting.reason, "message": waiting.message})}
        last = latest if latest is not None and latest.state == ContainerState.EXITED else None
    elif latest is not None and latest.state == ContainerState.EXITED:
        state = {"terminated": terminated(view.runtime_name, latest)}
        last = previous
    else:
        # Kubernetes: app containers wait "PodInitializing" while init containers run.
        state = {"waiting": {"reason": "PodInitializing" if initializing else "ContainerCreating"}}
        last = previous
    status["state"] = state
    status["lastState"] = (
        {"terminated": terminated(view.runtime_name, last)}
        if last is not None and last.state == ContainerState.EXITED
        else {}
    )
    if latest is not None:
        status["containerID"] = f"{view.runtime_name}://{latest.id}"
    return status


def terminated(runtime_name: str, instance: ContainerStatus) -> dict[str, Any]:
    code = instance.exit_code if instance.exit_code is not None else -1
    return _drop_empty(
        {
            "exitCode": code,
            "reason": instance.reason or ("Completed" if code == 0 else "Error"),
            "message": instance.message,
            "startedAt": rfc3339(instance.started_at) if instance.started_at else None,
            "finishedAt": rfc3339(instance.finished_at) if instance.finished_at else None,
            "containerID": f"{runtime_name}://{instance.id}",
        }
    )


def phase(restart_policy: str, statuses: Sequence[Mapping[str, Any]]) -> str:
    """Kubernetes' getPhase: a waiting container that has never run keeps the pod
    Pending; one waiting to run again counts as stopped."""
    running = waiting = stopped = succeeded = 0
    for status in statuses:
        state = status["state"]
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            succeeded += state["terminated"]["exitCode"] == 0
        elif status["lastState"].get("terminated"):
            stopped += 1
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if stopped:
        if restart_policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if restart_policy == "Never":
            return "Failed"
        return "Running"  # OnFailure: the failed ones restart
    return "Pending"


def _succeeded(status: Mapping[str, Any]) -> bool:
    terminated = status["state"].get("terminated")
    return bool(terminated) and terminated["exitCode"] == 0


def init_phase(restart_policy: str, init_statuses: Sequence[Mapping[str, Any]]) -> str:
    """While init containers run the pod is Pending; with restartPolicy Never, one that
    failed fails the pod."""
    if restart_policy == "Never":
        for status in init_statuses:
            terminated = status["state"].get("terminated")
            if terminated and terminated["exitCode"] != 0:
                return "Failed"
    return "Pending"


def pod_status(view: PodView) -> dict[str, Any]:
    """The whole ``status`` the agent owns (PodScheduled is kept from the scheduler)."""
    pod = view.pod
    spec = pod.spec
    init_statuses = [container_status(view, c) for c in spec.init_containers or ()]
    pending_init = [s["name"] for s in init_statuses if not _succeeded(s)]
    statuses = [container_status(view, c, bool(pending_init)) for c in spec.containers or ()]
    current = pod.status
    old_phase = current.phase if current is not None else None
    policy = spec.restart_policy or "Always"
    new_phase = phase(policy, statuses) if not pending_init else init_phase(policy, init_statuses)
    if old_phase in TERMINAL_PHASES:
        new_phase = old_phase  # a finished pod never runs again
    unready = [s["name"] for s in statuses if not s["ready"]]
    old_conditions = {c.type: c for c in (current.conditions or ())} if current else {}
    now = rfc3339(view.now)

    def condition(kind: str, ok: bool, reason: str = "", message: str = "") -> dict[str, Any]:
        status = "True" if ok else "False"
        old = old_conditions.get(kind)
        since = old.last_transition_time if old is not None and old.status == status else now
        return _drop_empty(
            {
                "type": kind,
                "status": status,
                "lastProbeTime": None,
                "lastTransitionTime": since,
                "reason": "" if ok else reason,
                "message": "" if ok else message,
            }
        )

    finished = new_phase in TERMINAL_PHASES
    ready_reason = "PodCompleted" if finished else "ContainersNotReady"
    ready_message = "" if finished else f"containers with unready status: [{' '.join(unready)}]"
    scheduled = old_conditions.get("PodScheduled")
    conditions = [
        condition(
            "Initialized",
            not pending_init,
            "ContainersNotInitialized",
            f"containers with incomplete status: [{' '.join(pending_init)}]",
        ),
        condition("Ready", not unready and not finished, ready_reason, ready_message),
        condition("ContainersReady", not unready and not finished, ready_reason, ready_message),
        (
            attrs_to_condition(scheduled)
            if scheduled is not None
            else condition("PodScheduled", True)
        ),
    ]
    status: dict[str, Any] = {
        "phase": new_phase,
        "conditions": conditions,
        "hostIP": view.host_ip,
        "hostIPs": [{"ip": view.host_ip}],
        "startTime": (current.start_time if current is not None else None) or now,
        "containerStatuses": statuses,
        "qosClass": qos_class(spec),
    }
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    if view.pod_ip:
        status["podIP"] = view.pod_ip
        status["podIPs"] = [{"ip": view.pod_ip}]
    return status


def attrs_to_condition(condition: Any) -> dict[str, Any]:
    return _drop_empty(
        {
            "type": condition.type,
            "status": condition.status,
            "lastProbeTime": None,
            "lastTransitionTime": condition.last_transition_time,
            "reason": condition.reason,
            "message": condition.message,
        }
    )


def qos_class(spec: Any) -> str:
    """Kubernetes' QoS class: Guaranteed when every container's requests equal its
    limits for cpu and memory, BestEffort when none asks for anything, else Burstable."""
    requested = guaranteed = False
    all_guaranteed = True
    for container in spec.containers or ():
        resources = container.resources
        limits = dict((resources.limits if resources else None) or {})
        requests = dict((resources.requests if resources else None) or {}) or limits
        if limits or requests:
            requested = True
        guaranteed = all(
            k in limits and k in requests and limits[k] == requests[k] for k in ("cpu", "memory")
        )
        all_guaranteed = all_guaranteed and guaranteed
    if not requested:
        return "BestEffort"
    return "Guaranteed" if all_guaranteed else "Burstable"


def _drop_empty(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v not in (None, "") or k == "lastProbeTime"}
