"""The nodes Table: NAME STATUS ROLES AGE VERSION, then INTERNAL-IP EXTERNAL-IP
OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME."""

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
from navarch.printers.durations import UNKNOWN

NODE_ROLE_PREFIX = "node-role.kubernetes.io/"
NODE_ROLE_LABEL = "kubernetes.io/role"


def node_cells(node: dict[str, Any], now: dt.datetime) -> Cells:
    """NAME STATUS ROLES AGE VERSION, then INTERNAL-IP EXTERNAL-IP OS-IMAGE
    KERNEL-VERSION CONTAINER-RUNTIME."""
    status = node.get("status") or {}
    states = [
        ("Ready" if c.get("status") == "True" else "NotReady")
        for c in dicts_at(status, "conditions")
        if c.get("type") == "Ready"
    ][:1] or ["Unknown"]
    if get_in(node, "spec", "unschedulable"):
        states.append("SchedulingDisabled")
    info = status.get("nodeInfo") or {}
    return [
        name_of(node),
        ",".join(states),
        ",".join(node_roles(node)) or NONE,
        age_of(node, now),
        info.get("kubeletVersion") or "",
        _address(status, "InternalIP"),
        _address(status, "ExternalIP"),
        info.get("osImage") or UNKNOWN,
        info.get("kernelVersion") or UNKNOWN,
        info.get("containerRuntimeVersion") or UNKNOWN,
    ]


def node_roles(node: dict[str, Any]) -> list[str]:
    """Roles from ``node-role.kubernetes.io/<role>`` labels and ``kubernetes.io/role``."""
    roles = set()
    for key, value in (get_in(node, "metadata", "labels") or {}).items():
        if key.startswith(NODE_ROLE_PREFIX) and key[len(NODE_ROLE_PREFIX) :]:
            roles.add(key[len(NODE_ROLE_PREFIX) :])
        elif key == NODE_ROLE_LABEL and value:
            roles.add(value)
    return sorted(roles)


def _address(status: dict[str, Any], kind: str) -> str:
    for address in dicts_at(status, "addresses"):
        if address.get("type") == kind:
            return address.get("address") or NONE
    return NONE


NODE_PRINTER = Printer(
    (
        NAME_COLUMN,
        Column("Status", description="The status of the node."),
        Column("Roles", description="The roles of the node."),
        AGE_COLUMN,
        Column("Version", description="The kubelet (agent) version the node reports."),
        wide("Internal-IP", "The node's first InternalIP address."),
        wide("External-IP", "The node's first ExternalIP address."),
        wide("OS-Image", "The OS image the node reports."),
        wide("Kernel-Version", "The kernel version the node reports."),
        wide("Container-Runtime", "The container runtime and its version."),
    ),
    node_cells,
)
