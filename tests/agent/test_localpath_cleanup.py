"""Reclaiming local-path volumes end to end (issue 23 item 3): the provisioner makes a
volume for a claim on the node the scheduler chose, the PV controller binds it, and
once the claim is deleted a Delete volume's directory is removed by that node's agent
loop (with the node's own token) before the PV goes, while a Retain volume keeps its
directory even when its PV is deleted by hand."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from navarch import api
from navarch.agent.localpath import LocalPathCleaner, owned_directory
from navarch.api.volume_binding import LOCAL_PATH_PROVISIONER, PROVISIONED_BY, SELECTED_NODE
from navarch.apiserver.server import token_file
from navarch.client import Client, Forbidden
from navarch.client.errors import AlreadyExists, NotFound
from navarch.client.kubeconfig import KubeConfig, load_kubeconfig
from navarch.config import load_config
from navarch.testing.cluster import NO_ELECTION
from navarch.testing.controllermanager import ControllerManagerProcess
from navarch.testing.waiting import eventually

NODE = "lp-node"
OTHER = "lp-other"


@pytest.fixture(scope="module")
def node_token(api_server) -> str:
    config = load_config(file=None, env={}, overrides=[f"data_dir={api_server.data_dir}"])
    token = token_file(config).add("node", NODE)
    api_server.stop()  # the server reads its token file at start
    api_server.start()
    return token


@pytest.fixture(scope="module")
def storage_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("local-path")


@pytest.fixture(scope="module")
def controllers(api_server, node_token, storage_root, tmp_path_factory):
    process = ControllerManagerProcess(
        tmp_path_factory.mktemp("controllers"),
        api_server.kubeconfig,
        settings={
            "leader_election": NO_ELECTION,
            "controllers": {
                "enabled": [
                    "persistentvolume-binder",
                    "local-path-provisioner",
                    "volume-protection",
                ],
                "options": {"local-path-provisioner": {"base_dir": str(storage_root)}},
            },
        },
    )
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest_asyncio.fixture
async def node(client) -> None:
    """The node the claims' volumes go to (the binder matches a volume's node affinity
    against its labels)."""
    body = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE}},
    }
    with contextlib.suppress(AlreadyExists):
        await client.nodes.create(body)


@pytest_asyncio.fixture
async def cleaner(api_server, node_token, storage_root) -> AsyncIterator[LocalPathCleaner]:
    admin = load_kubeconfig(api_server.kubeconfig)
    node_client = Client(KubeConfig(server=admin.server, token=node_token, ca_data=admin.ca_data))
    loop = LocalPathCleaner(node_client, NODE, str(storage_root))
    task = asyncio.create_task(loop.run())
    yield loop
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await node_client.close()


def claim(name: str, storage_class: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "annotations": {SELECTED_NODE: NODE}},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": storage_class,
            "resources": {"requests": {"storage": "64Mi"}},
        },
    }


async def bound_volume(client: Client, name: str, daemons: Any) -> Any:
    """The claim's volume, once the provisioner made it and the binder bound both."""

    async def bound() -> Any:
        got = await client.persistentvolumeclaims.get(name, "default")
        return got.status and got.status.phase == "Bound" and got.spec.volume_name

    await eventually(bound, f"claim {name} is Bound", [daemons])
    got = await client.persistentvolumeclaims.get(name, "default")
    return await client.persistentvolumes.get(got.spec.volume_name)


async def gone(client: Client, name: str) -> bool:
    try:
        await client.persistentvolumes.get(name)
    except NotFound:
        return True
    return False


async def test_delete_policy_volume_directory_is_removed_by_its_node(
    client, controllers, node, cleaner, storage_root
):
    async def default_class() -> bool:
        try:
            return bool(await client.storageclasses.get("local-path"))
        except NotFound:
            return False

    await eventually(default_class, "the local-path class is created at start", [controllers])
    await client.persistentvolumeclaims.create(claim("scratch", "local-path"), namespace="default")
    pv = await bound_volume(client, "scratch", controllers)
    directory = Path(pv.spec.host_path.path)
    assert directory.parent == storage_root
    assert directory.name == f"{pv.name}_default_scratch"
    # what the agent's volume code does when a pod mounts it (DirectoryOrCreate)
    directory.mkdir()
    (directory / "data.txt").write_text("written by a pod\n")

    await client.persistentvolumeclaims.delete("scratch", "default")

    async def volume_gone() -> bool:
        return await gone(client, pv.name)

    await eventually(volume_gone, "the released Delete volume is removed", [controllers])
    assert not directory.exists()


async def test_retain_policy_keeps_the_directory_even_when_the_volume_is_deleted(
    client, controllers, node, cleaner, storage_root
):
    await client.storageclasses.create(
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": "local-keep"},
            "provisioner": "navarch.io/local-path",
            "reclaimPolicy": "Retain",
            "volumeBindingMode": "WaitForFirstConsumer",
        }
    )
    await client.persistentvolumeclaims.create(claim("precious", "local-keep"), namespace="default")
    pv = await bound_volume(client, "precious", controllers)
    assert pv.spec.persistent_volume_reclaim_policy == "Retain"
    directory = Path(pv.spec.host_path.path)
    directory.mkdir()
    (directory / "data.txt").write_text("keep me\n")

    await client.persistentvolumeclaims.delete("precious", "default")

    async def released() -> bool:
        got = await client.persistentvolumes.get(pv.name)
        return got.status.phase == "Released"

    await eventually(released, "the Retain volume is Released, not deleted", [controllers])
    assert (directory / "data.txt").read_text() == "keep me\n"

    # an administrator deletes it: the node lets the PV go and keeps the data
    await client.persistentvolumes.delete(pv.name)

    async def volume_gone() -> bool:
        return await gone(client, pv.name)

    await eventually(volume_gone, "the deleted Retain volume goes", [controllers])
    assert (directory / "data.txt").read_text() == "keep me\n"


def pinned_volume(name: str, node: str, directory: Path, policy: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "finalizers": ["navarch.io/local-path-cleanup"]},
        "spec": {
            "capacity": {"storage": "64Mi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": policy,
            "hostPath": {"path": str(directory), "type": "DirectoryOrCreate"},
            "claimRef": {"namespace": "default", "name": "theirs", "uid": f"u-{name}"},
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": "kubernetes.io/hostname",
                                    "operator": "In",
                                    "values": [node],
                                }
                            ]
                        }
                    ]
                }
            },
        },
    }


async def test_volume_of_another_node_is_left_to_that_node(
    client, controllers, node, cleaner, storage_root
):
    directory = storage_root / "pvc-elsewhere_default_theirs"
    directory.mkdir()
    await client.persistentvolumes.create(
        pinned_volume("pvc-elsewhere", OTHER, directory, "Delete")
    )
    await client.persistentvolumes.delete("pvc-elsewhere")
    # Proof that the loop looked after that deletion: a volume of this node deleted
    # later (its watch events come in order) is finished.
    probe = storage_root / "pvc-probe_default_theirs"
    await client.persistentvolumes.create(pinned_volume("pvc-probe", NODE, probe, "Retain"))
    await client.persistentvolumes.delete("pvc-probe")

    async def probe_gone() -> bool:
        return await gone(client, "pvc-probe")

    await eventually(probe_gone, "the node's own deleted volume is finished", [controllers])
    pv = await client.persistentvolumes.get("pvc-elsewhere")
    assert "navarch.io/local-path-cleanup" in pv.metadata.finalizers
    assert directory.exists()
    # clean up for the module's other tests: the other node would do this
    await client.persistentvolumes.patch("pvc-elsewhere", {"metadata": {"finalizers": None}})


async def test_a_node_may_only_remove_the_cleanup_finalizer_of_its_own_volume(
    api_server, client, node_token, storage_root
):
    admin = load_kubeconfig(api_server.kubeconfig)
    node_client = Client(
        KubeConfig(server=admin.server, token=node_token, ca_data=admin.ca_data), retries=0
    )
    try:
        for name, node in (("pvc-mine", NODE), ("pvc-theirs", OTHER)):
            body = pinned_volume(name, node, storage_root / f"{name}_default_theirs", "Retain")
            body["metadata"]["finalizers"].append("example.com/keep")
            await client.persistentvolumes.create(body)
        # another node's volume: not even its finalizer
        with pytest.raises(Forbidden):
            await node_client.persistentvolumes.patch(
                "pvc-theirs", {"metadata": {"finalizers": ["example.com/keep"]}}
            )
        # its own volume: no other change
        for patch in (
            {"spec": {"persistentVolumeReclaimPolicy": "Delete"}},
            {"metadata": {"labels": {"taken": "yes"}}},
            {"metadata": {"finalizers": ["navarch.io/local-path-cleanup"]}},
        ):
            with pytest.raises(Forbidden):
                await node_client.persistentvolumes.patch("pvc-mine", patch)
        # the one change it may make
        others = ["kubernetes.io/pv-protection", "example.com/keep"]
        released = await node_client.persistentvolumes.patch(
            "pvc-mine", {"metadata": {"finalizers": others}}
        )
        assert list(released.metadata.finalizers) == others
    finally:
        await node_client.close()
        for name in ("pvc-mine", "pvc-theirs"):
            await client.persistentvolumes.patch(name, {"metadata": {"finalizers": None}})
            await client.persistentvolumes.delete(name)


def test_only_a_volume_the_provisioner_made_has_its_directory_removed():
    """A volume made by hand with the clean-up finalizer and the provisioner's naming
    (say, over a directory the administrator keeps) is not the provisioner's: without
    its provisioned-by annotation the agent leaves the directory in place."""

    def volume(annotations):
        return api.load(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": "pvc-1", "annotations": annotations},
                "spec": {
                    "capacity": {"storage": "1Gi"},
                    "accessModes": ["ReadWriteOnce"],
                    "hostPath": {"path": "/srv/keep/pvc-1_team_data"},
                    "claimRef": {"namespace": "team", "name": "data", "uid": "u"},
                },
            }
        ).obj

    assert owned_directory(volume({}), None) is None
    assert owned_directory(volume({PROVISIONED_BY: "someone.else/x"}), None) is None
    made = volume({PROVISIONED_BY: LOCAL_PATH_PROVISIONER})
    assert owned_directory(made, None) == "/srv/keep/pvc-1_team_data"
    assert owned_directory(made, "/var/lib/navarch/storage") is None
