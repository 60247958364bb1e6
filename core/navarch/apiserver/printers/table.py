"""The ``meta.k8s.io`` Table of a list of objects, in the columns of the resource's
printer (``Resource.printer``; Kubernetes' default Name and Age without one)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from navarch.printers.simple import DEFAULT_PRINTER
from navarch.resources.spec import Resource

TABLE_GROUP = "meta.k8s.io"
TABLE_VERSIONS = ("v1", "v1beta1")
INCLUDE_OBJECT = ("None", "Metadata", "Object")


def table(
    res: Resource,
    objects: Iterable[dict[str, Any]],
    *,
    include_object: str | None = None,
    list_metadata: dict[str, Any] | None = None,
    headers: bool = True,
    version: str = "v1",
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The Table of ``objects`` (wire dicts of ``res``).

    ``include_object`` is the ``includeObject`` query parameter: ``None`` leaves rows
    without the object, ``Metadata`` (the default) gives a PartialObjectMetadata,
    ``Object`` the whole object. ``list_metadata`` is the list's metadata (its
    resourceVersion and continue token); a single object's table takes its own
    resourceVersion. ``headers=False`` leaves out the column definitions, as a watch
    does after its first event.
    """
    include = include_object or "Metadata"
    if include not in INCLUDE_OBJECT:
        raise ValueError(f"includeObject must be one of {', '.join(INCLUDE_OBJECT)}")
    printer = res.printer or DEFAULT_PRINTER
    moment = now or dt.datetime.now(dt.UTC)
    api_version = f"{TABLE_GROUP}/{version}"
    rows = []
    items = list(objects)
    for obj in items:
        row: dict[str, Any] = {"cells": printer.cells(obj, moment)}
        conditions = printer.conditions(obj)
        if conditions:
            row["conditions"] = conditions
        row["object"] = _row_object(obj, include, api_version)
        rows.append(row)
    metadata: dict[str, Any] = {}
    if list_metadata is not None:
        for key in ("resourceVersion", "continue", "remainingItemCount"):
            if list_metadata.get(key) not in (None, ""):
                metadata[key] = list_metadata[key]
    elif len(items) == 1:
        rv = (items[0].get("metadata") or {}).get("resourceVersion")
        if rv:
            metadata["resourceVersion"] = rv
    return {
        "kind": "Table",
        "apiVersion": api_version,
        "metadata": metadata,
        "columnDefinitions": [c.definition() for c in printer.columns] if headers else [],
        "rows": rows,
    }


def _row_object(obj: dict[str, Any], include: str, api_version: str) -> dict[str, Any] | None:
    if include == "Object":
        return obj
    if include == "None":
        return None
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": api_version,
        "metadata": obj.get("metadata") or {},
    }
