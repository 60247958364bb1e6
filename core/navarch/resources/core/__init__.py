"""The core's own kinds, registered through ``navarch_register_resources`` like any
plugin's (the default plugin :mod:`navarch.resources.core.plugin`).

Each kind's module holds everything about how it is served: its spec, its strategy
(defaults, status and generation handling, update and delete rules), its selectable
fields and which printer shows it.
"""

from __future__ import annotations

from navarch.apiextensions.served import CUSTOM_RESOURCE_DEFINITIONS
from navarch.resources.core import (
    batch,
    configuration,
    daemonsets,
    endpoints,
    networkpolicies,
    services,
    statefulsets,
    storage,
)
from navarch.resources.core.events import EVENTS
from navarch.resources.core.leases import LEASES
from navarch.resources.core.namespaces import NAMESPACE_FINALIZER, NAMESPACES
from navarch.resources.core.nodes import NODES
from navarch.resources.core.pods import PODS
from navarch.resources.core.revisions import CONTROLLER_REVISIONS
from navarch.resources.core.workloads import DEPLOYMENTS, REPLICASETS

# In the order discovery lists them.
CORE_RESOURCES = (
    NAMESPACES,
    PODS,
    NODES,
    EVENTS,
    *services.RESOURCES,
    *endpoints.RESOURCES,
    *networkpolicies.RESOURCES,
    *configuration.RESOURCES,
    *storage.RESOURCES,
    REPLICASETS,
    DEPLOYMENTS,
    *daemonsets.RESOURCES,
    *statefulsets.RESOURCES,
    CONTROLLER_REVISIONS,
    *batch.RESOURCES,
    LEASES,
    CUSTOM_RESOURCE_DEFINITIONS,
)

__all__ = [
    "CONTROLLER_REVISIONS",
    "CORE_RESOURCES",
    "DEPLOYMENTS",
    "EVENTS",
    "LEASES",
    "NAMESPACES",
    "NAMESPACE_FINALIZER",
    "NODES",
    "PODS",
    "REPLICASETS",
]
