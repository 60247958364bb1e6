"""host-gw routes (flannel's host-gw backend): in the node's namespace, one route per
other node, its ``spec.podCIDR`` via its InternalIP, so every pod reaches every other
node's pods without NAT. It needs the nodes on one link (a LAN, a bridge).

Routes are ours by their protocol number (:data:`ROUTE_PROTOCOL`, like bird's or
zebra's own): a sync replaces the wanted ones and removes every other route carrying it,
so a node gone or readdressed loses its route, and a restarted agent finds what the
previous one made. Netlink through pyroute2, in a thread (its calls block)."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

from loguru import logger
from pyroute2 import IPRoute  # type: ignore[import-untyped]
from pyroute2.netlink.exceptions import NetlinkError  # type: ignore[import-untyped]

from navarch.agent.network import NetworkContext, node_internal_ip, node_pod_cidr

ROUTE_PROTOCOL = 151  # rtnetlink protocol number marking Navarch's host-gw routes
RETRY_SECONDS = 5.0  # a route that could not be made (the gateway not reachable yet)


def wanted_routes(nodes: list[Any], own_node: str, own_cidr: str = "") -> dict[str, str]:
    """podCIDR -> gateway for every other node that has both (IPv4 only). A range
    overlapping this node's own is never routed away (a stale Node holding it)."""
    own = ipaddress.ip_network(own_cidr, strict=False) if own_cidr else None
    routes: dict[str, str] = {}
    for node in nodes:
        name = node.metadata.name
        cidr, gateway = node_pod_cidr(node), node_internal_ip(node)
        if name == own_node or not cidr or not gateway:
            continue
        try:
            network = ipaddress.ip_network(cidr, strict=False)
            if network.version != 4 or ipaddress.ip_address(gateway).version != 4:
                continue
            if own is not None and own.version == 4 and network.overlaps(own):
                continue
        except ValueError:
            continue
        routes[str(network)] = gateway
    return routes


def _sync(wanted: dict[str, str]) -> list[str]:
    """Make the routes carrying our protocol exactly ``wanted``; the errors."""
    errors: list[str] = []
    with IPRoute() as ipr:
        present: dict[str, str] = {}
        for route in ipr.route("dump", family=2, proto=ROUTE_PROTOCOL):
            dst = f"{route.get('dst')}/{route['dst_len']}"
            present[dst] = str(route.get("gateway") or "")
        for dst, gateway in present.items():
            if wanted.get(dst) != gateway:
                try:
                    ipr.route("del", dst=dst, proto=ROUTE_PROTOCOL)
                except NetlinkError as exc:
                    errors.append(f"remove {dst}: {exc}")
        for dst, gateway in wanted.items():
            if present.get(dst) == gateway:
                continue
            try:
                ipr.route("replace", dst=dst, gateway=gateway, proto=ROUTE_PROTOCOL)
            except NetlinkError as exc:
                errors.append(f"{dst} via {gateway}: {exc}")
    return errors


def routes_made() -> dict[str, str]:
    """Our routes in the calling process's namespace: dst -> gateway (tests, debug)."""
    with IPRoute() as ipr:
        return {
            f"{r.get('dst')}/{r['dst_len']}": str(r.get("gateway") or "")
            for r in ipr.route("dump", family=2, proto=ROUTE_PROTOCOL)
        }


class HostGateway:
    """Keeps the routes to the other nodes' pod ranges in step with the Nodes."""

    def __init__(self, context: NetworkContext):
        self.context = context
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.syncs = 0
        self.log = logger.bind(component="network-cni", node=context.node_name)

    def start(self) -> None:
        nodes = self.context.nodes
        nodes.add_handler(
            lambda _node: self._changed.set(),
            lambda _old, _new: self._changed.set(),
            lambda _node: self._changed.set(),
        )
        self._changed.set()
        self._task = asyncio.create_task(self._run(), name="host-gw routes")

    async def _run(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            context = self.context
            wanted = wanted_routes(context.nodes.list(), context.node_name, context.pod_cidr())
            errors = await asyncio.to_thread(_sync, wanted)
            self.syncs += 1
            if errors:
                self.log.bind(errors=errors).warning("some host-gw routes could not be made")
                asyncio.get_running_loop().call_later(RETRY_SECONDS, self._changed.set)
            else:
                self.log.bind(routes=len(wanted)).debug("host-gw routes in step")

    async def close(self, for_good: bool) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if for_good:
            errors = await asyncio.to_thread(_sync, {})
            self.log.bind(errors=errors).info("host-gw routes removed")
