"""navarch up puts each node in a network namespace of its own (issue 24 item 8): the
agents run inside them, register and run pods; NodePort and LoadBalancer Services are
forwarded from the host's 127.0.0.1 to a node's address; navarch down --purge, and
navarch down after an up killed with SIGKILL, leave no namespace, link or nftables
table behind. The host's own network is compared before and after: never changed."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from navarch.testing.daemon import require_or_skip
from navarch.testing.up import ClusterCli, UpProcess
from navarch.testing.waiting import until
from navarch.up import network
from navarch.up.containerd import alive, containerd_problem

DEADLINE = 120.0

# A server of one line per connection: what it was sent, with its namespace's name.
ECHO_SERVER = """
import socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", int(sys.argv[1])))
server.listen(8)
print("listening", flush=True)
while True:
    conn, _ = server.accept()
    data = conn.recv(100)
    conn.sendall(sys.argv[2].encode() + b" got " + data)
    conn.close()
"""


# hostNetwork-free: with agent.network none, it has loopback only
POD = yaml.safe_dump(
    {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "box", "namespace": "default"},
        "spec": {
            "nodeName": "node-2",
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "box",
                    "image": "navarch.test/demo:1",
                    "command": ["sh", "-c", "echo started; sleep 3600"],
                }
            ],
        },
    }
)


def host_links() -> list[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    return sorted(line.split(":")[1].strip() for line in out.splitlines())


def host_nft_tables() -> str:
    return subprocess.run(
        ["nft", "list", "tables"], capture_output=True, text=True, check=True
    ).stdout


def free_node_port() -> int:
    """A port in the NodePort range that is free on the host."""
    for _ in range(200):
        port = random.randint(30000, 32767)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 30000-32767")


def exchange(port: int, message: bytes) -> bytes | None:
    """What the host's 127.0.0.1:port answers to ``message``; None while nothing does."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(message)
            return conn.recv(200) or None
    except OSError:
        return None


def netns_inode(path: str) -> int:
    return os.stat(path).st_ino


def agent_pids(netns_name: str) -> list[int]:
    """The navarch agent processes inside namespace ``netns_name``."""
    out = subprocess.run(
        ["ip", "netns", "pids", netns_name], capture_output=True, text=True, check=False
    ).stdout
    pids = []
    for word in out.split():
        try:
            argv = Path(f"/proc/{word}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"navarch.cli.navarch" in argv and b"agent" in argv:
            pids.append(int(word))
    return pids


def service(name: str, kind: str, port: int, node_port: int) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "type": kind,
                "ports": [{"port": port, "targetPort": 8080, "nodePort": node_port}],
            },
        }
    )


@pytest.fixture
def host_network() -> Iterator[tuple[list[str], str]]:
    """The host's links and nftables tables before the test, checked unchanged after."""
    require_or_skip(containerd_problem())
    before = (host_links(), host_nft_tables())
    yield before
    assert (host_links(), host_nft_tables()) == before


def test_nodes_live_in_namespaces_and_services_reach_the_host(tmp_path, host_network):
    servers: list[subprocess.Popen[str]] = []
    with UpProcess(tmp_path / "c", nodes=2) as up:
        cluster = network.cluster_id(up.data_dir)
        prefix = network.cluster_prefix(cluster)
        assert network.namespaces(cluster) == [f"{prefix}lan", f"{prefix}node-1", f"{prefix}node-2"]
        own = netns_inode("/proc/self/ns/net")
        for index, node in enumerate(("node-1", "node-2"), start=1):
            name = f"{prefix}{node}"
            pids = until(lambda name=name: agent_pids(name), f"the agent of {node} runs in {name}")
            # the agent's namespace is the node's, not the host's
            assert netns_inode(f"/proc/{pids[0]}/ns/net") == netns_inode(f"/run/netns/{name}")
            assert netns_inode(f"/proc/{pids[0]}/ns/net") != own
            addresses = json.loads(
                subprocess.run(
                    ["ip", "-n", name, "-j", "addr", "show", "eth0"],
                    capture_output=True, text=True, check=True,
                ).stdout
            )  # fmt: skip
            assert f"10.250.0.{index}" in [a["local"] for a in addresses[0]["addr_info"]]

        cli = ClusterCli.navctl(up.kubeconfig)
        until(
            lambda: cli("get", "nodes").count(" Ready") == 2,
            "both nodes Ready",
            [up],
            deadline=DEADLINE,
        )
        # each Node reports its LAN address, where the API server reaches its agent
        reported = {
            node["metadata"]["name"]: [
                a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP"
            ]
            for node in cli.json("get", "nodes")["items"]
        }
        assert reported == {"node-1": ["10.250.0.1"], "node-2": ["10.250.0.2"]}
        cli("apply", "-f", "-", input=POD)
        until(
            lambda: cli.json("get", "pod", "box")["status"].get("phase") == "Running",
            "the pod Running on node-2",
            [up],
            deadline=DEADLINE,
        )
        # logs and exec go API server -> the relay on the host -> the agent in its namespace
        until(lambda: "started" in cli("logs", "box"), "the pod's log through the relay", [up])
        assert cli("exec", "box", "--", "echo", "from", "exec").strip() == "from exec"

        # NodePort: a server inside node-2's namespace stands in for the Service proxy
        node_port = free_node_port()
        balanced_node_port = free_node_port()
        balanced_port = free_node_port()
        for netns, port in (
            (f"{prefix}node-2", node_port),
            (f"{prefix}node-1", balanced_node_port),
        ):
            server = subprocess.Popen(
                ["nsenter", f"--net=/run/netns/{netns}", "--", sys.executable, "-c",
                 ECHO_SERVER, str(port), netns],
                stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            servers.append(server)
            assert server.stdout is not None and server.stdout.readline().strip() == "listening"
        cli("apply", "-f", "-", input=service("web", "NodePort", 80, node_port))
        cli(
            "apply",
            "-f",
            "-",
            input=service("lb", "LoadBalancer", balanced_port, balanced_node_port),
        )
        answer = until(
            lambda: exchange(node_port, b"hello"),
            f"127.0.0.1:{node_port} relayed to a node",
            [up],
            deadline=DEADLINE,
        )
        assert answer == f"{prefix}node-2 got hello".encode()
        for port in (balanced_node_port, balanced_port):
            answer = until(
                lambda port=port: exchange(port, b"lb"),
                f"the LoadBalancer Service on 127.0.0.1:{port}",
                [up],
                deadline=DEADLINE,
            )
            assert answer == f"{prefix}node-1 got lb".encode()
        # a deleted Service is no longer listened for
        cli("delete", "service", "web")
        until(lambda: exchange(node_port, b"gone") is None, "the NodePort closed", [up])

        for server in servers:
            server.kill()
            server.wait()
        up.stop(timeout=60.0)
        result = up.down()
        assert result.returncode == 0, result.stderr
        assert network.namespaces(cluster) == []


def test_down_after_up_was_killed_removes_its_namespaces(tmp_path, host_network):
    with UpProcess(tmp_path / "c", nodes=1) as up:
        cluster = network.cluster_id(up.data_dir)
        name = f"{network.cluster_prefix(cluster)}node-1"
        pids = until(lambda: agent_pids(name), "the agent runs in its namespace", [up])
        assert up.process is not None
        up.process.send_signal(signal.SIGKILL)
        up.process.wait()
        # the agent ends with up (its parent-death signal); the namespaces stay
        until(lambda: not alive(pids[0]), "the agent ended with up", [up])
        assert network.namespaces(cluster) != []
        result = up.down()
        assert result.returncode == 0, result.stderr
        assert network.namespaces(cluster) == []
