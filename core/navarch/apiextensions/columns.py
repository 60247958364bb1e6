"""``additionalPrinterColumns``: the Table columns ``kubectl get`` shows for a custom
resource, and each object's cells (Kubernetes' CRD ``tableconvertor``).

The first column is always the object's name; then one per printer column, or, when a
version declares none, ``Age`` from ``.metadata.creationTimestamp``. A cell is the first
value the column's JSONPath finds (:mod:`navarch.apiextensions.jsonpath`), converted by
the column's type — and None (kubectl prints ``<none>``) when the path finds nothing
or the value has another type::

    integer  7, 7.0 -> 7          number   2 -> 2.0, 2.5 -> 2.5
    boolean  true -> True         string   "x" -> "x"; any other JSON value as JSON text
    date     "2024-05-01T10:00:00Z" -> "3d" (age, as kubectl prints it); unreadable
             -> "<invalid>"

With the CronTab example's columns (``Spec`` .spec.cronSpec string, ``Replicas``
.spec.replicas integer, ``Age`` .metadata.creationTimestamp date), ``my-new-cron-object``
created 5 minutes ago prints ``["my-new-cron-object", "* * * * */5", 1, "5m"]``.

This module reuses the Table pieces every kind shares (``Column``, ``Printer`` and the
age formatting of :mod:`navarch.printers`), so :func:`printer` plugs a CRD version into
the same Table code as the built-in kinds.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from navarch.apiextensions.jsonpath import JSONPathError, Step, find, parse
from navarch.apiextensions.v1 import CustomResourceColumnDefinition
from navarch.printers.cells import NAME_COLUMN, Cells, Column, Printer, name_of
from navarch.printers.durations import human_duration, parse_time

COLUMN_TYPES = ("boolean", "date", "integer", "number", "string")
COLUMN_FORMATS = ("byte", "date", "date-time", "double", "float", "int32", "int64", "password")
INVALID_DATE = "<invalid>"
UNKNOWN_DATE = "<unknown>"

AGE_COLUMN = CustomResourceColumnDefinition(
    name="Age",
    type="date",
    json_path=".metadata.creationTimestamp",
    description="CreationTimestamp is a timestamp representing the server time when this "
    "object was created.",
)


def effective_columns(
    columns: tuple[CustomResourceColumnDefinition, ...] | None,
) -> tuple[CustomResourceColumnDefinition, ...]:
    """A version's printer columns, or ``Age`` alone when it declares none."""
    return tuple(columns) if columns else (AGE_COLUMN,)


def printer(columns: tuple[CustomResourceColumnDefinition, ...] | None) -> Printer:
    """The Table printer of a CRD version with these ``additionalPrinterColumns``.

    The paths are parsed once here; CRD validation has already refused bad ones, and a
    column whose path still does not parse prints None."""
    chosen = effective_columns(columns)
    parsed = [_parse_or_none(c.json_path or "") for c in chosen]
    definitions = (
        NAME_COLUMN,
        *(
            Column(
                c.name or "",
                c.type or "string",
                c.description or "",
                priority=c.priority or 0,
                format=c.format or "",
            )
            for c in chosen
        ),
    )

    def cells(obj: dict[str, Any], now: dt.datetime) -> Cells:
        row: Cells = [name_of(obj)]
        for column, steps in zip(chosen, parsed, strict=True):
            found = find(obj, steps) if steps is not None else []
            row.append(cell(found[0] if found else None, column.type or "string", now))
        return row

    return Printer(definitions, cells)


def cell(value: Any, type_: str, now: dt.datetime) -> Any:
    """One value converted for a column of ``type_`` (None: nothing to show)."""
    if value is None:
        return None
    if type_ == "string":
        return value if isinstance(value, str) else _json_text(value)
    if isinstance(value, bool):
        return value if type_ == "boolean" else None
    if type_ == "integer" and isinstance(value, (int, float)):
        return int(value)
    if type_ == "number" and isinstance(value, (int, float)):
        return float(value)
    if type_ == "date" and isinstance(value, str):
        if not value:
            return UNKNOWN_DATE
        moment = parse_time(value)
        if moment is None:
            return INVALID_DATE
        return human_duration((now - moment).total_seconds())
    return None


def _json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _parse_or_none(path: str) -> tuple[Step, ...] | None:
    try:
        return parse(path)
    except JSONPathError:
        return None
