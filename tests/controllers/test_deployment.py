"""The Deployment controller's sync against a fake cluster: hashes, the new
ReplicaSet, RollingUpdate and Recreate step by step, pause, the progress deadline,
revisions and history clean-up, status. The ReplicaSet controller's part (pods, and
the ReplicaSet's status) is played by :func:`settle`."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest

from navarch.api.timefmt import rfc3339
from navarch.controllers import deployment_rolling as rolling
from navarch.controllers.deployment import DeploymentController
from navarch.controllers.deployment_history import (
    HASH_LABEL,
    REVISION,
    REVISION_HISTORY,
    fnv32a,
    same_template,
    template_hash,
)
from navarch.testing.controllers import FakeCluster

KEY = "default/web"
NEW = "127.0.0.1:5000/web:2"
_IMAGE_1 = "127.0.0.1:5000/web:1"


def _template(image: str = "127.0.0.1:5000/web:1") -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": image}]},
    }


def _deployment(
    replicas: int = 4,
    *,
    surge: Any = "25%",
    unavailable: Any = "25%",
    strategy: str = "RollingUpdate",
    image: str = "127.0.0.1:5000/web:1",
    **spec: Any,
) -> dict[str, Any]:
    strat: dict[str, Any] = {"type": strategy}
    if strategy == "RollingUpdate":
        strat["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavailable}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "uid": "d-uid",
            "generation": 1,
            "annotations": {"kubernetes.io/change-cause": "first"},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": _template(image),
            "strategy": strat,
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
            **spec,
        },
    }


def _controller(cluster: FakeCluster) -> DeploymentController:
    return DeploymentController(cluster.context("deployment"))


def replicasets(cluster: FakeCluster) -> list[dict[str, Any]]:
    return cluster.stored("replicasets", "default")


def by_image(cluster: FakeCluster) -> dict[str, dict[str, Any]]:
    return {
        rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs for rs in replicasets(cluster)
    }


def settle(cluster: FakeCluster, *, available: bool = True, image: str = "") -> None:
    """The ReplicaSet controller's part: each ReplicaSet has as many pods as it asks
    for, available or not (only those of ``image`` not, if given)."""
    for rs in replicasets(cluster):
        want = rs["spec"]["replicas"]
        if image and rs["spec"]["template"]["spec"]["containers"][0]["image"] != image:
            available = True
        elif image:
            available = False
        rs["status"] = {
            "replicas": want,
            "readyReplicas": want if available else 0,
            "availableReplicas": want if available else 0,
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
    cluster.sync_informers()


def change(cluster: FakeCluster, **spec: Any) -> None:
    d = cluster.get("deployments", "web")
    d["spec"].update(copy.deepcopy(spec))
    d["metadata"]["generation"] += 1
    cluster.sync_informers()


def status(cluster: FakeCluster) -> dict[str, Any]:
    return cluster.get("deployments", "web").get("status") or {}


def condition(cluster: FakeCluster, type_: str) -> dict[str, Any]:
    return next(c for c in status(cluster)["conditions"] if c["type"] == type_)


# --- the hash -------------------------------------------------------------------------


def test_fnv32a_matches_the_reference_vectors() -> None:
    assert fnv32a(b"") == 0x811C9DC5
    assert fnv32a(b"a") == 0xE40C292C
    assert fnv32a(b"foobar") == 0xBF9CF968


def test_the_hash_is_stable_and_the_collision_count_changes_it() -> None:
    template = _template()
    reordered = {"spec": template["spec"], "metadata": template["metadata"]}
    first = template_hash(template)
    assert first == template_hash(reordered)  # key order does not matter
    assert set(first) <= set("bcdfghjklmnpqrstvwxz2456789") and 1 <= len(first) <= 10
    assert template_hash(_template("127.0.0.1:5000/web:2")) != first
    assert template_hash(template, 1) not in (first, template_hash(template, 2))
    assert template_hash(template, 0) != first  # a count of 0 is still fed to the hash


# --- the new ReplicaSet -----------------------------------------------------------------


async def test_a_new_deployment_gets_its_replica_set() -> None:
    cluster = FakeCluster()
    cluster.add(_deployment(4))
    await _controller(cluster).sync(KEY)
    [rs] = replicasets(cluster)
    pod_hash = template_hash(_deployment()["spec"]["template"])
    assert rs["metadata"]["name"] == f"web-{pod_hash}"
    assert rs["metadata"]["labels"] == {"app": "web", HASH_LABEL: pod_hash}
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", HASH_LABEL: pod_hash}
    assert rs["spec"]["template"]["metadata"]["labels"][HASH_LABEL] == pod_hash
    [ref] = rs["metadata"]["ownerReferences"]
    assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == (
        "Deployment",
        "web",
        "d-uid",
        True,
    )
    assert rs["spec"]["replicas"] == 4
    annotations = rs["metadata"]["annotations"]
    assert annotations[REVISION] == "1"
    assert annotations[rolling.DESIRED_REPLICAS] == "4"
    assert annotations[rolling.MAX_REPLICAS] == "5"  # 25% of 4 rounded up
    assert annotations["kubernetes.io/change-cause"] == "first"
    d = cluster.get("deployments", "web")
    assert d["metadata"]["annotations"][REVISION] == "1"
    assert condition(cluster, "Progressing")["reason"] == "NewReplicaSetCreated"
    events = [a.body for a in cluster.actions if a.resource == "events"]
    assert events and events[0]["reason"] == "ScalingReplicaSet"
    assert "from 0 to 4" in events[0]["message"]


async def test_a_hash_collision_is_counted_and_the_next_hash_used() -> None:
    cluster = FakeCluster()
    d = _deployment(2)
    taken = f"web-{template_hash(d['spec']['template'])}"
    cluster.add(
        d,
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": taken, "namespace": "default"},  # someone else's
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"other": "x"}},
                "template": {
                    "metadata": {"labels": {"other": "x"}},
                    "spec": {"containers": [{"name": "o", "image": "o"}]},
                },
            },
        },
    )
    controller = _controller(cluster)
    with pytest.raises(RuntimeError, match="not this template"):
        await controller.sync(KEY)
    assert status(cluster)["collisionCount"] == 1
    cluster.sync_informers()
    await controller.sync(KEY)
    names = {rs["metadata"]["name"] for rs in replicasets(cluster)}
    assert names == {taken, f"web-{template_hash(d['spec']['template'], 1)}"}
    assert status(cluster)["collisionCount"] == 1


async def test_its_own_replica_set_missing_from_the_cache_is_reused() -> None:
    cluster = FakeCluster()
    cluster.add(_deployment(2))
    controller = _controller(cluster)
    await controller.sync(KEY)
    [rs] = replicasets(cluster)
    # the same sync again before the cache saw the ReplicaSet: AlreadyExists, ours
    cluster.sync_informers()
    cluster.informers.informer("replicasets").cache.clear()
    await controller.sync(KEY)
    assert [r["metadata"]["name"] for r in replicasets(cluster)] == [rs["metadata"]["name"]]
    assert status(cluster).get("collisionCount") is None


# --- RollingUpdate ----------------------------------------------------------------------


async def _roll(
    cluster: FakeCluster, replicas: int, surge: int, unavailable: int, steps: int = 40
) -> list[tuple[int, int]]:
    """Sync and let the ReplicaSets settle (new pods available one step late) until
    the rollout is done, checking Kubernetes' two bounds at every step; the (new, old)
    sizes seen."""
    controller = _controller(cluster)
    seen = []
    for _ in range(steps):
        await controller.sync(KEY)
        cluster.sync_informers()
        rs_all = replicasets(cluster)
        total = sum(rs["spec"]["replicas"] for rs in rs_all)
        available = sum((rs.get("status") or {}).get("availableReplicas", 0) for rs in rs_all)
        assert total <= replicas + surge, rs_all
        assert available >= replicas - unavailable, rs_all
        sizes = by_image(cluster)
        new = sizes["127.0.0.1:5000/web:2"]["spec"]["replicas"]
        old = sizes["127.0.0.1:5000/web:1"]["spec"]["replicas"]
        seen.append((new, old))
        if new == replicas and old == 0 and status(cluster).get("availableReplicas") == replicas:
            break
        # pods come up: the sizes the controller set are reached, available at once
        settle(cluster)
    else:
        raise AssertionError(f"the rollout never finished: {seen}")
    return seen


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable", "surge_n", "unavailable_n"),
    [
        (10, "25%", "25%", 3, 2),  # 2.5 up to 3, 2.5 down to 2
        (4, 1, 0, 1, 0),
        (5, 0, 2, 0, 2),
        (6, "50%", "10%", 3, 0),  # 0.6 rounds down to 0
        (3, "0%", "0%", 0, 1),  # both 0: one may be unavailable
    ],
)
async def test_a_rolling_update_stays_within_surge_and_unavailability(
    replicas: int, surge: Any, unavailable: Any, surge_n: int, unavailable_n: int
) -> None:
    d = _deployment(replicas, surge=surge, unavailable=unavailable)
    assert rolling.fenceposts(d) == (surge_n, unavailable_n)
    cluster = FakeCluster()
    cluster.add(d)
    await _controller(cluster).sync(KEY)
    settle(cluster)
    await _controller(cluster).sync(KEY)
    assert status(cluster)["availableReplicas"] == replicas
    change(cluster, template=_template("127.0.0.1:5000/web:2"))
    seen = await _roll(cluster, replicas, surge_n, unavailable_n)
    assert seen[-1] == (replicas, 0)
    assert len(seen) > 1
    assert condition(cluster, "Progressing")["reason"] == "NewReplicaSetAvailable"


async def test_the_steps_of_a_rolling_update_of_ten() -> None:
    """maxSurge 3, maxUnavailable 2: the new ReplicaSet first takes the surge, the old
    one gives up the unavailable budget; then each settles in turn."""
    cluster = FakeCluster()
    cluster.add(_deployment(10))
    controller = _controller(cluster)
    await controller.sync(KEY)
    settle(cluster)
    change(cluster, template=_template("127.0.0.1:5000/web:2"))

    def sizes() -> tuple[int, int]:
        s = by_image(cluster)
        return (
            s["127.0.0.1:5000/web:2"]["spec"]["replicas"],
            s["127.0.0.1:5000/web:1"]["spec"]["replicas"],
        )

    await controller.sync(KEY)
    cluster.sync_informers()
    # the new one takes the surge (13 in all); in the same sync the old one gives up
    # the unavailable budget, since the 3 new pods cannot be counted on yet: 8 left
    assert sizes() == (3, 8)
    settle(cluster, image=NEW)  # the 3 new pods are not available yet
    await controller.sync(KEY)
    cluster.sync_informers()
    assert sizes() == (5, 8)  # the surge room again: 13 in all
    settle(cluster, image=NEW)
    await controller.sync(KEY)
    cluster.sync_informers()
    assert sizes() == (5, 8)  # nothing moves until new pods are available
    assert condition(cluster, "Progressing")["reason"] == "ReplicaSetUpdated"
    settle(cluster)
    await controller.sync(KEY)
    cluster.sync_informers()
    assert sizes() == (5, 3)  # 13 available, 8 needed: 5 old ones go
    new = by_image(cluster)["127.0.0.1:5000/web:2"]
    assert new["metadata"]["annotations"][REVISION] == "2"
    assert cluster.get("deployments", "web")["metadata"]["annotations"][REVISION] == "2"


async def test_unavailable_old_replicas_go_first() -> None:
    cluster = FakeCluster()
    cluster.add(_deployment(4, surge=0, unavailable=1))
    controller = _controller(cluster)
    await controller.sync(KEY)
    settle(cluster)
    old = replicasets(cluster)[0]
    old["status"]["availableReplicas"] = 2  # two old pods are broken
    cluster.sync_informers()
    change(cluster, template=_template("127.0.0.1:5000/web:2"))
    await controller.sync(KEY)  # the new ReplicaSet at 0 (no surge)
    cluster.sync_informers()
    # 4 pods, 3 must stay available: one may go, and a broken one goes (costs nothing)
    assert by_image(cluster)["127.0.0.1:5000/web:1"]["spec"]["replicas"] == 3
    assert by_image(cluster)[NEW]["spec"]["replicas"] == 0
    old = by_image(cluster)["127.0.0.1:5000/web:1"]
    old["status"].update(replicas=3, availableReplicas=2)
    cluster.sync_informers()
    await controller.sync(KEY)
    cluster.sync_informers()
    assert by_image(cluster)[NEW]["spec"]["replicas"] == 1  # room for one more pod
    old["status"].update(replicas=3, availableReplicas=2)
    by_image(cluster)[NEW]["status"] = {"replicas": 1, "availableReplicas": 0}
    cluster.sync_informers()
    await controller.sync(KEY)
    cluster.sync_informers()
    # 4 pods; the new one may never come up, so the old broken one is kept
    # for now (Kubernetes' reckoning: 4 - 3 needed - 1 new unavailable = 0 may go)
    assert by_image(cluster)["127.0.0.1:5000/web:1"]["spec"]["replicas"] == 3
    by_image(cluster)[NEW]["status"] = {"replicas": 1, "availableReplicas": 1}
    cluster.sync_informers()
    await controller.sync(KEY)
    cluster.sync_informers()
    assert by_image(cluster)["127.0.0.1:5000/web:1"]["spec"]["replicas"] == 2


# --- Recreate ----------------------------------------------------------------------------


def _pod(name: str, rs: dict[str, Any], phase: str = "Running") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "default",
            "labels": rs["spec"]["template"]["metadata"]["labels"],
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": rs["metadata"]["name"],
                    "uid": rs["metadata"]["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": {"nodeName": "n1", "containers": [{"name": "web", "image": "x"}]},
        "status": {"phase": phase},
    }


async def test_recreate_removes_the_old_pods_before_the_new_replica_set() -> None:
    cluster = FakeCluster()
    cluster.add(_deployment(3, strategy="Recreate"))
    controller = _controller(cluster)
    await controller.sync(KEY)
    settle(cluster)
    [old] = replicasets(cluster)
    cluster.add(*(_pod(f"web-{n}", old) for n in range(3)))
    change(cluster, template=_template("127.0.0.1:5000/web:2"))
    await controller.sync(KEY)
    cluster.sync_informers()
    assert [rs["spec"]["replicas"] for rs in replicasets(cluster)] == [0]
    settle(cluster)  # the ReplicaSet counts no pods, but they are still stopping
    await controller.sync(KEY)
    cluster.sync_informers()
    assert len(replicasets(cluster)) == 1
    for n in range(3):
        del cluster.objects[("pods", "default", f"web-{n}")]
    cluster.sync_informers()
    await controller.sync(KEY)
    cluster.sync_informers()
    assert by_image(cluster)["127.0.0.1:5000/web:2"]["spec"]["replicas"] == 3
    assert by_image(cluster)["127.0.0.1:5000/web:1"]["spec"]["replicas"] == 0


# --- pause, scale, progress deadline ------------------------------------------------------


async def test_a_paused_deployment_does_not_roll_but_still_scales() -> None:
    cluster = FakeCluster()
    cluster.add(_deployment(4))
    controller = _controller(cluster)
    await controller.sync(KEY)
    settle(cluster)
    change(cluster, paused=True, template=_template("127.0.0.1:5000/web:2"))
    await controller.sync(KEY)
    cluster.sync_informers()
    assert len(replicasets(cluster)) == 1
    cond = condition(cluster, "Progressing")
    assert (cond["status"], cond["reason"]) == ("Unknown", "DeploymentPaused")
    change(cluster, replicas=6)
    await controller.sync(KEY)
    cluster.sync_informers()
    [rs] = replicasets(cluster)
    assert rs["spec"]["replicas"] == 6
    assert rs["metadata"]["annotations"][rolling.DESIRED_REPLICAS] == "6"
    change(cluster, paused=False)
    await controller.sync(KEY)
    cluster.sync_informers()
    assert len(replicasets(cluster)) == 2  # resumed: the rollout starts


async def test_a_resize_mid_rollout_is_shared_in_proportion() -> None:
    cluster = FakeCluster()
    cluster.add(_deployment(10, surge=3, unavailable=2))
    controller = _controller(cluster)
    await controller.sync(KEY)
    settle(cluster)
    change(cluster, template=_template("127.0.0.1:5000/web:2"))
    await controller.sync(KEY)
    settle(cluster, image=NEW)
    sizes = by_image(cluster)
    assert (
        sizes["127.0.0.1:5000/web:2"]["spec"]["replicas"],
        sizes["127.0.0.1:5000/web:1"]["spec"]["replicas"],
    ) == (3, 8)
    change(cluster, replicas=20)  # max 13 -> 23: each grows by its share
    await controller.sync(KEY)
    cluster.sync_informers()
    sizes = by_image(cluster)
    new, old = (
        sizes["127.0.0.1:5000/web:2"]["spec"]["replicas"],
        sizes["127.0.0.1:5000/web:1"]["spec"]["replicas"],
    )
    assert new + old == 23
    # each by its size against the max it was annotated with (13): 3*23/13 = 5.3 -> 5,
    # 8*23/13 = 14.2 -> 14; the 4 left over by rounding go to the larger
    assert (new, old) == (5, 18)
    annotations = sizes[NEW]["metadata"]["annotations"]
    assert (annotations[rolling.DESIRED_REPLICAS], annotations[rolling.MAX_REPLICAS]) == (
        "20",
        "23",
    )


async def test_no_progress_past_the_deadline_is_reported() -> None:
    cluster = FakeCluster()
    cluster.add(_deployment(2))
    controller = _controller(cluster)
    await controller.sync(KEY)
    settle(cluster, available=False)
    again = await controller.sync(KEY)
    assert again is not None and 590 < again <= 601  # looks again at the deadline
    d = cluster.get("deployments", "web")
    for cond in d["status"]["conditions"]:
        if cond["type"] == "Progressing":
            cond["lastUpdateTime"] = rfc3339(time.time() - 601)
    cluster.sync_informers()
    assert await controller.sync(KEY) is None
    cond = condition(cluster, "Progressing")
    assert (cond["status"], cond["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert condition(cluster, "Available")["reason"] == "MinimumReplicasUnavailable"


# --- revisions, history, status ------------------------------------------------------------


async def test_revisions_count_up_and_an_undo_takes_the_next_one() -> None:
    cluster = FakeCluster()
    cluster.add(_deployment(1, surge=1, unavailable=0))
    controller = _controller(cluster)
    for image in ("127.0.0.1:5000/web:2", "127.0.0.1:5000/web:3"):
        await controller.sync(KEY)
        settle(cluster)
        await _finish(controller, cluster)
        change(cluster, template=_template(image))
    await _finish(controller, cluster)
    revisions = {
        img: rs["metadata"]["annotations"][REVISION] for img, rs in by_image(cluster).items()
    }
    assert revisions == {
        "127.0.0.1:5000/web:1": "1",
        "127.0.0.1:5000/web:2": "2",
        "127.0.0.1:5000/web:3": "3",
    }
    # kubectl rollout undo --to-revision=1: the template of revision 1 back
    change(cluster, template=_template("127.0.0.1:5000/web:1"))
    await _finish(controller, cluster)
    first = by_image(cluster)["127.0.0.1:5000/web:1"]
    assert first["metadata"]["annotations"][REVISION] == "4"
    assert first["metadata"]["annotations"][REVISION_HISTORY] == "1"
    assert len(replicasets(cluster)) == 3  # no new ReplicaSet: the old one is back
    assert cluster.get("deployments", "web")["metadata"]["annotations"][REVISION] == "4"


async def _finish(controller: DeploymentController, cluster: FakeCluster) -> None:
    for _ in range(20):
        await controller.sync(KEY)
        settle(cluster)
        s = status(cluster)
        if s.get("updatedReplicas") == s.get("replicas") == s.get("availableReplicas") and any(
            c.get("reason") == "NewReplicaSetAvailable" for c in s.get("conditions") or ()
        ):
            await controller.sync(KEY)
            settle(cluster)
            return
    raise AssertionError(f"never finished: {status(cluster)}")


async def test_old_replica_sets_past_the_history_limit_are_removed() -> None:
    cluster = FakeCluster()
    cluster.add(_deployment(1, surge=1, unavailable=0, revisionHistoryLimit=2))
    controller = _controller(cluster)
    for n in range(2, 7):
        await _finish(controller, cluster)
        change(cluster, template=_template(f"127.0.0.1:5000/web:{n}"))
    await _finish(controller, cluster)
    kept = sorted(int(rs["metadata"]["annotations"][REVISION]) for rs in replicasets(cluster))
    assert kept == [4, 5, 6]  # the current one (6 templates: revision 6) and two old ones
    deleted = [name for verb, _, name in cluster.verbs("replicasets") if verb == "delete"]
    assert len(deleted) == 3


async def test_status_sums_the_replica_sets() -> None:
    cluster = FakeCluster()
    cluster.add(_deployment(4))
    controller = _controller(cluster)
    await controller.sync(KEY)
    rs = replicasets(cluster)[0]
    rs["status"] = {
        "replicas": 4,
        "readyReplicas": 3,
        "availableReplicas": 2,
        "observedGeneration": 1,
    }
    cluster.sync_informers()
    await controller.sync(KEY)
    s = status(cluster)
    assert (
        s["replicas"],
        s["updatedReplicas"],
        s["readyReplicas"],
        s["availableReplicas"],
        s["unavailableReplicas"],
        s["observedGeneration"],
    ) == (4, 4, 3, 2, 2, 1)
    # 4 - 25% of 4 (1) = 3 needed; 2 is not enough
    assert condition(cluster, "Available")["status"] == "False"
    rs = replicasets(cluster)[0]
    rs["status"]["availableReplicas"] = 3
    cluster.sync_informers()
    await controller.sync(KEY)
    assert condition(cluster, "Available")["reason"] == "MinimumReplicasAvailable"


def test_an_empty_value_is_no_difference_between_templates() -> None:
    """kubectl rollout undo sends the ReplicaSet's template with ``resources: {}``:
    it is still that ReplicaSet's template (no third ReplicaSet)."""
    stored = _template()
    from_kubectl = copy.deepcopy(stored)
    from_kubectl["spec"]["containers"][0]["resources"] = {}
    from_kubectl["metadata"]["labels"][HASH_LABEL] = "abc"
    assert same_template(stored, from_kubectl)
    assert not same_template(stored, _template("127.0.0.1:5000/web:2"))


async def test_old_pods_not_yet_removed_count_against_the_surge() -> None:
    """An old ReplicaSet scaled down whose pods are still there (its status says so)
    leaves no room: replicas + maxSurge bounds the pods that exist."""
    cluster = FakeCluster()
    cluster.add(_deployment(4, surge=1, unavailable=1))
    controller = _controller(cluster)
    await controller.sync(KEY)
    settle(cluster)
    change(cluster, template=_template(NEW))
    await controller.sync(KEY)  # new at 1, old down to 3
    cluster.sync_informers()
    assert [by_image(cluster)[i]["spec"]["replicas"] for i in (NEW, _IMAGE_1)] == [1, 3]
    old = by_image(cluster)[_IMAGE_1]
    old["status"].update(replicas=4, availableReplicas=4)  # its 4th pod not gone yet
    by_image(cluster)[NEW]["status"] = {"replicas": 1, "availableReplicas": 1}
    cluster.sync_informers()
    await controller.sync(KEY)
    cluster.sync_informers()
    assert by_image(cluster)[NEW]["spec"]["replicas"] == 1  # 4 + 1 pods exist: no room


# --- claiming ReplicaSets --------------------------------------------------------------------


def _orphan(name: str, labels: dict[str, str], image: str = _IMAGE_1) -> dict[str, Any]:
    template = _template(image)
    template["metadata"]["labels"] = dict(labels)
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": "default", "labels": dict(labels)},
        "spec": {"replicas": 2, "selector": {"matchLabels": dict(labels)}, "template": template},
        "status": {"replicas": 2, "availableReplicas": 2, "observedGeneration": 1},
    }


async def test_a_matching_orphan_replica_set_is_adopted_and_reused() -> None:
    """An orphan of the Deployment's template (its Deployment was deleted with
    --cascade=orphan and created again) is adopted: no new ReplicaSet, no new pods."""
    cluster = FakeCluster()
    cluster.add(_deployment(2), _orphan("web-old", {"app": "web", HASH_LABEL: "x"}))
    cluster.add(_orphan("other", {"app": "other"}))
    await _controller(cluster).sync(KEY)
    adopted = cluster.get("replicasets", "web-old")
    [ref] = adopted["metadata"]["ownerReferences"]
    assert (ref["uid"], ref["controller"]) == ("d-uid", True)
    assert "ownerReferences" not in cluster.get("replicasets", "other")["metadata"]
    assert [rs["metadata"]["name"] for rs in replicasets(cluster)] == ["other", "web-old"]
    assert adopted["metadata"]["annotations"][REVISION] == "1"


async def test_a_replica_set_that_no_longer_matches_is_released() -> None:
    cluster = FakeCluster()
    cluster.add(_deployment(2))
    controller = _controller(cluster)
    await controller.sync(KEY)
    [rs] = replicasets(cluster)
    rs["metadata"]["labels"] = {"app": "moved"}  # relabelled by hand
    cluster.sync_informers()
    # released; its name is the template's hash, so the new one collides first
    with pytest.raises(RuntimeError, match="not this template"):
        await controller.sync(KEY)
    released = cluster.get("replicasets", rs["metadata"]["name"])
    assert released["metadata"]["ownerReferences"] == []
    assert status(cluster)["collisionCount"] == 1
    cluster.sync_informers()
    await controller.sync(KEY)
    assert len(replicasets(cluster)) == 2  # the template has a ReplicaSet again
