"""A pod's status as Kubernetes reports it, computed from what the runtime says
(container instances), what the agent could not do (waiting reasons) and what the
probes found. Pure functions: the worker calls them and writes only on change."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from navarch.api.timefmt import rfc3339
from navarch.runtime import ContainerState, ContainerStatus

TERMINAL_PHASES = ("Succeeded", "Failed")
AGENT_CONDITIONS = frozenset({"Initialized", "Ready", "ContainersReady", "PodScheduled"})


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
    # Every address of the pod (a network plugin's may give IPv4 and IPv6); empty: pod_ip.
    pod_ips: tuple[str, ...] = ()
    # The status as last written (the agent's own copy, fresher than the pod on the
    # watch); empty: the pod's own status. Kept from it: startTime, transition times,
    # conditions others own, restart counts of instances the runtime no longer has.
    previous: Mapping[str, Any] = attrs.field(factory=dict)
    # The pod is being removed: nothing runs again, so its phase is terminal.
    terminal: bool = False
    # (reason, message) the agent failed the pod for (activeDeadlineSeconds).
    failure: tuple[str, str] | None = None

    def before(self) -> Mapping[str, Any]:
        if self.previous:
            return self.previous
        status = self.pod.status
        return status.to_dict() if status is not None else {}


def container_status(
    view: PodView,
    container: Any,
    initializing: bool = False,
    before: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``before``: this container's status as last reported, for what the runtime lost
    (a sandbox recreated takes its containers with it; RESTARTS must not drop to 0)."""
    before = before or {}
    name = container.name
    instances = view.instances.get(name) or ()
    latest = instances[0] if instances else None
    previous = instances[1] if len(instances) > 1 else None
    waiting = view.waiting.get(name)
    status: dict[str, Any] = {
        "name": name,
        # What runs (until a changed image's instance replaces it), as Kubernetes shows.
        "image": latest.image if latest is not None and latest.image else container.image,
        "imageID": latest.image_id if latest else "",
        "restartCount": latest.attempt if latest else before.get("restartCount", 0),
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
    elif "terminated" in (before.get("state") or {}):
        state = {"terminated": before["state"]["terminated"]}  # its end, as last reported
        last = None
    elif view.terminal:
        # Kubernetes' words for a container the pod's removal found nowhere.
        state = {
            "terminated": {
                "exitCode": 137,
                "reason": "ContainerStatusUnknown",
                "message": "The container could not be located when the pod was deleted.  "
                "The container used to be Running",
            }
        }
        last = None
    else:
        # Kubernetes: app containers wait "PodInitializing" while init containers run.
        state = {"waiting": {"reason": "PodInitializing" if initializing else "ContainerCreating"}}
        last = previous
    status["state"] = state
    if last is not None and last.state == ContainerState.EXITED:
        status["lastState"] = {"terminated": terminated(view.runtime_name, last)}
    elif latest is None and before:
        # Its instances went with an old sandbox: what it last did still stands.
        was = before.get("state") or {}
        status["lastState"] = (
            {"terminated": was["terminated"]}
            if "terminated" in was
            else before.get("lastState", {})
        )
    else:
        status["lastState"] = {}
    if latest is not None:
        status["containerID"] = f"{view.runtime_name}://{latest.id}"
    return status


def terminated(runtime_name: str, instance: ContainerStatus) -> dict[str, Any]:
    code = instance.exit_code if instance.exit_code is not None else -1
    ended = instance.finished_at or instance.created_at
    return _drop_empty(
        {
            "exitCode": code,
            "reason": instance.reason or ("Completed" if code == 0 else "Error"),
            "message": instance.message,
            "startedAt": rfc3339(instance.started_at) if instance.started_at else None,
            # A process that never started has no finish time of its own: its creation
            # stands in, so kubectl can say how long ago (RESTARTS "5 (12s ago)").
            "finishedAt": rfc3339(ended) if ended else None,
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
    previous = view.before()
    before = {
        s["name"]: s
        for key in ("containerStatuses", "initContainerStatuses")
        for s in previous.get(key) or ()
    }
    init_statuses = [
        container_status(view, c, before=before.get(c.name)) for c in spec.init_containers or ()
    ]
    pending_init = [s["name"] for s in init_statuses if not _succeeded(s)]
    statuses = [
        container_status(view, c, bool(pending_init), before.get(c.name))
        for c in spec.containers or ()
    ]
    old_phase = previous.get("phase")
    policy = spec.restart_policy or "Always"
    new_phase = phase(policy, statuses) if not pending_init else init_phase(policy, init_statuses)
    if view.failure is not None:
        new_phase = "Failed"
    elif view.terminal and new_phase not in TERMINAL_PHASES:
        # Kubernetes: Succeeded when every container ended with 0, else Failed.
        all_zero = all((s["state"].get("terminated") or {}).get("exitCode") == 0 for s in statuses)
        new_phase = "Succeeded" if statuses and all_zero else "Failed"
    if old_phase in TERMINAL_PHASES:
        new_phase = old_phase  # a finished pod never runs again
    unready = [s["name"] for s in statuses if not s["ready"]]
    old_conditions = {c["type"]: c for c in previous.get("conditions") or ()}
    now = rfc3339(view.now)

    def condition(kind: str, ok: bool, reason: str = "", message: str = "") -> dict[str, Any]:
        status = "True" if ok else "False"
        old = old_conditions.get(kind) or {}
        kept = old.get("status") == status and old.get("lastTransitionTime")
        since = old["lastTransitionTime"] if kept else now
        return _drop_empty(
            {
                "type": kind,
                "status": status,
                "lastTransitionTime": since,
                "reason": "" if ok else reason,
                "message": "" if ok else message,
            }
        )

    finished = new_phase in TERMINAL_PHASES
    ready_reason = "PodCompleted" if finished else "ContainersNotReady"
    ready_message = "" if finished else f"containers with unready status: [{' '.join(unready)}]"
    conditions = [
        condition(
            "Initialized",
            not pending_init,
            "ContainersNotInitialized",
            f"containers with incomplete status: [{' '.join(pending_init)}]",
        ),
        condition("Ready", not unready and not finished, ready_reason, ready_message),
        condition("ContainersReady", not unready and not finished, ready_reason, ready_message),
        dict(old_conditions.get("PodScheduled") or condition("PodScheduled", True)),
    ]
    # Conditions the agent does not own (DisruptionTarget, readiness gates' …) are
    # written back as they were: a merge patch replaces the whole list.
    conditions += [dict(c) for t, c in old_conditions.items() if t not in AGENT_CONDITIONS]
    status: dict[str, Any] = {
        "phase": new_phase,
        "conditions": conditions,
        "hostIP": view.host_ip,
        "hostIPs": [{"ip": view.host_ip}],
        "startTime": previous.get("startTime") or now,
        "containerStatuses": statuses,
        "qosClass": qos_class(spec),
    }
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    if view.failure is not None:
        status["reason"], status["message"] = view.failure
    elif previous.get("reason"):
        status["reason"], status["message"] = previous["reason"], previous.get("message", "")
    if view.pod_ip:
        status["podIP"] = view.pod_ip
        status["podIPs"] = [{"ip": ip} for ip in view.pod_ips or (view.pod_ip,)]
    return status


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
    # Nothing null: in a merge patch null removes a field (Kubernetes' lastProbeTime: null
    # is the same as no lastProbeTime).
    return {k: v for k, v in values.items() if v not in (None, "")}
