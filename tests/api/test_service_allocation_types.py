"""Service types and their allocations on a real API server (issue 24 item 3, the
"bad input" list of its Done-when): a type change allocates or frees NodePorts,
LoadBalancer allocates them unless ``allocateLoadBalancerNodePorts: false``, a taken
NodePort is 422 for a LoadBalancer too, ExternalName is validated and gets no
address, ``loadBalancerClass`` follows Kubernetes' rules, NodePorts asked for by many
Services at once are all distinct."""

from __future__ import annotations

import asyncio

import orjson

from .test_api import raw
from .test_services import SERVICES, causes, post, put, service


async def get(api_server, name: str) -> dict:
    status, body, _ = await raw(api_server, "GET", f"{SERVICES}/{name}")
    assert status == 200, body
    return body


async def test_cluster_ip_to_node_port_allocates_and_back_frees(api_server):
    status, body = await post(api_server, service("flip"))
    assert status == 201, body
    assert "nodePort" not in body["spec"]["ports"][0]
    body["spec"]["type"] = "NodePort"
    status, body = await put(api_server, body)
    assert status == 200, body
    port = body["spec"]["ports"][0]["nodePort"]
    assert 30000 <= port <= 32767
    assert body["spec"]["externalTrafficPolicy"] == "Cluster"
    # The port is held: another Service asking for it is refused.
    status, refused = await post(
        api_server, service("flip-other", type="NodePort", ports=[{"port": 80, "nodePort": port}])
    )
    assert status == 422
    assert causes(refused) == [
        ("spec.ports[0].nodePort", f"Invalid value: {port}: provided port is already allocated")
    ]
    body["spec"]["type"] = "ClusterIP"
    del body["spec"]["externalTrafficPolicy"]
    status, body = await put(api_server, body)
    assert status == 200, body
    assert "nodePort" not in body["spec"]["ports"][0]
    status, took = await post(
        api_server, service("flip-other", type="NodePort", ports=[{"port": 80, "nodePort": port}])
    )
    assert status == 201, took


async def test_load_balancer_allocates_node_ports_unless_told_not_to(api_server):
    status, body = await post(
        api_server,
        service(
            "lb", type="LoadBalancer", ports=[{"name": "a", "port": 80}, {"name": "b", "port": 443}]
        ),
    )
    assert status == 201, body
    spec = body["spec"]
    assert spec["allocateLoadBalancerNodePorts"] is True
    ports = [p["nodePort"] for p in spec["ports"]]
    assert len(set(ports)) == 2 and all(30000 <= p <= 32767 for p in ports)
    assert spec["clusterIP"] and spec["externalTrafficPolicy"] == "Cluster"

    status, body = await post(
        api_server, service("lb-none", type="LoadBalancer", allocateLoadBalancerNodePorts=False)
    )
    assert status == 201, body
    assert "nodePort" not in body["spec"]["ports"][0]
    assert body["spec"]["allocateLoadBalancerNodePorts"] is False
    # Asked for by name, a NodePort is still allocated (and checked).
    status, body = await post(
        api_server,
        service(
            "lb-named",
            type="LoadBalancer",
            allocateLoadBalancerNodePorts=False,
            ports=[{"port": 80, "nodePort": ports[0]}],
        ),
    )
    assert status == 422
    assert causes(body) == [
        ("spec.ports[0].nodePort", f"Invalid value: {ports[0]}: provided port is already allocated")
    ]
    status, body = await post(
        api_server,
        service("lb-far", type="LoadBalancer", ports=[{"port": 80, "nodePort": 40000}]),
    )
    assert status == 422
    assert causes(body) == [
        (
            "spec.ports[0].nodePort",
            "Invalid value: 40000: provided port is not in the valid range. "
            "The range of valid ports is 30000-32767",
        )
    ]


async def test_load_balancer_to_cluster_ip_drops_its_fields_and_frees_its_ports(api_server):
    status, body = await post(
        api_server,
        service("lb-back", type="LoadBalancer", loadBalancerClass="navarch.io/servicelb"),
    )
    assert status == 201, body
    assert body["spec"]["loadBalancerClass"] == "navarch.io/servicelb"
    port = body["spec"]["ports"][0]["nodePort"]
    # kubectl edit: only the type changes; the LoadBalancer-only fields go with it.
    body["spec"]["type"] = "ClusterIP"
    del body["spec"]["externalTrafficPolicy"]
    status, body = await put(api_server, body)
    assert status == 200, body
    for field in ("allocateLoadBalancerNodePorts", "loadBalancerClass"):
        assert field not in body["spec"], field
    assert "nodePort" not in body["spec"]["ports"][0]
    status, took = await post(
        api_server, service("lb-took", type="NodePort", ports=[{"port": 80, "nodePort": port}])
    )
    assert status == 201, took


async def test_load_balancer_class_rules(api_server):
    status, body = await post(api_server, service("cls-cip", loadBalancerClass="example.com/lb"))
    assert status == 422
    assert causes(body) == [
        ("spec.loadBalancerClass", "Forbidden: may only be used when `type` is 'LoadBalancer'")
    ]
    status, body = await post(
        api_server, service("cls-bad", type="LoadBalancer", loadBalancerClass="not a name")
    )
    assert status == 422
    assert [f for f, _ in causes(body)] == ["spec.loadBalancerClass"]
    status, body = await post(api_server, service("alloc-cip", allocateLoadBalancerNodePorts=False))
    assert status == 422
    assert causes(body) == [
        (
            "spec.allocateLoadBalancerNodePorts",
            "Forbidden: may only be used when `type` is 'LoadBalancer'",
        )
    ]
    status, body = await post(
        api_server, service("cls", type="LoadBalancer", loadBalancerClass="example.com/lb")
    )
    assert status == 201, body
    body["spec"]["loadBalancerClass"] = "example.com/other"
    status, body = await put(api_server, body)
    assert status == 422
    assert [(f, m.split(": ")[-1]) for f, m in causes(body)] == [
        ("spec.loadBalancerClass", "may not change once set")
    ]


async def test_external_name_is_validated_gets_no_address_and_may_have_ports(api_server):
    external = {"type": "ExternalName", "externalName": "db.example.com."}
    status, body = await post(api_server, service("ext-ports", **external))
    assert status == 201, body
    spec = body["spec"]
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    assert "clusterIP" not in spec and "clusterIPs" not in spec
    assert "nodePort" not in spec["ports"][0]
    status, body = await post(
        api_server, service("ext-bad", type="ExternalName", externalName="Not_A.Name")
    )
    assert status == 422
    assert [f for f, _ in causes(body)] == ["spec.externalName"]
    assert "RFC 1123 subdomain" in causes(body)[0][1]
    status, body = await post(api_server, service("ext-none", type="ExternalName"))
    assert status == 422
    assert causes(body) == [("spec.externalName", "Required value")]
    # ExternalName -> ClusterIP allocates an address.
    current = await get(api_server, "ext-ports")
    current["spec"] = {"type": "ClusterIP", "ports": [{"port": 80}]}
    status, body = await put(api_server, current)
    assert status == 200, body
    assert body["spec"]["clusterIP"] and body["spec"]["clusterIPs"] == [body["spec"]["clusterIP"]]


async def test_node_ports_asked_by_many_services_at_once_are_distinct(api_server):
    async def create(i: int) -> int:
        for _ in range(50):  # 429 under the in-flight limit: try again
            status, body = await post(api_server, service(f"many-np-{i}", type="NodePort"))
            if status == 201:
                return body["spec"]["ports"][0]["nodePort"]
            assert status == 429, body
            await asyncio.sleep(0.2)
        raise AssertionError(f"many-np-{i} was never created")

    limit = asyncio.Semaphore(50)

    async def bounded(i: int) -> int:
        async with limit:
            return await create(i)

    ports = await asyncio.gather(*(bounded(i) for i in range(200)))
    assert len(set(ports)) == 200


async def test_load_balancer_ingress_addresses_are_validated(api_server):
    status, body = await post(api_server, service("lb-status", type="LoadBalancer"))
    assert status == 201, body
    path = f"{SERVICES}/lb-status/status"
    body["status"] = {
        "loadBalancer": {"ingress": [{"ip": "10.250.0.300"}, {"hostname": "10.1.2.3"}]}
    }
    status, answer, _ = await raw(
        api_server,
        "PUT",
        path,
        body=orjson.dumps(body),
        headers={"Content-Type": "application/json"},
    )
    assert status == 422, answer
    assert causes(answer) == [
        (
            "status.loadBalancer.ingress[0].ip",
            'Invalid value: "10.250.0.300": must be a valid IP address, '
            "(e.g. 10.9.8.7 or 2001:db8::ffff)",
        ),
        (
            "status.loadBalancer.ingress[1].hostname",
            'Invalid value: "10.1.2.3": must be a DNS name, not an IP address',
        ),
    ]
    body["status"] = {
        "loadBalancer": {"ingress": [{"ip": "10.250.0.3"}, {"hostname": "lb.example.com"}]}
    }
    status, answer, _ = await raw(
        api_server,
        "PUT",
        path,
        body=orjson.dumps(body),
        headers={"Content-Type": "application/json"},
    )
    assert status == 200, answer
