"""The network namespaces of a ``navarch up`` cluster: each node a namespace of its own,
joined on a LAN of the cluster's own, so that pod and Service addresses, bridges, routes
and rules exist only in namespaces the cluster made, never in the host's.

    navarch-<id>-lan      the LAN: bridge br0, 10.250.0.254/24; one veth end per node
    navarch-<id>-node-1   eth0 10.250.0.1/24 (the other veth end), loopback up
    navarch-<id>-node-2   eth0 10.250.0.2/24 …
    navarch-<id>-node-4   a node that joined (``navarch join``): the lowest free address

``<id>`` is a digest of the data directory's path, so two clusters on one machine
(tests run several at once) never share a namespace, and every namespace of one
cluster is found again by its prefix: :func:`sweep` removes them (and ends what still
runs inside them: a node's agent left behind by an ``up`` killed with SIGKILL), which
removes their links with them. Nothing is made in the host's namespace but the bind
mounts under /run/netns that name the namespaces, as ``ip netns add`` makes them.

The namespaces are made with ``ip`` (iproute2): this runs once per cluster start, a
dozen commands, and keeps pyroute2 out of the core's dependencies.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import attrs
from loguru import logger

from navarch.startup import StartupError

RUN_NETNS = Path("/run/netns")
PREFIX = "navarch-"
# The LAN's range: private to the cluster's namespaces, so the same range in every
# cluster never meets another. Node k is .k, the LAN's own bridge the last address.
LAN_CIDR = "10.250.0.0/24"
BRIDGE = "br0"
NODE_INTERFACE = "eth0"
STOP_SECONDS = 10.0

log = logger.bind(component="up-network")


class NetworkSetupError(StartupError):
    """A namespace, link or address of the cluster could not be made."""


@attrs.frozen
class NodeNetns:
    """One node's namespace and its address on the cluster's LAN."""

    node: str
    name: str
    address: str

    @property
    def path(self) -> str:
        return str(RUN_NETNS / self.name)


@attrs.frozen
class ClusterNetwork:
    """The LAN namespace (its bridge's address: where the host-facing forwarder
    connects from) and each node's namespace."""

    cluster: str
    lan: str
    lan_address: str
    nodes: dict[str, NodeNetns]

    @property
    def lan_path(self) -> str:
        return str(RUN_NETNS / self.lan)

    def node(self, name: str) -> NodeNetns:
        return self.nodes[name]


def cluster_id(data_dir: Path) -> str:
    """Eight hex digits naming the cluster of ``data_dir`` in its namespaces' names."""
    return hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:8]


def cluster_prefix(cluster: str) -> str:
    return f"{PREFIX}{cluster}-"


def possible() -> str | None:
    """None when this process can make network namespaces; else why not."""
    if os.geteuid() != 0:
        return "making network namespaces needs root"
    for tool in ("ip", "nsenter", "setpriv"):
        if not any(Path(d, tool).exists() for d in ("/usr/sbin", "/usr/bin", "/sbin", "/bin")):
            return f"{tool} is not installed (apt-get install iproute2 util-linux)"
    return None


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise NetworkSetupError(f"ip {' '.join(args)}: {result.stderr.strip()}")


def create(cluster: str, nodes: Sequence[str], lan_cidr: str = LAN_CIDR) -> ClusterNetwork:
    """Make the LAN and one namespace per node (what a previous run left of them is
    swept first; a node that joined, :func:`join`, is left alone). On failure, what was
    made is removed again."""
    network = ipaddress.ip_network(lan_cidr)
    hosts = list(network.hosts())
    if len(nodes) + 1 > len(hosts):
        raise NetworkSetupError(f"{lan_cidr} has room for {len(hosts) - 1} nodes, not {len(nodes)}")
    prefix = cluster_prefix(cluster)
    lan = f"{prefix}lan"
    lan_address = str(hosts[-1])
    made = ClusterNetwork(
        cluster,
        lan,
        lan_address,
        {
            node: NodeNetns(node, f"{prefix}{node}", str(hosts[index]))
            for index, node in enumerate(nodes)
        },
    )
    own = [lan, *(node.name for node in made.nodes.values())]
    sweep(cluster, own)
    try:
        _ip("netns", "add", lan)
        _ip("-n", lan, "link", "set", "lo", "up")
        _ip("-n", lan, "link", "add", BRIDGE, "type", "bridge")
        _ip("-n", lan, "addr", "add", f"{lan_address}/{network.prefixlen}", "dev", BRIDGE)
        _ip("-n", lan, "link", "set", BRIDGE, "up")
        for node in made.nodes.values():
            _add_node(lan, node, network.prefixlen)
    except BaseException:
        sweep(cluster, own)
        raise
    log.bind(cluster=cluster, lan=lan, nodes={n.node: n.address for n in made.nodes.values()}).info(
        "node network namespaces made"
    )
    return made


def _add_node(lan: str, node: NodeNetns, prefixlen: int) -> None:
    # made inside the LAN's namespace with its peer inside the node's: no link ever
    # exists in the host's namespace, even for a moment. The LAN's end is named after
    # the address's last number, unique on the LAN as the address is.
    peer = f"v{node.address.rsplit('.', 1)[-1]}"
    _ip("netns", "add", node.name)
    _ip("-n", node.name, "link", "set", "lo", "up")
    _ip(
        "-n", lan, "link", "add", peer, "type", "veth",
        "peer", "name", NODE_INTERFACE, "netns", node.name,
    )  # fmt: skip
    _ip("-n", lan, "link", "set", peer, "master", BRIDGE, "up")
    _ip("-n", node.name, "addr", "add", f"{node.address}/{prefixlen}", "dev", NODE_INTERFACE)
    _ip("-n", node.name, "link", "set", NODE_INTERFACE, "up")


def join(cluster: str, node: str, lan_cidr: str = LAN_CIDR) -> NodeNetns:
    """A namespace for ``node`` joining the running cluster's LAN (``navarch join``), on
    the lowest address no node of the cluster has. What a previous join of that name
    left is removed first."""
    prefix = cluster_prefix(cluster)
    lan = f"{prefix}lan"
    present = namespaces(cluster)
    if lan not in present:
        raise NetworkSetupError(
            f"the cluster's LAN (network namespace {lan}) is not there: is navarch up running?"
        )
    name = f"{prefix}{node}"
    sweep(cluster, [name])
    network = ipaddress.ip_network(lan_cidr)
    used = {
        address for other in present if other not in (lan, name) for address in _addresses(other)
    }
    hosts = list(network.hosts())
    free = [str(h) for h in hosts[:-1] if str(h) not in used]  # the last one is the LAN's
    if not free:
        raise NetworkSetupError(f"no address left on the cluster's LAN ({lan_cidr})")
    made = NodeNetns(node, name, free[0])
    try:
        _add_node(lan, made, network.prefixlen)
    except BaseException:
        sweep(cluster, [name])
        raise
    log.bind(cluster=cluster, node=node, address=made.address).info("joined the cluster's LAN")
    return made


def _addresses(name: str) -> list[str]:
    """The IPv4 addresses of ``eth0`` in namespace ``name``."""
    result = subprocess.run(
        ["ip", "-n", name, "-4", "-o", "addr", "show", NODE_INTERFACE],
        capture_output=True,
        text=True,
        check=False,
    )
    return [line.split()[3].split("/")[0] for line in result.stdout.splitlines() if "inet" in line]


def remove(name: str) -> None:
    """Remove the namespace ``name`` without ending what runs in it (a process removing
    its own: the namespace, and its links, go when the process ends)."""
    subprocess.run(["ip", "netns", "delete", name], capture_output=True, check=False)


def namespaces(cluster: str) -> list[str]:
    """The cluster's namespaces present now."""
    if not RUN_NETNS.is_dir():
        return []
    prefix = cluster_prefix(cluster)
    return sorted(e.name for e in RUN_NETNS.iterdir() if e.name.startswith(prefix))


def sweep(cluster: str, only: Sequence[str] | None = None) -> list[str]:
    """Remove every namespace of ``cluster`` (or those of them named in ``only``),
    ending first what still runs in one (its links, routes and rules go with it);
    their names."""
    found = [n for n in namespaces(cluster) if only is None or n in only]
    pids = {name: _pids_in(name) for name in found}
    _end([pid for group in pids.values() for pid in group])
    for name in found:
        subprocess.run(["ip", "netns", "delete", name], capture_output=True, check=False)
    if found:
        log.bind(cluster=cluster, namespaces=found).info("node network namespaces removed")
    return found


def _pids_in(name: str) -> list[int]:
    """The processes in namespace ``name`` (``ip netns pids``): the cluster's own, as
    nothing else enters its namespaces."""
    result = subprocess.run(
        ["ip", "netns", "pids", name], capture_output=True, text=True, check=False
    )
    return [int(word) for word in result.stdout.split() if word.isdigit()]


def _end(pids: list[int]) -> None:
    """SIGTERM, then SIGKILL after :data:`STOP_SECONDS` for what still runs."""
    if not pids:
        return
    log.bind(pids=pids).warning("ending processes left in the cluster's network namespaces")
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.1)
    for pid in pids:
        _signal(pid, signal.SIGKILL)


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie child of ours counts as gone
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
