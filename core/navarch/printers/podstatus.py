"""A pod's READY, STATUS and RESTARTS as kubectl shows them (the rules of printPod)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from navarch.printers.cells import dicts_at, get_in
from navarch.printers.durations import human_duration, parse_time


def pod_summary(pod: dict[str, Any], now: dt.datetime) -> tuple[str, str, str]:
    """READY, STATUS and RESTARTS as kubectl shows them (the rules of printPod).

    STATUS starts as the phase (or ``status.reason``); a failing or waiting init
    container makes it ``Init:<reason>`` / ``Init:<i>/<n>``; once initialised, the last
    container with something to say wins (a waiting reason such as ContainerCreating or
    CrashLoopBackOff, a terminated reason such as Completed or Error, else
    ``ExitCode:<n>``); a pod being deleted is Terminating (Unknown if its node is lost).
    """
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    for condition in dicts_at(status, "conditions"):
        if condition.get("type") == "PodScheduled" and condition.get("reason") == (
            "SchedulingGated"
        ):
            reason = "SchedulingGated"

    init_specs = {c.get("name"): c for c in dicts_at(spec, "initContainers")}
    total = len(dicts_at(spec, "containers")) + sum(
        1 for c in init_specs.values() if _restartable(c)
    )
    ready = restarts = sidecar_restarts = 0
    last_restart: dt.datetime | None = None
    last_sidecar_restart: dt.datetime | None = None

    initializing = False
    init_statuses = dicts_at(status, "initContainerStatuses")
    for index, container in enumerate(init_statuses):
        count = int(container.get("restartCount") or 0)
        finished = parse_time(get_in(container, "lastState", "terminated", "finishedAt"))
        restarts += count
        last_restart = _later(last_restart, finished)
        sidecar = _restartable(init_specs.get(container.get("name")))
        if sidecar:
            sidecar_restarts += count
            last_sidecar_restart = _later(last_sidecar_restart, finished)
        terminated = get_in(container, "state", "terminated")
        waiting = get_in(container, "state", "waiting")
        if terminated is not None and int(terminated.get("exitCode") or 0) == 0:
            continue
        if sidecar and container.get("started"):
            ready += 1 if container.get("ready") else 0
            continue
        if terminated is not None:
            reason = "Init:" + _terminated_reason(terminated)
        elif waiting is not None and waiting.get("reason") not in (None, "", "PodInitializing"):
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{index}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _condition_true(status, "Initialized"):
        restarts, last_restart = sidecar_restarts, last_sidecar_restart
        has_running = False
        for container in reversed(dicts_at(status, "containerStatuses")):
            restarts += int(container.get("restartCount") or 0)
            last_restart = _later(
                last_restart,
                parse_time(get_in(container, "lastState", "terminated", "finishedAt")),
            )
            waiting = get_in(container, "state", "waiting")
            terminated = get_in(container, "state", "terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None:
                reason = _terminated_reason(terminated)
            elif container.get("ready") and get_in(container, "state", "running") is not None:
                has_running = True
                ready += 1
        # A finished container beside one still running is a pod still running.
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(status, "Ready") else "NotReady"

    deleting = bool(get_in(pod, "metadata", "deletionTimestamp"))
    if deleting and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"

    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        restarts_text = f"{restarts} ({human_duration((now - last_restart).total_seconds())} ago)"
    return f"{ready}/{total}", reason, restarts_text


def _terminated_reason(terminated: dict[str, Any]) -> str:
    if terminated.get("reason"):
        return str(terminated["reason"])
    if terminated.get("signal"):
        return f"Signal:{terminated['signal']}"
    return f"ExitCode:{int(terminated.get('exitCode') or 0)}"


def _restartable(container: dict[str, Any] | None) -> bool:
    """A sidecar: an init container with ``restartPolicy: Always``."""
    return bool(container and container.get("restartPolicy") == "Always")


def _condition_true(status: dict[str, Any], kind: str) -> bool:
    return any(
        c.get("type") == kind and c.get("status") == "True" for c in dicts_at(status, "conditions")
    )


def _later(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)
