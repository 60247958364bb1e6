"""Cluster DNS (issue 24 item 6) answered by the node's server: a real API server,
Services and EndpointSlices written through it, and the agent's DNS part
(:class:`navarch.dns.node.NodeDns`) with a node's own token serving on 127.0.0.1 on a
free port, queried over UDP and TCP with dnspython."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import AsyncIterator
from typing import Any

import dns.asyncquery
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdatatype
import pytest
import pytest_asyncio

from navarch import api
from navarch.api.core_v1_service import Service
from navarch.apiserver.server import token_file
from navarch.client import Client
from navarch.client.kubeconfig import KubeConfig, load_kubeconfig
from navarch.config import load_config
from navarch.dns.node import ANNOTATION, NodeDns
from navarch.dns.server import DnsServer
from navarch.dns.zone import ClusterZone
from navarch.testing.daemon import free_port
from navarch.testing.waiting import eventually

NODE = "dns-node"
NS = "default"
DOMAIN = "cluster.local"


def fqdn(name: str) -> str:
    return f"{name}.{NS}.svc.{DOMAIN}."


@pytest.fixture(scope="module")
def node_token(api_server) -> str:
    config = load_config(file=None, env={}, overrides=[f"data_dir={api_server.data_dir}"])
    token = token_file(config).add("node", NODE)
    api_server.stop()  # the server reads its token file at start
    api_server.start()
    return token


@pytest_asyncio.fixture
async def admin(api_server, node_token) -> AsyncIterator[Client]:
    async with Client.from_kubeconfig(api_server.kubeconfig) as client:
        yield client


@pytest_asyncio.fixture
async def node_dns(api_server, node_token, admin) -> AsyncIterator[NodeDns]:
    """The agent's DNS part, as a node: it lists with the node's token, then listens and
    announces itself on the Node (which proves both)."""
    with contextlib.suppress(Exception):
        await admin.nodes.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}})
    config = load_kubeconfig(api_server.kubeconfig)
    node_client = Client(KubeConfig(server=config.server, token=node_token, ca_data=config.ca_data))
    port = free_port()
    served = NodeDns(node_client, NODE, "127.0.0.1", f"127.0.0.1:{port}", DOMAIN)
    task = asyncio.create_task(served.run())

    async def announced() -> bool:
        node = await admin.nodes.get(NODE)
        return (node.metadata.annotations or {}).get(ANNOTATION) == f"127.0.0.1:{port}"

    try:
        await eventually(announced, "the DNS server announced on its Node", [api_server])
        yield served
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await node_client.close()


async def ask(
    server: DnsServer, name: str, rdtype: str = "A", *, tcp: bool = False, **query: Any
) -> dns.message.Message:
    message = dns.message.make_query(name, rdtype, **query)
    if tcp:
        return await dns.asyncquery.tcp(message, "127.0.0.1", port=server.port, timeout=10)
    return await dns.asyncquery.udp(message, "127.0.0.1", port=server.port, timeout=10)


def values(reply: dns.message.Message, rdtype: str = "A") -> list[str]:
    wanted = dns.rdatatype.from_text(rdtype)
    return sorted(r.to_text() for rrset in reply.answer if rrset.rdtype == wanted for r in rrset)


async def until_answer(
    server: DnsServer, name: str, rdtype: str, expected: list[str], what: str
) -> None:
    async def check() -> bool:
        return values(await ask(server, name, rdtype), rdtype) == sorted(expected)

    await eventually(check, what)


def service(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    }


def endpoint_slice(name: str, service_name: str, endpoints: list[dict], ports: list[dict]):
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": name,
            "namespace": NS,
            "labels": {"kubernetes.io/service-name": service_name},
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": ports,
    }


def endpoint(ip: str, ready: bool = True, hostname: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"addresses": [ip], "conditions": {"ready": ready}}
    if hostname:
        found["hostname"] = hostname
    return found


async def test_a_cluster_ip_service_has_a_srv_and_ptr_over_udp_and_tcp(admin, node_dns):
    created = await admin.services.create(
        service("web", ports=[{"name": "http", "port": 80, "protocol": "TCP"}]),
        NS,
    )
    ip = created.spec.cluster_ip
    server = node_dns.server
    await until_answer(server, fqdn("web"), "A", [ip], "the Service's A record")

    reply = await ask(server, fqdn("web"), tcp=True)
    assert reply.rcode() == dns.rcode.NOERROR and values(reply) == [ip]
    assert reply.flags & dns.flags.AA
    assert {rrset.ttl for rrset in reply.answer} == {5}

    srv = await ask(server, f"_http._tcp.{fqdn('web')}", "SRV")
    assert values(srv, "SRV") == [f"0 100 80 {fqdn('web')}"]
    assert [r.to_text() for rrset in srv.additional for r in rrset] == [ip]

    reverse = ipaddress.ip_address(ip).reverse_pointer + "."
    ptr = await ask(server, reverse, "PTR")
    assert values(ptr, "PTR") == [fqdn("web")]


async def test_a_headless_service_answers_its_ready_endpoints_and_their_hostnames(admin, node_dns):
    await admin.services.create(service("db", clusterIP="None"), NS)
    await admin.endpointslices.create(
        endpoint_slice(
            "db-a",
            "db",
            [
                endpoint("10.42.0.3", hostname="db-0"),
                endpoint("10.42.0.4", ready=False, hostname="db-1"),
                endpoint("10.42.0.5"),
            ],
            [{"name": "pg", "port": 5432, "protocol": "TCP"}],
        ),
        NS,
    )
    server = node_dns.server
    await until_answer(
        server, fqdn("db"), "A", ["10.42.0.3", "10.42.0.5"], "the ready endpoints only"
    )
    assert values(await ask(server, f"db-0.{fqdn('db')}")) == ["10.42.0.3"]
    # No hostname: the address with dashes stands for one (CoreDNS's name).
    assert values(await ask(server, f"10-42-0-5.{fqdn('db')}")) == ["10.42.0.5"]
    not_ready = await ask(server, f"db-1.{fqdn('db')}")
    assert not_ready.rcode() == dns.rcode.NXDOMAIN

    srv = await ask(server, f"_pg._tcp.{fqdn('db')}", "SRV")
    assert values(srv, "SRV") == [
        f"0 100 5432 10-42-0-5.{fqdn('db')}",
        f"0 100 5432 db-0.{fqdn('db')}",
    ]
    ptr = await ask(server, "3.0.42.10.in-addr.arpa.", "PTR")
    assert values(ptr, "PTR") == [f"db-0.{fqdn('db')}"]

    # An endpoint turning ready is served once its slice says so.
    body = api.dump(await admin.endpointslices.get("db-a", NS))
    body["endpoints"][1]["conditions"]["ready"] = True
    await admin.endpointslices.update(body, NS)
    await until_answer(
        server,
        fqdn("db"),
        "A",
        ["10.42.0.3", "10.42.0.4", "10.42.0.5"],
        "the endpoint that became ready",
    )


async def test_an_external_name_is_a_cname_and_a_change_is_followed(admin, node_dns):
    await admin.services.create(
        service("upstream", type="ExternalName", externalName="db.example.org"), NS
    )
    server = node_dns.server
    await until_answer(server, fqdn("upstream"), "CNAME", ["db.example.org."], "the CNAME")
    reply = await ask(server, fqdn("upstream"), "A")  # the CNAME answers an A question
    assert reply.rcode() == dns.rcode.NOERROR
    assert values(reply, "CNAME") == ["db.example.org."]

    body = api.dump(await admin.services.get("upstream", NS))
    body["spec"]["externalName"] = "db2.example.org"
    await admin.services.update(body, NS)
    await until_answer(
        server, fqdn("upstream"), "CNAME", ["db2.example.org."], "the changed Service"
    )


async def test_missing_names_are_nxdomain_with_the_soa_and_others_are_refused_at_once(
    admin, node_dns
):
    server = node_dns.server
    missing = await ask(server, fqdn("nothing-here"))
    assert missing.rcode() == dns.rcode.NXDOMAIN
    assert [rrset.rdtype for rrset in missing.authority] == [dns.rdatatype.SOA]
    assert missing.authority[0].name.to_text() == f"{DOMAIN}."

    # A namespace's name exists (NODATA, not NXDOMAIN), as does a pod's by its address.
    namespace = await ask(server, f"{NS}.svc.{DOMAIN}.")
    assert namespace.rcode() == dns.rcode.NOERROR and not namespace.answer
    pod = await ask(server, f"10-42-1-7.{NS}.pod.{DOMAIN}.")
    assert values(pod) == ["10.42.1.7"]
    version = await ask(server, f"dns-version.{DOMAIN}.", "TXT")
    assert values(version, "TXT") == ['"1.1.0"']

    # Outside the cluster, no forwarding configured: refused, over both transports.
    for tcp in (False, True):
        outside = await ask(server, "www.example.com.", tcp=tcp)
        assert outside.rcode() == dns.rcode.REFUSED


async def test_a_large_answer_is_truncated_over_udp_and_complete_over_tcp(admin, node_dns):
    ips = [f"10.42.9.{n}" for n in range(1, 101)]
    await admin.services.create(service("many", clusterIP="None"), NS)
    await admin.endpointslices.create(
        endpoint_slice("many-a", "many", [endpoint(ip) for ip in ips], []), NS
    )
    server = node_dns.server

    async def complete_over_tcp() -> bool:
        return values(await ask(server, fqdn("many"), tcp=True)) == sorted(ips)

    await eventually(complete_over_tcp, "all 100 addresses over TCP")
    classic = await ask(server, fqdn("many"))  # no EDNS: 512 bytes at most
    assert classic.flags & dns.flags.TC
    assert len(values(classic)) < len(ips)
    edns = await ask(server, fqdn("many"), use_edns=0, payload=4096)  # capped at 1232
    assert edns.flags & dns.flags.TC
    assert len(values(classic)) < len(values(edns)) < len(ips)


async def test_forwarding_when_configured_and_servfail_when_the_upstream_is_down():
    upstream_zone = ClusterZone("example.test")
    upstream_zone.set_service(
        Service.from_dict(
            {"metadata": {"name": "www", "namespace": "web"}, "spec": {"clusterIP": "10.9.0.1"}}
        )
    )
    async with DnsServer(upstream_zone, "127.0.0.1", 0) as upstream:
        forwarding = DnsServer(
            ClusterZone(DOMAIN), "127.0.0.1", 0, upstreams=[f"127.0.0.1:{upstream.port}"]
        )
        async with forwarding:
            reply = await ask(forwarding, "www.web.svc.example.test.")
            assert values(reply) == ["10.9.0.1"]
    # Nothing listens there any more: SERVFAIL, not silence.
    silent = DnsServer(ClusterZone(DOMAIN), "127.0.0.1", 0, upstreams=[f"127.0.0.1:{free_port()}"])
    async with silent:
        reply = await ask(silent, "www.web.svc.example.test.")
        assert reply.rcode() == dns.rcode.SERVFAIL


async def test_a_malformed_query_gets_formerr():
    async with DnsServer(ClusterZone(DOMAIN), "127.0.0.1", 0) as server:
        loop = asyncio.get_running_loop()
        received: asyncio.Future[bytes] = loop.create_future()

        class Client(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: Any) -> None:
                received.set_result(data)

        transport, _ = await loop.create_datagram_endpoint(
            Client, remote_addr=("127.0.0.1", server.port)
        )
        try:
            # A header (id 0x1234, one question) and then a question cut short.
            transport.sendto(bytes.fromhex("1234 0100 0001 0000 0000 0000 03 77 77"))
            reply = dns.message.from_wire(await asyncio.wait_for(received, 10))
        finally:
            transport.close()
        assert reply.id == 0x1234 and reply.rcode() == dns.rcode.FORMERR


async def test_another_edns_version_and_another_opcode_are_refused_with_their_codes():
    async with DnsServer(ClusterZone(DOMAIN), "127.0.0.1", 0) as server:
        version_1 = await ask(server, fqdn("web"), use_edns=1)
        assert version_1.rcode() == dns.rcode.BADVERS
        notify = dns.message.make_query(fqdn("web"), "SOA")
        notify.set_opcode(dns.opcode.NOTIFY)
        reply = await dns.asyncquery.udp(notify, "127.0.0.1", port=server.port, timeout=10)
        assert reply.rcode() == dns.rcode.NOTIMP
