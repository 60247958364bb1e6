"""NetworkPolicy enforcement in nftables (issue 24 item 9), compiled and applied directly
in a hand-built two-node pod network (tests/network/netpol_lab.py): default deny, an
allow rule opening exactly its port and source, namespaceSelector, ipBlock with
except, egress, bridged (same node) and routed (other node) traffic, removal."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from netpol_lab import Lab, host_tables, lab

from navarch.api.core_v1 import Namespace
from navarch.api.networking_v1 import NetworkPolicy
from navarch.netpol.compile import Cluster, compile_policies
from navarch.netpol.ruleset import Nft, render

NAMESPACES = [
    Namespace.from_dict({"metadata": {"name": "shop", "labels": {"team": "shop"}}}),
    Namespace.from_dict({"metadata": {"name": "other", "labels": {"team": "other"}}}),
]


def policy(name: str, namespace: str = "shop", **spec: Any) -> NetworkPolicy:
    spec.setdefault("podSelector", {})
    return NetworkPolicy.from_dict(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        }
    )


def enforce(the_lab: Lab, *policies: NetworkPolicy) -> str:
    """Compile for node A and apply there; the table's text."""
    pods = [p.to_pod() for p in the_lab.pods.values()]
    compiled = compile_policies(list(policies), Cluster.of(pods, NAMESPACES), "node-a")
    table = render(compiled)
    asyncio.run(Nft(the_lab.nft_prefix()).apply(table))
    return table


def clear(the_lab: Lab) -> None:
    asyncio.run(Nft(the_lab.nft_prefix()).apply(None))


def refused(answer: str) -> bool:
    return answer != "ok" and answer.split()[0] in (
        "ConnectionRefusedError",
        "OSError",  # EHOSTUNREACH: the rejection's icmp admin-prohibited
        "TimeoutError",
    )


@pytest.fixture(scope="module")
def net():
    before = host_tables()
    with lab() as the_lab:
        yield the_lab
    assert host_tables() == before


@pytest.fixture(autouse=True)
def open_network(net):
    clear(net)
    yield
    clear(net)


def test_default_deny_then_an_allow_rule_opens_exactly_its_port_and_source(net):
    # Reachable before any policy: bridged (same node) and routed (other node).
    assert net.reach("client", "web", 8080) == "ok"
    assert net.reach("stranger", "web", 8080) == "ok"
    assert net.reach("remote", "web", 8080) == "ok"

    deny = policy("default-deny")
    enforce(net, deny)
    for source in ("client", "stranger", "remote"):
        assert refused(net.reach(source, "web", 8080)), source
    # Traffic within the other namespace, which no policy selects, still flows.
    assert net.reach("web", "stranger", 8080) == "ok"

    allow = policy(
        "allow-clients",
        podSelector={"matchLabels": {"app": "web"}},
        ingress=[
            {
                "from": [{"podSelector": {"matchLabels": {"app": "client"}}}],
                "ports": [{"port": "http"}],  # named: web's container port 8080
            }
        ],
    )
    table = enforce(net, deny, allow)
    assert "tcp dport 8080" in table
    assert net.reach("client", "web", 8080) == "ok"
    assert net.reach("remote", "web", 8080) == "ok"  # same namespace, other node
    assert refused(net.reach("client", "web", 9090))  # another port
    assert refused(net.reach("stranger", "web", 8080))  # another namespace's client

    clear(net)
    assert net.reach("stranger", "web", 9090) == "ok"


def test_namespace_selector_and_both_selectors(net):
    from_other = policy(
        "from-team-other",
        ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"team": "other"}}}]}],
    )
    enforce(net, from_other)
    assert net.reach("stranger", "web", 9090) == "ok"
    assert refused(net.reach("client", "web", 9090))
    # Both selectors in one peer: pods of those namespaces with those labels only.
    narrow = policy(
        "from-other-webs",
        ingress=[
            {
                "from": [
                    {
                        "namespaceSelector": {"matchLabels": {"team": "other"}},
                        "podSelector": {"matchLabels": {"app": "web"}},
                    }
                ]
            }
        ],
    )
    enforce(net, narrow)
    assert refused(net.reach("stranger", "web", 9090))
    # The name label Kubernetes puts on every namespace selects by name.
    by_name = policy(
        "from-shop-by-name",
        ingress=[
            {
                "from": [
                    {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shop"}}}
                ]
            }
        ],
    )
    enforce(net, by_name)
    assert net.reach("client", "web", 9090) == "ok"
    assert refused(net.reach("stranger", "web", 9090))


def test_ip_block_with_except(net):
    block = policy(
        "pod-cidr-but-client",
        podSelector={"matchLabels": {"app": "web"}},
        ingress=[
            {
                "from": [{"ipBlock": {"cidr": "10.42.0.0/16", "except": ["10.42.1.3/32"]}}],
                "ports": [{"protocol": "TCP", "port": 8000, "endPort": 8100}],
            }
        ],
    )
    enforce(net, block)
    assert net.reach("stranger", "web", 8080) == "ok"
    assert net.reach("remote", "web", 8080) == "ok"
    assert refused(net.reach("client", "web", 8080))  # excepted
    assert refused(net.reach("stranger", "web", 9090))  # outside the port range


def test_egress_deny_and_an_egress_allow(net):
    no_egress = policy(
        "clients-send-nothing",
        podSelector={"matchLabels": {"app": "client"}},
        policyTypes=["Egress"],
    )
    enforce(net, no_egress)
    assert refused(net.reach("client", "web", 8080))
    assert refused(net.reach("client", "stranger", 8080))  # to a pod no policy selects
    # Ingress into the client is not restricted, and web's replies pass (ct state).
    assert net.reach("web", "client", 8080) == "ok"

    to_web = policy(
        "clients-to-web-http",
        podSelector={"matchLabels": {"app": "client"}},
        policyTypes=["Egress"],
        egress=[
            {"to": [{"podSelector": {"matchLabels": {"app": "web"}}}], "ports": [{"port": "http"}]}
        ],
    )
    enforce(net, no_egress, to_web)
    assert net.reach("client", "web", 8080) == "ok"
    assert refused(net.reach("client", "web", 9090))
    assert refused(net.reach("client", "stranger", 8080))


def test_a_connection_between_two_isolated_pods_needs_both_sides(net):
    egress_ok = policy(
        "client-to-web",
        podSelector={"matchLabels": {"app": "client"}},
        policyTypes=["Egress"],
        egress=[{"to": [{"podSelector": {"matchLabels": {"app": "web"}}}]}],
    )
    web_ingress_closed = policy("web-closed", podSelector={"matchLabels": {"app": "web"}})
    enforce(net, egress_ok, web_ingress_closed)
    assert refused(net.reach("client", "web", 8080))
    web_open = policy(
        "web-open",
        podSelector={"matchLabels": {"app": "web"}},
        ingress=[{"from": [{"podSelector": {}}]}],
    )
    enforce(net, egress_ok, web_ingress_closed, web_open)
    assert net.reach("client", "web", 8080) == "ok"


# A Service's address DNATed to web:8080 in node A, as the Service proxy does it.
_FAKE_SERVICE = """
table ip netpol-test-service {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr 10.43.0.5 tcp dport 80 dnat to 10.42.1.2:8080
	}
}
"""


def test_service_traffic_is_checked_against_the_pod_it_reaches(net):
    net.node_a.run(["nft", "-f", "-"], input=_FAKE_SERVICE)
    try:
        assert net.reach_address("stranger", "10.43.0.5", 80) == "ok"
        allow = policy(
            "web-from-clients",
            podSelector={"matchLabels": {"app": "web"}},
            ingress=[{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}]}],
        )
        enforce(net, allow)
        assert net.reach_address("client", "10.43.0.5", 80) == "ok"
        assert refused(net.reach_address("stranger", "10.43.0.5", 80))
    finally:
        net.node_a.run(["nft", "delete", "table", "ip", "netpol-test-service"])


def test_every_port_and_address_form_is_accepted_by_nft(net):
    forms = policy(
        "forms",
        podSelector={"matchLabels": {"app": "web"}},
        ingress=[
            {
                "from": [
                    {"ipBlock": {"cidr": "2001:db8::/32", "except": ["2001:db8:1::/48"]}},
                    {"ipBlock": {"cidr": "192.168.0.0/16"}},
                ],
                "ports": [
                    {"protocol": "UDP", "port": 53},
                    {"protocol": "SCTP", "port": 7000, "endPort": 7010},
                    {"protocol": "TCP"},
                ],
            }
        ],
    )
    enforce(net, forms)
    listing = asyncio.run(Nft(net.nft_prefix()).listing())
    for expected in (
        "ip6 saddr 2001:db8::/32 ip6 saddr != 2001:db8:1::/48 udp dport 53 return",
        "ip saddr 192.168.0.0/16 sctp dport 7000-7010 return",
        "ip saddr 192.168.0.0/16 meta l4proto tcp return",
    ):
        assert expected in listing, listing
