"""Columns, printers, and the cells every kind shares (name, age, field lookups)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import attrs

from navarch.printers.durations import since

NONE = "<none>"  # an optional field left unset

Cells = list[Any]


@attrs.frozen
class Column:
    name: str
    type: str = "string"
    description: str = ""
    priority: int = 0  # 1: shown only by ``kubectl get -o wide``
    format: str = ""

    def definition(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


@attrs.frozen
class Printer:
    columns: tuple[Column, ...]
    cells: Callable[[dict[str, Any], dt.datetime], Cells]
    conditions: Callable[[dict[str, Any]], list[dict[str, Any]]] = lambda obj: []


def get_in(obj: Any, *keys: str | int) -> Any:
    """The value at a path of dict keys and list indexes, or None where it breaks off."""
    for key in keys:
        if isinstance(key, int):
            obj = obj[key] if isinstance(obj, list) and len(obj) > key else None
        else:
            obj = obj.get(key) if isinstance(obj, dict) else None
        if obj is None:
            return None
    return obj


def dicts_at(obj: Any, *keys: str) -> list[Any]:
    """The dicts in the list at a path (empty when there is no list)."""
    found = get_in(obj, *keys)
    return [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []


def name_of(obj: dict[str, Any]) -> str:
    return get_in(obj, "metadata", "name") or ""


def age_of(obj: dict[str, Any], now: dt.datetime) -> str:
    return since(get_in(obj, "metadata", "creationTimestamp"), now)


def wide(name: str, description: str, type_: str = "string") -> Column:
    """A column kubectl shows only with ``-o wide``."""
    return Column(name, type_, description, priority=1)


NAME_COLUMN = Column(
    "Name", format="name", description="The object's name, unique in its namespace."
)
AGE_COLUMN = Column(
    "Age", description="Time since the object was created (metadata.creationTimestamp)."
)


def field_printer(*columns: tuple[Column, str]) -> Printer:
    """A printer of Name, one column per ``(column, "dotted.path")`` and Age: what a kind
    that has no printer code of its own declares (a CustomResourceDefinition's
    ``additionalPrinterColumns`` have the same shape). A missing field prints empty."""
    paths = [tuple(path.split(".")) for _, path in columns]

    def cells(obj: dict[str, Any], now: dt.datetime) -> Cells:
        values = [get_in(obj, *keys) for keys in paths]
        return [name_of(obj), *("" if v is None else v for v in values), age_of(obj, now)]

    return Printer((NAME_COLUMN, *(column for column, _ in columns), AGE_COLUMN), cells)
