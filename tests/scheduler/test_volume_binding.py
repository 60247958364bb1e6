"""The volume-binding plugin with a running scheduler on a real API server (issue 23
item 3): a bound volume's node affinity holds every pod of its claim to that node, a
missing claim leaves the pod Unschedulable with Kubernetes' message, and a claim of a
WaitForFirstConsumer class gets the chosen node as volume.kubernetes.io/selected-node."""

from __future__ import annotations

from typing import Any

from navarch.api.volume_binding import SELECTED_NODE
from navarch.testing.waiting import eventually

from .test_scheduling import node, pod


def claim(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
            **spec,
        },
    }


def on_node(host: str) -> dict[str, Any]:
    return {
        "required": {
            "nodeSelectorTerms": [
                {
                    "matchExpressions": [
                        {"key": "kubernetes.io/hostname", "operator": "In", "values": [host]}
                    ]
                }
            ]
        }
    }


def with_claim(name: str, claim_name: str) -> dict[str, Any]:
    return pod(name, volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": claim_name}}])


def hostnames(*names: str) -> list[dict[str, Any]]:
    return [node(n, labels={"kubernetes.io/hostname": n}) for n in names]


async def test_pods_of_a_claim_bound_to_a_local_volume_go_to_its_node_only(client, start_scheduler):
    for n in hostnames("vb-1", "vb-2", "vb-3"):
        await client.nodes.create(n)
    await client.persistentvolumes.create(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": "vb-local"},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "hostPath": {"path": "/srv/vb-local"},
                "nodeAffinity": on_node("vb-2"),
            },
        }
    )
    await client.persistentvolumeclaims.create(
        claim("vb-data", volumeName="vb-local", storageClassName=""), namespace="default"
    )
    await start_scheduler("spread")
    for i in range(4):
        await client.pods.create(with_claim(f"vb-user-{i}", "vb-data"), namespace="default")
    # a pod without the claim spreads as usual: the spread is not what holds them
    await client.pods.create(pod("vb-free"), namespace="default")

    async def all_bound() -> bool:
        pods = (await client.pods.list("default")).items
        return sum(1 for p in pods if p.spec.node_name) == 5

    await eventually(all_bound, "the four claim users and the free pod are bound")
    pods = {p.name: p.spec.node_name for p in (await client.pods.list("default")).items}
    assert {pods[f"vb-user-{i}"] for i in range(4)} == {"vb-2"}


async def test_pod_with_a_missing_claim_is_unschedulable_until_the_claim_exists(
    client, start_scheduler
):
    for n in hostnames("mc-1", "mc-2"):
        await client.nodes.create(n)
    await start_scheduler("spread")
    await client.pods.create(with_claim("mc-user", "mc-missing"), namespace="default")

    async def refused() -> str:
        got = await client.pods.get("mc-user", "default")
        for condition in (got.status.conditions if got.status else None) or ():
            if condition.type == "PodScheduled" and condition.status == "False":
                return condition.message or ""
        return ""

    await eventually(refused, "the pod is marked Unschedulable")
    message = await refused()
    assert 'persistentvolumeclaim "mc-missing" not found' in message
    assert message.startswith("0/2 nodes are available")
    got = await client.pods.get("mc-user", "default")
    assert not got.spec.node_name

    # the claim appears, bound to a volume on mc-1: the pod is tried again and goes there
    await client.persistentvolumes.create(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": "mc-local"},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "hostPath": {"path": "/srv/mc-local"},
                "nodeAffinity": on_node("mc-1"),
            },
        }
    )
    await client.persistentvolumeclaims.create(
        claim("mc-missing", volumeName="mc-local", storageClassName=""), namespace="default"
    )

    async def placed() -> str:
        return (await client.pods.get("mc-user", "default")).spec.node_name or ""

    await eventually(placed, "the pod is scheduled once its claim exists")
    assert await placed() == "mc-1"


async def test_wait_for_first_consumer_claim_gets_the_chosen_node(client, start_scheduler):
    for n in hostnames("wf-1", "wf-2"):
        await client.nodes.create(n)
    await client.storageclasses.create(
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": "wf-local"},
            "provisioner": "navarch.io/local-path",
            "volumeBindingMode": "WaitForFirstConsumer",
        }
    )
    await client.persistentvolumeclaims.create(
        claim("wf-data", storageClassName="wf-local"), namespace="default"
    )
    await start_scheduler("spread")
    await client.pods.create(with_claim("wf-user", "wf-data"), namespace="default")

    async def selected() -> str:
        got = await client.persistentvolumeclaims.get("wf-data", "default")
        return (got.metadata.annotations or {}).get(SELECTED_NODE, "")

    await eventually(selected, "the claim is annotated with the scheduler's node")

    async def placed() -> str:
        return (await client.pods.get("wf-user", "default")).spec.node_name or ""

    await eventually(placed, "the pod is bound")
    assert await selected() == await placed()
