"""The statefulsets Table as kubectl prints it: NAME READY AGE, and the template's
containers and images as wide columns."""

from __future__ import annotations

import datetime as dt
from typing import Any

from navarch.printers.cells import (
    AGE_COLUMN,
    NAME_COLUMN,
    Cells,
    Column,
    Printer,
    age_of,
    dicts_at,
    get_in,
    name_of,
    wide,
)


def statefulset_cells(obj: dict[str, Any], now: dt.datetime) -> Cells:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    containers = dicts_at(get_in(spec, "template", "spec"), "containers")
    return [
        name_of(obj),
        f"{int(status.get('readyReplicas') or 0)}/{int(spec.get('replicas', 1) or 0)}",
        age_of(obj, now),
        ",".join(c.get("name") or "" for c in containers),
        ",".join(c.get("image") or "" for c in containers),
    ]


STATEFULSET_PRINTER = Printer(
    (
        NAME_COLUMN,
        Column("Ready", description="Number of the pod with ready state"),
        AGE_COLUMN,
        wide("Containers", "Names of each container in the template."),
        wide("Images", "Images referenced by each container in the template."),
    ),
    statefulset_cells,
)
