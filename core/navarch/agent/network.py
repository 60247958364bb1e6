"""The agent's side of the pod network contract (issue 24): what a network plugin
(``navarch_register_networks``; ``agent.network``) is asked, and the per-pod calls the
pod workers make.

The kubelet's split, kept here: the runtime makes the pod's sandbox and its network
namespace; the network plugin (CNI's role) gives that namespace an interface, an
address from the node's pod range and routes; the agent reports the address in
``status.podIP(s)``. A plugin keeps what it set up on disk, so that a restarted agent
reports the same addresses (:meth:`NetworkPlugin.result`) and tears down what belongs to
sandboxes that are gone (:meth:`NetworkPlugin.collect_garbage`).

Which pods: not ``hostNetwork``, and a sandbox with a network namespace
(``SandboxStatus.netns_path``) and no address of its own. A runtime that does its
networking itself (the CRI runtime: containerd runs CNI) reports the address and is
left alone; the simulator has no namespace and is left alone too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from typing import Any, Protocol, runtime_checkable

import attrs
from loguru import logger

from navarch.client import Client
from navarch.client.informer import Informer
from navarch.runtime import SandboxStatus


@attrs.frozen
class PortMapping:
    """A container port published on the node (``hostPort``), as CNI's ``portMappings``
    capability takes it."""

    host_port: int
    container_port: int
    protocol: str = "tcp"  # lower case, as CNI's portmap expects
    host_ip: str = ""


@attrs.frozen
class PodNetworkRequest:
    """One pod's network, as the agent asks a plugin to set it up or tear it down."""

    namespace: str
    name: str
    uid: str
    sandbox_id: str
    # The sandbox's network namespace; "" on teardown when it is already gone.
    netns_path: str
    port_mappings: tuple[PortMapping, ...] = ()
    pod_cidr: str = ""  # this node's pod range (Node.spec.podCIDR or agent.pod_cidr)


@attrs.frozen
class PodNetworkResult:
    """What setup gave the pod: its addresses, without prefix length (IPv4 first)."""

    ips: tuple[str, ...]


@attrs.frozen
class NetworkStatus:
    """Whether the plugin can set pods up now; when not, a CamelCase ``reason`` and a
    message a user can act on (the Node's NetworkUnavailable condition)."""

    ready: bool
    reason: str = ""
    message: str = ""


@attrs.frozen
class NetworkContext:
    """What the agent hands a plugin at start."""

    node_name: str
    client: Client
    nodes: Informer  # every Node, listed and watched by the agent (host-gw routes)
    pod_cidr: Callable[[], str]  # this node's range now ("" while none is known)


class NetworkSetupError(Exception):
    """A pod's network could not be set up; the message goes into the pod's Event."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@runtime_checkable
class NetworkPlugin(Protocol):
    """The contract of a pod network plugin. Every method may be called from the
    agent's event loop only; none may block it (run subprocesses and netlink work
    asynchronously or in a thread)."""

    async def start(self, context: NetworkContext) -> None:
        """Prepare the node (sysctls, routes to other nodes …); called once, before any
        other call. Raising stops the agent."""

    async def setup(self, request: PodNetworkRequest) -> PodNetworkResult:
        """Give the pod's namespace its network; raise :class:`NetworkSetupError`.
        What a failed setup made part way is removed by the teardown that follows."""
        ...

    async def teardown(self, request: PodNetworkRequest) -> None:
        """Remove what setup made for ``request.sandbox_id`` (nothing made: nothing to
        do). Must succeed when the namespace is already gone."""

    async def result(self, sandbox_id: str) -> PodNetworkResult | None:
        """What a finished setup of ``sandbox_id`` gave (kept across agent restarts);
        None when it was never set up or did not finish."""
        ...

    async def status(self) -> NetworkStatus:
        """Whether pods can be set up now (missing binaries, no pod range …)."""
        ...

    async def collect_garbage(self, live_sandbox_ids: Collection[str], listed_at: float) -> None:
        """Tear down what belongs to sandboxes not in ``live_sandbox_ids`` (the runtime's
        list taken at ``listed_at``, ``time.time()``); what was set up after that stays."""

    async def close(self, for_good: bool) -> None:
        """The agent stops. ``for_good``: the node is going away, remove everything the
        plugin made on it (routes, rules); otherwise pods keep their network."""


def node_pod_cidr(node: Any) -> str:
    """``spec.podCIDR`` of a Node, read whether or not the model has the field yet."""
    spec = getattr(node, "spec", None)
    if spec is None:
        return ""
    value = getattr(spec, "pod_cidr", None)
    if value is None:
        value = (getattr(spec, "unmodeled", None) or {}).get("podCIDR")
    return str(value or "")


def node_internal_ip(node: Any) -> str:
    """The first InternalIP address a Node reports ("" when none)."""
    status = getattr(node, "status", None)
    for address in getattr(status, "addresses", None) or ():
        if address.type == "InternalIP":
            return str(address.address)
    return ""


def port_mappings(pod: Any) -> tuple[PortMapping, ...]:
    """The pod's ``hostPort``s (init and app containers), as portmap takes them."""
    mappings = []
    for container in (*(pod.spec.init_containers or ()), *(pod.spec.containers or ())):
        for port in container.ports or ():
            if port.host_port:
                mappings.append(
                    PortMapping(
                        host_port=int(port.host_port),
                        container_port=int(port.container_port),
                        protocol=(port.protocol or "TCP").lower(),
                        host_ip=port.host_ip or "",
                    )
                )
    return tuple(mappings)


@attrs.define(eq=False)
class PodNetwork:
    """The agent's handle on its network plugin: the Node watch the plugin reads, this
    node's pod range, and the per-pod calls the workers make."""

    plugin: NetworkPlugin
    client: Client
    node_name: str
    configured_cidr: str = ""  # agent.pod_cidr
    nodes: Informer = attrs.field(init=False)
    _started: asyncio.Event = attrs.field(factory=asyncio.Event)

    def __attrs_post_init__(self) -> None:
        self.nodes = Informer(self.client.nodes)

    @property
    def log(self) -> Any:
        return logger.bind(component="agent", node=self.node_name)

    def pod_cidr(self) -> str:
        """agent.pod_cidr, else the Node's spec.podCIDR (the node IPAM controller's)."""
        if self.configured_cidr:
            return self.configured_cidr
        node = self.nodes.get(self.node_name)
        return node_pod_cidr(node) if node is not None else ""

    async def run(self) -> None:
        """Watch the Nodes and start the plugin; runs until cancelled."""
        watching = asyncio.create_task(self.nodes.run(), name="nodes informer (network)")
        try:
            await self.nodes.wait_synced()
            await self.plugin.start(
                NetworkContext(self.node_name, self.client, self.nodes, self.pod_cidr)
            )
            self._started.set()
            self.log.bind(pod_cidr=self.pod_cidr()).info("pod network plugin started")
            await watching
        finally:
            watching.cancel()

    async def close(self, for_good: bool = False) -> None:
        if self._started.is_set():
            await self.plugin.close(for_good)

    async def status(self) -> NetworkStatus:
        if not self._started.is_set():
            return NetworkStatus(False, "NetworkPluginNotStarted", "the network plugin is starting")
        if not self.pod_cidr():
            return NetworkStatus(
                False,
                "NoPodCIDR",
                f"node {self.node_name} has no pod range yet: set agent.pod_cidr or wait "
                "for the node IPAM controller to give the Node a spec.podCIDR",
            )
        return await self.plugin.status()

    @staticmethod
    def needs_network(pod: Any, sandbox: SandboxStatus | None = None) -> bool:
        """Whether the plugin gives ``pod`` (in ``sandbox``, when known) its network."""
        if pod.spec.host_network:
            return False
        if sandbox is None:
            return True
        return bool(sandbox.netns_path) and not sandbox.ip and not sandbox.host_network

    def request(self, pod: Any, uid: str, sandbox_id: str, netns_path: str) -> PodNetworkRequest:
        meta = pod.metadata if pod is not None else None
        return PodNetworkRequest(
            namespace=(meta.namespace or "") if meta else "",
            name=(meta.name or "") if meta else "",
            uid=uid,
            sandbox_id=sandbox_id,
            netns_path=netns_path,
            port_mappings=port_mappings(pod) if pod is not None else (),
            pod_cidr=self.pod_cidr(),
        )

    async def setup(self, request: PodNetworkRequest) -> PodNetworkResult:
        result = await self.plugin.setup(request)
        self.log.bind(
            pod=f"{request.namespace}/{request.name}", sandbox=request.sandbox_id, ips=result.ips
        ).info("pod network set up")
        return result

    async def result(self, sandbox_id: str) -> PodNetworkResult | None:
        return await self.plugin.result(sandbox_id)

    async def teardown(self, request: PodNetworkRequest) -> bool:
        """Tear the sandbox's network down; False (logged) when the plugin failed: the
        sandbox goes anyway and the garbage collection tries again later."""
        try:
            await self.plugin.teardown(request)
        except Exception as exc:
            self.log.bind(sandbox=request.sandbox_id, error=str(exc)).warning(
                "pod network teardown failed; it is retried by the garbage collection"
            )
            return False
        return True

    async def collect_garbage(self, live_sandbox_ids: Collection[str], listed_at: float) -> None:
        if not self._started.is_set():
            return
        try:
            await self.plugin.collect_garbage(live_sandbox_ids, listed_at)
        except Exception as exc:
            self.log.bind(error=str(exc)).warning("pod network garbage collection failed")
