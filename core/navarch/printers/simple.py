"""Tables of a name, at most one field and an age: namespaces, leases, and every kind
without a printer of its own."""

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
    get_in,
    name_of,
)


def namespace_cells(obj: dict[str, Any], now: dt.datetime) -> Cells:
    return [name_of(obj), get_in(obj, "status", "phase") or "", age_of(obj, now)]


def lease_cells(obj: dict[str, Any], now: dt.datetime) -> Cells:
    return [name_of(obj), get_in(obj, "spec", "holderIdentity") or "", age_of(obj, now)]


def _default_cells(obj: dict[str, Any], now: dt.datetime) -> Cells:
    return [name_of(obj), age_of(obj, now)]


NAMESPACE_PRINTER = Printer(
    (NAME_COLUMN, Column("Status", description="The phase of the namespace."), AGE_COLUMN),
    namespace_cells,
)
LEASE_PRINTER = Printer(
    (NAME_COLUMN, Column("Holder", description="The holder of the lease."), AGE_COLUMN),
    lease_cells,
)
DEFAULT_PRINTER = Printer((NAME_COLUMN, AGE_COLUMN), _default_cells)
