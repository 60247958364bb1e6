"""host-gw routes of the cni plugin (issue 24 item 2): in a test namespace acting as
the node, a route per other Node's podCIDR via its InternalIP, a stale one removed when
its Node goes, none towards this node's own range, and every route it made removed
when the plugin stops for good."""

from __future__ import annotations

import json
import sys

from navarch import api
from navarch.testing import netns
from navarch_network_cni.hostgw import wanted_routes


def _node(name: str, cidr: str, ip: str):
    body = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "spec": {"podCIDR": cidr} if cidr else {},
        "status": {"addresses": [{"type": "InternalIP", "address": ip}] if ip else []},
    }
    return api.load(body).obj


def test_wanted_routes_skip_this_node_its_range_and_nodes_without_either():
    nodes = [
        _node("me", "10.42.1.0/24", "10.250.0.1"),
        _node("b", "10.42.2.0/24", "10.250.0.2"),
        _node("stale", "10.42.1.0/24", "10.250.0.9"),  # holds our own range
        _node("no-cidr", "", "10.250.0.3"),
        _node("no-ip", "10.42.4.0/24", ""),
    ]
    assert wanted_routes(nodes, "me", "10.42.1.0/24") == {"10.42.2.0/24": "10.250.0.2"}


# HostGateway over a stand-in for the agent's Node informer, in the node's namespace.
_ROUTES = """
import asyncio, json
from navarch import api
from navarch.agent.network import NetworkContext
from navarch_network_cni.hostgw import HostGateway, routes_made

def node(name, cidr, ip):
    return api.load({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
                     "spec": {"podCIDR": cidr},
                     "status": {"addresses": [{"type": "InternalIP", "address": ip}]}}).obj

class Nodes:
    def __init__(self, nodes):
        self.nodes, self.handlers = nodes, []
    def list(self):
        return list(self.nodes)
    def add_handler(self, add, update, delete):
        self.handlers.append(delete)

async def made():  # pyroute2's IPRoute runs a loop of its own: not in this thread
    return await asyncio.to_thread(routes_made)

async def until(count):
    for _ in range(500):
        if len(await made()) == count:
            return
        await asyncio.sleep(0.02)
    raise SystemExit("routes never in step: " + json.dumps(await made()))

async def main():
    nodes = Nodes([node("me", "10.42.1.0/24", "10.250.0.1"),
                   node("b", "10.42.2.0/24", "10.250.0.2"),
                   node("c", "10.42.3.0/24", "10.250.0.3")])
    gateway = HostGateway(NetworkContext("me", None, nodes, lambda: "10.42.1.0/24"))
    gateway.start()
    await until(2)
    print(json.dumps(await made()), flush=True)
    gone = nodes.nodes.pop()
    for handler in nodes.handlers:
        handler(gone)
    await until(1)
    print(json.dumps(await made()), flush=True)
    await gateway.close(for_good=True)
    print(json.dumps(await made()), flush=True)

asyncio.run(main())
"""


def test_routes_follow_the_nodes_and_go_when_the_plugin_stops_for_good():
    with netns.namespaces("node", "b") as (node, other):
        lan = netns.lan([node, other])
        try:
            # the third node's gateway on the LAN too (the address need not answer)
            done = node.run([sys.executable, "-c", _ROUTES], check=False)
            assert done.returncode == 0, done.stderr
            first, after_removal, after_close = (json.loads(x) for x in done.stdout.split("\n")[:3])
            assert first == {"10.42.2.0/24": "10.250.0.2", "10.42.3.0/24": "10.250.0.3"}
            assert after_removal == {"10.42.2.0/24": "10.250.0.2"}
            assert after_close == {}
            assert node.ip("route", "show", "proto", "151").stdout.strip() == ""
        finally:
            lan.hub.remove()
    assert netns.present([node, other, lan.hub]) == []
