"""The local-path provisioner with everything real (issue 23 item 3): an API server,
``navarch controllers`` (PV binder, provisioner, protection), ``navarch scheduler`` and
two simulated nodes. A pod naming a claim of the default class is scheduled, the claim
gets the chosen node, a PV on that node is made and bound, the pod runs there with the
directory made; a second pod of the claim goes to the same node; the real kubectl
shows the three kinds as Kubernetes prints them; deleting the pods and the claim
removes the volume and its directory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from navarch.api.volume_binding import SELECTED_NODE
from navarch.client import Client
from navarch.client.errors import NotFound
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.cluster import (
    NO_ELECTION,
    Kubectl,
    scheduler_process,
    sim_agent_process,
)
from navarch.testing.controllermanager import ControllerManagerProcess
from navarch.testing.daemon import started
from navarch.testing.waiting import eventually

CONTROLLERS = ["persistentvolume-binder", "local-path-provisioner", "volume-protection"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("lp-cluster")
    storage = root / "storage"
    with (
        ApiServerProcess(root / "apiserver") as server,
        started(
            scheduler_process(root, server),
            sim_agent_process(root, server, nodes=2, prefix="lp-sim"),
            ControllerManagerProcess(
                root / "controllers",
                server.kubeconfig,
                settings={
                    "leader_election": NO_ELECTION,
                    "controllers": {
                        "enabled": CONTROLLERS,
                        "options": {"local-path-provisioner": {"base_dir": str(storage)}},
                    },
                },
            ),
        ) as daemons,
    ):
        yield server, daemons, storage


@pytest_asyncio.fixture
async def client(cluster) -> AsyncIterator[Client]:
    server, _, _ = cluster
    async with Client.from_kubeconfig(server.kubeconfig) as client:
        yield client


def user(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "127.0.0.1:5000/app:1",
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                }
            ],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
        },
    }


async def test_claim_follows_its_first_pod_and_is_reclaimed_with_its_directory(cluster, client):
    server, daemons, storage = cluster
    await client.persistentvolumeclaims.create(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
        namespace="default",
    )
    await client.pods.create(user("first"), namespace="default")

    async def running(name: str) -> str:
        pod = await client.pods.get(name, "default")
        return pod.spec.node_name if pod.status and pod.status.phase == "Running" else ""

    await eventually(lambda: running("first"), "the claim's first pod runs", daemons)
    node = await running("first")
    claim = await client.persistentvolumeclaims.get("data", "default")
    assert claim.spec.storage_class_name == "local-path"  # the default class
    assert claim.metadata.annotations[SELECTED_NODE] == node
    assert claim.status.phase == "Bound"
    pv = await client.persistentvolumes.get(claim.spec.volume_name)
    terms = pv.spec.node_affinity.required.node_selector_terms
    assert terms[0].match_expressions[0].values == (node,)
    directory = Path(pv.spec.host_path.path)
    assert directory == storage / f"{pv.name}_default_data"
    assert directory.is_dir()  # made by the agent when the pod mounted it

    # every later pod of the claim goes where its data is
    await client.pods.create(user("second"), namespace="default")
    await eventually(lambda: running("second"), "the second pod runs", daemons)
    assert await running("second") == node

    kubectl = Kubectl(server.kubeconfig, timeout=60)
    out = kubectl("get", "pv,pvc,sc")
    assert f"{pv.name}   1Gi        RWO            Delete           Bound    default/data" in out
    assert (
        "local-path (default)   navarch.io/local-path   Delete          WaitForFirstConsumer"
        in (out)
    )

    for name in ("first", "second"):
        await client.pods.delete(name, "default")
    await client.persistentvolumeclaims.delete("data", "default")

    async def volume_gone() -> bool:
        try:
            await client.persistentvolumes.get(pv.name)
        except NotFound:
            return True
        return False

    await eventually(volume_gone, "the released volume and its directory go", daemons)
    assert not directory.exists()
