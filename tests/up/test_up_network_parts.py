"""navarch up's network pieces without a cluster (issue 24 item 8): which settings each
node's agent gets for what is installed, which host ports the Services want, and the
relays through sockets made inside a network namespace (test namespaces only)."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import pytest

from navarch.api.loading import decode
from navarch.assembly import assemble
from navarch.cli.up import print_banner
from navarch.config import load_config
from navarch.testing import netns
from navarch.up.cluster import UpReady
from navarch.up.forward import connect_in, lan_sockets, listen_in, relay_to, to_first
from navarch.up.network import ClusterNetwork, NodeNetns, cluster_id
from navarch.up.pieces import node_networking
from navarch.up.runtimes import RuntimeChoice
from navarch.up.services import ServiceForwarder, host_ports

NODES = [
    NodeNetns("node-1", "x-node-1", "10.250.0.1"),
    NodeNetns("node-2", "x-node-2", "10.250.0.2"),
]
NOTHING = {"cni": False, "node_ipam": False, "service_proxy": False, "dns": False}


def _assembly(tmp_path: Path, *overrides: str):
    return assemble(load_config(None, {}, [f"data_dir={tmp_path}", *overrides]))


def test_without_a_network_plugin_nodes_have_loopback_pods_and_their_lan_address(tmp_path):
    settings = node_networking(_assembly(tmp_path), NODES, NOTHING)
    assert settings["node-1"].network == "none"
    assert settings["node-1"].settings == {
        "agent.network": "none",
        "agent.node_ip": "10.250.0.1",
        "agent.address": "0.0.0.0",
    }
    assert settings["node-2"].settings["agent.node_ip"] == "10.250.0.2"


def test_every_installed_piece_is_turned_on(tmp_path):
    pieces = {"cni": True, "node_ipam": False, "service_proxy": True, "dns": True}
    settings = node_networking(_assembly(tmp_path), NODES, pieces)
    assert settings["node-2"].settings == {
        "agent.network": "cni",
        "agent.node_ip": "10.250.0.2",
        "agent.address": "0.0.0.0",
        # no node IPAM controller: up hands out the ranges itself
        "agent.pod_cidr": "10.42.2.0/24",
        "agent.service_proxy": "nftables",
        "agent.dns_address": "10.250.0.2",
    }
    with_ipam = node_networking(_assembly(tmp_path), NODES, {**pieces, "node_ipam": True})
    assert "agent.pod_cidr" not in with_ipam["node-1"].settings


def test_what_the_user_chose_is_kept(tmp_path):
    pieces = {"cni": True, "node_ipam": False, "service_proxy": True, "dns": True}
    assembly = _assembly(
        tmp_path, "agent.network=none", "agent.service_proxy=none", "agent.dns_address="
    )
    settings = node_networking(assembly, NODES, pieces)["node-1"].settings
    assert settings["agent.network"] == "none"
    assert "agent.service_proxy" not in settings and "agent.dns_address" not in settings


def test_the_cluster_id_follows_the_data_directory(tmp_path):
    assert cluster_id(tmp_path / "a") == cluster_id(tmp_path / "x" / ".." / "a")
    assert cluster_id(tmp_path / "a") != cluster_id(tmp_path / "b")


def _service(name: str, kind: str, ports: list[dict]) -> object:
    data = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"type": kind, "ports": ports},
    }
    return decode(data).obj


def test_host_ports_of_node_port_and_load_balancer_services():
    services = [
        _service("plain", "ClusterIP", [{"port": 80}]),
        _service("np", "NodePort", [{"port": 80, "nodePort": 30080}]),
        _service("dns", "NodePort", [{"port": 53, "nodePort": 30053, "protocol": "UDP"}]),
        _service("lb", "LoadBalancer", [{"port": 8443, "nodePort": 30443}]),
        # its port is the other's nodePort: the nodePort wins
        _service("lb2", "LoadBalancer", [{"port": 30080, "nodePort": 30081}]),
    ]
    assert host_ports(services) == {
        30080: (30080, "default/np"),
        30443: (30443, "default/lb"),
        8443: (30443, "default/lb"),
        30081: (30081, "default/lb2"),
    }


# -- relays through sockets made inside a namespace -------------------------------------

ECHO = (
    "import socket,sys\n"
    "s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
    "s.bind(('0.0.0.0',29517));s.listen(4);print('up',flush=True)\n"
    "c,_=s.accept();data=b''\n"
    "while chunk:=c.recv(65536): data+=chunk\n"  # until the client's half-close
    "c.sendall(b'got %d' % len(data));c.close()\n"
)


@pytest.fixture
def node():
    with netns.namespaces("up-a", "up-b") as made:
        netns.lan(made)
        yield made


async def test_a_relay_carries_a_connection_into_a_namespace_with_its_half_close(node):
    first, _ = node
    server = first.popen([sys.executable, "-c", ECHO], stdout=asyncio.subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "up"
        # listening on the host's loopback, connecting from inside the namespace
        targets = [(first.path, "127.0.0.1", 29517)]
        relay = await listen_in(None, "127.0.0.1", 0, relay_to(to_first(lambda: targets)))
        port = relay.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"x" * 300_000)
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), 30) == b"got 300000"
        writer.close()
        relay.close()
    finally:
        server.kill()
        server.wait()


async def test_sockets_for_the_lan_are_made_in_its_namespace(node):
    first, second = node
    server = second.popen([sys.executable, "-c", ECHO], stdout=asyncio.subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "up"
        make = lan_sockets(first.path, "10.250.0.0/24")
        inside = make((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.250.0.2", 29517)))
        inside.settimeout(10)
        inside.connect(("10.250.0.2", 29517))  # only reachable from the LAN
        inside.sendall(b"abc")
        inside.shutdown(socket.SHUT_WR)
        assert inside.recv(100) == b"got 3"
        inside.close()
        # any other address: a socket of the host's namespace, as before
        outside = make((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 1)))
        with pytest.raises(ConnectionRefusedError):
            outside.connect(("127.0.0.1", 1))
        outside.close()
    finally:
        server.kill()
        server.wait()


async def test_a_node_that_does_not_answer_is_passed_over(node):
    first, second = node
    server = second.popen([sys.executable, "-c", ECHO], stdout=asyncio.subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "up"
        # node 1 has nothing on the port; node 2 answers
        connect = to_first(
            lambda: [(first.path, "10.250.0.1", 29517), (first.path, "10.250.0.2", 29517)]
        )
        reader, writer = await connect()
        writer.write(b"hi")
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), 30) == b"got 2"
        writer.close()
        served = await listen_in(first.path, "127.0.0.1", 9000, relay_to(connect))
        served.close()
        with pytest.raises(OSError):
            await connect_in(second.path, "127.0.0.1", 9000)  # that listener was node 1's
    finally:
        server.kill()
        server.wait()


def _free_host_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_the_forwarder_follows_the_services_to_a_node_that_answers(node):
    first, second = node
    # the echo server listens on port 29517 of node b; node a has nothing there
    server = second.popen([sys.executable, "-c", ECHO], stdout=asyncio.subprocess.PIPE, text=True)
    lan = ClusterNetwork(
        "t",
        first.name,  # connections start from node a's namespace, beside the nodes
        "10.250.0.1",
        {
            "a": NodeNetns("a", first.name, "10.250.0.1"),
            "b": NodeNetns("b", second.name, "10.250.0.2"),
        },
    )
    forwarder = ServiceForwarder(lan)
    try:
        assert server.stdout.readline().strip() == "up"
        # the host port is the nodePort: one free here, relayed to port 29517 through a
        # Service whose nodePort the test makes 29517 on the nodes
        port = _free_host_port()
        services = [_service("lb", "LoadBalancer", [{"port": port, "nodePort": 29517}])]
        await forwarder.sync(services)
        assert set(forwarder.listeners) == {29517, port} - set(forwarder.refused)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"abcd")
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), 30) == b"got 4"
        writer.close()
        await forwarder.sync([])
        assert forwarder.listeners == {}
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", port)
    finally:
        forwarder.close()
        server.kill()
        server.wait()


@pytest.mark.parametrize(
    ("pod_network", "said"),
    [
        ("cni", "apply -f examples/web.yaml    then  curl http://127.0.0.1:30080/"),
        ("none", "loopback only"),
    ],
)
def test_the_banner_says_how_to_reach_an_application(capsys, tmp_path, pod_network, said):
    ready = UpReady(
        tmp_path,
        tmp_path / "k",
        "https://127.0.0.1:1",
        RuntimeChoice("containerd", {}, why="its own"),
        ("node-1", "node-2"),
        None,
        forwarding=True,
        node_addresses={"node-1": "10.250.0.1", "node-2": "10.250.0.2"},
        pod_network=pod_network,
    )
    print_banner(ready)
    out = capsys.readouterr().out
    assert "node-1 10.250.0.1, node-2 10.250.0.2" in out
    assert said in out


def test_with_a_network_each_node_enforces_policies_with_a_viewer_of_its_own(tmp_path):
    from navarch.apiserver.server import token_file
    from navarch.up.nodes import POLICY_KUBECONFIG, agent_config, policy_kubeconfig

    pieces = {"cni": True, "node_ipam": True, "service_proxy": True, "dns": True}
    config = _assembly(tmp_path).config
    on = node_networking(_assembly(tmp_path), NODES, pieces)["node-1"]
    off = node_networking(_assembly(tmp_path), NODES, NOTHING)["node-1"]
    directory = tmp_path / "nodes" / "node-1"
    directory.mkdir(parents=True)
    document = agent_config(config, "node-1", directory, on)
    assert document["agent"]["network_policy_kubeconfig"] == str(directory / POLICY_KUBECONFIG)
    without = agent_config(config, "node-1", directory, off)
    assert not without["agent"].get("network_policy_kubeconfig")
    path = policy_kubeconfig(config, "node-1", directory)
    token = token_file(config).token_for("navarch-netpol-node-1")
    assert token and token in path.read_text()
    assert policy_kubeconfig(config, "node-1", directory).read_text() == path.read_text()
