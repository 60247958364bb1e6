"""The Service proxy carrying traffic (issue 24 item 5), inside test namespaces only: a
node namespace with a bridge and three 'pods' (namespaces on veths, 10.42.1.0/24),
each running a small server that answers with its name, a client namespace on the
node's LAN, and the proxier fed by a real API server. Nothing outside them changes:
the host's nft tables are compared before and after."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator

import attrs
import pytest

from navarch.client import Client
from navarch.proxy.apply import Nft, NftError
from navarch.proxy.proxier import Proxier
from navarch.proxy.ruleset import NodeView
from navarch.testing import netns
from navarch.testing.waiting import eventually

NODE_NAME = "proxy-node"
PORT = 8080

# Answers every connection (TCP) with the pod's name and the address it sees the client
# at (``pod1@10.42.1.1``), every datagram (UDP) with the name, until killed.
_SERVER = """
import socket, sys, threading
name, port = sys.argv[1].encode(), int(sys.argv[2])
host = sys.argv[3] if len(sys.argv) > 3 else "0.0.0.0"
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind((host, port))
def answer_datagrams():
    while True:
        _, peer = udp.recvfrom(64)
        udp.sendto(name, peer)
threading.Thread(target=answer_datagrams, daemon=True).start()
s = socket.create_server((host, port))
print("listening", flush=True)
while True:
    conn, peer = s.accept()
    conn.sendall(name + b"@" + peer[0].encode())
    conn.close()
"""
# Connects COUNT times; prints each answer, or the exception's type.
_CLIENT = """
import socket, sys
for _ in range(int(sys.argv[3])):
    try:
        with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20) as c:
            print(c.recv(64).decode() or "empty", flush=True)
    except OSError as exc:
        print(type(exc).__name__, flush=True)
"""


# Sends one datagram per new socket (a new flow each time); prints the answer or the
# exception's type (a connected UDP socket sees ICMP port unreachable as refused).
_UDP_CLIENT = """
import socket, sys
for _ in range(int(sys.argv[3])):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
        c.settimeout(20)
        c.connect((sys.argv[1], int(sys.argv[2])))
        try:
            c.send(b"?")
            print(c.recv(64).decode() or "empty", flush=True)
        except OSError as exc:
            print(type(exc).__name__, flush=True)
"""


@attrs.frozen
class Node:
    node: netns.TestNetns
    pods: dict[str, tuple[netns.TestNetns, str]]  # name -> (namespace, ip)
    client: netns.TestNetns
    node_address: str
    client_address: str

    def answers(
        self, where: netns.TestNetns, ip: str, port: int, count: int
    ) -> list[tuple[str, str]]:
        """(pod name, the client's address as the pod saw it), or (exception type, "")."""
        done = where.run([sys.executable, "-c", _CLIENT, ip, str(port), str(count)], timeout=300)
        return [tuple(line.partition("@")[::2]) for line in done.stdout.split()]  # type: ignore[misc]

    def connect(self, where: netns.TestNetns, ip: str, port: int, count: int) -> list[str]:
        return [name for name, _ in self.answers(where, ip, port, count)]

    def send(self, where: netns.TestNetns, ip: str, port: int, count: int) -> list[str]:
        argv = [sys.executable, "-c", _UDP_CLIENT, ip, str(port), str(count)]
        return where.run(argv, timeout=300).stdout.split()


def _host_tables() -> str:
    return subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def host_tables() -> Iterator[None]:
    before = _host_tables()
    yield
    assert _host_tables() == before


@pytest.fixture(scope="module")
def node(host_tables) -> Iterator[Node]:
    with netns.namespaces("node", "client", "pod1", "pod2", "pod3") as made:
        node_ns, client, *pod_nss = made
        lan = netns.lan([node_ns, client])
        servers = []
        try:
            node_ns.ip("link", "add", "br0", "type", "bridge")
            node_ns.ip("addr", "add", "10.42.1.1/24", "dev", "br0")
            node_ns.ip("link", "set", "br0", "up")
            # The node's own processes reach ClusterIPs through a route of the range.
            node_ns.ip("route", "add", "10.43.0.0/16", "dev", "br0")
            # Routing between pods and the LAN, and DNAT of pod -> ClusterIP -> pod on
            # the same bridge (its replies are bridged: conntrack must see them).
            node_ns.run(["sysctl", "-qw", "net.ipv4.ip_forward=1"])
            node_ns.run(["sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1"])
            pods = {}
            for index, pod in enumerate(pod_nss, start=1):
                ip = f"10.42.1.{10 + index}"
                node_ns.ip(
                    "link",
                    "add",
                    f"veth{index}",
                    "type",
                    "veth",
                    "peer",
                    "name",
                    "eth0",
                    "netns",
                    pod.name,
                )
                node_ns.ip("link", "set", f"veth{index}", "master", "br0")
                node_ns.ip("link", "set", f"veth{index}", "up")
                # as the CNI bridge plugin's hairpinMode: a pod DNATed to itself gets the
                # frame back out of the port it came in by (br_netfilter bridges it)
                node_ns.ip("link", "set", f"veth{index}", "type", "bridge_slave", "hairpin", "on")
                pod.ip("addr", "add", f"{ip}/24", "dev", "eth0")
                pod.ip("link", "set", "eth0", "up")
                pod.ip("route", "add", "default", "via", "10.42.1.1")
                name = f"pod{index}"
                server = pod.popen(
                    [sys.executable, "-c", _SERVER, name, str(PORT)],
                    stdout=subprocess.PIPE,
                    text=True,
                )
                servers.append(server)
                assert server.stdout is not None and server.stdout.readline() == "listening\n"
                pods[name] = (pod, ip)
            yield Node(
                node_ns, pods, client, lan.addresses[node_ns.name], lan.addresses[client.name]
            )
        finally:
            for server in servers:
                server.kill()
                server.wait(timeout=10)
            lan.hub.remove()


def _slice(name: str, ips: list[str], node_of: dict[str, str] | None = None) -> dict:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": f"{name}-1", "labels": {"kubernetes.io/service-name": name}},
        "addressType": "IPv4",
        "ports": [{"name": "web", "protocol": "TCP", "port": PORT}],
        "endpoints": [
            {
                "addresses": [ip],
                "conditions": {"ready": True},
                "nodeName": (node_of or {}).get(ip, NODE_NAME),
            }
            for ip in ips
        ],
    }


def _service(name: str, service_type: str = "ClusterIP", **spec) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {
            "type": service_type,
            "ports": [{"name": "web", "port": 80, "targetPort": PORT}],
            **spec,
        },
    }


async def _nft_listing(nft: Nft) -> str:
    return await nft.run(["list", "ruleset"])


async def test_cluster_ip_node_port_no_endpoints_and_updates(api_server, node: Node):
    namespace = "proxy-traffic"
    nft = Nft(tuple(node.node.argv([])))
    async with Client.from_kubeconfig(api_server.kubeconfig) as client:
        await client.namespaces.create({"metadata": {"name": namespace}})
        web = await client.services.create(
            # externalIPs: handled like a load balancer's ingress IPs (the node's address)
            _service("web", "NodePort", externalIPs=[node.node_address]),
            namespace,
        )
        empty = await client.services.create(_service("empty", "NodePort"), namespace)
        all_ips = [ip for _, ip in node.pods.values()]
        await client.endpointslices.create(_slice("web", all_ips), namespace)

        proxier = Proxier(client, NodeView(NODE_NAME), nft, min_sync_seconds=0.1)
        running = asyncio.create_task(proxier.run())
        try:
            await eventually(
                lambda: _has(nft, web.spec.cluster_ip), "the proxier wrote web's ClusterIP"
            )
            pod1, _ = node.pods["pod1"]
            loop = asyncio.get_running_loop()

            def connect(where, ip, port, count):
                return loop.run_in_executor(None, node.connect, where, ip, port, count)

            # ClusterIP from a pod: answered, spread over the endpoints; another pod sees
            # the client pod's own address, the client pod itself (hairpin) the node's.
            seen = await loop.run_in_executor(None, node.answers, pod1, web.spec.cluster_ip, 80, 40)
            _, pod1_ip = node.pods["pod1"]
            assert {peer for name, peer in seen if name != "pod1"} == {pod1_ip}, seen
            assert {peer for name, peer in seen if name == "pod1"} <= {"10.42.1.1"}, seen
            answers = [name for name, _ in seen]
            assert set(answers) <= {"pod1", "pod2", "pod3"}, answers
            assert len(set(answers)) > 1, answers
            # hairpin: a pod reaching itself through the Service answers too
            assert "pod1" in answers, answers
            # ClusterIP from the node itself (nat output).
            answers = await connect(node.node, web.spec.cluster_ip, 80, 20)
            assert set(answers) <= {"pod1", "pod2", "pod3"} and len(set(answers)) > 1, answers
            # NodePort on the node's address, from a client outside the cluster:
            # masqueraded (externalTrafficPolicy Cluster), the pods see the node.
            node_port = web.spec.ports[0].node_port
            seen = await loop.run_in_executor(
                None, node.answers, node.client, node.node_address, node_port, 20
            )
            answers = [name for name, _ in seen]
            assert set(answers) <= {"pod1", "pod2", "pod3"} and len(set(answers)) > 1, answers
            assert {peer for _, peer in seen} == {"10.42.1.1"}, seen
            # The external IP on the Service's own port.
            answers = await connect(node.client, node.node_address, 80, 20)
            assert set(answers) <= {"pod1", "pod2", "pod3"} and len(set(answers)) > 1, answers
            # A port the Service does not define: refused, not routed on.
            assert await connect(pod1, web.spec.cluster_ip, 81, 1) == ["ConnectionRefusedError"]
            # No endpoints: refused at once, by ClusterIP and by NodePort.
            assert await connect(pod1, empty.spec.cluster_ip, 80, 1) == ["ConnectionRefusedError"]
            empty_node_port = empty.spec.ports[0].node_port
            assert await connect(node.client, node.node_address, empty_node_port, 1) == [
                "ConnectionRefusedError"
            ]

            # Endpoints removed: once the proxier has applied it, only pod3 answers.
            _, pod3_ip = node.pods["pod3"]
            slice_ = await client.endpointslices.get("web-1", namespace)
            body = slice_.to_dict()
            body["endpoints"] = [e for e in body["endpoints"] if e["addresses"] == [pod3_ip]]
            await client.endpointslices.update(body, namespace)
            _, pod2_ip = node.pods["pod2"]
            await eventually(lambda: _lacks(nft, f"dnat to {pod2_ip}:"), "the proxier dropped pod2")
            assert set(await connect(pod1, web.spec.cluster_ip, 80, 10)) == {"pod3"}
            # ... and no endpoint left at all: refused.
            await client.endpointslices.delete("web-1", namespace)
            await eventually(lambda: _lacks(nft, f"dnat to {pod3_ip}:"), "the proxier dropped pod3")
            assert await connect(pod1, web.spec.cluster_ip, 80, 1) == ["ConnectionRefusedError"]
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
            await proxier.cleanup()
        assert "navarch-proxy" not in node.node.run(["nft", "list", "tables"]).stdout
        assert proxier.failures == 0, proxier.last_error


async def _has(nft: Nft, text: str) -> bool:
    return text in await _nft_listing(nft)


async def _lacks(nft: Nft, text: str) -> bool:
    listing = await _nft_listing(nft)
    return "navarch-proxy" in listing and text not in listing


@attrs.frozen
class _RefusingOnce(Nft):
    """nft that refuses the first transaction (say, the kernel lacked a module)."""

    refused: list[str] = attrs.field(factory=list)

    async def apply(self, script: str) -> None:
        if not self.refused:
            self.refused.append(script)
            raise NftError("nft -f: Error: Could not process rule: No such file or directory")
        await super().apply(script)


async def test_local_policy_affinity_and_a_refused_sync_retried(api_server, node: Node):
    namespace = "proxy-policies"
    nft = _RefusingOnce(tuple(node.node.argv([])))
    _, pod1_ip = node.pods["pod1"]
    _, pod2_ip = node.pods["pod2"]
    _, pod3_ip = node.pods["pod3"]
    async with Client.from_kubeconfig(api_server.kubeconfig) as client:
        await client.namespaces.create({"metadata": {"name": namespace}})
        # internalTrafficPolicy Local: only the endpoint on this node (pod2); pod3 is
        # said to run elsewhere.
        local = await client.services.create(
            _service("local", internalTrafficPolicy="Local"), namespace
        )
        await client.endpointslices.create(
            _slice("local", [pod2_ip, pod3_ip], {pod3_ip: "another-node"}), namespace
        )
        # externalTrafficPolicy Local: from outside, only pod1 (on this node), and it
        # sees the client's own address (no masquerade).
        keep_source = await client.services.create(
            _service("keep-source", "NodePort", externalTrafficPolicy="Local"), namespace
        )
        await client.endpointslices.create(
            _slice("keep-source", [pod1_ip, pod3_ip], {pod3_ip: "another-node"}), namespace
        )
        sticky = await client.services.create(
            _service(
                "sticky",
                sessionAffinity="ClientIP",
                sessionAffinityConfig={"clientIP": {"timeoutSeconds": 300}},
            ),
            namespace,
        )
        await client.endpointslices.create(_slice("sticky", [pod1_ip, pod2_ip, pod3_ip]), namespace)
        proxier = Proxier(client, NodeView(NODE_NAME), nft, min_sync_seconds=0.1)
        running = asyncio.create_task(proxier.run())
        try:
            await eventually(
                lambda: _has(nft, sticky.spec.cluster_ip), "the proxier retried and synced"
            )
            assert proxier.failures == 1 and "No such file" in proxier.last_error
            loop = asyncio.get_running_loop()
            pod1, _ = node.pods["pod1"]
            answers = await loop.run_in_executor(
                None, node.connect, pod1, local.spec.cluster_ip, 80, 15
            )
            assert set(answers) == {"pod2"}, answers
            answers = await loop.run_in_executor(
                None, node.connect, pod1, sticky.spec.cluster_ip, 80, 15
            )
            assert len(set(answers)) == 1 and answers[0] in {"pod1", "pod2", "pod3"}, answers
            node_port = keep_source.spec.ports[0].node_port
            seen = await loop.run_in_executor(
                None, node.answers, node.client, node.node_address, node_port, 10
            )
            assert set(seen) == {("pod1", node.client_address)}, seen
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
            await proxier.cleanup()
        assert "navarch-proxy" not in node.node.run(["nft", "list", "tables"]).stdout


async def test_udp_service_spreads_and_refuses_without_endpoints(api_server, node: Node):
    namespace = "proxy-udp"
    nft = Nft(tuple(node.node.argv([])))
    udp_port = [{"name": "dns", "protocol": "UDP", "port": 53, "targetPort": PORT}]
    async with Client.from_kubeconfig(api_server.kubeconfig) as client:
        await client.namespaces.create({"metadata": {"name": namespace}})
        dns = await client.services.create(_service("dns", ports=udp_port), namespace)
        silent = await client.services.create(_service("silent", ports=udp_port), namespace)
        body = _slice("dns", [ip for _, ip in node.pods.values()])
        body["ports"] = [{"name": "dns", "protocol": "UDP", "port": PORT}]
        await client.endpointslices.create(body, namespace)
        proxier = Proxier(client, NodeView(NODE_NAME), nft, min_sync_seconds=0.1)
        running = asyncio.create_task(proxier.run())
        try:
            await eventually(lambda: _has(nft, f"{dns.spec.cluster_ip} . udp . 53"), "dns proxied")
            loop = asyncio.get_running_loop()
            pod1, _ = node.pods["pod1"]
            answers = await loop.run_in_executor(None, node.send, pod1, dns.spec.cluster_ip, 53, 30)
            assert set(answers) <= {"pod1", "pod2", "pod3"} and len(set(answers)) > 1, answers
            refused = await loop.run_in_executor(
                None, node.send, pod1, silent.spec.cluster_ip, 53, 1
            )
            assert refused == ["ConnectionRefusedError"]

            # As kube-dns: internalTrafficPolicy Local, the endpoint a server of the
            # node itself on the node's address; a pod's query is DNATed to it. (A UDP
            # server must answer from the address it was asked at — bound to it, or with
            # IP_PKTINFO — or conntrack cannot match the answer to the DNATed query.)
            node_dns = node.node.popen(
                [sys.executable, "-c", _SERVER, "node", "5353", node.node_address],
                stdout=subprocess.PIPE,
                text=True,
            )
            try:
                assert node_dns.stdout is not None
                assert node_dns.stdout.readline() == "listening\n"
                kube_dns = await client.services.create(
                    _service("kube-dns", ports=udp_port, internalTrafficPolicy="Local"),
                    namespace,
                )
                body = _slice("kube-dns", [node.node_address])
                body["ports"] = [{"name": "dns", "protocol": "UDP", "port": 5353}]
                await client.endpointslices.create(body, namespace)
                await eventually(
                    lambda: _has(nft, f"{kube_dns.spec.cluster_ip} . udp . 53"), "kube-dns"
                )
                # its endpoint too: the slice came after the Service, maybe a sync later
                await eventually(
                    lambda: _has(nft, f"dnat to {node.node_address}:5353"),
                    "kube-dns's endpoint on the node",
                )
                answers = await loop.run_in_executor(
                    None, node.send, pod1, kube_dns.spec.cluster_ip, 53, 3
                )
                assert answers == ["node"] * 3
            finally:
                node_dns.kill()
                node_dns.wait(timeout=10)
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
            await proxier.cleanup()


async def test_a_table_removed_behind_its_back_is_written_again(api_server, node: Node):
    namespace = "proxy-repair"
    nft = Nft(tuple(node.node.argv([])))
    async with Client.from_kubeconfig(api_server.kubeconfig) as client:
        await client.namespaces.create({"metadata": {"name": namespace}})
        web = await client.services.create(_service("web"), namespace)
        _, pod2_ip = node.pods["pod2"]
        await client.endpointslices.create(_slice("web", [pod2_ip]), namespace)
        proxier = Proxier(client, NodeView(NODE_NAME), nft, min_sync_seconds=0.1, check_seconds=0.3)
        running = asyncio.create_task(proxier.run())
        try:
            await eventually(lambda: _has(nft, web.spec.cluster_ip), "web proxied")
            # An administrator's `nft flush ruleset`, or another program, removes it.
            node.node.run(["nft", "delete", "table", "ip", "navarch-proxy"])
            await eventually(lambda: _has(nft, web.spec.cluster_ip), "the table written again")
            loop = asyncio.get_running_loop()
            pod1, _ = node.pods["pod1"]
            answers = await loop.run_in_executor(
                None, node.connect, pod1, web.spec.cluster_ip, 80, 3
            )
            assert answers == ["pod2"] * 3
            assert proxier.failures == 0, proxier.last_error
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
            await proxier.cleanup()
