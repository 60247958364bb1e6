"""The configmaps and secrets Tables, with kubectl's columns: a ConfigMap's DATA counts
``data`` and ``binaryData`` keys together, a Secret shows its TYPE and DATA (its
``data`` keys; ``stringData`` is never stored)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from navarch.printers.cells import AGE_COLUMN, NAME_COLUMN, Cells, Column, Printer, age_of, name_of


def _count(obj: dict[str, Any], *fields: str) -> int:
    return sum(len(obj.get(field) or {}) for field in fields)


def configmap_cells(obj: dict[str, Any], now: dt.datetime) -> Cells:
    """NAME DATA AGE."""
    return [name_of(obj), _count(obj, "data", "binaryData"), age_of(obj, now)]


def secret_cells(obj: dict[str, Any], now: dt.datetime) -> Cells:
    """NAME TYPE DATA AGE."""
    return [name_of(obj), obj.get("type") or "", _count(obj, "data"), age_of(obj, now)]


CONFIGMAP_PRINTER = Printer(
    (
        NAME_COLUMN,
        Column("Data", description="The number of keys in data and binaryData."),
        AGE_COLUMN,
    ),
    configmap_cells,
)
SECRET_PRINTER = Printer(
    (
        NAME_COLUMN,
        Column("Type", description="Used to facilitate programmatic handling of secret data."),
        Column("Data", description="The number of keys in data."),
        AGE_COLUMN,
    ),
    secret_cells,
)
