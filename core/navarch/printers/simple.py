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


def controller_revision_cells(obj: dict[str, Any], now: dt.datetime) -> Cells:
    owners = get_in(obj, "metadata", "ownerReferences") or []
    controller = next((o for o in owners if o.get("controller")), None)
    owner = ""
    if controller:
        group = controller.get("apiVersion", "").partition("/")[0]
        kind = controller.get("kind", "").lower() + (
            f".{group}" if "/" in controller.get("apiVersion", "") else ""
        )
        owner = f"{kind}/{controller.get('name', '')}"
    return [name_of(obj), owner, get_in(obj, "revision") or 0, age_of(obj, now)]


def _default_cells(obj: dict[str, Any], now: dt.datetime) -> Cells:
    return [name_of(obj), age_of(obj, now)]


NAMESPACE_PRINTER = Printer(
    (NAME_COLUMN, Column("Status", description="The phase of the namespace."), AGE_COLUMN),
    namespace_cells,
)
# kubectl's columns for ControllerRevisions: the controller as kind.group/name.
CONTROLLER_REVISION_PRINTER = Printer(
    (
        NAME_COLUMN,
        Column("Controller", description="The controller that owns the revision."),
        Column("Revision", type="integer", description="The revision number."),
        AGE_COLUMN,
    ),
    controller_revision_cells,
)
LEASE_PRINTER = Printer(
    (NAME_COLUMN, Column("Holder", description="The holder of the lease."), AGE_COLUMN),
    lease_cells,
)
DEFAULT_PRINTER = Printer((NAME_COLUMN, AGE_COLUMN), _default_cells)
