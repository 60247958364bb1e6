"""The garbage collector's sync against a fake cluster: dependents of an owner that is
gone are deleted (never on a cache miss alone), several owners, the orphan and
foregroundDeletion finalizers."""

from __future__ import annotations

from typing import Any

from navarch.api.timefmt import rfc3339
from navarch.apiserver.propagation import FOREGROUND_FINALIZER, ORPHAN_FINALIZER
from navarch.controllers.garbagecollector import GarbageCollector
from navarch.testing.controllers import FakeCluster

IMAGE = "127.0.0.1:5000/web:1"


def _rs(name: str, uid: str, **meta: Any) -> dict:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": "default", "uid": uid, **meta},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": IMAGE}]},
            },
        },
    }


def _ref(name: str, uid: str, *, block: bool = True) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": block,
    }


def _pod(name: str, *owners: dict) -> dict:
    meta: dict = {"name": name, "namespace": "default"}
    if owners:
        meta["ownerReferences"] = list(owners)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"containers": [{"name": "c", "image": IMAGE}]},
    }


def _deleting(obj: dict, finalizer: str) -> dict:
    obj["metadata"]["deletionTimestamp"] = rfc3339()
    obj["metadata"]["finalizers"] = [finalizer]
    return obj


async def _settle(controller: GarbageCollector, cluster: FakeCluster, rounds: int = 10) -> None:
    """Sync every queued key, let the caches catch up, again, until nothing is queued
    (as the controller's workers and a watch would)."""
    for _ in range(rounds):
        cluster.sync_informers()
        if not len(controller.queue):
            return
        while len(controller.queue):
            key = await controller.queue.get()
            try:
                await controller.sync(key)
            finally:
                controller.queue.done(key)
    raise AssertionError("the collector kept finding work")


def _pods(cluster: FakeCluster) -> list[str]:
    return [p["metadata"]["name"] for p in cluster.stored("pods")]


async def test_dependents_of_an_owner_that_is_gone_are_deleted_in_the_background() -> None:
    cluster = FakeCluster()
    cluster.add(
        _rs("web", "u-web"), _pod("a", _ref("web", "u-web")), _pod("b", _ref("web", "u-web"))
    )
    controller = GarbageCollector(cluster.context("garbage-collector"))
    await _settle(controller, cluster)
    assert _pods(cluster) == ["a", "b"]  # the owner lives: nothing to do
    assert cluster.verbs("pods") == []

    del cluster.objects[("replicasets", "default", "web")]  # deleted (Background)
    await _settle(controller, cluster)
    assert _pods(cluster) == []
    deletes = [a for a in cluster.actions if a.verb == "delete"]
    assert {a.name for a in deletes} == {"a", "b"}
    assert all(a.body["propagation"] == "Background" for a in deletes)


async def test_an_owner_recreated_under_the_same_name_is_another_owner() -> None:
    cluster = FakeCluster()
    cluster.add(
        _rs("web", "u-new"), _pod("old", _ref("web", "u-old")), _pod("new", _ref("web", "u-new"))
    )
    controller = GarbageCollector(cluster.context("garbage-collector"))
    controller.queue.add("pods/default/old")
    controller.queue.add("pods/default/new")
    await _settle(controller, cluster)
    assert _pods(cluster) == ["new"]


async def test_an_owner_missing_from_the_cache_is_confirmed_alive_with_a_get() -> None:
    cluster = FakeCluster()
    controller = GarbageCollector(cluster.context("garbage-collector"))
    # The owner is in the API server, not yet in the collector's cache.
    owner = await cluster.client.replicasets.create(_rs("web", "ignored"))
    pod = _pod("a", _ref("web", owner.metadata.uid))
    cluster.objects[("pods", "default", "a")] = {
        **pod,
        "metadata": {**pod["metadata"], "uid": "u-a", "resourceVersion": "1"},
    }
    controller.informers["pods"]._store("default/a", await cluster.client.pods.get("a"))
    asked: list[str] = []
    get = cluster.client.replicasets.get

    async def counted_get(name: str, namespace: str | None = None) -> Any:
        asked.append(name)
        return await get(name, namespace)

    cluster.client.replicasets.get = counted_get  # type: ignore[method-assign]
    await controller.sync("pods/default/a")
    assert asked == ["web"]  # the API server was asked …
    assert _pods(cluster) == ["a"]  # … and the owner is alive: nothing deleted
    assert [a for a in cluster.actions if a.verb == "delete"] == []


async def test_a_dependent_of_several_owners_goes_only_with_the_last() -> None:
    cluster = FakeCluster()
    cluster.add(
        _rs("one", "u-one"),
        _rs("two", "u-two"),
        _pod("shared", _ref("one", "u-one"), _ref("two", "u-two", block=False)),
    )
    controller = GarbageCollector(cluster.context("garbage-collector"))
    await _settle(controller, cluster)

    del cluster.objects[("replicasets", "default", "one")]
    await _settle(controller, cluster)
    refs = cluster.get("pods", "shared")["metadata"]["ownerReferences"]
    assert [r["uid"] for r in refs] == ["u-two"]  # only the dangling reference went
    assert refs[0]["blockOwnerDeletion"] is False  # the one kept is kept as it was

    del cluster.objects[("replicasets", "default", "two")]
    await _settle(controller, cluster)
    assert _pods(cluster) == []


async def test_orphan_strips_the_references_then_releases_the_owner() -> None:
    cluster = FakeCluster()
    cluster.add(
        _rs("web", "u-web"),
        _rs("other", "u-other"),
        _pod("a", _ref("web", "u-web")),
        _pod("b", _ref("web", "u-web"), _ref("other", "u-other")),
    )
    controller = GarbageCollector(cluster.context("garbage-collector"))
    await _settle(controller, cluster)

    cluster.add(_deleting(cluster.get("replicasets", "web"), ORPHAN_FINALIZER))
    await _settle(controller, cluster)
    assert _pods(cluster) == ["a", "b"]
    assert "ownerReferences" not in cluster.get("pods", "a")["metadata"]
    assert [r["uid"] for r in cluster.get("pods", "b")["metadata"]["ownerReferences"]] == [
        "u-other"
    ]
    assert not cluster.get("replicasets", "web")["metadata"].get("finalizers")
    # The API server removes an object marked for deletion with its last finalizer.
    del cluster.objects[("replicasets", "default", "web")]
    await _settle(controller, cluster)
    assert _pods(cluster) == ["a", "b"]  # orphans stay


async def test_foreground_deletes_the_dependents_then_releases_the_owner() -> None:
    cluster = FakeCluster()
    running = _pod("bound", _ref("web", "u-web"))
    running["spec"]["nodeName"] = "n1"  # its agent has to stop it: it lingers
    cluster.add(_rs("web", "u-web"), running, _pod("a", _ref("web", "u-web")))
    controller = GarbageCollector(cluster.context("garbage-collector"))
    await _settle(controller, cluster)

    cluster.add(_deleting(cluster.get("replicasets", "web"), FOREGROUND_FINALIZER))
    await _settle(controller, cluster)
    assert _pods(cluster) == ["bound"]  # marked, waiting for its agent
    assert cluster.get("pods", "bound")["metadata"]["deletionTimestamp"]
    # the owner waits for its blocking dependent
    assert cluster.get("replicasets", "web")["metadata"]["finalizers"] == [FOREGROUND_FINALIZER]

    del cluster.objects[("pods", "default", "bound")]  # the agent confirmed
    await _settle(controller, cluster)
    assert not cluster.get("replicasets", "web")["metadata"].get("finalizers")


async def test_foreground_does_not_wait_for_dependents_that_do_not_block() -> None:
    cluster = FakeCluster()
    running = _pod("bound", _ref("web", "u-web", block=False))
    running["spec"]["nodeName"] = "n1"
    cluster.add(_deleting(_rs("web", "u-web"), FOREGROUND_FINALIZER), running)
    controller = GarbageCollector(cluster.context("garbage-collector"))
    controller.queue.add("replicasets/default/web")
    await _settle(controller, cluster)
    assert not cluster.get("replicasets", "web")["metadata"].get("finalizers")
    assert cluster.get("pods", "bound")["metadata"]["deletionTimestamp"]  # deleted too


async def test_a_dependent_the_cache_has_not_seen_holds_a_foreground_owner() -> None:
    cluster = FakeCluster()
    cluster.add(_deleting(_rs("web", "u-web"), FOREGROUND_FINALIZER))
    controller = GarbageCollector(cluster.context("garbage-collector"))
    await cluster.client.pods.create(_pod("late", _ref("web", "u-web")))  # not in the cache
    await controller.sync("replicasets/default/web")
    assert cluster.get("replicasets", "web")["metadata"]["finalizers"] == [FOREGROUND_FINALIZER]
