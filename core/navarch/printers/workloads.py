"""The deployments and replicasets Tables, with the template's containers, images and
the label selector as wide columns."""

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


def deployment_cells(obj: dict[str, Any], now: dt.datetime) -> Cells:
    """NAME READY UP-TO-DATE AVAILABLE AGE, then CONTAINERS IMAGES SELECTOR."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    desired = spec.get("replicas", 1)
    return [
        name_of(obj),
        f"{int(status.get('readyReplicas') or 0)}/{int(desired or 0)}",
        int(status.get("updatedReplicas") or 0),
        int(status.get("availableReplicas") or 0),
        age_of(obj, now),
        *containers_and_images(get_in(spec, "template", "spec")),
        selector_string(spec.get("selector")),
    ]


def replicaset_cells(obj: dict[str, Any], now: dt.datetime) -> Cells:
    """NAME DESIRED CURRENT READY AGE, then CONTAINERS IMAGES SELECTOR."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return [
        name_of(obj),
        int(spec.get("replicas", 1) or 0),
        int(status.get("replicas") or 0),
        int(status.get("readyReplicas") or 0),
        age_of(obj, now),
        *containers_and_images(get_in(spec, "template", "spec")),
        selector_string(spec.get("selector")),
    ]


def selector_string(selector: Any) -> str:
    """A LabelSelector as ``labels.Selector.String()`` renders it: terms sorted by key,
    ``k=v``, ``k in (a,b)``, ``k notin (a,b)``, ``k``, ``!k``."""
    if not isinstance(selector, dict):
        return ""
    terms: list[tuple[str, str]] = []
    for key, value in (selector.get("matchLabels") or {}).items():
        terms.append((key, f"{key}={value}"))
    for expr in selector.get("matchExpressions") or []:
        key, op = expr.get("key", ""), expr.get("operator", "")
        values = ",".join(sorted(expr.get("values") or []))
        rendered = {
            "In": f"{key} in ({values})",
            "NotIn": f"{key} notin ({values})",
            "Exists": key,
            "DoesNotExist": f"!{key}",
        }.get(op)
        if rendered is None:
            return "<invalid>"
        terms.append((key, rendered))
    return ",".join(text for _, text in sorted(terms, key=lambda t: t[0]))


def containers_and_images(template_spec: Any) -> Cells:
    containers = dicts_at(template_spec, "containers")
    return [
        ",".join(c.get("name") or "" for c in containers),
        ",".join(c.get("image") or "" for c in containers),
    ]


_WORKLOAD_WIDE = (
    wide("Containers", "Names of each container in the template."),
    wide("Images", "Images referenced by each container in the template."),
    wide("Selector", "The label selector of the pods it manages."),
)

DEPLOYMENT_PRINTER = Printer(
    (
        NAME_COLUMN,
        Column("Ready", description="Ready pods of the desired number."),
        Column("Up-to-date", "integer", "Pods that run the current template."),
        Column("Available", "integer", "Pods available to serve."),
        AGE_COLUMN,
        *_WORKLOAD_WIDE,
    ),
    deployment_cells,
)

REPLICASET_PRINTER = Printer(
    (
        NAME_COLUMN,
        Column("Desired", "integer", "The number of pods wanted."),
        Column("Current", "integer", "The number of pods that exist."),
        Column("Ready", "integer", "The number of ready pods."),
        AGE_COLUMN,
        *_WORKLOAD_WIDE,
    ),
    replicaset_cells,
)
