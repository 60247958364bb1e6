"""The pod network's data path (issue 24), measured inside namespaces this process makes:

* **floor**: two namespaces joined by a plain veth pair — what any pod network costs
  at least;
* **pod to pod**: two pod namespaces given their addresses by the cni network plugin
  (bridge + host-local, run inside a node namespace as the agent runs it);
* **pod to Service**: the same pair, the client calling a ClusterIP that the Service
  proxy's nftables rules (navarch.proxy) DNAT to the server pod.

Each path: throughput (a bounded transfer of TRANSFER_MIB MiB over one TCP connection,
Python sockets at both ends) and latency (ROUND_TRIPS one-byte round trips, median and
p99). Python's own cost per byte dominates a transfer between namespaces on one
machine, so the comparison with the floor, not the absolute figure, is the measure.
Targets (chosen here): throughput >= 0.7 x the floor, median latency <= 1.5 x the floor.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import attrs
from targets import Target

from navarch.proxy.model import service_ports
from navarch.proxy.ruleset import NodeView, build, full_script
from navarch.testing import netns

TRANSFER_MIB = 256
ROUND_TRIPS = 2000
PORT = 7000
POD_CIDR = "10.42.1.0/24"
SERVICE_IP = "10.43.0.50"
SERVICE_PORT = 80

# Runs in the server's namespace: one connection for the transfer (answering the
# bytes it read), then one for the round trips (echoing each byte).
_SERVER = """
import socket, sys
server = socket.create_server((sys.argv[1], int(sys.argv[2])))
print("listening", flush=True)
conn, _ = server.accept()
total = 0
while chunk := conn.recv(1 << 20):
    total += len(chunk)
conn.sendall(str(total).encode())
conn.close()
conn, _ = server.accept()
conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
while byte := conn.recv(1):
    conn.sendall(byte)
conn.close()
"""

# Runs in the client's namespace; prints the figures as JSON.
_CLIENT = """
import json, socket, statistics, sys, time
host, port, mib, trips = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
block = b"x" * (1 << 16)
with socket.create_connection((host, port), timeout=60) as conn:
    started = time.perf_counter()
    for _ in range(mib * 16):
        conn.sendall(block)
    conn.shutdown(socket.SHUT_WR)
    answer = conn.recv(64)
    seconds = time.perf_counter() - started
assert int(answer) == mib << 20, answer
with socket.create_connection((host, port), timeout=60) as conn:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rtts = []
    for _ in range(trips):
        started = time.perf_counter()
        conn.sendall(b"p")
        assert conn.recv(1) == b"p"
        rtts.append(time.perf_counter() - started)
rtts.sort()
print(json.dumps({
    "mib_per_s": mib / seconds,
    "median_us": statistics.median(rtts) * 1e6,
    "p99_us": rtts[int(len(rtts) * 0.99)] * 1e6,
}))
"""

# Runs in the node's namespace: the cni plugin gives each pod namespace its address.
_CNI_SETUP = """
import asyncio, json, sys
from navarch.agent.network import PodNetworkRequest
from navarch_network_cni.network import CniNetwork
from navarch_network_cni.options import CniOptions

data_dir, cidr, *pods = sys.argv[1:]

async def main():
    network = CniNetwork(CniOptions(cluster_cidr=""), data_dir)
    ips = []
    for pod in pods:
        request = PodNetworkRequest("bench", pod, "uid-" + pod, pod, "/run/netns/" + pod, (), cidr)
        ips.append((await network.setup(request)).ips[0])
    print(json.dumps(ips))

asyncio.run(main())
"""


@attrs.frozen
class Load:
    mib: int = TRANSFER_MIB
    trips: int = ROUND_TRIPS


def measure(
    server: netns.TestNetns,
    client: netns.TestNetns,
    listen: str,
    dial: tuple[str, int],
    load: Load,
) -> Any:
    """One transfer and the round trips, from ``client`` (to ``dial``) to ``server``
    (listening on ``listen``, port PORT)."""
    process = server.popen(
        [sys.executable, "-c", _SERVER, listen, str(PORT)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "listening\n"
        host, port = dial
        argv = [sys.executable, "-c", _CLIENT, host, str(port), str(load.mib), str(load.trips)]
        done = client.run(argv, timeout=600)
        return json.loads(done.stdout)
    finally:
        process.kill()
        process.wait(timeout=30)


def floor(load: Load) -> Any:
    with netns.namespaces("veth-a", "veth-b") as (a, b):
        a.ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", b.name)
        for index, side in enumerate((a, b), start=1):
            side.ip("addr", "add", f"10.251.0.{index}/24", "dev", "eth0")
            side.ip("link", "set", "eth0", "up")
        return measure(b, a, "10.251.0.2", ("10.251.0.2", PORT), load)


def service_rules(server_ip: str) -> str:
    service = {
        "metadata": {"namespace": "bench", "name": "web"},
        "spec": {
            "type": "ClusterIP",
            "clusterIP": SERVICE_IP,
            "ports": [
                {"name": "http", "protocol": "TCP", "port": SERVICE_PORT, "targetPort": PORT}
            ],
        },
    }
    endpoint_slice = {
        "metadata": {
            "namespace": "bench",
            "name": "web-1",
            "labels": {"kubernetes.io/service-name": "web"},
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "protocol": "TCP", "port": PORT}],
        "endpoints": [{"addresses": [server_ip], "conditions": {"ready": True}}],
    }
    return full_script(build(service_ports([service], [endpoint_slice]), NodeView("bench-node")))


def pod_paths(load: Load) -> tuple[Any, Any]:
    """Pod to pod and pod to Service, on one node's bridge made by the cni plugin."""
    with (
        netns.namespaces("node", "pod-a", "pod-b") as (node, a, b),
        tempfile.TemporaryDirectory() as state,
    ):
        for key in ("net.ipv4.ip_forward", "net.bridge.bridge-nf-call-iptables"):
            node.run(["sysctl", "-q", "-w", f"{key}=1"])
        made = node.run(
            [sys.executable, "-c", _CNI_SETUP, str(Path(state)), POD_CIDR, a.name, b.name]
        )
        _, server_ip = (ip.split("/")[0] for ip in json.loads(made.stdout))
        direct = measure(b, a, "0.0.0.0", (server_ip, PORT), load)
        node.run(["nft", "-f", "-"], input=service_rules(server_ip))
        via_service = measure(b, a, "0.0.0.0", (SERVICE_IP, SERVICE_PORT), load)
        # the namespaces' removal takes the veths with them; the bridge and the table
        # live in the node's namespace, removed with it
        return direct, via_service


def datapath(quick: bool) -> list[Target]:
    load = Load(32, 300) if quick else Load()
    base = floor(load)
    direct, via_service = pod_paths(load)
    print(f"Data path ({load.mib} MiB transfer, {load.trips} round trips, Python sockets):")
    rows = (("plain veth (floor)", base), ("pod to pod", direct), ("pod to Service", via_service))
    for name, figures in rows:
        print(
            f"  {name:<20} {figures['mib_per_s']:8.0f} MiB/s   rtt median "
            f"{figures['median_us']:6.0f} us  p99 {figures['p99_us']:6.0f} us   "
            f"x{figures['mib_per_s'] / base['mib_per_s']:.2f} floor throughput"
        )
    targets = []
    for name, figures in rows[1:]:
        targets.append(
            Target(
                f"{name} throughput / floor", figures["mib_per_s"] / base["mib_per_s"], ">=", 0.7
            )
        )
        targets.append(
            Target(
                f"{name} median latency / floor",
                figures["median_us"] / base["median_us"],
                "<=",
                1.5,
            )
        )
    return targets
