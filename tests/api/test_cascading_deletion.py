"""The garbage collector's finalizers as a delete's propagation policy sets them
(Kubernetes' generic registry rules), on the generic storage in-process over a real
LMDB store. What the collector then does is tests/controllers/test_garbagecollector.py."""

from __future__ import annotations

import pytest

from navarch.apiserver.errors import ApiError
from navarch.apiserver.objects import WriteContext
from navarch.apiserver.propagation import FOREGROUND_FINALIZER, ORPHAN_FINALIZER
from navarch.apiserver.storage import Storage
from navarch.resources.core import LEASES, PODS, REPLICASETS


def replicaset(name: str, finalizers: list[str] | None = None) -> dict:
    labels = {"app": name}
    body = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": "127.0.0.1:5000/app:1"}]},
            },
        },
    }
    if finalizers:
        body["metadata"]["finalizers"] = finalizers
    return body


def pod(name: str, **spec) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "main", "image": "127.0.0.1:5000/app:1"}], **spec},
    }


async def gone(storage: Storage, res, name: str) -> bool:
    try:
        await storage.get(res, "default", name)
    except ApiError as exc:
        return exc.reason == "NotFound"
    return False


async def test_background_and_no_policy_remove_a_replicaset_at_once(storage):
    await storage.create(REPLICASETS, "default", replicaset("bg"))
    await storage.create(REPLICASETS, "default", replicaset("default"))
    await storage.delete(REPLICASETS, "default", "bg", {"propagationPolicy": "Background"})
    await storage.delete(REPLICASETS, "default", "default", {})
    assert await gone(storage, REPLICASETS, "bg")
    assert await gone(storage, REPLICASETS, "default")


@pytest.mark.parametrize(
    ("options", "finalizer"),
    [
        ({"propagationPolicy": "Foreground"}, FOREGROUND_FINALIZER),
        ({"propagationPolicy": "Orphan"}, ORPHAN_FINALIZER),
        ({"orphanDependents": True}, ORPHAN_FINALIZER),
    ],
)
async def test_foreground_and_orphan_mark_the_object_with_the_finalizer(
    storage, options, finalizer
):
    await storage.create(REPLICASETS, "default", replicaset("web", ["example.com/keep"]))
    marked = await storage.delete(REPLICASETS, "default", "web", options)
    meta = (await storage.get(REPLICASETS, "default", "web"))["metadata"]
    assert meta["finalizers"] == ["example.com/keep", finalizer]  # appended after the others
    assert meta["deletionTimestamp"] and meta["deletionGracePeriodSeconds"] == 0
    assert marked["metadata"]["finalizers"] == meta["finalizers"]


async def test_a_later_delete_switches_the_policy_of_an_object_being_deleted(storage):
    await storage.create(REPLICASETS, "default", replicaset("web"))
    await storage.delete(REPLICASETS, "default", "web", {"propagationPolicy": "Foreground"})
    await storage.delete(REPLICASETS, "default", "web", {"propagationPolicy": "Orphan"})
    meta = (await storage.get(REPLICASETS, "default", "web"))["metadata"]
    assert meta["finalizers"] == [ORPHAN_FINALIZER]
    # Background drops the last finalizer: the object goes now, its dependents later.
    await storage.delete(REPLICASETS, "default", "web", {"propagationPolicy": "Background"})
    assert await gone(storage, REPLICASETS, "web")


async def test_without_a_policy_a_finalizer_already_there_decides(storage):
    await storage.create(REPLICASETS, "default", replicaset("web", [FOREGROUND_FINALIZER]))
    await storage.delete(REPLICASETS, "default", "web", {})
    meta = (await storage.get(REPLICASETS, "default", "web"))["metadata"]
    assert meta["finalizers"] == [FOREGROUND_FINALIZER] and meta["deletionTimestamp"]


async def test_a_running_grace_period_keeps_its_finalizers(storage):
    """Kubernetes changes no finalizer of a pod whose grace period is running."""
    await storage.create(PODS, "default", pod("p", nodeName="n1"))
    first = await storage.delete(PODS, "default", "p", {"gracePeriodSeconds": 30})
    assert "finalizers" not in first["metadata"]
    again = await storage.delete(
        PODS, "default", "p", {"gracePeriodSeconds": 30, "propagationPolicy": "Foreground"}
    )
    assert "finalizers" not in again["metadata"]
    assert again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]


async def test_a_foreground_pod_waits_for_the_finalizer_after_its_agent_confirms(storage):
    await storage.create(PODS, "default", pod("p", nodeName="n1"))
    await storage.delete(PODS, "default", "p", {"propagationPolicy": "Foreground"})
    # The agent confirms (grace 0, no policy): the pod stays for the collector.
    confirmed = await storage.delete(PODS, "default", "p", {"gracePeriodSeconds": 0})
    assert confirmed["metadata"]["finalizers"] == [FOREGROUND_FINALIZER]
    assert not await gone(storage, PODS, "p")

    def release(obj):
        obj["metadata"]["finalizers"] = []
        return obj

    await storage.guaranteed_update(PODS, "default", "p", release)
    assert await gone(storage, PODS, "p")


async def test_kinds_the_collector_does_not_watch_ignore_the_policy(storage):
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "l"},
        "spec": {},
    }
    await storage.create(LEASES, "default", lease)
    await storage.delete(LEASES, "default", "l", {"propagationPolicy": "Foreground"})
    assert await gone(storage, LEASES, "l")


async def test_dry_run_marks_nothing(storage):
    await storage.create(REPLICASETS, "default", replicaset("web"))
    answer = await storage.delete(
        REPLICASETS, "default", "web", {"propagationPolicy": "Orphan"}, WriteContext(dry_run=True)
    )
    assert answer["metadata"]["finalizers"] == [ORPHAN_FINALIZER]
    assert "finalizers" not in (await storage.get(REPLICASETS, "default", "web"))["metadata"]


async def test_orphan_dependents_with_a_policy_is_invalid(storage):
    await storage.create(REPLICASETS, "default", replicaset("web"))
    with pytest.raises(ApiError) as caught:
        await storage.delete(
            REPLICASETS,
            "default",
            "web",
            {"orphanDependents": True, "propagationPolicy": "Background"},
        )
    assert caught.value.code == 422
