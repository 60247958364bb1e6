"""The pods Table: NAME READY STATUS RESTARTS AGE, then IP NODE NOMINATED NODE
READINESS GATES (the STATUS rules are in ``podstatus``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from navarch.printers.cells import (
    AGE_COLUMN,
    NAME_COLUMN,
    NONE,
    Cells,
    Column,
    Printer,
    age_of,
    dicts_at,
    get_in,
    name_of,
    wide,
)
from navarch.printers.podstatus import pod_summary


def pod_cells(pod: dict[str, Any], now: dt.datetime) -> Cells:
    """NAME READY STATUS RESTARTS AGE, then IP NODE NOMINATED NODE READINESS GATES."""
    ready, status, restarts = pod_summary(pod, now)
    spec, pod_status = pod.get("spec") or {}, pod.get("status") or {}
    ip = get_in(pod_status, "podIPs", 0, "ip") or pod_status.get("podIP") or NONE
    gates = dicts_at(spec, "readinessGates")
    readiness = NONE
    if gates:
        conditions = {c.get("type"): c.get("status") for c in dicts_at(pod_status, "conditions")}
        true = sum(1 for g in gates if conditions.get(g.get("conditionType")) == "True")
        readiness = f"{true}/{len(gates)}"
    return [
        name_of(pod),
        ready,
        status,
        restarts,
        age_of(pod, now),
        ip,
        spec.get("nodeName") or NONE,
        pod_status.get("nominatedNodeName") or NONE,
        readiness,
    ]


def _pod_conditions(pod: dict[str, Any]) -> list[dict[str, Any]]:
    # Row conditions let a client tell finished pods apart without reading STATUS.
    phase = get_in(pod, "status", "phase")
    if phase == "Succeeded":
        message = "The pod has completed successfully."
    elif phase == "Failed":
        message = "The pod failed."
    else:
        return []
    return [{"type": "Completed", "status": "True", "reason": phase, "message": message}]


POD_PRINTER = Printer(
    (
        NAME_COLUMN,
        Column("Ready", description="Ready containers of all containers."),
        Column("Status", description="The aggregate status of the containers in this pod."),
        Column("Restarts", description="Container restarts (and how long ago the last)."),
        AGE_COLUMN,
        wide("IP", "The pod's IP address."),
        wide("Node", "The node the pod is bound to."),
        wide("Nominated Node", "The node preemption nominated for the pod."),
        wide("Readiness Gates", "Readiness gates whose condition is True, of all."),
    ),
    pod_cells,
    _pod_conditions,
)
