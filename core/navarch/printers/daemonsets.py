"""The daemonsets Table as kubectl prints it: NAME DESIRED CURRENT READY UP-TO-DATE
AVAILABLE NODE SELECTOR AGE, then the template's containers and images and the
label selector as wide columns."""

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
    get_in,
    name_of,
    wide,
)
from navarch.printers.workloads import containers_and_images, selector_string


def node_selector_string(node_selector: Any) -> str:
    """A nodeSelector as ``labels.FormatLabels``: ``k=v`` sorted by key, ``<none>``."""
    if not isinstance(node_selector, dict) or not node_selector:
        return NONE
    return ",".join(f"{key}={node_selector[key]}" for key in sorted(node_selector))


def daemonset_cells(obj: dict[str, Any], now: dt.datetime) -> Cells:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    template_spec = get_in(spec, "template", "spec")
    return [
        name_of(obj),
        int(status.get("desiredNumberScheduled") or 0),
        int(status.get("currentNumberScheduled") or 0),
        int(status.get("numberReady") or 0),
        int(status.get("updatedNumberScheduled") or 0),
        int(status.get("numberAvailable") or 0),
        node_selector_string(get_in(template_spec, "nodeSelector")),
        age_of(obj, now),
        *containers_and_images(template_spec),
        selector_string(spec.get("selector")),
    ]


DAEMONSET_PRINTER = Printer(
    (
        NAME_COLUMN,
        Column("Desired", "integer", "The number of nodes that should run the daemon pod."),
        Column("Current", "integer", "The number of nodes running at least one daemon pod."),
        Column("Ready", "integer", "The number of nodes whose daemon pod is ready."),
        Column("Up-to-date", "integer", "The number of nodes running the updated daemon pod."),
        Column("Available", "integer", "The number of nodes whose daemon pod is available."),
        Column("Node Selector", description="The node selector of the daemon pod's template."),
        AGE_COLUMN,
        wide("Containers", "Names of each container in the template."),
        wide("Images", "Images referenced by each container in the template."),
        wide("Selector", "The label selector of the pods it manages."),
    ),
    daemonset_cells,
)
