"""The agent's part of cluster DNS: on a node whose ``agent.dns_address`` is set, a
server answering from the node's own watch cache, announced on the node's Node so
that the ``nodedns`` controller (:mod:`navarch.controllers.nodedns`) lists it among
the ``kube-system/kube-dns`` Service's endpoints::

    metadata.annotations["navarch.io/dns-address"] = "<ip>:<port>"

The Service has ``internalTrafficPolicy: Local``, so the Service proxy sends each
pod's queries to its own node's server: no DNS traffic crosses nodes, and a node that
dies takes only its own pods' resolver with it.

Order matters: the server answers only once both informers listed (an NXDOMAIN given
before the first list would be cached by the pod as a fact), and the address is
announced only once the server listens. A node stopping takes its announcement back
(best effort: a killed agent's node goes NotReady and the controller drops it then).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from loguru import logger

from navarch.client import Client
from navarch.client.errors import ApiException, NotFound
from navarch.dns import ADDRESS_ANNOTATION
from navarch.dns.answers import DEFAULT_TTL
from navarch.dns.server import DnsServer, split_host_port
from navarch.dns.zone import ClusterZone, ZoneFeed

ANNOTATION = ADDRESS_ANNOTATION
ANNOUNCE_CHECK_SECONDS = 30.0  # the annotation is looked at again (a Node re-created …)
RETRY_SECONDS = 2.0
BIND_RETRY_SECONDS = 10.0
WITHDRAW_TIMEOUT_SECONDS = 2.0
UNSPECIFIED = ("", "0.0.0.0", "::")


def announced_address(dns_address: str, node_ip: str) -> tuple[str, int, str]:
    """(listen host, port, the ``ip:port`` announced) for ``agent.dns_address``: a
    wildcard host listens everywhere and is announced as the node's IP."""
    host, port = split_host_port(dns_address)
    shown = node_ip if host in UNSPECIFIED else host
    if ":" in shown:
        return host or "0.0.0.0", port, f"[{shown}]:{port}"
    return host or "0.0.0.0", port, f"{shown}:{port}"


class NodeDns:
    def __init__(
        self,
        client: Client,
        node_name: str,
        node_ip: str,
        dns_address: str,
        domain: str,
        *,
        ttl: int = DEFAULT_TTL,
        upstreams: Sequence[str] = (),
    ):
        self.client = client
        self.node_name = node_name
        self.host, port, self.announced = announced_address(dns_address, node_ip)
        self.zone = ClusterZone(domain)
        self.feed = ZoneFeed(client, self.zone)
        self.server = DnsServer(self.zone, self.host, port, ttl=ttl, upstreams=upstreams)
        self.log = logger.bind(component="dns", node=node_name, address=self.announced)

    @classmethod
    def for_agent(cls, agent: Any) -> NodeDns:
        s = agent.settings
        return cls(agent.client, agent.node_name, agent.node_ip, s.dns_address, s.cluster_domain)

    async def run(self) -> None:
        """Serve until cancelled; then stop serving and take the announcement back."""
        feed = asyncio.create_task(self.feed.run(), name="dns feed")
        try:
            await self.feed.wait_synced()
            await self._listen()
            await self._announce_loop()
        finally:
            feed.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await feed
            await self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._withdraw(), WITHDRAW_TIMEOUT_SECONDS)

    async def _listen(self) -> None:
        while True:
            try:
                await self.server.start()
                return
            except OSError as exc:
                # The agent keeps running its pods; DNS comes when the port is free.
                self.log.bind(error=str(exc)).error(
                    "cannot listen for cluster DNS; free the port or change agent.dns_address"
                )
                await asyncio.sleep(BIND_RETRY_SECONDS)

    async def _announce_loop(self) -> None:
        while True:
            try:
                await self._announce()
                delay = ANNOUNCE_CHECK_SECONDS
            except (NotFound, ApiException) as exc:
                # NotFound: the node reporter has not registered the Node yet.
                self.log.bind(error=str(exc)).debug("cannot announce the DNS address yet")
                delay = RETRY_SECONDS
            await asyncio.sleep(delay)

    async def _announce(self) -> None:
        node = await self.client.nodes.get(self.node_name)
        if (node.metadata.annotations or {}).get(ANNOTATION) == self.announced:
            return
        patch = {"metadata": {"annotations": {ANNOTATION: self.announced}}}
        await self.client.nodes.patch(self.node_name, patch)
        self.log.info("cluster DNS address announced on the Node")

    async def _withdraw(self) -> None:
        patch = {"metadata": {"annotations": {ANNOTATION: None}}}
        with contextlib.suppress(NotFound):
            await self.client.nodes.patch(self.node_name, patch)
