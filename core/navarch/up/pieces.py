"""Which pod-networking pieces ``navarch up`` turns on in its node agents.

Each node's agent runs inside its own network namespace, where a network plugin may
make bridges and routes and a Service proxy its nftables table without touching the
host. ``up`` turns a piece on only when it is installed, and only when the user's
configuration did not choose for themselves (a setting given in the configuration
file, the environment or a flag is passed to every agent as it is):

- ``agent.network``: ``cni`` when a network plugin registered under that name
  (navarch_register_networks: the registry ``networks``); otherwise ``none``, and pods
  have loopback only.
- ``agent.pod_cidr``: empty when a node IPAM controller gives each Node its
  ``spec.podCIDR``; otherwise ``up`` hands node *k* ``10.42.<k>.0/24`` itself.
- ``agent.service_proxy``: ``nftables`` when the network is on and the proxy's module
  is installed (:data:`SERVICE_PROXY_MODULE`).
- ``agent.dns_address``: the node's LAN address when the network is on and the DNS
  server's module is installed (:data:`DNS_MODULE`).
- ``agent.node_ip`` (always): the node's LAN address, where the other nodes route
  to its pods and the API server reaches its agent (:mod:`navarch.up.nodes`).
"""

from __future__ import annotations

import importlib.util
import ipaddress
from typing import Any

import attrs

from navarch.assembly import Assembly
from navarch.up.network import NodeNetns

# The modules whose presence turns the Service proxy and the cluster DNS on.
SERVICE_PROXY_MODULE = "navarch.proxy"
DNS_MODULE = "navarch.dns.server"
NODE_IPAM_CONTROLLER = "node-ipam"
CLUSTER_CIDR = "10.42.0.0/16"


@attrs.frozen
class NodeNetworking:
    """The settings one node's agent gets, and why (for the log and the banner)."""

    settings: dict[str, Any]
    network: str


def installed(assembly: Assembly) -> dict[str, bool]:
    """Which pieces are installed here."""
    networks = getattr(assembly.registries, "networks", None)
    controllers = assembly.registries.controllers.names()
    return {
        "cni": networks is not None and "cni" in networks.names(),
        "node_ipam": NODE_IPAM_CONTROLLER in controllers,
        "service_proxy": _module(SERVICE_PROXY_MODULE),
        "dns": _module(DNS_MODULE),
    }


def _module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # its package is missing
        return False


def node_networking(
    assembly: Assembly, nodes: list[NodeNetns], pieces: dict[str, bool] | None = None
) -> dict[str, NodeNetworking]:
    """Each node's network settings (see the module's docstring)."""
    config = assembly.config
    pieces = installed(assembly) if pieces is None else pieces

    def chosen(key: str) -> bool:
        return config.sources.get(key, "default") != "default"

    network = (
        config["agent.network"] if chosen("agent.network") else ("cni" if pieces["cni"] else "none")
    )
    on = network != "none"
    subnets = list(ipaddress.ip_network(CLUSTER_CIDR).subnets(new_prefix=24))
    out: dict[str, NodeNetworking] = {}
    for index, node in enumerate(nodes, start=1):
        settings: dict[str, Any] = {
            "agent.network": network,
            "agent.node_ip": node.address,
            # its LAN address and loopback: nothing else exists in its namespace
            "agent.address": "0.0.0.0",
        }
        if on and not chosen("agent.pod_cidr") and not pieces["node_ipam"]:
            settings["agent.pod_cidr"] = str(subnets[index])
        if on and not chosen("agent.service_proxy") and pieces["service_proxy"]:
            settings["agent.service_proxy"] = "nftables"
        if on and not chosen("agent.dns_address") and pieces["dns"]:
            settings["agent.dns_address"] = node.address
        out[node.node] = NodeNetworking(settings, network)
    return out
