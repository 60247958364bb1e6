"""Authentication and the three roles (admin, node with NodeRestriction, viewer)."""

from __future__ import annotations

import os
import stat

import pytest
import pytest_asyncio

from navarch.apiserver.server import token_file
from navarch.client import Client, Forbidden, Unauthorized
from navarch.client.kubeconfig import KubeConfig, load_kubeconfig
from navarch.config import load_config

from .test_api import pod, raw


def _client_for(api_server, token: str) -> Client:
    admin = load_kubeconfig(api_server.kubeconfig)
    return Client(KubeConfig(server=admin.server, token=token, ca_data=admin.ca_data), retries=0)


@pytest.fixture(scope="module")
def tokens(api_server):
    config = load_config(file=None, env={}, overrides=[f"data_dir={api_server.data_dir}"])
    file = token_file(config)
    made = {"node": file.add("node", "node-1"), "viewer": file.add("viewer", "alice")}
    # The server reads the file at start: restart it to pick the new users up.
    api_server.stop()
    api_server.start()
    return made


@pytest_asyncio.fixture
async def node_client(api_server, tokens):
    client = _client_for(api_server, tokens["node"])
    yield client
    await client.close()


@pytest_asyncio.fixture
async def viewer_client(api_server, tokens):
    client = _client_for(api_server, tokens["viewer"])
    yield client
    await client.close()


def test_token_file_is_private_and_holds_an_admin(api_server):
    path = api_server.data_dir / "tokens.csv"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert ",admin,admin,system:masters" in path.read_text()


async def test_anonymous_and_wrong_tokens_get_401(api_server):
    for token in (None, "not-a-token"):
        status, body, _ = await raw(api_server, "GET", "/api/v1/pods", token=token)
        assert status == 401 and body["reason"] == "Unauthorized" and body["kind"] == "Status"


async def test_viewer_reads_but_cannot_write(viewer_client, client):
    await client.pods.create(pod("viewed"), namespace="default")
    assert [p.name for p in (await viewer_client.pods.list("default")).items] == ["viewed"]
    with pytest.raises(Forbidden) as info:
        await viewer_client.pods.create(pod("nope"), namespace="default")
    assert 'User "alice" cannot create resource "pods"' in info.value.status["message"]
    with pytest.raises(Forbidden):
        await viewer_client.pods.delete("viewed", "default")


async def test_node_manages_its_own_node_and_lease_only(node_client):
    own = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}}
    await node_client.nodes.create(own)
    await node_client.nodes.patch("node-1", {"metadata": {"labels": {"ready": "yes"}}})
    with pytest.raises(Forbidden):
        await node_client.nodes.create(
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-2"}}
        )
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "node-1", "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40},
    }
    await node_client.leases.create(lease, namespace="kube-node-lease")
    other = {**lease, "metadata": {"name": "node-2", "namespace": "kube-node-lease"}}
    with pytest.raises(Forbidden):
        await node_client.leases.create(other, namespace="kube-node-lease")


async def test_node_sees_and_changes_only_pods_bound_to_it(node_client, client):
    await client.pods.create(pod("mine", nodeName="node-1"), namespace="default")
    await client.pods.create(pod("theirs", nodeName="node-2"), namespace="default")
    mine = await node_client.pods.list("", field_selector="spec.nodeName=node-1")
    assert [p.name for p in mine.items] == ["mine"]
    with pytest.raises(Forbidden):
        await node_client.pods.list("")  # without its own field selector
    with pytest.raises(Forbidden):
        await node_client.pods.get("theirs", "default")
    status = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "mine", "namespace": "default"},
        "status": {"phase": "Running"},
    }
    updated = await node_client.pods.update_status(status, namespace="default")
    assert updated.status.phase == "Running"
    with pytest.raises(Forbidden):
        await node_client.pods.update_status(
            {**status, "metadata": {"name": "theirs", "namespace": "default"}}, namespace="default"
        )
    with pytest.raises(Forbidden):
        await node_client.pods.create(pod("new"), namespace="default")
    with pytest.raises(Forbidden):
        await node_client.deployments.list("default")


async def test_unauthorized_client_error_type(api_server):
    client = _client_for(api_server, "bogus")
    with pytest.raises(Unauthorized):
        await client.pods.list("default")
    await client.close()
