"""The StatefulSet controller's sync against a fake cluster (issue 23 item 7): stable
names and identity, OrderedReady waiting for each pod to be Running and Ready,
Parallel, ordinals.start, scale down in reverse order, a claim per ordinal made before
its pod and owned as the retention policy says, a pod that ended made again under the
same name and claim, RollingUpdate in reverse order down to the partition, OnDelete;
and the kind's defaults and validation."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from navarch import api
from navarch.api.errors import InvalidObject
from navarch.api.timefmt import rfc3339
from navarch.controllers.statefulset import RETRY_SOON_SECONDS, StatefulSetController
from navarch.controllers.statefulset_pods import POD_INDEX_LABEL, POD_NAME_LABEL
from navarch.resources.core.statefulsets import StatefulSetStrategy
from navarch.testing.controllers import FakeCluster

LABELS = {"app": "nginx"}
HASH = "controller-revision-hash"


def _sts(
    replicas: int = 3,
    *,
    policy: str = "OrderedReady",
    strategy: dict[str, Any] | None = None,
    retention: dict[str, str] | None = None,
    start: int | None = None,
    image: str = "navarch.test/demo:1",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "web", "namespace": "default", "generation": 1},
        "spec": {
            "replicas": replicas,
            "serviceName": "nginx",
            "podManagementPolicy": policy,
            "selector": {"matchLabels": LABELS},
            "template": {
                "metadata": {"labels": LABELS},
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "image": image,
                            "volumeMounts": [{"name": "www", "mountPath": "/www"}],
                        }
                    ]
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "www"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Gi"}},
                    },
                }
            ],
            "updateStrategy": strategy or {"type": "RollingUpdate"},
        },
    }
    if retention is not None:
        body["spec"]["persistentVolumeClaimRetentionPolicy"] = retention
    if start is not None:
        body["spec"]["ordinals"] = {"start": start}
    return body


class Harness:
    def __init__(self, sts: dict[str, Any]):
        self.cluster = FakeCluster()
        self.cluster.add(sts)
        self.controller = StatefulSetController(self.cluster.context("statefulset"))

    async def sync(self) -> float | None:
        again = await self.controller.sync("default/web")
        self.cluster.sync_informers()
        return again

    def pods(self) -> list[str]:
        return sorted(p["metadata"]["name"] for p in self.cluster.stored("pods"))

    def pod(self, name: str) -> dict[str, Any]:
        pod = self.cluster.get("pods", name)
        assert pod is not None, f"no pod {name}"
        return pod

    def claims(self) -> list[str]:
        return sorted(c["metadata"]["name"] for c in self.cluster.stored("persistentvolumeclaims"))

    def sts(self) -> dict[str, Any]:
        sts = self.cluster.get("statefulsets", "web")
        assert sts is not None
        return sts

    def set_phase(self, name: str, phase: str = "Running", ready: bool = True) -> None:
        """What an agent reports for the pod."""
        pod = self.pod(name)
        conditions = [
            {
                "type": "Ready",
                "status": "True" if ready else "False",
                "lastTransitionTime": rfc3339(),
            }
        ]
        pod["status"] = {"phase": phase, "conditions": conditions}
        self.cluster.add(pod)

    def created(self, plural: str) -> list[str]:
        return [name for verb, _, name in self.cluster.verbs(plural) if verb == "create"]

    def deleted(self) -> list[str]:
        return [name for verb, _, name in self.cluster.verbs("pods") if verb == "delete"]

    async def settle(self, replicas: int, start: int = 0) -> None:
        """Sync and make every pod Running and Ready until all ``replicas`` are."""
        for _ in range(3 * replicas + 3):
            await self.sync()
            for name in self.pods():
                if (self.pod(name).get("status") or {}).get("phase") != "Running":
                    self.set_phase(name)
        await self.sync()
        assert self.pods() == sorted(f"web-{i}" for i in range(start, start + replicas))

    def change_spec(self, **spec: Any) -> None:
        sts = self.sts()
        sts["spec"].update(copy.deepcopy(spec))
        sts["metadata"]["generation"] = sts["metadata"].get("generation", 1) + 1
        self.cluster.add(sts)


async def test_ordered_ready_makes_each_pod_after_the_one_before_is_ready() -> None:
    h = Harness(_sts(3))
    await h.sync()
    assert h.pods() == ["web-0"]
    # the claim is made before its pod (after the revision)
    made = [(a.resource, a.name) for a in h.cluster.actions if a.verb == "create"]
    made = [m for m in made if m[0] != "events"]
    assert made[1:] == [("persistentvolumeclaims", "www-web-0"), ("pods", "web-0")]
    assert made[0][0] == "controllerrevisions"
    await h.sync()  # web-0 Pending: nothing more
    assert h.pods() == ["web-0"]
    h.set_phase("web-0", ready=False)  # Running but not Ready: still waiting
    await h.sync()
    assert h.pods() == ["web-0"]
    h.set_phase("web-0")
    await h.sync()
    assert h.pods() == ["web-0", "web-1"]
    h.set_phase("web-1")
    await h.sync()
    assert h.pods() == ["web-0", "web-1", "web-2"]
    assert h.claims() == ["www-web-0", "www-web-1", "www-web-2"]

    pod = h.pod("web-1")
    revision = h.sts()["status"]["updateRevision"]
    assert revision.startswith("web-")
    assert pod["metadata"]["labels"] == {
        **LABELS,
        POD_NAME_LABEL: "web-1",
        POD_INDEX_LABEL: "1",
        HASH: revision,
    }
    assert pod["spec"]["hostname"] == "web-1"
    assert pod["spec"]["subdomain"] == "nginx"
    assert pod["spec"]["volumes"] == [
        {"name": "www", "persistentVolumeClaim": {"claimName": "www-web-1"}}
    ]
    owner = pod["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("StatefulSet", "web", True)
    claim = h.cluster.get("persistentvolumeclaims", "www-web-1")
    assert claim is not None
    assert claim["metadata"]["labels"] == LABELS
    assert "ownerReferences" not in claim["metadata"]  # Retain/Retain: nobody owns it


async def test_status_counts_ready_current_and_updated_replicas() -> None:
    h = Harness(_sts(2))
    await h.settle(2)
    status = h.sts()["status"]
    assert status["replicas"] == 2
    assert status["readyReplicas"] == 2
    assert status["availableReplicas"] == 2
    assert status["currentReplicas"] == 2
    assert status["updatedReplicas"] == 2
    assert status["currentRevision"] == status["updateRevision"]
    assert status["observedGeneration"] == 1
    revisions = h.cluster.stored("controllerrevisions")
    assert [r["metadata"]["name"] for r in revisions] == [status["updateRevision"]]
    assert revisions[0]["revision"] == 1


async def test_parallel_makes_every_pod_at_once() -> None:
    h = Harness(_sts(3, policy="Parallel"))
    await h.sync()
    assert h.pods() == ["web-0", "web-1", "web-2"]
    assert h.claims() == ["www-web-0", "www-web-1", "www-web-2"]
    # and scales down all at once
    h.change_spec(replicas=0)
    await h.sync()
    assert sorted(h.deleted()) == ["web-0", "web-1", "web-2"]
    assert h.claims() == ["www-web-0", "www-web-1", "www-web-2"]  # Retain


async def test_ordinals_start_names_the_first_pod() -> None:
    h = Harness(_sts(2, start=5))
    await h.settle(2, start=5)
    assert h.claims() == ["www-web-5", "www-web-6"]


async def test_scale_down_goes_in_reverse_order_one_pod_at_a_time() -> None:
    h = Harness(_sts(3))
    await h.settle(3)
    h.change_spec(replicas=1)
    await h.sync()
    assert h.deleted() == ["web-2"]
    await h.sync()
    assert h.deleted() == ["web-2", "web-1"]
    await h.sync()
    assert h.pods() == ["web-0"]
    assert h.claims() == ["www-web-0", "www-web-1", "www-web-2"]  # kept (Retain)


async def test_scale_down_waits_while_a_lower_pod_is_not_ready() -> None:
    h = Harness(_sts(3))
    await h.settle(3)
    h.set_phase("web-0", ready=False)
    h.change_spec(replicas=2)
    await h.sync()
    assert h.deleted() == []
    h.set_phase("web-0")
    await h.sync()
    assert h.deleted() == ["web-2"]


async def test_when_scaled_delete_gives_the_scaled_away_pods_claim_to_the_pod() -> None:
    h = Harness(_sts(2, retention={"whenDeleted": "Retain", "whenScaled": "Delete"}))
    await h.settle(2)
    pod_uid = h.pod("web-1")["metadata"]["uid"]
    h.change_spec(replicas=1)
    await h.sync()
    assert h.deleted() == ["web-1"]
    refs = h.cluster.get("persistentvolumeclaims", "www-web-1")["metadata"]["ownerReferences"]  # type: ignore[index]
    assert [(r["kind"], r["uid"], r["controller"]) for r in refs] == [("Pod", pod_uid, False)]
    kept = h.cluster.get("persistentvolumeclaims", "www-web-0")
    assert "ownerReferences" not in kept["metadata"]  # type: ignore[index]


async def test_a_claim_left_for_the_garbage_collector_is_not_reused() -> None:
    h = Harness(_sts(2, retention={"whenDeleted": "Retain", "whenScaled": "Delete"}))
    await h.settle(2)
    h.change_spec(replicas=1)
    await h.sync()
    assert h.deleted() == ["web-1"]
    # scaled up again before the garbage collector removed web-1's claim: wait for it
    h.change_spec(replicas=2)
    assert await h.sync() == RETRY_SOON_SECONDS
    assert h.pods() == ["web-0"]
    await h.cluster.client.persistentvolumeclaims.delete("www-web-1", "default")
    h.cluster.sync_informers()
    await h.sync()
    assert h.pods() == ["web-0", "web-1"]
    claim = h.cluster.get("persistentvolumeclaims", "www-web-1")
    assert "ownerReferences" not in claim["metadata"]  # type: ignore[index]


async def test_an_orphan_of_the_sets_name_is_adopted_and_one_of_another_name_is_not() -> None:
    h = Harness(_sts(1))
    for name in ("web-0", "other-0"):
        h.cluster.add(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "namespace": "default", "labels": dict(LABELS)},
                "spec": {"containers": [{"name": "nginx", "image": "navarch.test/demo:1"}]},
                "status": {"phase": "Pending"},
            }
        )
    await h.sync()
    owners = h.pod("web-0")["metadata"].get("ownerReferences") or []
    assert [(o["kind"], o["name"]) for o in owners] == [("StatefulSet", "web")]
    assert "ownerReferences" not in h.pod("other-0")["metadata"]
    assert h.created("pods") == []  # web-0 is there: nothing to make
    # once it runs, it is on no revision of the set: the rolling update replaces it
    h.set_phase("web-0")
    await h.sync()
    assert h.deleted() == ["web-0"]
    await h.sync()
    labels = h.pod("web-0")["metadata"]["labels"]
    assert labels[POD_NAME_LABEL] == "web-0"
    assert labels[HASH] == h.sts()["status"]["updateRevision"]


async def test_when_deleted_delete_makes_the_set_own_its_claims() -> None:
    h = Harness(_sts(1, retention={"whenDeleted": "Delete", "whenScaled": "Retain"}))
    await h.sync()
    claim = h.cluster.get("persistentvolumeclaims", "www-web-0")
    refs = claim["metadata"]["ownerReferences"]  # type: ignore[index]
    assert [(r["kind"], r["name"], r["controller"]) for r in refs] == [("StatefulSet", "web", True)]
    # the policy changed to Retain: the set lets go of the claim
    h.set_phase("web-0")
    h.change_spec(
        persistentVolumeClaimRetentionPolicy={"whenDeleted": "Retain", "whenScaled": "Retain"}
    )
    await h.sync()
    claim = h.cluster.get("persistentvolumeclaims", "www-web-0")
    assert claim["metadata"]["ownerReferences"] == []  # type: ignore[index]


async def test_a_pod_that_failed_comes_back_with_the_same_name_and_claim() -> None:
    h = Harness(_sts(2))
    await h.settle(2)
    old_uid = h.pod("web-0")["metadata"]["uid"]
    h.set_phase("web-0", phase="Failed", ready=False)
    await h.sync()
    assert h.deleted() == ["web-0"]
    await h.sync()
    pod = h.pod("web-0")
    assert pod["metadata"]["uid"] != old_uid
    assert pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "www-web-0"
    assert h.created("persistentvolumeclaims") == ["www-web-0", "www-web-1"]  # not made again


async def test_a_deleted_pod_comes_back_with_the_same_name_and_claim() -> None:
    h = Harness(_sts(2))
    await h.settle(2)
    await h.cluster.client.pods.delete("web-1", "default")
    h.cluster.sync_informers()
    await h.sync()
    assert h.pods() == ["web-0", "web-1"]
    assert h.created("pods") == ["web-0", "web-1", "web-1"]
    assert h.created("persistentvolumeclaims") == ["www-web-0", "www-web-1"]


async def test_rolling_update_goes_down_from_the_highest_ordinal_to_the_partition() -> None:
    h = Harness(_sts(3, strategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}))
    await h.settle(3)
    first = h.sts()["status"]["currentRevision"]
    template = copy.deepcopy(h.sts()["spec"]["template"])
    template["spec"]["containers"][0]["image"] = "navarch.test/demo:2"
    h.change_spec(template=template)
    await h.sync()
    assert h.deleted() == ["web-2"]
    status = h.sts()["status"]
    second = status["updateRevision"]
    assert second != first and status["currentRevision"] == first
    await h.sync()  # made again, from the update revision
    assert h.pod("web-2")["metadata"]["labels"][HASH] == second
    assert h.pod("web-2")["spec"]["containers"][0]["image"] == "navarch.test/demo:2"
    await h.sync()
    assert h.deleted() == ["web-2"]  # web-1 waits for web-2 to be Ready
    h.set_phase("web-2")
    await h.sync()
    assert h.deleted() == ["web-2", "web-1"]
    await h.sync()
    h.set_phase("web-1")
    for _ in range(3):
        await h.sync()
    assert h.deleted() == ["web-2", "web-1"]  # web-0 is below the partition
    assert h.pod("web-0")["metadata"]["labels"][HASH] == first
    assert h.pod("web-1")["metadata"]["labels"][HASH] == second
    status = h.sts()["status"]
    assert (status["updatedReplicas"], status["currentReplicas"]) == (2, 1)
    assert status["currentRevision"] == first
    # partition 0: web-0 goes too, and the rollout completes
    h.change_spec(updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    await h.sync()
    assert h.deleted() == ["web-2", "web-1", "web-0"]
    await h.sync()
    h.set_phase("web-0")
    await h.sync()
    status = h.sts()["status"]
    assert status["currentRevision"] == status["updateRevision"] == second
    assert status["currentReplicas"] == status["updatedReplicas"] == 3


async def test_max_unavailable_lets_that_many_pods_be_updated_at_once() -> None:
    rolling = {"type": "RollingUpdate", "rollingUpdate": {"partition": 0, "maxUnavailable": "50%"}}
    h = Harness(_sts(4, strategy=rolling, policy="Parallel"))
    await h.settle(4)
    template = copy.deepcopy(h.sts()["spec"]["template"])
    template["spec"]["containers"][0]["image"] = "navarch.test/demo:2"
    h.change_spec(template=template)
    await h.sync()
    assert h.deleted() == ["web-3", "web-2"]  # 50% of 4: two at once, highest first
    await h.sync()  # both made again, neither Ready yet: nobody else goes
    assert h.deleted() == ["web-3", "web-2"]
    h.set_phase("web-3")
    await h.sync()
    assert h.deleted() == ["web-3", "web-2", "web-1"]  # one unavailable: one more may go


async def test_on_delete_updates_a_pod_only_once_it_was_deleted() -> None:
    h = Harness(_sts(2, strategy={"type": "OnDelete"}))
    await h.settle(2)
    first = h.sts()["status"]["currentRevision"]
    template = copy.deepcopy(h.sts()["spec"]["template"])
    template["spec"]["containers"][0]["image"] = "navarch.test/demo:2"
    h.change_spec(template=template)
    for _ in range(3):
        await h.sync()
    assert h.deleted() == []
    second = h.sts()["status"]["updateRevision"]
    assert second != first
    await h.cluster.client.pods.delete("web-0", "default")
    h.cluster.sync_informers()
    await h.sync()
    assert h.pod("web-0")["metadata"]["labels"][HASH] == second
    assert h.pod("web-1")["metadata"]["labels"][HASH] == first


async def test_old_revisions_go_past_the_history_limit() -> None:
    h = Harness(_sts(1))
    h.change_spec(revisionHistoryLimit=1)
    await h.settle(1)
    for tag in ("2", "3", "4"):
        template = copy.deepcopy(h.sts()["spec"]["template"])
        template["spec"]["containers"][0]["image"] = f"navarch.test/demo:{tag}"
        h.change_spec(template=template)
        await h.settle(1)
    revisions = sorted(r["revision"] for r in h.cluster.stored("controllerrevisions"))
    assert revisions == [3, 4]


# --- the kind ------------------------------------------------------------------------------


def test_defaults_are_kubernetes() -> None:
    body = _sts(2)
    del (
        body["spec"]["podManagementPolicy"],
        body["spec"]["updateStrategy"],
        body["spec"]["replicas"],
    )
    spec = api.dump(api.load(body).obj)["spec"]
    assert spec["replicas"] == 1
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["revisionHistoryLimit"] == 10
    assert spec["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"template": {"metadata": {"labels": {"app": "other"}}, "spec": {}}},
            "spec.template.metadata.labels",
        ),
        ({"podManagementPolicy": "Random"}, "spec.podManagementPolicy"),
        (
            {"updateStrategy": {"type": "OnDelete", "rollingUpdate": {"partition": 1}}},
            "spec.updateStrategy.rollingUpdate",
        ),
        (
            {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": -1}}},
            "spec.updateStrategy.rollingUpdate.partition",
        ),
        (
            {"persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Keep"}},
            "spec.persistentVolumeClaimRetentionPolicy.whenDeleted",
        ),
        ({"serviceName": "Not_A_Label"}, "spec.serviceName"),
        (
            {
                "volumeClaimTemplates": [
                    {"metadata": {}, "spec": {"accessModes": ["ReadWriteOnce"]}}
                ]
            },
            "spec.volumeClaimTemplates[0].metadata.name",
        ),
        ({"ordinals": {"start": -1}}, "spec.ordinals.start"),
        (
            {
                "volumeClaimTemplates": [
                    {"metadata": {"name": "www"}, "spec": {"accessModes": ["Sometimes"]}}
                ]
            },
            "spec.volumeClaimTemplates[0].spec.accessModes",
        ),
    ],
)
def test_validation_names_the_field(change: dict[str, Any], field: str) -> None:
    body = _sts(1)
    body["spec"].update(change)
    with pytest.raises(InvalidObject) as raised:
        api.load(body)
    assert field in [e.path for e in raised.value.errors], raised.value


def test_a_mount_of_a_claim_template_is_a_known_volume() -> None:
    api.load(_sts(1))  # the template mounts "www", which only volumeClaimTemplates names


def test_only_some_spec_fields_may_change() -> None:
    strategy = StatefulSetStrategy()
    old = api.load(_sts(1)).obj
    allowed = _sts(5, strategy={"type": "OnDelete"}, image="navarch.test/demo:2")
    allowed["spec"]["minReadySeconds"] = 3
    allowed["spec"]["revisionHistoryLimit"] = 2  # Kubernetes lets it change too
    assert strategy.validate_update(api.load(allowed).obj, old) == []
    changed = _sts(1)
    changed["spec"]["serviceName"] = "other"
    errors = strategy.validate_update(api.load(changed).obj, old)
    assert [(e.path, e.message) for e in errors] == [
        (
            "spec",
            "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', "
            "'template', 'updateStrategy', 'revisionHistoryLimit', "
            "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        )
    ]
