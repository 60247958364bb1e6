"""Server-side printing: the ``meta.k8s.io`` Table that ``kubectl get`` asks for.

kubectl sends ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io, …`` and prints
whatever columns the server returns, so READY, STATUS, RESTARTS, NODE and the rest come
from here. The columns and the cell rules follow Kubernetes' own printers
(``pkg/printers/internalversion/printers.go``); the server always fills the wide
columns (priority 1) and kubectl shows them only with ``-o wide``.

Worked example — a pod whose only container is waiting to be pulled::

    status.containerStatuses[0].state.waiting.reason = "ContainerCreating"
    -> cells ["web-1", "0/1", "ContainerCreating", "0", "5m3s", "<none>", "worker-1", …]

Everything here is a pure function of wire dicts and a clock, so tests need no server.

The modules:

* ``negotiation``: which Table an ``Accept`` header asks for, and what the request
  path calls (:class:`TableRequest`, the watch writer);
* ``table``: the Table itself, in the columns of the resource's printer.

Each kind's columns are part of its resource spec (``Resource.printer``) and live in
:mod:`navarch.printers`, which imports nothing of the API server; the names of those
modules are re-exported here for convenience. They are imported on first use
(:mod:`navarch.lazyexports`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from navarch.lazyexports import lazy_exports

if TYPE_CHECKING:
    from navarch.apiserver.printers.negotiation import (
        TableRequest,
        TableWatchWriter,
        table_version,
        wants_table,
    )
    from navarch.apiserver.printers.table import (
        INCLUDE_OBJECT,
        TABLE_GROUP,
        TABLE_VERSIONS,
        table,
    )
    from navarch.printers.cells import NONE, Cells, Column, Printer
    from navarch.printers.durations import UNKNOWN, human_duration, parse_time, since
    from navarch.printers.events import event_cells
    from navarch.printers.nodes import (
        NODE_ROLE_LABEL,
        NODE_ROLE_PREFIX,
        node_cells,
        node_roles,
    )
    from navarch.printers.pods import pod_cells
    from navarch.printers.podstatus import pod_summary
    from navarch.printers.simple import lease_cells, namespace_cells
    from navarch.printers.workloads import deployment_cells, replicaset_cells

__all__ = [
    "INCLUDE_OBJECT",
    "NODE_ROLE_LABEL",
    "NODE_ROLE_PREFIX",
    "NONE",
    "TABLE_GROUP",
    "TABLE_VERSIONS",
    "UNKNOWN",
    "Cells",
    "Column",
    "Printer",
    "TableRequest",
    "TableWatchWriter",
    "deployment_cells",
    "event_cells",
    "human_duration",
    "lease_cells",
    "namespace_cells",
    "node_cells",
    "node_roles",
    "parse_time",
    "pod_cells",
    "pod_summary",
    "replicaset_cells",
    "since",
    "table",
    "table_version",
    "wants_table",
]

__getattr__, __dir__ = lazy_exports(
    globals(),
    {
        "NONE": "navarch.printers.cells",
        "Cells": "navarch.printers.cells",
        "Column": "navarch.printers.cells",
        "Printer": "navarch.printers.cells",
        "UNKNOWN": "navarch.printers.durations",
        "human_duration": "navarch.printers.durations",
        "parse_time": "navarch.printers.durations",
        "since": "navarch.printers.durations",
        "event_cells": "navarch.printers.events",
        "TableRequest": "navarch.apiserver.printers.negotiation",
        "TableWatchWriter": "navarch.apiserver.printers.negotiation",
        "table_version": "navarch.apiserver.printers.negotiation",
        "wants_table": "navarch.apiserver.printers.negotiation",
        "NODE_ROLE_LABEL": "navarch.printers.nodes",
        "NODE_ROLE_PREFIX": "navarch.printers.nodes",
        "node_cells": "navarch.printers.nodes",
        "node_roles": "navarch.printers.nodes",
        "pod_cells": "navarch.printers.pods",
        "pod_summary": "navarch.printers.podstatus",
        "lease_cells": "navarch.printers.simple",
        "namespace_cells": "navarch.printers.simple",
        "INCLUDE_OBJECT": "navarch.apiserver.printers.table",
        "TABLE_GROUP": "navarch.apiserver.printers.table",
        "TABLE_VERSIONS": "navarch.apiserver.printers.table",
        "table": "navarch.apiserver.printers.table",
        "deployment_cells": "navarch.printers.workloads",
        "replicaset_cells": "navarch.printers.workloads",
    },
)
