"""Cascading deletion with everything real: an API server, ``navarch controllers``
running only the garbage collector (no ReplicaSet controller: the pods are made by hand
with ownerReferences to the ReplicaSet) and kubectl's ``delete --cascade``:

* ``background``: the ReplicaSet goes at once, its pods after it;
* ``orphan``: the pods stay, without their references;
* ``foreground``: the ReplicaSet stays, marked, with the ``foregroundDeletion``
  finalizer, until its last pod is gone (one pod holds its own finalizer to keep the
  wait observable), then goes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from navarch.client import Client
from navarch.client.errors import NotFound
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.cluster import Kubectl, controllers_process
from navarch.testing.waiting import eventually

IMAGE = "127.0.0.1:5000/web:1"
HOLD = "example.com/hold"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("gc-cluster")
    with ApiServerProcess(root / "apiserver") as server:
        manager = controllers_process(root, server, ["garbage-collector"])
        manager.start()
        try:
            yield server, manager
        finally:
            manager.stop()


@pytest.fixture
def kubectl(cluster) -> Kubectl:
    server, _ = cluster
    return Kubectl(server.kubeconfig, timeout=60)


@pytest_asyncio.fixture
async def client(cluster) -> AsyncIterator[Client]:
    server, _ = cluster
    async with Client.from_kubeconfig(server.kubeconfig) as client:
        yield client


async def _replicaset_with_pods(
    client: Client, name: str, pods: int, *, hold_first: bool = False
) -> str:
    """A ReplicaSet of 0 replicas and ``pods`` pods (never scheduled) owned by it."""
    labels = {"app": name}
    rs = await client.replicasets.create(
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "c", "image": IMAGE}]},
                },
            },
        }
    )
    ref = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": name,
        "uid": rs.metadata.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }
    for n in range(pods):
        meta: dict[str, Any] = {
            "name": f"{name}-{n}",
            "namespace": "default",
            "labels": labels,
            "ownerReferences": [ref],
        }
        if hold_first and n == 0:
            meta["finalizers"] = [HOLD]
        await client.pods.create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": meta,
                "spec": {"containers": [{"name": "c", "image": IMAGE}]},
            }
        )
    return rs.metadata.uid


async def _pods(client: Client, app: str) -> list[Any]:
    return list((await client.pods.list("default", label_selector=f"app={app}")).items)


async def _exists(client: Client, plural: str, name: str) -> bool:
    try:
        await getattr(client, plural).get(name, "default")
    except NotFound:
        return False
    return True


async def test_cascade_background_deletes_the_pods_after_the_replicaset(
    cluster, client, kubectl
) -> None:
    _, manager = cluster
    await _replicaset_with_pods(client, "bg", 3)
    kubectl("delete", "rs", "bg", "--cascade=background", "--wait=false")
    assert not await _exists(client, "replicasets", "bg")  # gone at once

    async def pods_gone() -> bool:
        return not await _pods(client, "bg")

    await eventually(pods_gone, "the ReplicaSet's pods deleted", [manager])


async def test_cascade_orphan_keeps_the_pods_without_their_references(
    cluster, client, kubectl
) -> None:
    _, manager = cluster
    await _replicaset_with_pods(client, "orph", 2)
    kubectl("delete", "rs", "orph", "--cascade=orphan")  # waits until it is gone

    async def orphaned() -> bool:
        pods = await _pods(client, "orph")
        return len(pods) == 2 and all(not p.metadata.owner_references for p in pods)

    await eventually(orphaned, "both pods kept, without ownerReferences", [manager])
    assert not await _exists(client, "replicasets", "orph")
    # Proof the collector looked after the orphaning: a later ReplicaSet deleted in the
    # background has its pods collected, so the orphans' events were handled before…
    await _replicaset_with_pods(client, "after-orph", 1)
    kubectl("delete", "rs", "after-orph", "--cascade=background", "--wait=false")

    async def later_pods_gone() -> bool:
        return not await _pods(client, "after-orph")

    await eventually(later_pods_gone, "a later ReplicaSet's pods collected", [manager])
    assert len(await _pods(client, "orph")) == 2  # … and the orphans were kept


async def test_cascade_foreground_keeps_the_replicaset_until_its_pods_are_gone(
    cluster, client, kubectl
) -> None:
    _, manager = cluster
    uid = await _replicaset_with_pods(client, "fg", 3, hold_first=True)
    kubectl("delete", "rs", "fg", "--cascade=foreground", "--wait=false")

    async def only_the_held_pod_left() -> bool:
        pods = await _pods(client, "fg")
        return [p.name for p in pods] == ["fg-0"] and bool(pods[0].metadata.deletion_timestamp)

    await eventually(only_the_held_pod_left, "the pods deleted but the held one", [manager])
    rs = json.loads(kubectl("get", "rs", "fg", "-o", "json"))
    assert rs["metadata"]["uid"] == uid
    assert rs["metadata"]["deletionTimestamp"]
    assert rs["metadata"]["finalizers"] == ["foregroundDeletion"]

    kubectl("patch", "pod", "fg-0", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')

    async def replicaset_gone() -> bool:
        return not await _exists(client, "replicasets", "fg")

    await eventually(replicaset_gone, "the ReplicaSet released once its pods are gone", [manager])
