"""Where the API server's connections to the cluster's nodes are made from: Kubernetes'
egress selector for the ``cluster`` destination (kube-apiserver's
``--egress-selector-config-file``), reduced to what one process needs.

By default the API server connects to an agent (logs, exec, attach, port-forward) from
its own network namespace, as any client does. ``navarch up`` runs its nodes in
network namespaces of their own, whose addresses the host's namespace cannot reach
(and must not: nothing is routed there from the host), and runs the API server in its
own process: it installs a socket factory here that makes the sockets for the nodes'
addresses inside the cluster's LAN namespace (:mod:`navarch.up.forward`).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

# aiohttp's SocketFactoryType: (family, type, proto, canonname, sockaddr) -> socket
SocketFactory = Callable[[tuple[Any, ...]], socket.socket]

_cluster: SocketFactory | None = None


def use_cluster_sockets(factory: SocketFactory | None) -> None:
    """Make the API server's connections to nodes with ``factory`` (None: the default)."""
    global _cluster
    _cluster = factory


def cluster_sockets() -> SocketFactory | None:
    return _cluster
