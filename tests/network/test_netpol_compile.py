"""NetworkPolicy compilation's edge cases (issue 24 item 9), without a network: named
ports that resolve nowhere allow nothing (never every port), egress to a named port
resolves on each destination pod, ipBlock excepts are merged, and the pods policies
ignore (host network, no IP, finished, another node's)."""

from __future__ import annotations

from typing import Any

from navarch.api.core_v1 import Namespace, Pod
from navarch.api.networking_v1 import NetworkPolicy
from navarch.netpol.compile import Allow, Cluster, PortRange, compile_policies
from navarch.netpol.ruleset import render, transaction


def pod(name: str, ip: str | None, node: str = "n1", port: int = 8080, **extra: Any) -> Pod:
    spec: dict[str, Any] = {
        "nodeName": node,
        "containers": [
            {"name": "c", "image": "i", "ports": [{"name": "http", "containerPort": port}]}
        ],
        **extra.pop("spec", {}),
    }
    status = {"phase": extra.pop("phase", "Running"), **({"podIP": ip} if ip else {})}
    return Pod.from_dict(
        {
            "metadata": {"name": name, "namespace": "ns", "labels": extra.pop("labels", {})},
            "spec": spec,
            "status": status,
        }
    )


def policy(**spec: Any) -> NetworkPolicy:
    spec.setdefault("podSelector", {})
    return NetworkPolicy.from_dict({"metadata": {"name": "p", "namespace": "ns"}, "spec": spec})


NAMESPACES = [Namespace.from_dict({"metadata": {"name": "ns"}})]


def compiled(pods: list[Pod], *policies: NetworkPolicy) -> dict[str, Any]:
    result = compile_policies(list(policies), Cluster.of(pods, NAMESPACES), "n1")
    return {p.key: p for p in result}


def test_an_unresolved_named_port_allows_nothing_not_every_port():
    pods = [pod("a", "10.42.1.2")]
    result = compiled(pods, policy(ingress=[{"ports": [{"port": "metrics"}]}]))
    assert result["ns/a"].ingress == ()  # isolated, nothing allowed
    assert "return" not in render(list(result.values()))


def test_egress_named_ports_resolve_on_each_destination():
    pods = [
        pod("client", "10.42.1.2", labels={"app": "client"}),
        pod("web1", "10.42.1.3", port=8080),
        pod("web2", "10.42.2.3", node="n2", port=9000),
    ]
    egress = policy(
        podSelector={"matchLabels": {"app": "client"}},
        egress=[{"ports": [{"port": "http"}]}],  # no `to`: any destination pod
    )
    result = compiled(pods, egress)
    # No policyTypes: Kubernetes' default is Ingress plus Egress (it has egress rules),
    # so the client is isolated for ingress too, with nothing allowed in.
    assert result["ns/client"].ingress == ()
    # Each destination's own number; the client has "http" too (8080), so it is listed.
    assert set(result["ns/client"].egress) == {
        Allow(("10.42.1.2", "10.42.1.3"), (), (PortRange("TCP", 8080, 8080),)),
        Allow(("10.42.2.3",), (), (PortRange("TCP", 9000, 9000),)),
    }
    # With an ipBlock there is no pod to resolve the name on.
    to_block = policy(
        podSelector={"matchLabels": {"app": "client"}},
        egress=[{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": "http"}]}],
    )
    assert compiled(pods, to_block)["ns/client"].egress == ()


def test_ip_block_excepts_are_merged_and_rendered():
    pods = [pod("a", "10.42.1.2")]
    block = policy(
        ingress=[
            {
                "from": [
                    {
                        "ipBlock": {
                            "cidr": "10.0.0.0/8",
                            "except": ["10.1.0.0/16", "10.1.2.0/24", "10.2.0.0/16"],
                        }
                    }
                ]
            }
        ]
    )
    (allow,) = compiled(pods, block)["ns/a"].ingress
    assert allow == Allow(("10.0.0.0/8",), ("10.1.0.0/16", "10.2.0.0/16"), ())
    table = render(list(compiled(pods, block).values()))
    assert "ip saddr { 10.0.0.0/8 } ip saddr != { 10.1.0.0/16, 10.2.0.0/16 } return" in table


def test_pods_policies_ignore():
    pods = [
        pod("host", "10.250.0.1", spec={"hostNetwork": True}),
        pod("pending", None),
        pod("done", "10.42.1.9", phase="Succeeded"),
        pod("elsewhere", "10.42.2.2", node="n2"),
        pod("a", "10.42.1.2"),
    ]
    result = compiled(pods, policy(ingress=[{"from": [{"podSelector": {}}]}]))
    assert list(result) == ["ns/a"]  # only the local pod with an IP is isolated
    # ...and only pods that have an IP and run are its peers.
    assert result["ns/a"].ingress == (Allow(("10.42.1.2", "10.42.2.2"), (), ()),)


def test_a_policy_of_another_namespace_selects_nothing_here():
    pods = [pod("a", "10.42.1.2")]
    elsewhere = NetworkPolicy.from_dict(
        {"metadata": {"name": "p", "namespace": "other"}, "spec": {"podSelector": {}}}
    )
    assert compiled(pods, elsewhere)["ns/a"].ingress is None


def test_the_transaction_replaces_or_removes_the_table():
    assert transaction(None) == (
        "add table inet navarch-policy\ndelete table inet navarch-policy\n"
    )
    text = transaction(render([]))
    assert text.count("table inet navarch-policy {") == 1 and "ct state established" in text
