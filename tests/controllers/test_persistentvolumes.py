"""The PV controller, the local-path provisioner and the protection finalizers on a fake
cluster (issue 23 item 3): each sync's calls and the state they leave."""

from __future__ import annotations

from typing import Any

from navarch.api.volume_binding import (
    LOCAL_PATH_CLEANUP_FINALIZER,
    PROVISIONED_BY,
    SELECTED_NODE,
)
from navarch.controllers.localpath import LocalPathOptions, LocalPathProvisioner, local_path_class
from navarch.controllers.pvbinder import PersistentVolumeBinder
from navarch.controllers.volumeprotection import VolumeProtection
from navarch.testing.controllers import FakeCluster


def pv(name: str, size: str, **spec: Any) -> dict[str, Any]:
    meta = spec.pop("metadata", {})
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, **meta},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "hostPath": {"path": f"/srv/{name}"},
            **spec,
        },
        "status": {"phase": "Available"},
    }


def pvc(name: str, size: str, **spec: Any) -> dict[str, Any]:
    meta = spec.pop("metadata", {})
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": "default", **meta},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": size}},
            **spec,
        },
        "status": {"phase": "Pending"},
    }


def node(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


async def converge(cluster: FakeCluster, *controllers: Any, rounds: int = 6) -> None:
    """Sync every queued key of every controller until nothing is left (the caches
    catching up between rounds, as watches would)."""
    for _ in range(rounds):
        cluster.sync_informers()
        busy = False
        for controller in controllers:
            while len(controller.queue):
                key = await controller.queue.get()
                busy = True
                try:
                    await controller.sync(key)
                finally:
                    controller.queue.done(key)
        if not busy:
            return


def phase(obj: dict[str, Any] | None) -> str | None:
    return ((obj or {}).get("status") or {}).get("phase")


async def test_claim_binds_to_smallest_fitting_volume_and_both_are_bound():
    cluster = FakeCluster()
    binder = PersistentVolumeBinder(cluster.context("persistentvolume-binder"))
    cluster.add(
        pv("big", "10Gi", storageClassName="manual"),
        pv("small", "2Gi", storageClassName="manual"),
        pv("too-small", "500Mi", storageClassName="manual"),
        pv("other-class", "2Gi", storageClassName="fast"),
        pv("read-only", "2Gi", storageClassName="manual", accessModes=["ReadOnlyMany"]),
        pvc("data", "1Gi", storageClassName="manual"),
    )
    await converge(cluster, binder)
    claim = cluster.get("persistentvolumeclaims", "data")
    volume = cluster.get("persistentvolumes", "small")
    assert claim["spec"]["volumeName"] == "small"
    assert phase(claim) == "Bound"
    assert claim["status"]["capacity"] == {"storage": "2Gi"}
    assert claim["status"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] == "yes"
    assert volume["spec"]["claimRef"]["uid"] == claim["metadata"]["uid"]
    assert phase(volume) == "Bound"
    assert phase(cluster.get("persistentvolumes", "big")) == "Available"


async def test_volume_pre_bound_by_claim_ref_wins_and_selector_is_honoured():
    cluster = FakeCluster()
    binder = PersistentVolumeBinder(cluster.context("persistentvolume-binder"))
    cluster.add(
        pv("smallest", "1Gi", storageClassName=""),
        pv("labelled", "5Gi", metadata={"labels": {"tier": "gold"}}),
        pv("reserved", "8Gi", claimRef={"namespace": "default", "name": "wants-reserved"}),
        pvc("gold", "1Gi", storageClassName="", selector={"matchLabels": {"tier": "gold"}}),
        pvc("wants-reserved", "1Gi", storageClassName=""),
    )
    await converge(cluster, binder)
    assert cluster.get("persistentvolumeclaims", "gold")["spec"]["volumeName"] == "labelled"
    claim = cluster.get("persistentvolumeclaims", "wants-reserved")
    assert claim["spec"]["volumeName"] == "reserved"
    assert phase(cluster.get("persistentvolumes", "smallest")) == "Available"


async def test_wait_for_first_consumer_claim_waits_for_the_selected_node():
    cluster = FakeCluster()
    binder = PersistentVolumeBinder(cluster.context("persistentvolume-binder"))
    provisioner = LocalPathProvisioner(
        cluster.context("local-path-provisioner", LocalPathOptions(base_dir="/data/lp"))
    )
    cluster.add(
        node("n1"),
        node("n2"),
        local_path_class(),
        pvc("data", "1Gi", storageClassName="local-path"),
    )
    await converge(cluster, binder, provisioner)
    # no consumer yet: nothing made, the claim Pending with Kubernetes' event
    assert cluster.stored("persistentvolumes") == []
    assert phase(cluster.get("persistentvolumeclaims", "data")) == "Pending"
    reasons = [e.get("reason") for e in cluster.stored("events")]
    assert "WaitForFirstConsumer" in reasons

    # the scheduler chose n2 for the claim's pod
    await cluster.client.persistentvolumeclaims.patch(
        "data", {"metadata": {"annotations": {SELECTED_NODE: "n2"}}}, "default"
    )
    await converge(cluster, binder, provisioner)
    claim = cluster.get("persistentvolumeclaims", "data")
    name = f"pvc-{claim['metadata']['uid']}"
    volume = cluster.get("persistentvolumes", name)
    assert volume["spec"]["hostPath"] == {
        "path": f"/data/lp/{name}_default_data",
        "type": "DirectoryOrCreate",
    }
    terms = volume["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert terms == [
        {
            "matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": ["n2"]}
            ]
        }
    ]
    assert volume["spec"]["capacity"] == {"storage": "1Gi"}
    assert volume["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert volume["metadata"]["annotations"][PROVISIONED_BY] == "navarch.io/local-path"
    assert LOCAL_PATH_CLEANUP_FINALIZER in volume["metadata"]["finalizers"]
    assert claim["spec"]["volumeName"] == name
    assert phase(claim) == "Bound" and phase(volume) == "Bound"


async def test_immediate_local_path_class_provisions_at_once_on_the_least_used_node():
    cluster = FakeCluster()
    binder = PersistentVolumeBinder(cluster.context("persistentvolume-binder"))
    provisioner = LocalPathProvisioner(cluster.context("local-path-provisioner"))
    immediate = local_path_class()
    immediate["metadata"] = {"name": "local-now"}
    immediate["volumeBindingMode"] = "Immediate"
    cluster.add(node("n1"), node("n2"), immediate)
    busy = pv("existing", "1Gi", storageClassName="local-now")
    busy["spec"]["nodeAffinity"] = {
        "required": {
            "nodeSelectorTerms": [
                {
                    "matchExpressions": [
                        {"key": "kubernetes.io/hostname", "operator": "In", "values": ["n1"]}
                    ]
                }
            ]
        }
    }
    busy["spec"]["claimRef"] = {"namespace": "default", "name": "someone", "uid": "x"}
    cluster.add(busy, pvc("now", "3Gi", storageClassName="local-now"))
    await converge(cluster, binder, provisioner)
    claim = cluster.get("persistentvolumeclaims", "now")
    volume = cluster.get("persistentvolumes", claim["spec"]["volumeName"])
    values = volume["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][
        0
    ]["values"]
    assert values == ["n2"]
    assert volume["spec"]["hostPath"]["path"].startswith("/var/lib/navarch/storage/pvc-")
    assert phase(claim) == "Bound"


async def test_deleted_claim_releases_its_volume_and_reclaim_follows_the_policy():
    cluster = FakeCluster()
    binder = PersistentVolumeBinder(cluster.context("persistentvolume-binder"))
    retained = pv("kept", "1Gi", claimRef={"namespace": "default", "name": "gone", "uid": "u1"})
    deleted = pv(
        "local",
        "1Gi",
        persistentVolumeReclaimPolicy="Delete",
        claimRef={"namespace": "default", "name": "gone-too", "uid": "u2"},
        metadata={"finalizers": [LOCAL_PATH_CLEANUP_FINALIZER]},
    )
    plain = pv(
        "plain",
        "1Gi",
        persistentVolumeReclaimPolicy="Delete",
        claimRef={"namespace": "default", "name": "gone-three", "uid": "u3"},
    )
    for volume in (retained, deleted, plain):
        volume["status"]["phase"] = "Bound"
    cluster.add(retained, deleted, plain)
    await converge(cluster, binder)
    kept = cluster.get("persistentvolumes", "kept")
    assert phase(kept) == "Released"
    assert "deletionTimestamp" not in kept["metadata"]
    local = cluster.get("persistentvolumes", "local")
    # Delete: the PV controller deletes it; the finalizer keeps it for the node's agent
    assert phase(local) == "Released"
    assert local["metadata"].get("deletionTimestamp")
    assert ("delete", "", "local") in cluster.verbs("persistentvolumes")
    failed = cluster.get("persistentvolumes", "plain")
    assert phase(failed) == "Failed"
    assert "no deletable volume plugin matched" in failed["status"]["message"]
    warnings = [e for e in cluster.stored("events") if e.get("reason") == "VolumeFailedDelete"]
    assert [e["involvedObject"]["name"] for e in warnings] == ["plain"]


async def test_claimless_claim_gets_the_default_class():
    cluster = FakeCluster()
    binder = PersistentVolumeBinder(cluster.context("persistentvolume-binder"))
    cluster.add(local_path_class(), pvc("classless", "1Gi"))
    await converge(cluster, binder)
    claim = cluster.get("persistentvolumeclaims", "classless")
    assert claim["spec"]["storageClassName"] == "local-path"


async def test_claim_in_use_keeps_its_finalizer_until_the_pod_is_gone():
    cluster = FakeCluster()
    protection = VolumeProtection(cluster.context("volume-protection"))
    claim = pvc("used", "1Gi", metadata={"finalizers": ["kubernetes.io/pvc-protection"]})
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "user", "namespace": "default"},
        "spec": {
            "containers": [{"name": "c", "image": "busybox"}],
            "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "used"}}],
        },
        "status": {"phase": "Running"},
    }
    cluster.add(claim, pod)
    await cluster.client.persistentvolumeclaims.delete("used", "default")
    await converge(cluster, protection)
    assert cluster.get("persistentvolumeclaims", "used")["metadata"]["finalizers"] == [
        "kubernetes.io/pvc-protection"
    ]
    await cluster.client.pods.delete("user", "default")
    await converge(cluster, protection)
    left = cluster.get("persistentvolumeclaims", "used")
    assert left is None or not left["metadata"].get("finalizers")


async def test_bound_volume_keeps_its_finalizer_until_released():
    cluster = FakeCluster()
    protection = VolumeProtection(cluster.context("volume-protection"))
    volume = pv("held", "1Gi", metadata={"finalizers": ["kubernetes.io/pv-protection"]})
    volume["status"]["phase"] = "Bound"
    cluster.add(volume)
    await cluster.client.persistentvolumes.delete("held")
    await converge(cluster, protection)
    assert cluster.get("persistentvolumes", "held")["metadata"]["finalizers"] == [
        "kubernetes.io/pv-protection"
    ]
    await cluster.client.persistentvolumes.patch(
        "held", {"status": {"phase": "Released"}}, subresource="status"
    )
    await converge(cluster, protection)
    assert not cluster.get("persistentvolumes", "held")["metadata"].get("finalizers")


async def test_provisioned_volume_binds_even_when_the_node_is_not_cached_yet():
    cluster = FakeCluster()
    binder = PersistentVolumeBinder(cluster.context("persistentvolume-binder"))
    provisioner = LocalPathProvisioner(cluster.context("local-path-provisioner"))
    cluster.add(
        local_path_class(),
        pvc(
            "early",
            "1Gi",
            storageClassName="local-path",
            metadata={"annotations": {SELECTED_NODE: "new-node"}},
        ),
    )
    await converge(cluster, binder, provisioner)
    claim = cluster.get("persistentvolumeclaims", "early")
    assert phase(claim) == "Bound"
    assert claim["spec"]["volumeName"] == f"pvc-{claim['metadata']['uid']}"


async def test_the_beta_default_class_annotation_counts_too():
    cluster = FakeCluster()
    binder = PersistentVolumeBinder(cluster.context("persistentvolume-binder"))
    beta = local_path_class()
    beta["metadata"] = {
        "name": "old-default",
        "annotations": {"storageclass.beta.kubernetes.io/is-default-class": "true"},
    }
    cluster.add(beta, pvc("classless", "1Gi"))
    await converge(cluster, binder)
    claim = cluster.get("persistentvolumeclaims", "classless")
    assert claim["spec"]["storageClassName"] == "old-default"
