"""A node's DNS server in a node's network namespace (issue 24 item 6), asked from
another node over the test LAN with dnspython, over UDP and TCP: the server works on a
node's own address, as the kube-dns endpoints announce it, and nothing leaves the test
namespaces."""

from __future__ import annotations

import subprocess
import sys

from navarch.testing import netns

# A DNS server on the node's LAN address, answering from an index with one Service.
_SERVE = """
import asyncio, sys
from loguru import logger
from navarch.api.core_v1_service import Service
from navarch.dns.server import DnsServer
from navarch.dns.zone import ClusterZone

logger.remove()
zone = ClusterZone("cluster.local")
zone.set_service(Service.from_dict({
    "metadata": {"name": "web", "namespace": "shop"},
    "spec": {"clusterIP": "10.43.0.20", "ports": [{"name": "http", "port": 80}]},
}))

async def main():
    async with DnsServer(zone, sys.argv[1], 53):
        print("listening", flush=True)
        await asyncio.Event().wait()

asyncio.run(main())
"""
_ASK = """
import sys
import dns.message, dns.query
for tcp in (False, True):
    query = dns.message.make_query("web.shop.svc.cluster.local", "A")
    send = dns.query.tcp if tcp else dns.query.udp
    reply = send(query, sys.argv[1], timeout=10)
    print("tcp" if tcp else "udp", [r.to_text() for rrset in reply.answer for r in rrset])
"""


def test_a_node_answers_another_over_the_lan():
    with netns.namespaces("dns-a", "dns-b") as (a, b):
        joined = netns.lan([a, b])
        try:
            address_b = joined.addresses[b.name]
            server = b.popen(
                [sys.executable, "-c", _SERVE, address_b],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                assert server.stdout is not None
                assert server.stdout.readline() == "listening\n", server.stderr
                reply = a.run([sys.executable, "-c", _ASK, address_b], check=False)
                assert reply.stdout == ("udp ['10.43.0.20']\ntcp ['10.43.0.20']\n"), reply.stderr
            finally:
                server.kill()
                server.wait(timeout=10)
        finally:
            joined.hub.remove()
    assert netns.present([a, b, joined.hub]) == []
