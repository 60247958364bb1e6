"""The Service proxy's rules from Services and EndpointSlices (issue 24 item 5): what is
proxied, to which endpoints, and that a change is applied as a small difference.
nft itself runs only inside a test namespace."""

from __future__ import annotations

import asyncio

import attrs

from navarch.proxy.apply import Nft
from navarch.proxy.model import Endpoint, ServicePort, service_ports
from navarch.proxy.ruleset import NodeView, build, full_script, removal, update_script
from navarch.testing import netns

NODE = NodeView("n1", "10.42.0.0/16")


def _service(name="web", *, ports=None, **spec):
    return {
        "metadata": {"namespace": "default", "name": name},
        "spec": {
            "type": "ClusterIP",
            "clusterIP": "10.43.0.20",
            "ports": ports
            or [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": "web"}],
            **spec,
        },
    }


def _slice(service="web", endpoints=(), ports=None, name=None):
    return {
        "metadata": {
            "namespace": "default",
            "name": name or f"{service}-abc",
            "labels": {"kubernetes.io/service-name": service},
        },
        "addressType": "IPv4",
        "ports": ports or [{"name": "http", "protocol": "TCP", "port": 8080}],
        "endpoints": list(endpoints),
    }


def _endpoint(ip, node="n1", ready=True, serving=None, terminating=False):
    conditions = {"ready": ready, "terminating": terminating}
    if serving is not None:
        conditions["serving"] = serving
    return {"addresses": [ip], "nodeName": node, "conditions": conditions}


def test_named_target_port_comes_resolved_from_the_slice_and_only_ready_endpoints_serve():
    (port,) = service_ports(
        [_service()],
        [
            _slice(
                endpoints=[
                    _endpoint("10.42.1.5"),
                    _endpoint("10.42.1.6", ready=False, serving=False),
                    _endpoint("10.42.1.7", ready=False, serving=True, terminating=True),
                ]
            ),
            # another Service's slice, and an IPv6 one: neither is ours
            _slice("other", [_endpoint("10.42.1.9")]),
            {**_slice(endpoints=[_endpoint("fd00::1")]), "addressType": "IPv6"},
        ],
    )
    assert (port.key, port.cluster_ip, port.protocol, port.port) == (
        "default/web/tcp/http",
        "10.43.0.20",
        "tcp",
        80,
    )
    assert [(e.ip, e.port) for e in port.endpoints] == [
        ("10.42.1.5", 8080),
        ("10.42.1.6", 8080),
        ("10.42.1.7", 8080),
    ]
    rules = build([port], NODE)
    assert "dnat to 10.42.1.5:8080" in " ".join(
        rules.chains["endpoint-default/web/tcp/http/10.42.1.5/8080"]
    )
    assert not any("10.42.1.6" in name or "10.42.1.7" in name for name in rules.chains)
    assert rules.maps["service-ips"] == {
        "10.43.0.20 . tcp . 80": "goto cluster-default/web/tcp/http"
    }


def test_terminating_but_serving_endpoints_are_the_fallback_when_none_is_ready():
    (port,) = service_ports(
        [_service()],
        [_slice(endpoints=[_endpoint("10.42.1.7", ready=False, serving=True, terminating=True)])],
    )
    rules = build([port], NODE)
    assert "endpoint-default/web/tcp/http/10.42.1.7/8080" in rules.chains


def test_no_endpoints_headless_and_external_name():
    ports = service_ports(
        [
            _service("empty", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]),
            _service("headless", clusterIP="None"),
            _service("name", type="ExternalName", externalName="example.test", clusterIP=""),
        ],
        [],
    )
    assert [p.name for p in ports] == ["empty"]
    rules = build(ports, NODE)
    assert rules.maps["no-endpoint-services"] == {"10.43.0.20 . tcp . 80": "goto reject-chain"}
    assert rules.maps["no-endpoint-nodeports"] == {"tcp . 30080": "goto reject-chain"}
    assert rules.maps["service-ips"] == {} and rules.maps["service-nodeports"] == {}


def test_traffic_policies_local_pick_this_nodes_endpoints():
    endpoints = [_endpoint("10.42.1.5", node="n1"), _endpoint("10.42.2.5", node="n2")]
    service = _service(
        type="LoadBalancer",
        ports=[{"name": "http", "port": 80, "nodePort": 30080}],
        internalTrafficPolicy="Local",
        externalTrafficPolicy="Local",
        status={},
    )
    service["status"] = {"loadBalancer": {"ingress": [{"ip": "10.250.0.1"}]}}
    (port,) = service_ports([service], [_slice(endpoints=endpoints)])
    assert port.load_balancer_ips == ("10.250.0.1",)
    rules = build([port], NODE)
    assert not any("10.42.2.5" in name for name in rules.chains)
    assert rules.maps["service-ips"]["10.43.0.20 . tcp . 80"] == "goto local-default/web/tcp/http"
    assert (
        rules.maps["service-ips"]["10.250.0.1 . tcp . 80"] == "goto external-default/web/tcp/http"
    )
    assert rules.maps["service-nodeports"] == {"tcp . 30080": "goto external-default/web/tcp/http"}
    # externalTrafficPolicy Local keeps the client's address: no masquerade mark
    assert "jump mark-for-masquerade" not in rules.chains["external-default/web/tcp/http"]
    # On a node with no local endpoint, connections are refused, not sent elsewhere.
    elsewhere = build([port], NodeView("n3"))
    assert elsewhere.maps["no-endpoint-services"]["10.43.0.20 . tcp . 80"] == "goto reject-chain"
    assert elsewhere.maps["no-endpoint-nodeports"] == {"tcp . 30080": "goto reject-chain"}
    # Cluster policies: every endpoint, and external traffic masqueraded.
    cluster = build([attrs.evolve(port, internal_local=False, external_local=False)], NODE)
    assert "endpoint-default/web/tcp/http/10.42.2.5/8080" in cluster.chains
    assert "jump mark-for-masquerade" in cluster.chains["external-default/web/tcp/http"]


def test_two_services_claiming_one_address_and_port_do_not_break_the_others():
    endpoint = (Endpoint("10.42.1.5", 8080),)
    ports = [
        ServicePort(
            "default",
            name,
            "",
            "tcp",
            80,
            ip,
            load_balancer_ips=("10.250.0.1",),
            endpoints=endpoint,
        )
        for name, ip in (("a", "10.43.0.1"), ("b", "10.43.0.2"))
    ]
    rules = build(ports, NODE)
    assert rules.conflicts == ("default/b/tcp/80: 10.250.0.1 . tcp . 80 is taken",)
    assert rules.maps["service-ips"]["10.250.0.1 . tcp . 80"] == "goto external-default/a/tcp/80"
    assert "10.43.0.2 . tcp . 80" in rules.maps["service-ips"]


def test_session_affinity_client_ip_keeps_a_client_on_its_endpoint():
    service = _service(
        sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}}
    )
    (port,) = service_ports(
        [service], [_slice(endpoints=[_endpoint("10.42.1.5"), _endpoint("10.42.1.6")])]
    )
    rules = build([port], NODE)
    assert rules.sets == {
        "affinity-default/web/tcp/http/10.42.1.5/8080": 60,
        "affinity-default/web/tcp/http/10.42.1.6/8080": 60,
    }
    chain = rules.chains["cluster-default/web/tcp/http"]
    assert (
        "ip saddr @affinity-default/web/tcp/http/10.42.1.5/8080 "
        "goto endpoint-default/web/tcp/http/10.42.1.5/8080" in chain
    )
    assert chain[-1].startswith("numgen random mod 2 vmap")


def _ports(count: int, endpoints: int) -> list[ServicePort]:
    return [
        ServicePort(
            "default",
            f"svc-{i}",
            "http",
            ("tcp", "udp", "sctp")[i % 3],  # every protocol nft must accept
            80,
            f"10.43.0.{i + 1}",
            node_port=30000 + i if i % 2 else None,
            affinity_seconds=30 if i % 3 == 0 else None,
            endpoints=tuple(Endpoint(f"10.42.{i}.{j + 1}", 8080, "n1") for j in range(endpoints)),
        )
        for i in range(count)
    ]


async def _listing(nft: Nft) -> str:
    """The table as nft lists it, its chains, sets and maps in name order (a difference
    applied creates them in another order than a full write)."""
    text = await nft.run(["list", "table", "ip", "navarch-proxy"])
    return "\n\n".join(sorted(text.split("\n\n")))


def test_a_change_is_applied_as_a_difference_in_one_transaction():
    async def scenario(node: netns.TestNetns) -> list[str]:
        nft = Nft(tuple(node.argv([])))
        before = build(_ports(6, 3), NODE)
        await nft.apply(full_script(before))
        assert update_script(before, before) == ""
        ports = _ports(6, 3)
        ports[0] = attrs.evolve(ports[0], endpoints=ports[0].endpoints[:1])  # two removed
        ports[1] = attrs.evolve(ports[1], endpoints=())  # none left: refused
        ports[3] = attrs.evolve(ports[3], affinity_seconds=90)  # sets replaced
        del ports[5]  # a Service deleted: its ClusterIP leaves @cluster-ips
        after = build(ports, NODE)
        script = update_script(before, after)
        assert "svc-2" not in script and "svc-4" not in script  # untouched Services
        await nft.apply(script)
        listing = await _listing(nft)
        # What the kernel holds now is what a full write of the new rules holds.
        await nft.apply(full_script(after))
        assert await _listing(nft) == listing
        assert "10.42.0.2" not in listing and "timeout 1m30s" in listing
        assert "10.43.0.6" not in listing and "10.43.0.5" in listing
        await nft.apply(removal())
        return await nft.tables()

    with netns.namespaces("node") as (node,):
        assert asyncio.run(scenario(node)) == []
