"""NodePort and LoadBalancer Services of a ``navarch up`` cluster, reachable from the
host on 127.0.0.1 — kind's ``extraPortMappings``, made for every Service as it comes.

The nodes live in namespaces of their own (:mod:`navarch.up.network`), whose addresses
the host cannot reach (and must not: nothing is routed from the host into them). So
``up`` watches the Services and, for each TCP port with a ``nodePort``, listens on the
host's ``127.0.0.1:<nodePort>`` and relays every connection to that NodePort on a node's
LAN address, connecting from the LAN's own namespace as a machine next to the nodes
would. Connections go to the nodes in turn, and a node that does not answer is passed
over for the next, so an application stays reachable when a node dies.

A LoadBalancer Service is also listened for on its own ``port`` (``127.0.0.1:80`` for a
Service of port 80), when that port is free on the host — as k3s's ServiceLB takes the
port on its nodes; when it is not, the nodePort still is.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
from collections.abc import Sequence
from typing import Any

from loguru import logger

from navarch.client import Client
from navarch.client.informer import Informer
from navarch.up.forward import listen_in, relay_to, to_first
from navarch.up.network import ClusterNetwork

HOST = "127.0.0.1"

log = logger.bind(component="up-services")


def host_ports(services: Sequence[Any]) -> dict[int, tuple[int, str]]:
    """host port -> (the nodePort it relays to, the Service ``ns/name``): every TCP
    nodePort, then the ports of LoadBalancer Services not already taken by another."""
    wanted: dict[int, tuple[int, str]] = {}
    balanced: list[tuple[int, int, str]] = []
    for service in services:
        spec = service.spec
        if spec is None or spec.type not in ("NodePort", "LoadBalancer"):
            continue
        name = f"{service.metadata.namespace}/{service.metadata.name}"
        for port in spec.ports or ():
            if not port.node_port or (port.protocol or "TCP") != "TCP":
                continue
            wanted[port.node_port] = (port.node_port, name)
            if spec.type == "LoadBalancer" and port.port:
                balanced.append((port.port, port.node_port, name))
    for port, node_port, name in balanced:
        wanted.setdefault(port, (node_port, name))
    return wanted


class ServiceForwarder:
    """Keeps one listener on the host per wanted port (:func:`host_ports`)."""

    def __init__(self, network: ClusterNetwork):
        self.network = network
        self.listeners: dict[int, tuple[int, asyncio.Server]] = {}
        self.refused: dict[int, str] = {}  # host port -> why it could not be listened on
        self._turn = itertools.count()

    def targets(self, node_port: int) -> list[tuple[str | None, str, int]]:
        """Every node's address, starting from the next one in turn."""
        nodes = list(self.network.nodes.values())
        start = next(self._turn) % len(nodes)
        ordered = nodes[start:] + nodes[:start]
        return [(self.network.lan_path, node.address, node_port) for node in ordered]

    async def sync(self, services: Sequence[Any]) -> None:
        wanted = host_ports(services)
        for port in list(self.listeners):
            node_port, server = self.listeners[port]
            if wanted.get(port, (None,))[0] != node_port:
                server.close()
                del self.listeners[port]
                log.bind(port=port).info("no longer forwarded")
        self.refused = {p: why for p, why in self.refused.items() if p in wanted}
        for port, (node_port, name) in wanted.items():
            if port in self.listeners:
                continue
            handle = relay_to(to_first(functools.partial(self.targets, node_port)), service=name)
            try:
                server = await listen_in(None, HOST, port, handle)
            except OSError as exc:
                if self.refused.get(port) != str(exc):
                    log.bind(port=port, service=name, error=str(exc)).warning(
                        "cannot listen on the host for this Service's port"
                    )
                self.refused[port] = str(exc)
                continue
            self.refused.pop(port, None)
            self.listeners[port] = (node_port, server)
            log.bind(port=port, node_port=node_port, service=name).info(
                f"forwarding http://{HOST}:{port}/ to the nodes"
            )

    def close(self) -> None:
        for _, server in self.listeners.values():
            server.close()
        self.listeners.clear()


async def forward_services(client: Client, network: ClusterNetwork) -> None:
    """Watch the Services and keep the host's listeners in step, until cancelled."""
    forwarder = ServiceForwarder(network)
    informer = Informer(client.resource("services"))
    changed = asyncio.Event()

    def wake(*_: Any) -> None:
        changed.set()

    informer.add_handler(on_add=wake, on_update=wake, on_delete=wake)
    watching = asyncio.ensure_future(informer.run())
    try:
        await informer.wait_synced()
        while True:
            changed.clear()
            await forwarder.sync(informer.list())
            waiting = asyncio.ensure_future(changed.wait())
            # a port taken on the host is tried again now and then
            retry = 5.0 if forwarder.refused else None
            await asyncio.wait(
                [waiting, watching], timeout=retry, return_when=asyncio.FIRST_COMPLETED
            )
            waiting.cancel()
            if watching.done():
                watching.result()  # raises why the watch ended
                return
    finally:
        forwarder.close()
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
