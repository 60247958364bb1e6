"""A node token reaches only its own objects: no collection deletes, and on its own
Node no taint, cordon or restricted-label changes (issue 8, items 1-3)."""

from __future__ import annotations

import orjson
import pytest
import pytest_asyncio

from navarch.client import Forbidden

from .test_api import raw
from .test_auth import _client_for, tokens  # noqa: F401  (module fixture reused)

LEASE_PATH = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"


def _lease(name: str) -> dict:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": name, "leaseDurationSeconds": 40},
    }


@pytest_asyncio.fixture
async def node_client(api_server, tokens):  # noqa: F811
    client = _client_for(api_server, tokens["node"])
    yield client
    await client.close()


async def test_node_cannot_delete_every_lease(api_server, tokens, client, node_client):  # noqa: F811
    await client.leases.create(_lease("node-9"), namespace="kube-node-lease")
    await node_client.leases.create(_lease("node-1"), namespace="kube-node-lease")
    status, body, _ = await raw(api_server, "DELETE", LEASE_PATH, token=tokens["node"])
    assert status == 403 and body["reason"] == "Forbidden", body
    # Nothing was deleted, and the node still renews its own lease.
    names = {lease.name for lease in (await client.leases.list("kube-node-lease")).items}
    assert {"node-1", "node-9"} <= names
    with pytest.raises(Forbidden):
        await node_client.leases.delete("node-9", "kube-node-lease")
    for path in (
        "/api/v1/nodes",
        "/api/v1/namespaces/default/pods",
        "/api/v1/namespaces/default/events",
    ):
        status, body, _ = await raw(api_server, "DELETE", path, token=tokens["node"])
        assert status == 403, (path, body)


async def test_node_cannot_untaint_uncordon_or_relabel_itself(client, node_client):
    await node_client.nodes.create(
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}}
    )
    await client.nodes.patch(
        "node-1",
        {
            "spec": {
                "unschedulable": True,
                "taints": [{"key": "maintenance", "value": "yes", "effect": "NoSchedule"}],
            }
        },
    )
    forbidden_changes = [
        {"spec": {"taints": None}},
        {"spec": {"unschedulable": False}},
        {"metadata": {"labels": {"node-role.kubernetes.io/control-plane": ""}}},
        {"metadata": {"labels": {"node-restriction.kubernetes.io/tier": "gold"}}},
    ]
    for change in forbidden_changes:
        with pytest.raises(Forbidden):
            await node_client.nodes.patch("node-1", change)
    node = await client.nodes.get("node-1")
    assert node.spec.unschedulable is True and len(node.spec.taints) == 1
    # What kubelet itself sets stays allowed.
    await node_client.nodes.patch(
        "node-1", {"metadata": {"labels": {"kubernetes.io/hostname": "node-1", "team": "a"}}}
    )
    # An admin may still do all of it.
    await client.nodes.patch(
        "node-1", {"metadata": {"labels": {"node-role.kubernetes.io/worker": ""}}}
    )


async def test_lower_case_bearer_scheme(api_server):
    from navarch.client.kubeconfig import load_kubeconfig

    token = load_kubeconfig(api_server.kubeconfig).token
    status, body, _ = await raw(
        api_server,
        "GET",
        "/api/v1/namespaces",
        headers={"Authorization": f"bearer {token}"},
        token=None,
    )
    assert status == 200, body
    status, _, _ = await raw(
        api_server,
        "GET",
        "/api/v1/namespaces",
        headers={"Authorization": f"Basic {token}"},
        token=None,
    )
    assert status == 401


async def test_node_may_get_but_not_list_or_watch_leases(api_server, tokens):  # noqa: F811
    status, _, _ = await raw(api_server, "GET", LEASE_PATH, token=tokens["node"])
    assert status == 403
    status, _, _ = await raw(api_server, "GET", LEASE_PATH + "?watch=1", token=tokens["node"])
    assert status == 403


async def test_node_may_read_services_and_endpointslices_but_not_write(api_server, tokens):  # noqa: F811
    # The node's Service proxy (issue 24 item 5) lists and watches them in every namespace.
    for path in (
        "/api/v1/services",
        "/api/v1/namespaces/default/services",
        "/apis/discovery.k8s.io/v1/endpointslices",
        "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
    ):
        status, body, _ = await raw(api_server, "GET", path, token=tokens["node"])
        assert status == 200, (path, body)
    status, _, _ = await raw(
        api_server, "GET", "/api/v1/services?watch=1&timeoutSeconds=1", token=tokens["node"]
    )
    assert status == 200
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "made-by-a-node"},
        "spec": {"ports": [{"port": 80}]},
    }
    status, body, _ = await raw(
        api_server,
        "POST",
        "/api/v1/namespaces/default/services",
        body=orjson.dumps(service),
        headers={"Content-Type": "application/json"},
        token=tokens["node"],
    )
    assert status == 403, body
    status, body, _ = await raw(
        api_server, "DELETE", "/api/v1/namespaces/default/services/kubernetes", token=tokens["node"]
    )
    assert status == 403, body
