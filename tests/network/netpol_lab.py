"""A two-node pod network built by hand in test namespaces, for the NetworkPolicy tests:
node A (bridge nv0 10.42.1.1/24) with three pods, node B (10.42.2.1/24) with one, the
nodes joined on a LAN (10.250.0.1, .2) with host-gw routes to each other's pod CIDR.
Every pod runs a TCP server answering "ok" on ports 8080 and 9090.

Pod to pod on node A crosses its bridge (bridged traffic); node B's pod reaches node
A's pods through both nodes' forward paths (routed traffic).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs

from navarch.api.core_v1 import Pod
from navarch.testing import netns
from navarch.testing.netns import TestNetns

PORTS = (8080, 9090)
# Serves "ok" on each port given, until killed.
_SERVE = """
import socket, sys, threading
def serve(port):
    s = socket.create_server(("0.0.0.0", port))
    while True:
        conn, _ = s.accept()
        conn.sendall(b"ok")
        conn.close()
for port in sys.argv[1:]:
    threading.Thread(target=serve, args=(int(port),), daemon=True).start()
print("listening", flush=True)
threading.Event().wait()
"""
# Prints "ok" when the server answered, else the error's name; the timeout bounds a
# dropped packet's wait (the enforcer rejects, which fails at once).
_FETCH = """
import socket, sys
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3) as c:
        print(c.recv(2).decode())
except OSError as error:
    print(type(error).__name__, error)
"""


@attrs.frozen
class LabPod:
    name: str
    namespace: str
    node: str
    ip: str
    labels: dict[str, str]
    netns: TestNetns

    def to_pod(self) -> Pod:
        return Pod.from_dict(self.manifest(with_status=True))

    def manifest(self, with_status: bool = False) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": self.name, "namespace": self.namespace, "labels": self.labels},
            "spec": {
                "nodeName": self.node,
                "containers": [
                    {
                        "name": "server",
                        "image": "navarch.test/demo:1",
                        "ports": [
                            {"name": "http", "containerPort": 8080},
                            {"name": "admin", "containerPort": 9090},
                        ],
                    }
                ],
            },
        }
        if with_status:
            obj["status"] = {"phase": "Running", "podIP": self.ip}
        return obj


@attrs.frozen
class Lab:
    node_a: TestNetns
    node_b: TestNetns
    pods: dict[str, LabPod]

    def reach(self, source: str, target: str, port: int) -> str:
        """What ``source`` pod gets connecting to ``target``'s port: "ok" or an error."""
        return self.reach_address(source, self.pods[target].ip, port)

    def reach_address(self, source: str, address: str, port: int) -> str:
        result = self.pods[source].netns.run(
            [sys.executable, "-c", _FETCH, address, str(port)], timeout=30
        )
        return result.stdout.strip()

    def nft_prefix(self) -> tuple[str, ...]:
        """Runs nft in node A's namespace."""
        return ("nsenter", f"--net={self.node_a.path}", "--")


def _pod_network(node: TestNetns, pod: TestNetns, index: int, ip: str, gateway: str) -> None:
    host_end = f"veth{index}"
    node.ip("link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", pod.name)
    node.ip("link", "set", host_end, "master", "nv0")
    node.ip("link", "set", host_end, "up")
    pod.ip("addr", "add", f"{ip}/24", "dev", "eth0")
    pod.ip("link", "set", "eth0", "up")
    pod.ip("route", "add", "default", "via", gateway)


def _node_bridge(node: TestNetns, gateway: str) -> None:
    node.ip("link", "add", "nv0", "type", "bridge")
    node.ip("addr", "add", f"{gateway}/24", "dev", "nv0")
    node.ip("link", "set", "nv0", "up")
    node.run(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])


@contextmanager
def lab() -> Iterator[Lab]:
    layout = [
        # name, namespace, node, ip, labels
        ("web", "shop", "node-a", "10.42.1.2", {"app": "web"}),
        ("client", "shop", "node-a", "10.42.1.3", {"app": "client"}),
        ("stranger", "other", "node-a", "10.42.1.4", {"app": "client"}),
        ("remote", "shop", "node-b", "10.42.2.2", {"app": "client"}),
    ]
    labels = ["node-a", "node-b", *(name for name, *_ in layout)]
    servers: list[subprocess.Popen[str]] = []
    with netns.namespaces(*labels) as made:
        node_a, node_b, *pod_namespaces = made
        joined = netns.lan([node_a, node_b])
        try:
            _node_bridge(node_a, "10.42.1.1")
            _node_bridge(node_b, "10.42.2.1")
            node_a.ip("route", "add", "10.42.2.0/24", "via", joined.addresses[node_b.name])
            node_b.ip("route", "add", "10.42.1.0/24", "via", joined.addresses[node_a.name])
            pods: dict[str, LabPod] = {}
            for index, ((name, namespace, node, ip, pod_labels), pod_ns) in enumerate(
                zip(layout, pod_namespaces, strict=True)
            ):
                node_ns = node_a if node == "node-a" else node_b
                _pod_network(node_ns, pod_ns, index, ip, ip.rsplit(".", 1)[0] + ".1")
                pods[name] = LabPod(name, namespace, node, ip, pod_labels, pod_ns)
                server = pod_ns.popen(
                    [sys.executable, "-c", _SERVE, *map(str, PORTS)],
                    stdout=subprocess.PIPE,
                    text=True,
                )
                servers.append(server)
                assert server.stdout is not None and server.stdout.readline() == "listening\n"
            yield Lab(node_a, node_b, pods)
        finally:
            for server in servers:
                server.kill()
                server.wait(timeout=10)
            joined.hub.remove()


def host_tables() -> str:
    """The host namespace's nftables tables (a test checks they are unchanged)."""
    return subprocess.run(
        ["nft", "list", "tables"], capture_output=True, text=True, check=True
    ).stdout
