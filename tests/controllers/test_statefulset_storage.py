"""StatefulSets and their claims with everything real (issue 23 item 7): the API server,
``navarch controllers`` (statefulset, the PV binder, the local-path provisioner, volume
protection, the garbage collector), ``navarch scheduler`` (WaitForFirstConsumer) and
agents on the simulated runtime, whose shell writes files under a pod's mounts.

examples/statefulset.yaml (the Kubernetes documentation's "web") applied with the real
kubectl: three pods, each on a claim of its own bound to a local-path volume, each
having written its name there; a pod deleted comes back under its name on the same
claim and finds its earlier line. A set with the retention policy Delete/Delete loses
the claims of the pods a scale down removes, and the rest with the set."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from navarch import api
from navarch.client import Client
from navarch.controllers.statefulset_pods import is_running_and_ready
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.cluster import (
    NO_ELECTION,
    Kubectl,
    scheduler_process,
    sim_agent_process,
)
from navarch.testing.controllermanager import ControllerManagerProcess
from navarch.testing.daemon import DaemonProcess
from navarch.testing.waiting import eventually

EXAMPLE = Path(__file__).parents[2] / "examples" / "statefulset.yaml"
DEADLINE = 120.0  # the example's minReadySeconds (10) once per pod, on a busy machine
CONTROLLERS = [
    "statefulset",
    "pod-termination",
    "garbage-collector",
    "persistentvolume-binder",
    "local-path-provisioner",
    "volume-protection",
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("sts-storage")
    storage = root / "storage"
    with ApiServerProcess(root / "apiserver") as server:
        daemons: list[DaemonProcess] = []
        try:
            controllers = ControllerManagerProcess(
                root / "controllers",
                server.kubeconfig,
                settings={
                    "leader_election": NO_ELECTION,
                    "controllers": {
                        "enabled": CONTROLLERS,
                        "options": {"local-path-provisioner": {"base_dir": str(storage)}},
                    },
                },
            )
            for daemon in (
                scheduler_process(root, server),
                sim_agent_process(root, server, nodes=2, prefix="stss-sim", lease_renew_seconds=1),
                controllers,
            ):
                daemons.append(daemon.start())
            yield server, daemons
        finally:
            for daemon in reversed(daemons):
                daemon.stop()


@pytest_asyncio.fixture
async def client(cluster) -> AsyncIterator[Client]:
    server, _ = cluster
    async with Client.from_kubeconfig(server.kubeconfig) as client:
        yield client


async def _ready_pods(client: Client, selector: str) -> dict[str, Any]:
    listed = await client.pods.list("default", label_selector=selector)
    return {p.name: p for p in listed.items if is_running_and_ready(p)}


async def _claims(client: Client) -> dict[str, Any]:
    listed = await client.persistentvolumeclaims.list("default")
    return {c.name: c for c in listed.items if not c.metadata.deletion_timestamp}


async def _volume_file(client: Client, claim: str) -> str:
    """index.html on the claim's volume, read on the host (empty when not there yet)."""
    bound = await client.persistentvolumeclaims.get(claim, "default")
    volume = await client.persistentvolumes.get(bound.spec.volume_name, "")
    path = Path(api.dump(volume)["spec"]["hostPath"]["path"]) / "index.html"
    return path.read_text() if path.exists() else ""


async def test_the_documentation_web_example_keeps_each_pods_data(cluster, client: Client) -> None:
    server, daemons = cluster
    kubectl = Kubectl(server.kubeconfig, timeout=120)
    await asyncio.to_thread(kubectl, "apply", "-f", str(EXAMPLE))
    names = ["web-0", "web-1", "web-2"]

    async def all_up() -> bool:
        ready = await _ready_pods(client, "app=nginx")
        claims = await _claims(client)
        return (
            sorted(ready) == names
            and sorted(claims) == [f"www-{n}" for n in names]
            and all(c.status.phase == "Bound" for c in claims.values())
        )

    await eventually(all_up, "3 Ready pods on 3 Bound claims", daemons, deadline=DEADLINE)
    for name in names:
        pod = await client.pods.get(name, "default")
        claim = next(v for v in pod.spec.volumes if v.name == "www").persistent_volume_claim
        assert claim.claim_name == f"www-{name}"

        async def written(name: str = name) -> bool:
            return await _volume_file(client, f"www-{name}") == f"{name}\n"

        await eventually(written, f"{name} wrote its name on its volume", daemons)

    old_uid = (await client.pods.get("web-1", "default")).metadata.uid
    await asyncio.to_thread(kubectl, "delete", "pod", "web-1", "--wait=false")

    async def back() -> bool:
        pod = (await _ready_pods(client, "app=nginx")).get("web-1")
        return pod is not None and pod.metadata.uid != old_uid

    await eventually(back, "web-1 made again and Ready", daemons, deadline=DEADLINE)

    async def appended() -> bool:
        return await _volume_file(client, "www-web-1") == "web-1\nweb-1\n"

    await eventually(appended, "web-1 found its old line and added one", daemons)
    assert sorted(await _claims(client)) == [f"www-{n}" for n in names]  # the same claims

    await asyncio.to_thread(kubectl, "delete", "-f", str(EXAMPLE), "--wait=true")

    async def pods_gone() -> bool:
        return not (await client.pods.list("default", label_selector="app=nginx")).items

    await eventually(pods_gone, "the set's pods gone", daemons, deadline=DEADLINE)
    # Retain (the default): the claims stay after the set
    assert sorted(await _claims(client)) == [f"www-{n}" for n in names]
    await asyncio.to_thread(kubectl, "delete", "pvc", *[f"www-{n}" for n in names], "--wait=false")


def _retained(replicas: int) -> dict[str, Any]:
    labels = {"app": "db"}
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "podManagementPolicy": "Parallel",
            "serviceName": "db",
            "selector": {"matchLabels": labels},
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": "Delete",
                "whenScaled": "Delete",
            },
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [
                        {
                            "name": "db",
                            "image": "navarch.test/demo:1",
                            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                        }
                    ],
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Gi"}},
                    },
                }
            ],
        },
    }


async def test_retention_delete_removes_claims_on_scale_down_and_with_the_set(
    cluster, client: Client
) -> None:
    server, daemons = cluster
    kubectl = Kubectl(server.kubeconfig, timeout=120)
    await client.statefulsets.create(_retained(3), "default")
    wanted = ["data-db-0", "data-db-1", "data-db-2"]

    async def up(pods: list[str], claims: list[str]) -> bool:
        ready = await _ready_pods(client, "app=db")
        listed = await client.persistentvolumeclaims.list("default", label_selector="app=db")
        return sorted(ready) == pods and sorted(c.name for c in listed.items) == claims

    await eventually(
        lambda: up(["db-0", "db-1", "db-2"], wanted),
        "3 pods on 3 claims",
        daemons,
        deadline=DEADLINE,
    )
    claim = await client.persistentvolumeclaims.get("data-db-0", "default")
    refs = [(r.kind, r.name, r.controller) for r in claim.metadata.owner_references]
    assert refs == [("StatefulSet", "db", True)]

    await asyncio.to_thread(kubectl, "scale", "sts", "db", "--replicas=1")
    await eventually(
        lambda: up(["db-0"], ["data-db-0"]),
        "the scaled-away pods' claims deleted with them",
        daemons,
        deadline=DEADLINE,
    )
    await asyncio.to_thread(kubectl, "delete", "sts", "db")

    async def claims_gone() -> bool:
        listed = await client.persistentvolumeclaims.list("default", label_selector="app=db")
        return not listed.items

    await eventually(
        claims_gone, "the last claim deleted after the set", daemons, deadline=DEADLINE
    )
