"""The kube-dns Service and its endpoints (issue 24 item 6): every API server makes
``kube-system/kube-dns`` at the 10th address of the service CIDR, and the ``nodedns``
controller (in ``navarch controllers``) lists each Ready node announcing a DNS server
(``navarch.io/dns-address``) in its EndpointSlices, one slice per port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from navarch import api
from navarch.apiserver.kubedns import dns_service, ensure_dns_service
from navarch.client import Client
from navarch.controllers.nodedns import CONTROLLER_NAME
from navarch.dns import ADDRESS_ANNOTATION
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.cluster import controllers_process
from navarch.testing.waiting import eventually

SLICES = (
    f"kubernetes.io/service-name=kube-dns,endpointslice.kubernetes.io/managed-by={CONTROLLER_NAME}"
)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("nodedns-cluster")
    with ApiServerProcess(root / "apiserver") as server:
        manager = controllers_process(root, server, ["nodedns"])
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


async def make_node(client: Client, name: str, *, ready: bool, dns: str | None) -> None:
    meta: dict[str, Any] = {"name": name}
    if dns:
        meta["annotations"] = {ADDRESS_ANNOTATION: dns}
    created = await client.nodes.create({"apiVersion": "v1", "kind": "Node", "metadata": meta})
    await set_ready(client, api.dump(created), ready)


async def set_ready(client: Client, body: dict[str, Any], ready: bool) -> None:
    body["status"] = {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    await client.nodes.update_status(body)


async def served(client: Client) -> dict[str, list[tuple[str, str]]]:
    """Slice name -> [(node, address)] for the controller's kube-dns slices."""
    found = await client.endpointslices.list("kube-system", label_selector=SLICES)
    return {
        s.metadata.name: sorted((e.node_name, e.addresses[0]) for e in s.endpoints or ())
        for s in found.items
    }


async def test_the_kube_dns_service_exists_at_the_tenth_address(client):
    service = await client.services.get("kube-dns", "kube-system")
    assert service.spec.cluster_ip == "10.43.0.10"
    assert service.spec.internal_traffic_policy == "Local"
    assert not service.spec.selector
    assert sorted((p.name, p.port, p.protocol) for p in service.spec.ports) == [
        ("dns", 53, "UDP"),
        ("dns-tcp", 53, "TCP"),
    ]


async def test_the_slices_follow_the_nodes_announcements_and_readiness(cluster, client):
    server, manager = cluster
    daemons = [server, manager]
    await make_node(client, "dns-a", ready=True, dns="10.250.0.1:53")
    await make_node(client, "dns-b", ready=True, dns="10.250.0.2:53")
    await make_node(client, "dns-c", ready=False, dns="10.250.0.3:53")  # not Ready
    await make_node(client, "dns-d", ready=True, dns=None)  # no DNS server
    await make_node(client, "dns-e", ready=True, dns="127.0.0.1:5353")  # another port

    async def listed(expected: dict[str, list[tuple[str, str]]]) -> bool:
        return await served(client) == expected

    first = {
        "kube-dns-53": [("dns-a", "10.250.0.1"), ("dns-b", "10.250.0.2")],
        "kube-dns-5353": [("dns-e", "127.0.0.1")],
    }
    await eventually(lambda: listed(first), "the Ready announcing nodes listed", daemons)
    slice_53 = await client.endpointslices.get("kube-dns-53", "kube-system")
    assert sorted((p.name, p.port, p.protocol) for p in slice_53.ports) == [
        ("dns", 53, "UDP"),
        ("dns-tcp", 53, "TCP"),
    ]
    assert all(e.conditions.ready for e in slice_53.endpoints)

    # dns-c turns Ready, dns-a NotReady, dns-e stops announcing: its slice goes.
    await set_ready(client, api.dump(await client.nodes.get("dns-c")), True)
    await set_ready(client, api.dump(await client.nodes.get("dns-a")), False)
    await client.nodes.patch("dns-e", {"metadata": {"annotations": {ADDRESS_ANNOTATION: None}}})
    second = {"kube-dns-53": [("dns-b", "10.250.0.2"), ("dns-c", "10.250.0.3")]}
    await eventually(lambda: listed(second), "the slices following the nodes", daemons)

    # A slice edited by hand is put back; a deleted node leaves it.
    body = api.dump(await client.endpointslices.get("kube-dns-53", "kube-system"))
    body["endpoints"] = []
    emptied = await client.endpointslices.update(body, "kube-system")

    async def put_back() -> bool:
        now = await client.endpointslices.get("kube-dns-53", "kube-system")
        rewritten = now.metadata.resource_version != emptied.metadata.resource_version
        return rewritten and await listed(second)

    await eventually(put_back, "the slice put back", daemons)
    await client.nodes.delete("dns-b")
    third = {"kube-dns-53": [("dns-c", "10.250.0.3")]}
    await eventually(lambda: listed(third), "the deleted node gone from the slice", daemons)
    for name in ("dns-a", "dns-c", "dns-d", "dns-e"):
        await client.nodes.delete(name)
    await eventually(lambda: listed({}), "no slice left without a node", daemons)


async def test_the_address_is_the_tenth_of_any_service_cidr_and_a_tiny_one_is_skipped():
    assert dns_service("10.96.0.0/12")["spec"]["clusterIP"] == "10.96.0.10"
    assert dns_service("fd00:43::/112")["spec"]["clusterIP"] == "fd00:43::a"
    # No 10th address: the server starts all the same, without the Service (no storage
    # is touched).
    await ensure_dns_service(None, "10.43.0.0/29")  # type: ignore[arg-type]
