"""The ServiceLB controller with everything real (issue 24 item 3): an API server,
``navarch controllers`` running ``servicelb``, Nodes written by hand, the real
kubectl. A LoadBalancer Service's ingress is the InternalIPs of the Ready,
schedulable nodes and follows them; a second Service on a port already used stays
Pending with a Warning Event naming the holder, and gets the port when the holder
goes; another class is left alone; a type change away clears the status."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from navarch import api
from navarch.client import Client
from navarch.controllers.servicelb import holder_of_ports
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.cluster import Kubectl, controllers_process
from navarch.testing.waiting import eventually


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("servicelb")
    with ApiServerProcess(root / "apiserver") as server:
        manager = controllers_process(root, server, ["servicelb"])
        manager.start()
        try:
            yield server, manager
        finally:
            manager.stop()


@pytest_asyncio.fixture
async def client(cluster) -> AsyncIterator[Client]:
    server, _ = cluster
    async with Client.from_kubeconfig(server.kubeconfig) as client:
        yield client


async def make_node(client: Client, name: str, ready: bool, ip: str) -> None:
    created = await client.nodes.create(
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}
    )
    body = api.dump(created)
    body["status"] = {
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        "addresses": [{"type": "InternalIP", "address": ip}],
    }
    await client.nodes.update_status(body)


async def set_ready(client: Client, name: str, ready: bool) -> None:
    body = api.dump(await client.nodes.get(name))
    body["status"]["conditions"] = [{"type": "Ready", "status": "True" if ready else "False"}]
    await client.nodes.update_status(body)


async def make_service(client: Client, name: str, port: int, **spec) -> None:
    await client.services.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name},
            "spec": {"type": "LoadBalancer", "ports": [{"port": port}], **spec},
        },
        "default",
    )


async def ingress(client: Client, name: str) -> list[str]:
    status = api.dump(await client.services.get(name, "default")).get("status") or {}
    return [i["ip"] for i in (status.get("loadBalancer") or {}).get("ingress") or []]


async def wait_ingress(client: Client, name: str, wanted: list[str], manager) -> None:
    async def matches() -> bool:
        return await ingress(client, name) == wanted

    await eventually(matches, f"service {name} has ingress {wanted}", [manager])


async def test_ingress_follows_ready_schedulable_nodes(cluster, client):
    server, manager = cluster
    await make_node(client, "n1", True, "10.250.0.1")
    await make_node(client, "n2", True, "10.250.0.2")
    await make_node(client, "n3", False, "10.250.0.3")
    await make_service(client, "web", 80)
    await wait_ingress(client, "web", ["10.250.0.1", "10.250.0.2"], manager)

    # kubectl shows the addresses as the Service's EXTERNAL-IP.
    kubectl = Kubectl(server.kubeconfig)
    header, row = kubectl("get", "svc", "web").splitlines()
    assert header.split()[:4] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP"]
    assert row.split()[1] == "LoadBalancer"
    assert row.split()[3] == "10.250.0.1,10.250.0.2"

    await set_ready(client, "n3", True)
    await wait_ingress(client, "web", ["10.250.0.1", "10.250.0.2", "10.250.0.3"], manager)
    await client.nodes.patch("n1", {"spec": {"unschedulable": True}})  # cordoned
    await wait_ingress(client, "web", ["10.250.0.2", "10.250.0.3"], manager)
    await set_ready(client, "n2", False)
    await wait_ingress(client, "web", ["10.250.0.3"], manager)
    await client.nodes.delete("n3")
    await wait_ingress(client, "web", [], manager)
    await client.nodes.patch("n1", {"spec": {"unschedulable": False}})
    await wait_ingress(client, "web", ["10.250.0.1"], manager)


async def test_a_port_in_use_leaves_the_second_pending_until_the_first_goes(cluster, client):
    _, manager = cluster
    await make_node(client, "m1", True, "10.250.1.1")
    await make_service(client, "first", 8080)
    await wait_ingress(client, "first", ["10.250.0.1", "10.250.1.1"], manager)
    await make_service(client, "second", 8080)

    async def port_in_use() -> list[dict]:
        events = [api.dump(e) for e in (await client.events.list("default")).items]
        return [
            e
            for e in events
            if e["involvedObject"].get("name") == "second" and e["reason"] == "PortInUse"
        ]

    await eventually(port_in_use, "a PortInUse Event about Service second", [manager])
    [event] = await port_in_use()
    assert event["type"] == "Warning"
    assert "8080/TCP" in event["message"] and "default/first" in event["message"]
    assert await ingress(client, "second") == []  # the Event says it was looked at

    # The holder goes: the port is the second's.
    await client.services.delete("first", "default")
    await wait_ingress(client, "second", ["10.250.0.1", "10.250.1.1"], manager)


async def test_another_class_is_left_alone_and_a_type_change_clears_the_status(cluster, client):
    _, manager = cluster
    await make_service(client, "theirs", 9090, loadBalancerClass="example.com/lb")
    await make_service(client, "ours", 9091, loadBalancerClass="navarch.io/servicelb")
    await wait_ingress(client, "ours", ["10.250.0.1", "10.250.1.1"], manager)
    # Queued before "ours" and synced by then: no ingress of ours.
    assert await ingress(client, "theirs") == []

    body = api.dump(await client.services.get("ours", "default"))
    body["spec"]["type"] = "ClusterIP"
    body["spec"].pop("externalTrafficPolicy", None)
    written = api.dump(await client.services.update(body, "default"))
    assert not (written.get("status") or {}).get("loadBalancer")  # cleared in that write
    assert await ingress(client, "ours") == []


def lb(name: str, created: str, *ports: int, cls: str | None = None) -> dict:
    spec: dict = {"type": "LoadBalancer", "ports": [{"port": p, "protocol": "TCP"} for p in ports]}
    if cls:
        spec["loadBalancerClass"] = cls
    meta = {"name": name, "namespace": "default", "creationTimestamp": created}
    return {"metadata": meta, "spec": spec}


def test_the_oldest_service_of_ours_holds_a_port():
    old = lb("old", "2026-01-01T00:00:00Z", 80, 443)
    new = lb("new", "2026-01-02T00:00:00Z", 443)
    theirs = lb("theirs", "2025-01-01T00:00:00Z", 443, cls="example.com/lb")
    services = [old, new, theirs]
    assert holder_of_ports(old, services) is None  # the oldest of ours; theirs not counted
    held = holder_of_ports(new, services)
    assert held is not None and held[0] is old and held[1] == (443, "TCP")
    # Another protocol on the same number is another port.
    udp = lb("udp", "2026-01-03T00:00:00Z", 80)
    udp["spec"]["ports"][0]["protocol"] = "UDP"
    assert holder_of_ports(udp, services) is None
