"""The Job controller's sync against a fake cluster (issue 23 item 4): pods made from
the template with the tracking finalizer, finished pods counted exactly once through
``uncountedTerminatedPods`` (also when the controller stopped half-way), Indexed
Jobs, backoffLimit with the exponential back-off, activeDeadlineSeconds, suspend and
resume, the pod failure policy, and the TTL-after-finished controller; the Job kinds'
defaults and validation on the API server."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from navarch import api
from navarch.api.batch_v1 import (
    COMPLETION_INDEX_ANNOTATION,
    CONTROLLER_UID_LABEL,
    TRACKING_FINALIZER,
)
from navarch.api.timefmt import rfc3339
from navarch.client.errors import ApiException
from navarch.controllers.job import JobController, JobOptions
from navarch.controllers.ttlafterfinished import TTLAfterFinishedController
from navarch.resources.core.batch import JOBS
from navarch.testing.controllers import FakeCluster

IMAGE = "127.0.0.1:5000/job:1"
T0 = 1_700_000_000.0


class Clock:
    def __init__(self, now: float = T0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def job_body(name: str = "work", *, check: bool = True, **spec: Any) -> dict[str, Any]:
    """A Job as the API server stores it: defaulted, selector and labels generated
    (``check``: and valid)."""
    restart = spec.pop("restart_policy", "Never")
    body: dict[str, Any] = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "default", "uid": str(uuid.uuid4())},
        "spec": {
            **spec,
            "template": {
                "spec": {
                    "restartPolicy": restart,
                    "containers": [{"name": "main", "image": IMAGE}],
                }
            },
        },
    }
    JOBS.strategy.default(body)
    JOBS.strategy.prepare_for_create(body)
    body["metadata"]["uid"] = body["metadata"].get("uid") or str(uuid.uuid4())
    if check:
        assert not api.load(copy.deepcopy(body)).ignored
    return body


def make(cluster: FakeCluster, clock: Clock, **options: Any) -> JobController:
    opts = JobOptions(**{"backoff_base_seconds": 10.0, **options})
    return JobController(cluster.context("job", opts), clock=clock)


def pods(cluster: FakeCluster) -> list[dict[str, Any]]:
    return cluster.stored("pods", "default")


def finish(
    cluster: FakeCluster,
    pod: dict[str, Any],
    phase: str,
    exit_code: int = 0,
    conditions: list[dict[str, Any]] | None = None,
) -> None:
    """The agent's report of a finished pod."""
    stored = cluster.get("pods", pod["metadata"]["name"])
    assert stored is not None
    stored["status"] = {
        "phase": phase,
        "conditions": conditions or [],
        "containerStatuses": [
            {
                "name": "main",
                "restartCount": 0,
                "state": {"terminated": {"exitCode": exit_code, "finishedAt": rfc3339(T0)}},
            }
        ],
    }
    stored["metadata"]["resourceVersion"] = str(int(stored["metadata"]["resourceVersion"]) + 1000)


def settle(cluster: FakeCluster) -> None:
    """What the API server and the agent do meanwhile: a deleted pod whose finalizers are
    gone is removed (its agent confirmed it); then the caches catch up."""
    for key, obj in list(cluster.objects.items()):
        meta = obj["metadata"]
        if key[0] == "pods" and meta.get("deletionTimestamp") and not meta.get("finalizers"):
            del cluster.objects[key]
    cluster.sync_informers()


def set_suspend(cluster: FakeCluster, value: bool) -> None:
    stored = cluster.get("jobs", "work")
    assert stored is not None
    stored["spec"]["suspend"] = value
    stored["metadata"]["resourceVersion"] += "0"


def status(cluster: FakeCluster, name: str = "work") -> dict[str, Any]:
    job = cluster.get("jobs", name)
    assert job is not None
    return job.get("status") or {}


def condition(cluster: FakeCluster, kind: str, name: str = "work") -> dict[str, Any] | None:
    for c in status(cluster, name).get("conditions") or []:
        if c["type"] == kind:
            return c  # type: ignore[no-any-return]
    return None


async def sync(controller: JobController, cluster: FakeCluster, name: str = "work") -> float | None:
    again = await controller.sync(f"default/{name}")
    settle(cluster)
    return again


# --- the API server's side: defaults and validation -------------------------------------


def test_a_job_gets_kubernetes_defaults_and_a_generated_selector() -> None:
    body = job_body(parallelism=2)
    spec = body["spec"]
    uid = body["metadata"]["uid"]
    assert "completions" not in spec and spec["parallelism"] == 2  # a work queue
    assert spec["backoffLimit"] == 6
    assert spec["completionMode"] == "NonIndexed"
    assert spec["suspend"] is False
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    assert spec["selector"] == {"matchLabels": {CONTROLLER_UID_LABEL: uid}}
    labels = spec["template"]["metadata"]["labels"]
    assert labels[CONTROLLER_UID_LABEL] == uid and labels["controller-uid"] == uid
    assert labels["batch.kubernetes.io/job-name"] == "work" and labels["job-name"] == "work"
    both = job_body()["spec"]
    assert (both["completions"], both["parallelism"]) == (1, 1)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"restart_policy": "Always"}, "spec.template.spec.restartPolicy"),
        ({"completionMode": "Indexed", "parallelism": 2}, "spec.completions"),
        ({"backoffLimit": -1}, "spec.backoffLimit"),
        ({"activeDeadlineSeconds": 0}, "spec.activeDeadlineSeconds"),
        (
            {"podFailurePolicy": {"rules": [{"action": "FailJob"}]}},
            "spec.podFailurePolicy.rules[0]",
        ),
        (
            {
                "podFailurePolicy": {
                    "rules": [
                        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [1]}}
                    ]
                },
                "restart_policy": "OnFailure",
            },
            "spec.template.spec.restartPolicy",
        ),
    ],
)
def test_a_bad_job_is_refused_naming_the_field(change: dict[str, Any], field: str) -> None:
    body = job_body(check=False, **change)
    with pytest.raises(api.InvalidObject) as caught:
        api.load(body)
    assert field in [e.path for e in caught.value.errors], caught.value.errors


# --- pods, counting, completion ---------------------------------------------------------


async def test_pods_are_made_from_the_template_and_counted_once() -> None:
    cluster, clock = FakeCluster(), Clock()
    cluster.add(job_body(completions=3, parallelism=2))
    controller = make(cluster, clock)
    await sync(controller, cluster)
    made = pods(cluster)
    assert len(made) == 2
    for pod in made:
        assert TRACKING_FINALIZER in pod["metadata"]["finalizers"]
        ref = pod["metadata"]["ownerReferences"][0]
        assert (ref["kind"], ref["controller"]) == ("Job", True)
        assert pod["spec"]["restartPolicy"] == "Never"
        assert pod["metadata"]["labels"]["job-name"] == "work"
    assert status(cluster)["active"] == 2 and status(cluster)["startTime"]

    finish(cluster, made[0], "Succeeded")
    settle(cluster)
    await sync(controller, cluster)
    st = status(cluster)
    assert st["succeeded"] == 1 and not st["uncountedTerminatedPods"]
    first = cluster.get("pods", made[0]["metadata"]["name"])
    assert first is not None and TRACKING_FINALIZER not in (
        first["metadata"].get("finalizers") or []
    )
    # a sync on the same caches again counts nothing twice
    await sync(controller, cluster)
    assert status(cluster)["succeeded"] == 1
    assert (
        len([p for p in pods(cluster) if (p.get("status") or {}).get("phase") != "Succeeded"]) == 2
    )

    for pod in pods(cluster):
        if (pod.get("status") or {}).get("phase") != "Succeeded":
            finish(cluster, pod, "Succeeded")
    settle(cluster)
    await sync(controller, cluster)
    await sync(controller, cluster)
    st = status(cluster)
    assert st["succeeded"] == 3 and "active" not in st
    assert condition(cluster, "SuccessCriteriaMet")["reason"] == "CompletionsReached"  # type: ignore[index]
    complete = condition(cluster, "Complete")
    assert complete is not None and complete["status"] == "True"
    assert st["completionTime"]
    assert len(pods(cluster)) == 3


async def test_a_work_queue_job_completes_once_one_pod_succeeded_and_the_rest_ended() -> None:
    cluster, clock = FakeCluster(), Clock()
    cluster.add(job_body(completions=1, parallelism=2))
    controller = make(cluster, clock)
    await sync(controller, cluster)
    assert len(pods(cluster)) == 1  # completions 1: one pod however parallel
    cluster.add(job_body("wide", parallelism=2))  # a work queue: no completions
    await sync(controller, cluster, "wide")
    first, second = [p for p in pods(cluster) if p["metadata"]["name"].startswith("wide-")]
    finish(cluster, first, "Succeeded")
    settle(cluster)
    await sync(controller, cluster, "wide")
    # a work queue is done once one pod succeeded and the others ended by themselves
    assert condition(cluster, "SuccessCriteriaMet", "wide") is None
    stored = cluster.get("pods", second["metadata"]["name"])
    assert stored is not None and not stored["metadata"].get("deletionTimestamp")
    finish(cluster, second, "Succeeded")
    settle(cluster)
    await sync(controller, cluster, "wide")
    await sync(controller, cluster, "wide")
    assert condition(cluster, "Complete", "wide") is not None
    assert status(cluster, "wide")["succeeded"] == 2 and "failed" not in status(cluster, "wide")


async def test_a_controller_stopped_between_recording_and_counting_counts_each_pod_once() -> None:
    """The first controller records the finished pods as uncounted, then cannot remove
    their finalizers (it stops); a new controller (empty memory, fresh caches) removes
    them and counts each exactly once."""
    cluster, clock = FakeCluster(), Clock()
    cluster.add(job_body(completions=2, parallelism=2))
    first = make(cluster, clock)
    await sync(first, cluster)
    for pod in pods(cluster):
        finish(cluster, pod, "Succeeded")
    settle(cluster)

    async def refuse(*args: Any, **kwargs: Any) -> Any:
        raise ApiException(500, {"message": "the controller stopped here"})

    original = cluster.client.pods.patch
    cluster.client.pods.patch = refuse  # type: ignore[method-assign]
    with pytest.raises(Exception, match="stopped here"):
        await first.sync("default/work")
    cluster.client.pods.patch = original  # type: ignore[method-assign]
    recorded = status(cluster)["uncountedTerminatedPods"]
    assert len(recorded["succeeded"]) == 2 and "succeeded" not in status(cluster)

    second = make(cluster, clock)  # a restarted controller manager
    settle(cluster)
    await sync(second, cluster)
    await sync(second, cluster)
    st = status(cluster)
    assert st["succeeded"] == 2 and not st["uncountedTerminatedPods"]
    assert condition(cluster, "Complete") is not None
    assert len(pods(cluster)) == 2  # no replacement for a pod thought missing


async def test_an_indexed_job_gives_each_pod_its_index() -> None:
    cluster, clock = FakeCluster(), Clock()
    cluster.add(job_body(completions=3, parallelism=2, completionMode="Indexed"))
    controller = make(cluster, clock)
    await sync(controller, cluster)
    made = sorted(
        pods(cluster), key=lambda p: p["metadata"]["annotations"][COMPLETION_INDEX_ANNOTATION]
    )
    assert [p["metadata"]["annotations"][COMPLETION_INDEX_ANNOTATION] for p in made] == ["0", "1"]
    for index, pod in enumerate(made):
        assert pod["metadata"]["labels"][COMPLETION_INDEX_ANNOTATION] == str(index)
        assert pod["metadata"]["name"].startswith(f"work-{index}-")
        assert pod["spec"]["hostname"] == f"work-{index}"
        env = pod["spec"]["containers"][0]["env"][0]
        assert env["name"] == "JOB_COMPLETION_INDEX"
        assert COMPLETION_INDEX_ANNOTATION in env["valueFrom"]["fieldRef"]["fieldPath"]
    finish(cluster, made[1], "Succeeded")
    settle(cluster)
    await sync(controller, cluster)
    await sync(controller, cluster)
    assert status(cluster)["completedIndexes"] == "1"
    indexes = sorted(
        p["metadata"]["annotations"][COMPLETION_INDEX_ANNOTATION]
        for p in pods(cluster)
        if (p.get("status") or {}).get("phase") != "Succeeded"
    )
    assert indexes == ["0", "2"]  # index 1 is done: the next pod takes 2
    for pod in pods(cluster):
        if (pod.get("status") or {}).get("phase") != "Succeeded":
            finish(cluster, pod, "Succeeded")
    settle(cluster)
    await sync(controller, cluster)
    await sync(controller, cluster)
    assert status(cluster)["completedIndexes"] == "0-2" and status(cluster)["succeeded"] == 3
    assert condition(cluster, "Complete") is not None


async def test_an_elastic_indexed_job_is_scaled_by_completions_and_parallelism() -> None:
    """Kubernetes 1.31 lets an Indexed Job's completions change together with
    parallelism (the API refused any completions change): scaled down, the pods of the
    indexes now out of range go; scaled up, the new indexes get pods; it completes once
    every index below the new completions succeeded."""
    cluster, clock = FakeCluster(), Clock()
    cluster.add(job_body(completions=4, parallelism=4, completionMode="Indexed"))
    old = api.load(copy.deepcopy(cluster.get("jobs", "work"))).obj
    controller = make(cluster, clock)
    await sync(controller, cluster)
    assert len(pods(cluster)) == 4

    def scale(to: int) -> None:
        stored = cluster.get("jobs", "work")
        assert stored is not None
        stored["spec"]["completions"] = stored["spec"]["parallelism"] = to
        stored["metadata"]["resourceVersion"] += "0"
        assert JOBS.strategy.validate_update(api.load(copy.deepcopy(stored)).obj, old) == []

    def indexes() -> list[str]:
        return sorted(
            p["metadata"]["annotations"][COMPLETION_INDEX_ANNOTATION]
            for p in pods(cluster)
            if not p["metadata"].get("deletionTimestamp")
        )

    scale(2)
    settle(cluster)
    await sync(controller, cluster)
    assert indexes() == ["0", "1"]
    await sync(controller, cluster)  # the deleted pods seen going
    # pods of indexes no longer wanted are no failures (Kubernetes counts failures of
    # indexes below completions only): a scale-down never trips the backoff limit
    assert "failed" not in status(cluster), status(cluster)
    scale(3)
    settle(cluster)
    await sync(controller, cluster)
    assert indexes() == ["0", "1", "2"]
    for pod in pods(cluster):
        finish(cluster, pod, "Succeeded")
    settle(cluster)
    await sync(controller, cluster)
    await sync(controller, cluster)
    assert status(cluster)["completedIndexes"] == "0-2" and status(cluster)["succeeded"] == 3
    assert condition(cluster, "Complete") is not None


def test_only_an_indexed_jobs_completions_change_and_only_with_parallelism() -> None:
    for spec, to, allowed in (
        ({"completions": 4, "parallelism": 4, "completionMode": "Indexed"}, (6, 6), True),
        ({"completions": 4, "parallelism": 4, "completionMode": "Indexed"}, (6, 4), False),
        ({"completions": 4, "parallelism": 4}, (6, 6), False),
    ):
        old = job_body(**spec)
        new = copy.deepcopy(old)
        new["spec"]["completions"], new["spec"]["parallelism"] = to
        errors = JOBS.strategy.validate_update(
            api.load(copy.deepcopy(new)).obj, api.load(copy.deepcopy(old)).obj
        )
        assert (errors == []) is allowed, (spec, to, errors)
        if not allowed:
            assert [e.path for e in errors] == ["spec.completions"]


# --- failures ---------------------------------------------------------------------------


async def test_failed_pods_are_replaced_after_a_doubling_back_off_then_the_limit_fails_the_job() -> (
    None
):
    cluster, clock = FakeCluster(), Clock()
    cluster.add(job_body(backoffLimit=1))
    controller = make(cluster, clock)
    await sync(controller, cluster)
    finish(cluster, pods(cluster)[0], "Failed", exit_code=1)
    settle(cluster)
    again = await sync(controller, cluster)
    assert status(cluster)["failed"] == 1
    assert again is not None and 9 <= again <= 10  # the first back-off: 10 s
    assert len(pods(cluster)) == 1  # not replaced yet
    # a restarted controller keeps the back-off: it is read from the pods
    controller = make(cluster, clock)
    clock.now += 5
    again = await sync(controller, cluster)
    assert again is not None and 4 <= again <= 5 and len(pods(cluster)) == 1
    clock.now += 5
    await sync(controller, cluster)
    assert len(pods(cluster)) == 2
    retry = next(p for p in pods(cluster) if not (p.get("status") or {}).get("phase"))
    finish(cluster, retry, "Failed", exit_code=1)
    settle(cluster)
    await sync(controller, cluster)
    await sync(controller, cluster)
    st = status(cluster)
    assert st["failed"] == 2
    target = condition(cluster, "FailureTarget")
    failed = condition(cluster, "Failed")
    assert target is not None and target["reason"] == "BackoffLimitExceeded"
    assert failed is not None and failed["reason"] == "BackoffLimitExceeded"
    assert failed["message"] == "Job has reached the specified backoff limit"
    assert len(pods(cluster)) == 2


async def test_an_active_deadline_fails_the_job_and_deletes_its_pods() -> None:
    cluster, clock = FakeCluster(), Clock()
    cluster.add(job_body(activeDeadlineSeconds=30, parallelism=2, completions=4))
    controller = make(cluster, clock)
    again = await sync(controller, cluster)
    assert again is not None and again <= 30
    clock.now += 31
    await sync(controller, cluster)
    assert condition(cluster, "FailureTarget")["reason"] == "DeadlineExceeded"  # type: ignore[index]
    assert all(p["metadata"].get("deletionTimestamp") for p in pods(cluster))
    for pod in pods(cluster):
        finish(cluster, pod, "Failed", exit_code=143)
    settle(cluster)
    await sync(controller, cluster)
    await sync(controller, cluster)
    failed = condition(cluster, "Failed")
    assert failed is not None and failed["reason"] == "DeadlineExceeded"
    assert failed["message"] == "Job was active longer than specified deadline"
    assert pods(cluster) == []  # deleted and their finalizers released


def _policy(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"podFailurePolicy": {"rules": list(rules)}}


async def test_the_pod_failure_policy_fails_the_job_on_an_exit_code() -> None:
    cluster, clock = FakeCluster(), Clock()
    body = job_body(
        completions=2,
        parallelism=2,
        **_policy({"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}),
    )
    cluster.add(body)
    controller = make(cluster, clock)
    await sync(controller, cluster)
    victim, other = pods(cluster)
    finish(cluster, victim, "Failed", exit_code=42)
    settle(cluster)
    await sync(controller, cluster)
    target = condition(cluster, "FailureTarget")
    assert target is not None and target["reason"] == "PodFailurePolicy"
    assert "exit code 42 matching FailJob rule at index 0" in target["message"]
    assert cluster.get("pods", other["metadata"]["name"])["metadata"].get("deletionTimestamp")  # type: ignore[index]
    finish(cluster, other, "Failed", exit_code=143)
    settle(cluster)
    await sync(controller, cluster)
    await sync(controller, cluster)
    assert condition(cluster, "Failed")["reason"] == "PodFailurePolicy"  # type: ignore[index]


async def test_the_pod_failure_policy_ignores_a_disruption() -> None:
    cluster, clock = FakeCluster(), Clock()
    cluster.add(
        job_body(
            backoffLimit=0,
            **_policy({"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}),
        )
    )
    controller = make(cluster, clock)
    await sync(controller, cluster)
    disrupted = [{"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI"}]
    finish(cluster, pods(cluster)[0], "Failed", exit_code=137, conditions=disrupted)
    settle(cluster)
    await sync(controller, cluster)
    await sync(controller, cluster)
    assert "failed" not in status(cluster)  # not counted: backoffLimit 0 not reached
    assert condition(cluster, "FailureTarget") is None
    live = [p for p in pods(cluster) if not (p.get("status") or {}).get("phase")]
    assert len(live) == 1  # replaced at once (no failure counted, no back-off)


async def test_on_failure_restarts_count_towards_the_backoff_limit() -> None:
    cluster, clock = FakeCluster(), Clock()
    cluster.add(job_body(backoffLimit=2, restart_policy="OnFailure"))
    controller = make(cluster, clock)
    await sync(controller, cluster)
    pod = cluster.get("pods", pods(cluster)[0]["metadata"]["name"])
    assert pod is not None
    pod["status"] = {"phase": "Running", "containerStatuses": [{"name": "main", "restartCount": 2}]}
    settle(cluster)
    await sync(controller, cluster)
    assert condition(cluster, "FailureTarget")["reason"] == "BackoffLimitExceeded"  # type: ignore[index]


# --- suspend and resume -------------------------------------------------------------------


async def test_suspending_deletes_the_pods_and_resuming_makes_them_again() -> None:
    cluster, clock = FakeCluster(), Clock()
    cluster.add(job_body(completions=4, parallelism=2))
    controller = make(cluster, clock)
    await sync(controller, cluster)
    assert len(pods(cluster)) == 2
    set_suspend(cluster, True)
    settle(cluster)
    await sync(controller, cluster)
    suspended = condition(cluster, "Suspended")
    assert suspended is not None and (suspended["status"], suspended["reason"]) == (
        "True",
        "JobSuspended",
    )
    for pod in pods(cluster):
        assert pod["metadata"].get("deletionTimestamp")
        finish(cluster, pod, "Failed", exit_code=143)
    settle(cluster)
    await sync(controller, cluster)
    assert pods(cluster) == [] and "failed" not in status(cluster)  # not failures

    set_suspend(cluster, False)
    clock.now += 100
    settle(cluster)
    await sync(controller, cluster)
    resumed = condition(cluster, "Suspended")
    assert resumed is not None and (resumed["status"], resumed["reason"]) == ("False", "JobResumed")
    assert status(cluster)["startTime"] == rfc3339(clock.now)
    assert len(pods(cluster)) == 2


# --- TTL after finished ---------------------------------------------------------------------


async def test_a_finished_job_is_deleted_after_its_ttl() -> None:
    cluster, clock = FakeCluster(), Clock()
    body = job_body(ttlSecondsAfterFinished=60)
    body["status"] = {
        "conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": rfc3339(T0)}]
    }
    cluster.add(body)
    controller = TTLAfterFinishedController(cluster.context("ttl-after-finished"), clock=clock)
    again = await controller.sync("default/work")
    assert again == 60 and cluster.get("jobs", "work") is not None
    clock.now += 60
    assert await controller.sync("default/work") is None
    assert ("delete", "default", "work") in cluster.verbs("jobs")
    deleted = [a for a in cluster.actions if a.verb == "delete" and a.resource == "jobs"]
    # Kubernetes' TTL controller deletes in the foreground: the Job outlives its pods
    assert deleted[0].body["propagation"] == "Foreground"


async def test_a_sync_on_a_copy_older_than_its_own_last_write_waits_for_the_cache() -> None:
    """The Job's status was written (say, Failed); a sync that still sees the copy
    from before would decide again (a replacement pod for a finished Job): it waits."""
    cluster, clock = FakeCluster(), Clock()
    cluster.add(job_body())
    controller = make(cluster, clock)
    before = controller.jobs.get("default/work")
    await sync(controller, cluster)
    made = len(cluster.actions)
    controller.jobs._store("default/work", before)  # the cache lags behind the write
    assert await controller.sync("default/work") is not None
    assert len(cluster.actions) == made  # nothing done on the stale copy
    settle(cluster)  # the write's event arrives
    await controller.sync("default/work")
    assert len(pods(cluster)) == 1


async def test_a_manual_selector_job_adopts_matching_orphans_and_releases_strays() -> None:
    """A Job made again with ``manualSelector`` (after ``kubectl delete
    --cascade=orphan``) takes the old finished pod back — owner and tracking finalizer
    added, counted — instead of running it again; a pod relabelled out is released."""
    cluster, clock = FakeCluster(), Clock()
    body = job_body(check=False, completions=2, parallelism=1, manualSelector=True)
    body["spec"]["selector"] = {"matchLabels": {"app": "batch"}}
    body["spec"]["template"]["metadata"] = {"labels": {"app": "batch"}}
    api.load(copy.deepcopy(body))  # valid
    old = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "old", "namespace": "default", "labels": {"app": "batch"}},
        "spec": {"containers": [{"name": "main", "image": IMAGE}]},
        "status": {"phase": "Succeeded"},
    }
    other = copy.deepcopy(old)
    other["metadata"].update(name="other", labels={"app": "else"})
    cluster.add(body, old, other)
    controller = make(cluster, clock)
    await sync(controller, cluster)
    await sync(controller, cluster)
    adopted = cluster.get("pods", "old")
    assert adopted is not None
    assert adopted["metadata"]["ownerReferences"][0]["kind"] == "Job"
    assert status(cluster)["succeeded"] == 1  # counted, its finalizer then removed
    assert TRACKING_FINALIZER not in (adopted["metadata"].get("finalizers") or [])
    assert "ownerReferences" not in cluster.get("pods", "other")["metadata"]  # type: ignore[index]
    made = [p for p in pods(cluster) if p["metadata"]["name"] not in ("old", "other")]
    assert len(made) == 1  # only the one completion still missing

    # relabelled out of the selector: released (owner and finalizer removed)
    stored = cluster.get("pods", made[0]["metadata"]["name"])
    assert stored is not None
    stored["metadata"]["labels"] = {"app": "elsewhere"}
    stored["metadata"]["resourceVersion"] += "0"
    settle(cluster)
    await sync(controller, cluster)
    released = cluster.get("pods", made[0]["metadata"]["name"])
    assert released is not None and not released["metadata"].get("ownerReferences")
    assert TRACKING_FINALIZER not in (released["metadata"].get("finalizers") or [])


async def test_a_failjob_pod_wins_over_a_success_seen_in_the_same_sync() -> None:
    """Kubernetes judges failures first: a work queue whose one pod succeeded while the
    other failed with a FailJob exit code fails."""
    cluster, clock = FakeCluster(), Clock()
    cluster.add(
        job_body(
            parallelism=2,
            **_policy({"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}),
        )
    )
    controller = make(cluster, clock)
    await sync(controller, cluster)
    done, broken = pods(cluster)
    finish(cluster, done, "Succeeded")
    finish(cluster, broken, "Failed", exit_code=42)
    settle(cluster)
    await sync(controller, cluster)
    await sync(controller, cluster)
    assert condition(cluster, "SuccessCriteriaMet") is None
    failed = condition(cluster, "Failed")
    assert failed is not None and failed["reason"] == "PodFailurePolicy"
