"""navarch up puts each node in a network namespace of its own (issue 24 item 8): the
agents run inside them, register and run pods; examples/web.yaml (with the network
plugin and the Service proxy the nodes run) answers on the host's 127.0.0.1 at its
nodePort, a LoadBalancer Service at its port too; navarch down --purge, and navarch
down after an up killed with SIGKILL, leave no namespace, link or nftables table
behind. The host's own network is compared before and after: never changed. The
forwarder on its own: tests/up/test_up_network_parts.py."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import urllib.request
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
WEB = Path(__file__).resolve().parents[2] / "examples" / "web.yaml"

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


def host_routes() -> str:
    return subprocess.run(
        ["ip", "route", "show", "table", "all"], capture_output=True, text=True, check=True
    ).stdout


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


def _join(up: UpProcess, name: str) -> subprocess.Popen[bytes]:
    """``navarch join NAME`` for the cluster of ``up``, its output in a log beside it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAVARCH_")}
    with open(up.directory / f"join-{name}.log", "ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "navarch.cli.navarch", "--config", str(up.config_path),
             "join", name],
            stdout=output, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip


def http_get(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
            return answer.read().decode()
    except OSError:
        return None


def netns_inode(path: str) -> int:
    return os.stat(path).st_ino


def netns_pids(netns_name: str) -> list[int]:
    out = subprocess.run(
        ["ip", "netns", "pids", netns_name], capture_output=True, text=True, check=False
    ).stdout
    return [int(word) for word in out.split()]


def agent_pids(netns_name: str) -> list[int]:
    """The navarch agent processes inside namespace ``netns_name``."""
    pids = []
    for pid in netns_pids(netns_name):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"navarch.cli.navarch" in argv and b"agent" in argv:
            pids.append(pid)
    return pids


def service(name: str, port: int, node_port: int) -> str:
    """A LoadBalancer Service in front of examples/web.yaml's pods."""
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "type": "LoadBalancer",
                "selector": {"app": "web"},
                "ports": [{"port": port, "targetPort": "http", "nodePort": node_port}],
            },
        }
    )


@pytest.fixture
def host_network() -> Iterator[tuple[list[str], str, str]]:
    """The host's links, routes and nftables tables before the test, checked unchanged
    after."""
    require_or_skip(containerd_problem())
    before = (host_links(), host_routes(), host_nft_tables())
    yield before
    assert (host_links(), host_routes(), host_nft_tables()) == before


def test_nodes_live_in_namespaces_and_services_reach_the_host(tmp_path, host_network):
    with UpProcess(tmp_path / "c", nodes=2) as up:
        assert "Each node has a network namespace of its own" in up.log_path.read_text()
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

        # examples/web.yaml with the real kubectl (its nodePort one free on this host),
        # served through the network plugin and the Service proxy of the nodes
        web_port = free_node_port()
        deployment, web_service = yaml.safe_load_all(WEB.read_text())
        assert "hostNetwork" not in deployment["spec"]["template"]["spec"]
        web_service["spec"]["ports"][0]["nodePort"] = web_port
        kubectl = ClusterCli.kubectl(up.kubeconfig)
        kubectl("apply", "-f", "-", input=yaml.safe_dump_all([deployment, web_service]))
        kubectl("rollout", "status", "deployment/web", "--timeout=180s", timeout=240)
        page = until(lambda: http_get(web_port), f"examples/web.yaml on 127.0.0.1:{web_port}", [up])
        assert page == "Navarch demo, version 1\n"

        # a LoadBalancer Service: on the host at its port too, and gone when it is
        balanced_port, balanced_node_port = free_node_port(), free_node_port()
        cli("apply", "-f", "-", input=service("web-lb", balanced_port, balanced_node_port))
        for port in (balanced_port, balanced_node_port):
            page = until(
                lambda port=port: http_get(port), f"the LoadBalancer on 127.0.0.1:{port}", [up]
            )
            assert page == "Navarch demo, version 1\n"
        cli("delete", "service", "web-lb")
        until(lambda: http_get(balanced_port) is None, "the LoadBalancer's port closed", [up])

        # navarch join: one more node, in a namespace of its own on the same LAN
        joined = _join(up, "node-3")
        try:
            name = f"{prefix}node-3"
            until(
                lambda: joined.pid in netns_pids(name), "navarch join runs in its namespace", [up]
            )
            until(
                lambda: cli("get", "nodes").count(" Ready") == 3,
                "the joined node Ready",
                [up],
                deadline=DEADLINE,
            )
            node = cli.json("get", "node", "node-3")
            assert {"type": "InternalIP", "address": "10.250.0.3"} in node["status"]["addresses"]
            cli("apply", "-f", "-", input=POD.replace("node-2", "node-3").replace("box", "box3"))
            until(
                lambda: cli.json("get", "pod", "box3")["status"].get("phase") == "Running",
                "a pod Running on the joined node",
                [up],
                deadline=DEADLINE,
            )
            assert cli("exec", "box3", "--", "echo", "on", "node-3").strip() == "on node-3"
        finally:
            joined.terminate()
            joined.wait(timeout=60)
        # its namespace goes with it
        assert f"{prefix}node-3" not in network.namespaces(cluster)

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
        # the next up makes them afresh (one agent in the node's namespace, no second
        # veth): then killed again, navarch down removes them
        up.start()
        again = until(lambda: agent_pids(name), "the agent of the next up", [up])
        links = subprocess.run(
            ["ip", "-n", name, "-o", "link"], capture_output=True, text=True, check=True
        ).stdout
        assert len(again) == 1 and links.count("eth0") == 1
        assert up.process is not None
        up.process.send_signal(signal.SIGKILL)
        up.process.wait()
        until(lambda: not alive(again[0]), "the agent ended with up", [up])
        result = up.down()
        assert result.returncode == 0, result.stderr
        assert network.namespaces(cluster) == []
