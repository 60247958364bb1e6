"""The ReplicaSet controller's sync against a fake cluster: creations in slow-start
batches and at most burst_replicas per sync, expectations holding a sync back until
the informer has seen what the last one did, which pods go first, adoption and
release, the status (minReadySeconds) and FailedCreate."""

from __future__ import annotations

import time
from typing import Any

import pytest

from navarch import api
from navarch.api.timefmt import rfc3339
from navarch.client.errors import ApiException
from navarch.controllers.expectations import ControllerExpectations, UIDTrackingExpectations
from navarch.controllers.owners import controller_of, is_controlled_by, owner_reference
from navarch.controllers.replicaset import ReplicaSetController, ReplicaSetOptions
from navarch.controllers.replicaset_pods import pods_to_delete
from navarch.testing.controllers import FakeCluster

LABELS = {"app": "web"}
IMAGE = "127.0.0.1:5000/web:1"


def _rs(name: str = "web", replicas: int = 3, *, min_ready: int = 0, **meta: Any) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": "default", "generation": 1, **meta},
        "spec": {
            "replicas": replicas,
            "minReadySeconds": min_ready,
            "selector": {"matchLabels": LABELS},
            "template": {
                "metadata": {"labels": {**LABELS, "tier": "front"}, "annotations": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": IMAGE}]},
            },
        },
    }


def _pod(
    name: str,
    owner: dict | None = None,
    *,
    labels: dict | None = None,
    node: str = "n1",
    phase: str = "Running",
    ready_at: float | None = None,
    restarts: int = 0,
    created: float | None = None,
) -> dict:
    meta: dict = {"name": name, "namespace": "default", "labels": dict(labels or LABELS)}
    if owner is not None:
        meta["ownerReferences"] = [owner]
    if created is not None:
        meta["creationTimestamp"] = rfc3339(created)
    conditions = []
    if ready_at is not None:
        conditions.append(
            {"type": "Ready", "status": "True", "lastTransitionTime": rfc3339(ready_at)}
        )
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": IMAGE}]},
        "status": {
            "phase": phase,
            "conditions": conditions,
            "containerStatuses": [{"name": "c", "restartCount": restarts}],
        },
    }


def _ref(cluster: FakeCluster, name: str = "web") -> dict:
    rs = cluster.get("replicasets", name)
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": name,
        "uid": rs["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _controller(cluster: FakeCluster, **options: Any) -> ReplicaSetController:
    return ReplicaSetController(cluster.context("replicaset", ReplicaSetOptions(**options)))


def _creates(cluster: FakeCluster) -> int:
    return sum(verb == "create" for verb, _, _ in cluster.verbs("pods"))


def _events(cluster: FakeCluster, reason: str) -> list[dict]:
    return [e for e in cluster.stored("events") if e["reason"] == reason]


async def test_missing_pods_are_created_from_the_template_owned_by_the_replicaset() -> None:
    cluster = FakeCluster()
    cluster.add(_rs(replicas=3))
    await _controller(cluster).sync("default/web")
    pods = cluster.stored("pods")
    assert len(pods) == 3
    for pod in pods:
        meta = pod["metadata"]
        assert meta["generateName"] == "web-" and meta["name"].startswith("web-")
        assert meta["labels"] == {"app": "web", "tier": "front"}
        assert meta["annotations"] == {"a": "b"}
        assert meta["ownerReferences"] == [_ref(cluster)]
        assert pod["spec"]["containers"][0]["image"] == IMAGE
    assert len(_events(cluster, "SuccessfulCreate")) == 1  # one Event, counted up
    assert _events(cluster, "SuccessfulCreate")[0]["count"] == 3


async def test_creations_come_in_slow_start_batches_and_stop_at_the_first_failed_batch() -> None:
    cluster = FakeCluster()
    cluster.add(_rs(replicas=10))
    controller = _controller(cluster)
    calls = 0
    real_create = cluster.client.pods.create

    async def create(body: Any, namespace: str | None = None) -> Any:
        nonlocal calls
        calls += 1
        if calls > 3:  # batches 1 and 2 go through; the batch of 4 is refused
            status = {"code": 403, "reason": "Forbidden", "message": 'exceeded quota: "pods"'}
            raise ApiException(403, status)
        return await real_create(body, namespace)

    cluster.client.pods.create = create  # type: ignore[method-assign]
    with pytest.raises(Exception, match="exceeded quota"):
        await controller.sync("default/web")
    assert calls == 1 + 2 + 4  # never the remaining 3
    assert len(cluster.stored("pods")) == 3
    # the refused and the never-tried will never be seen: only 3 creations are awaited
    assert controller.expectations.get("default/web").add == 3
    status = cluster.get("replicasets", "web")["status"]
    assert status["replicas"] == 0
    [condition] = status["conditions"]
    assert condition["type"] == "ReplicaFailure" and condition["reason"] == "FailedCreate"
    assert "exceeded quota" in condition["message"]
    assert "exceeded quota" in _events(cluster, "FailedCreate")[0]["message"]
    # the informer sees the 3 pods; the quota is lifted: the next sync makes the rest
    cluster.sync_informers()
    assert controller.expectations.satisfied("default/web")
    cluster.client.pods.create = real_create  # type: ignore[method-assign]
    await controller.sync("default/web")
    assert len(cluster.stored("pods")) == 10
    cluster.sync_informers()
    await controller.sync("default/web")
    status = cluster.get("replicasets", "web")["status"]
    assert status["replicas"] == 10 and "conditions" not in status


async def test_at_most_burst_replicas_are_created_per_sync() -> None:
    cluster = FakeCluster()
    cluster.add(_rs(replicas=12))
    controller = _controller(cluster, burst_replicas=5)
    await controller.sync("default/web")
    assert _creates(cluster) == 5
    cluster.sync_informers()
    await controller.sync("default/web")
    assert _creates(cluster) == 10


async def test_expectations_hold_a_sync_back_until_the_informer_has_caught_up() -> None:
    cluster = FakeCluster()
    cluster.add(_rs(replicas=3))
    controller = _controller(cluster)
    await controller.sync("default/web")
    assert _creates(cluster) == 3
    # the cache still shows no pods: without expectations this would create 3 more
    await controller.sync("default/web")
    await controller.sync("default/web")
    assert _creates(cluster) == 3
    cluster.sync_informers()  # the pods' add events lower the expectations
    await controller.sync("default/web")
    assert _creates(cluster) == 3
    # scaled down to 1: two deletions, and none more until they are seen
    rs = cluster.get("replicasets", "web")
    rs["spec"]["replicas"] = 1
    cluster.add(rs)
    await controller.sync("default/web")
    await controller.sync("default/web")
    deletes = [v for v in cluster.verbs("pods") if v[0] == "delete"]
    assert len(deletes) == 2 and len(cluster.stored("pods")) == 1
    assert not controller.expectations.satisfied("default/web")
    cluster.sync_informers()
    assert controller.expectations.satisfied("default/web")
    await controller.sync("default/web")
    assert len([v for v in cluster.verbs("pods") if v[0] == "delete"]) == 2


async def test_a_graceful_deletion_counts_once_and_only_for_the_pods_deleted() -> None:
    expectations = UIDTrackingExpectations()
    expectations.expect_deletions("default/web", of=["default/a", "default/b"])
    expectations.deletion_observed("default/web", "default/a")  # deletionTimestamp set
    expectations.deletion_observed("default/web", "default/a")  # then removed
    expectations.deletion_observed("default/web", "default/other")  # not ours to count
    assert not expectations.satisfied("default/web")
    expectations.deletion_observed("default/web", "default/b")
    assert expectations.satisfied("default/web")


def test_an_expectation_never_seen_expires_after_its_timeout() -> None:
    now = [1000.0]
    expectations = ControllerExpectations(clock=lambda: now[0])
    assert expectations.satisfied("default/web")  # nothing expected yet
    expectations.expect_creations("default/web", 2)
    expectations.creation_observed("default/web")
    assert not expectations.satisfied("default/web")
    now[0] += 5 * 60 + 1
    assert expectations.satisfied("default/web")


def test_the_pods_least_far_along_are_deleted_first() -> None:
    now = time.time()
    order = [
        _pod("unassigned", node="", phase="Pending"),
        _pod("pending", phase="Pending"),
        _pod("unknown", phase="Unknown"),
        _pod("running-not-ready"),
        _pod("ready-lately", ready_at=now - 10),
        _pod("ready-long-crashy", ready_at=now - 100, restarts=5),
        _pod("ready-long-newer", ready_at=now - 100, created=now - 200),
        _pod("ready-long-older", ready_at=now - 100, created=now - 300),
    ]
    pods = [api.load(p, check=False).obj for p in reversed(order)]
    assert [p.name for p in pods_to_delete(pods, len(pods))] == [
        p["metadata"]["name"] for p in order
    ]
    assert [p.name for p in pods_to_delete(pods, 2)] == ["unassigned", "pending"]


async def test_a_scale_down_deletes_the_lowest_ranked_pods_by_uid() -> None:
    cluster = FakeCluster()
    cluster.add(_rs(replicas=2))
    ref = _ref(cluster)
    now = time.time()
    cluster.add(
        _pod("old-ready", ref, ready_at=now - 60),
        _pod("pending", ref, phase="Pending"),
        _pod("new-ready", ref, ready_at=now - 5),
    )
    await _controller(cluster).sync("default/web")
    assert sorted(n for v, _, n in cluster.verbs("pods") if v == "delete") == ["pending"]
    assert [a.body for a in cluster.actions if a.verb == "delete"]
    assert _events(cluster, "SuccessfulDelete")[0]["message"] == "Deleted pod: pending"


async def test_terminating_and_finished_pods_are_not_replicas() -> None:
    cluster = FakeCluster()
    cluster.add(_rs(replicas=2))
    ref = _ref(cluster)
    going = _pod("going", ref)
    going["metadata"]["deletionTimestamp"] = rfc3339(time.time() + 30)
    cluster.add(going, _pod("done", ref, phase="Succeeded"), _pod("failed", ref, phase="Failed"))
    await _controller(cluster).sync("default/web")
    assert _creates(cluster) == 2


async def test_orphans_are_adopted_and_pods_that_no_longer_match_released() -> None:
    cluster = FakeCluster()
    cluster.add(_rs(replicas=2))
    ref = _ref(cluster)
    other = {**ref, "name": "other", "uid": "another-controller"}
    cluster.add(
        _pod("orphan"),
        _pod("stray", ref, labels={"app": "api"}),
        _pod("kept", ref),
        _pod("theirs", other),
        _pod("unrelated", labels={"app": "db"}),
    )
    controller = _controller(cluster)
    await controller.sync("default/web")
    pods = {p["metadata"]["name"]: p["metadata"] for p in cluster.stored("pods")}
    assert pods["orphan"]["ownerReferences"] == [ref]
    assert pods["stray"].get("ownerReferences") == []
    assert pods["theirs"]["ownerReferences"] == [other]
    assert "ownerReferences" not in pods["unrelated"]
    assert _creates(cluster) == 0  # kept + the adopted orphan are the 2 replicas
    cluster.sync_informers()
    assert cluster.get("replicasets", "web")["status"]["replicas"] == 2


async def test_a_replicaset_being_deleted_adopts_nothing_and_creates_nothing() -> None:
    cluster = FakeCluster()
    cluster.add(_rs(replicas=2, deletionTimestamp=rfc3339(), finalizers=["foregroundDeletion"]))
    ref = _ref(cluster)
    cluster.add(_pod("orphan"), _pod("stray", ref, labels={"app": "api"}))
    await _controller(cluster).sync("default/web")
    assert [v for v in cluster.verbs("pods")] == []
    assert "ownerReferences" not in cluster.get("pods", "orphan")["metadata"]


async def test_status_counts_pods_available_after_min_ready_seconds_and_looks_again() -> None:
    cluster = FakeCluster()
    cluster.add(_rs(replicas=3, min_ready=10))
    ref = _ref(cluster)
    now = time.time()
    cluster.add(
        _pod("a", ref, ready_at=now - 60),
        _pod("b", ref, ready_at=now - 3),
        _pod("c", ref),
    )
    controller = _controller(cluster)
    again = await controller.sync("default/web")
    assert again is not None and 4 <= again <= 8  # when b will have been Ready 10 s
    status = cluster.get("replicasets", "web")["status"]
    assert status == {
        "replicas": 3,
        "fullyLabeledReplicas": 0,  # the template's tier label is not on them
        "readyReplicas": 2,
        "availableReplicas": 1,
        "observedGeneration": 1,
    }
    cluster.sync_informers()
    await controller.sync("default/web")
    assert cluster.verbs("replicasets") == [("update_status", "default", "web")]  # unchanged


def test_owner_references_as_kubernetes_builds_them() -> None:
    rs = api.load(
        {**_rs(), "metadata": {"name": "web", "namespace": "default", "uid": "u1"}}, check=False
    ).obj
    ref = owner_reference(rs)
    assert ref == {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": "web",
        "uid": "u1",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    owned = api.load(_pod("p", ref), check=False).obj
    orphan = api.load(_pod("q", {**ref, "controller": False}), check=False).obj
    assert controller_of(owned).uid == "u1" and is_controlled_by(owned, rs)
    assert controller_of(orphan) is None and not is_controlled_by(orphan, rs)


async def _drain(controller: ReplicaSetController) -> set[str]:
    keys = set()
    while len(controller.queue):
        key = await controller.queue.get()
        controller.queue.done(key)
        keys.add(key)
    return keys


async def test_pod_events_queue_the_owner_or_every_matching_replicaset() -> None:
    cluster = FakeCluster()
    cluster.add(
        _rs("web"),
        _rs("web2"),
        {**_rs("elsewhere"), "metadata": {"name": "x", "namespace": "other"}},
    )
    controller = _controller(cluster)
    await _drain(controller)
    cluster.add(_pod("owned", _ref(cluster, "web")))
    assert await _drain(controller) == {"default/web"}
    cluster.add(_pod("orphan"))
    assert await _drain(controller) == {"default/web", "default/web2"}


async def test_a_graceful_deletion_is_seen_when_its_deletion_timestamp_shows() -> None:
    """Bound pods are not removed at once: their deletionTimestamp, seen by the pod
    handler, is what satisfies the deletions; they are no replicas from then on."""
    cluster = FakeCluster()
    cluster.add(_rs(replicas=1))
    ref = _ref(cluster)
    now = time.time()
    cluster.add(*(_pod(f"p{i}", ref, ready_at=now - 60, created=now - i) for i in range(3)))
    controller = _controller(cluster)
    await controller.sync("default/web")
    deleted = sorted(n for v, _, n in cluster.verbs("pods") if v == "delete")
    assert deleted == ["p0", "p1"]  # the newer two
    assert all(cluster.get("pods", n)["metadata"].get("deletionTimestamp") for n in deleted)
    await controller.sync("default/web")  # the cache has not seen it yet: nothing more
    assert len(cluster.verbs("pods")) == 2
    cluster.sync_informers()
    assert controller.expectations.satisfied("default/web")
    await controller.sync("default/web")
    assert len(cluster.verbs("pods")) == 2  # the two terminating pods are not replaced
    assert cluster.get("replicasets", "web")["status"]["replicas"] == 1
