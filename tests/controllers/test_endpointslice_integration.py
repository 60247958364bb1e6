"""EndpointSlices and Endpoints with everything real (issue 24 item 4): an API server,
``navarch controllers`` running the EndpointSlice, Endpoints and garbage-collector
controllers, nodes and pods written by hand (no agent: the pods' IPs and readiness are
set through pods/status as an agent would), and the real kubectl."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from navarch import api
from navarch.client import Client
from navarch.client.errors import NotFound
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.cluster import Kubectl, controllers_process
from navarch.testing.waiting import eventually

IMAGE = "127.0.0.1:5000/web:1"
SLICE_LABELS = "kubernetes.io/service-name=web,endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("endpointslice-cluster")
    with ApiServerProcess(root / "apiserver") as server:
        manager = controllers_process(
            root, server, ["endpointslice", "endpoints", "garbage-collector"]
        )
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


async def set_node_ready(client: Client, name: str, ready: bool) -> None:
    body = api.dump(await client.nodes.get(name))
    body["status"]["conditions"] = [{"type": "Ready", "status": "True" if ready else "False"}]
    await client.nodes.update_status(body)


async def make_pod(
    client: Client, name: str, node: str, ip: str | None, ready: bool, **spec: Any
) -> None:
    created = await client.pods.create(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": "web"}},
            "spec": {
                "nodeName": node,
                "containers": [
                    {
                        "name": "web",
                        "image": IMAGE,
                        "ports": [{"name": "http", "containerPort": 8080}],
                    }
                ],
                **spec,
            },
        },
        "default",
    )
    body = api.dump(created)
    body["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": str(ready)}]}
    if ip:
        body["status"]["podIP"] = ip
        body["status"]["podIPs"] = [{"ip": ip}]
    await client.pods.update_status(body, "default")


async def web_slices(client: Client) -> list[dict]:
    listed = await client.endpointslices.list("default", label_selector=SLICE_LABELS)
    return [api.dump(s) for s in listed.items]


def by_pod(slices: list[dict]) -> dict[str, dict]:
    return {e["targetRef"]["name"]: e for s in slices for e in s.get("endpoints") or []}


async def test_slices_and_endpoints_follow_pods_and_nodes(cluster, client):
    _, manager = cluster
    await make_node(client, "n1", True, "10.250.0.1")
    await make_node(client, "n2", True, "10.250.0.2")
    service = await client.services.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "labels": {"tier": "front"}},
            "spec": {
                "selector": {"app": "web"},
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            },
        },
        "default",
    )

    # No pods yet: one empty slice.
    async def placeholder() -> bool:
        slices = await web_slices(client)
        return len(slices) == 1 and not slices[0].get("endpoints")

    await eventually(placeholder, "an empty EndpointSlice for a Service with no pods", [manager])

    await make_pod(client, "ready", "n1", "10.42.0.5", True)
    await make_pod(client, "not-ready", "n1", "10.42.0.6", False)
    await make_pod(client, "on-n2", "n2", "10.42.1.7", True)
    await make_pod(client, "no-ip", "n1", None, True)
    await make_pod(client, "host", "n1", None, True, hostNetwork=True)

    async def four_endpoints() -> bool:
        return set(by_pod(await web_slices(client))) == {"ready", "not-ready", "on-n2", "host"}

    await eventually(four_endpoints, "the pods with an IP as endpoints", [manager])
    [slice_] = await web_slices(client)
    assert slice_["addressType"] == "IPv4"
    assert slice_["ports"] == [{"name": "http", "protocol": "TCP", "port": 8080}]
    assert slice_["metadata"]["labels"]["tier"] == "front"
    owner = slice_["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("Service", "web", service.metadata.uid)
    endpoints = by_pod([slice_])
    assert endpoints["ready"] == {
        "addresses": ["10.42.0.5"],
        "conditions": {"ready": True, "serving": True, "terminating": False},
        "nodeName": "n1",
        "targetRef": {
            "kind": "Pod",
            "namespace": "default",
            "name": "ready",
            "uid": endpoints["ready"]["targetRef"]["uid"],
        },
    }
    assert endpoints["not-ready"]["conditions"]["ready"] is False
    assert endpoints["host"]["addresses"] == ["10.250.0.1"]  # hostNetwork: the node's IP

    async def legacy() -> bool:
        try:
            ep = api.dump(await client.endpoints.get("web", "default"))
        except NotFound:
            return False
        [subset] = ep.get("subsets") or [{}]
        ready = sorted(a["ip"] for a in subset.get("addresses") or [])
        return ready == ["10.250.0.1", "10.42.0.5", "10.42.1.7"] and [
            a["ip"] for a in subset.get("notReadyAddresses") or []
        ] == ["10.42.0.6"]

    await eventually(legacy, "the legacy Endpoints with ready and not-ready addresses", [manager])

    # Node n2 goes NotReady: its pod is served no more.
    await set_node_ready(client, "n2", False)

    async def n2_not_ready() -> bool:
        endpoint = by_pod(await web_slices(client)).get("on-n2")
        return endpoint is not None and endpoint["conditions"] == {
            "ready": False,
            "serving": False,
            "terminating": False,
        }

    await eventually(n2_not_ready, "a pod on a NotReady node is not ready", [manager])

    # A pod deleted leaves the slice; the Service deleted takes its slices and Endpoints.
    await client.pods.delete("ready", "default", grace_period_seconds=0)

    async def ready_gone() -> bool:
        return "ready" not in by_pod(await web_slices(client))

    await eventually(ready_gone, "a deleted pod leaves the EndpointSlice", [manager])
    await client.services.delete("web", "default")

    async def all_gone() -> bool:
        try:
            await client.endpoints.get("web", "default")
            return False
        except NotFound:
            return not await web_slices(client)

    await eventually(all_gone, "a deleted Service's EndpointSlices and Endpoints go", [manager])


async def test_kubectl_gets_services_endpoints_and_slices(cluster, client):
    server, manager = cluster
    kubectl = Kubectl(server.kubeconfig, timeout=60)
    await make_node(client, "k1", True, "10.250.0.9")
    kubectl("create", "service", "clusterip", "shop", "--tcp=80:8080")
    await make_pod(client, "shop-1", "k1", "10.42.3.4", True)
    body = api.dump(await client.pods.get("shop-1", "default"))
    body["metadata"]["labels"] = {"app": "shop"}
    await client.pods.update(body, "default")

    async def listed() -> bool:
        try:
            ep = api.dump(await client.endpoints.get("shop", "default"))
        except NotFound:
            return False
        return bool(ep.get("subsets"))

    await eventually(listed, "the shop Service's endpoints", [manager])
    out = kubectl("get", "svc,ep,endpointslices", "-l", "app=shop")
    lines = [line.split() for line in out.splitlines() if line.strip()]
    headers = [line for line in lines if line[0] == "NAME"]
    assert headers == [
        ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
        ["NAME", "ENDPOINTS", "AGE"],
        ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"],
    ]
    rows = {line[0].split("/")[0]: line for line in lines if line[0] != "NAME"}
    assert rows["service"][1] == "ClusterIP" and rows["service"][4] == "80/TCP"
    assert ipaddress.ip_address(rows["service"][2]) in ipaddress.ip_network("10.43.0.0/16")
    assert rows["endpoints"][1] == "10.42.3.4:8080"
    assert rows["endpointslice.discovery.k8s.io"][1:4] == ["IPv4", "8080", "10.42.3.4"]
