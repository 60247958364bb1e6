"""The namespace and pod-termination controllers' syncs against a fake cluster."""

from __future__ import annotations

import time

from navarch.api.timefmt import rfc3339
from navarch.controllers.namespace import NamespaceController
from navarch.controllers.podtermination import PodTerminationController
from navarch.testing.controllers import FakeCluster, FakeResource


def _namespace(name: str, *, deleting: bool = False) -> dict:
    meta: dict = {"name": name}
    if deleting:
        meta["deletionTimestamp"] = rfc3339()
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": meta,
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Terminating" if deleting else "Active"},
    }


def _pod(name: str, namespace: str = "default", **meta: object) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, **meta},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "127.0.0.1:5000/a:1"}]},
    }


async def test_a_deleted_namespace_is_emptied_then_released() -> None:
    cluster = FakeCluster()
    cluster.add(_namespace("doomed", deleting=True), _pod("a", "doomed"), _pod("keep", "other"))
    controller = NamespaceController(cluster.context("namespace"))
    # the pod is bound: it is marked, not removed, so the namespace is not empty yet
    assert await controller.sync("doomed") == controller.options.recheck_seconds
    assert ("delete_collection", "doomed", "") in cluster.verbs("pods")
    assert cluster.verbs("namespaces") == []
    # its agent confirmed: the pod is gone; the next sync releases the namespace
    del cluster.objects[("pods", "doomed", "a")]
    assert await controller.sync("doomed") is None
    assert cluster.verbs("namespaces") == [("update_finalize", "", "doomed")]
    assert cluster.get("namespaces", "doomed", "")["spec"]["finalizers"] == []
    assert cluster.get("pods", "keep", "other") is not None


async def test_a_namespace_not_being_deleted_is_left_alone() -> None:
    cluster = FakeCluster()
    cluster.add(_namespace("live"), _pod("a", "live"))
    assert await NamespaceController(cluster.context("namespace")).sync("live") is None
    assert cluster.actions == []


async def test_a_pod_past_its_grace_period_is_removed_by_uid() -> None:
    cluster = FakeCluster()
    past = rfc3339(time.time() - 5)
    cluster.add(_pod("late", deletionTimestamp=past, deletionGracePeriodSeconds=30))
    controller = PodTerminationController(cluster.context("pod-termination"))
    assert await controller.sync("default/late") is None
    assert cluster.verbs("pods") == [("delete", "default", "late")]
    assert cluster.get("pods", "late") is None


async def test_a_pod_still_in_its_grace_period_is_looked_at_later() -> None:
    cluster = FakeCluster()
    future = rfc3339(time.time() + 30)
    cluster.add(_pod("stopping", deletionTimestamp=future, deletionGracePeriodSeconds=30))
    controller = PodTerminationController(cluster.context("pod-termination"))
    again = await controller.sync("default/stopping")
    assert again is not None and 20 < again <= 30
    assert cluster.actions == []


async def test_a_new_pod_of_the_same_name_is_never_removed() -> None:
    """The cache still holds the old, expired pod; the store holds a new pod by that
    name (recreated meanwhile, not yet seen): the uid precondition keeps it."""
    cluster = FakeCluster()
    past = rfc3339(time.time() - 5)
    cluster.add(_pod("web-0", deletionTimestamp=past, deletionGracePeriodSeconds=30))
    controller = PodTerminationController(cluster.context("pod-termination"))
    new = _pod("web-0")
    new["metadata"].update(uid="a-new-pod", resourceVersion="1000")
    cluster.objects[("pods", "default", "web-0")] = new  # behind the informer's back
    assert await controller.sync("default/web-0") is None
    assert cluster.get("pods", "web-0")["metadata"]["uid"] == "a-new-pod"


async def test_a_deleted_namespace_leaves_each_kinds_grace_period_to_its_strategy(
    monkeypatch,
) -> None:
    # Kubernetes' namespace deleter sends no grace period; the controller once sent 0 to
    # every kind but pods, a name test that cut short a plugin kind's own grace period.
    sent: dict[str, object] = {}
    original = FakeResource.delete_collection

    async def recording(self: FakeResource, namespace: str | None = None, **options: object):
        sent[self.res.plural] = options.get("grace_period_seconds")
        return await original(self, namespace, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(FakeResource, "delete_collection", recording)
    cluster = FakeCluster()
    cluster.add(_namespace("doomed", deleting=True), _pod("a", "doomed"))
    await NamespaceController(cluster.context("namespace")).sync("doomed")
    assert {"pods", "deployments", "leases"} <= set(sent)
    assert set(sent.values()) == {None}


async def test_the_fake_cluster_deletes_as_the_kinds_strategy_says() -> None:
    # navarch.testing's fake asks the strategy, as the API server does: a bound pod
    # waits for its agent, a finished one (nothing left to stop) goes at once
    cluster = FakeCluster()
    done = {**_pod("done", "ns"), "status": {"phase": "Succeeded"}}
    cluster.add(_pod("running", "ns"), done)
    await cluster.client.pods.delete("running", "ns")
    await cluster.client.pods.delete("done", "ns")
    assert cluster.get("pods", "running", "ns")["metadata"]["deletionTimestamp"]
    assert cluster.get("pods", "done", "ns") is None
