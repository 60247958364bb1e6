"""The networkpolicies Table, as kubectl prints it: NAME POD-SELECTOR AGE (the selector
as ``labels.Selector.String()``, ``<none>`` when it selects every pod)."""

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
)
from navarch.printers.workloads import selector_string


def network_policy_cells(obj: dict[str, Any], now: dt.datetime) -> Cells:
    # metav1.FormatLabelSelector: an empty selector reads "<none>".
    selector = selector_string(get_in(obj, "spec", "podSelector")) or NONE
    return [name_of(obj), selector, age_of(obj, now)]


NETWORK_POLICY_PRINTER = Printer(
    (
        NAME_COLUMN,
        Column(
            "Pod-Selector",
            description="Selects the pods to which this NetworkPolicy object applies.",
        ),
        AGE_COLUMN,
    ),
    network_policy_cells,
)
