"""Jobs with everything real (issue 23 item 4): an API server, ``navarch controllers``
(job, ttl-after-finished, garbage collector, pod termination), ``navarch scheduler``
and ``navarch agent --runtime sim --simulate 3``, driven with the real kubectl.

A Job of 6 completions at parallelism 2 whose every pod fails its first attempt
completes; an Indexed Job gives each pod its index; a Job whose pods all fail stops at
its backoffLimit; the controller manager killed mid-Job and started again counts every
finished pod exactly once; a finished Job with a TTL goes, with its pods."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from navarch import api
from navarch.api.batch_v1 import COMPLETION_INDEX_ANNOTATION, TRACKING_FINALIZER
from navarch.client import Client
from navarch.client.errors import NotFound
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.cluster import NO_ELECTION, Kubectl, scheduler_process, sim_agent_process
from navarch.testing.controllermanager import ControllerManagerProcess
from navarch.testing.daemon import started
from navarch.testing.images import BUSYBOX_IMAGE
from navarch.testing.waiting import eventually

DEADLINE = 120.0  # several daemons share a busy machine's 2 cores
CONTROLLERS = ["job", "ttl-after-finished", "garbage-collector", "pod-termination"]


def controller_manager(root: Any, server: ApiServerProcess) -> ControllerManagerProcess:
    return ControllerManagerProcess(
        root / "controllers",
        server.kubeconfig,
        settings={
            "leader_election": NO_ELECTION,
            "controllers": {
                "enabled": CONTROLLERS,
                # Kubernetes' 10 s first back-off, shortened so failures retry at once
                "options": {"job": {"backoff_base_seconds": 0.2, "backoff_max_seconds": 1}},
            },
        },
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("job-cluster")
    with ApiServerProcess(root / "apiserver") as server:
        agent = sim_agent_process(root, server, nodes=3, prefix="job-sim", lease_renew_seconds=1)
        agent.config["agent"]["backoff_initial_seconds"] = 1  # the kubelet's restart delay
        with started(
            scheduler_process(root, server),
            agent,
            controller_manager(root, server),
        ) as daemons:
            yield server, daemons


@pytest.fixture
def kubectl(cluster) -> Kubectl:
    server, _ = cluster
    return Kubectl(server.kubeconfig, timeout=60)


@pytest_asyncio.fixture
async def client(cluster) -> AsyncIterator[Client]:
    server, _ = cluster
    async with Client.from_kubeconfig(server.kubeconfig) as client:
        yield client


def job(name: str, script: str, *, annotations: dict[str, str] | None = None, **spec: Any) -> dict:
    restart = spec.pop("restart_policy", "Never")
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            **spec,
            "template": {
                "metadata": {"annotations": annotations or {}},
                "spec": {
                    "restartPolicy": restart,
                    "terminationGracePeriodSeconds": 1,
                    "containers": [
                        {"name": "main", "image": BUSYBOX_IMAGE, "command": ["sh", "-c", script]}
                    ],
                },
            },
        },
    }


def apply(kubectl: Kubectl, tmp_path: Any, body: dict) -> None:
    path = tmp_path / f"{body['metadata']['name']}.json"
    path.write_text(json.dumps(body))
    kubectl("apply", "-f", str(path))


async def job_status(client: Client, name: str) -> dict[str, Any]:
    return api.dump(await client.jobs.get(name, "default")).get("status") or {}


def has(status: dict[str, Any], kind: str) -> bool:
    return any(
        c.get("type") == kind and c.get("status") == "True" for c in status.get("conditions") or []
    )


async def job_pods(client: Client, name: str) -> list[Any]:
    listed = await client.pods.list(
        "default", label_selector=f"batch.kubernetes.io/job-name={name}"
    )
    return list(listed.items)


def phase(pod: Any) -> str:
    return (pod.status.phase if pod.status else None) or ""


async def test_six_completions_at_parallelism_two_with_failing_first_attempts(
    cluster, client: Client, kubectl: Kubectl, tmp_path
) -> None:
    _, daemons = cluster
    # every pod's first attempt exits 1 (restartPolicy OnFailure: restarted in place),
    # the second runs the script
    crash_first = {
        "sim.navarch.io/exit-after": "0.2",
        "sim.navarch.io/exit-code": "1",
        "sim.navarch.io/crash-until-attempt": "1",
    }
    apply(
        kubectl,
        tmp_path,
        job(
            "six",
            "echo done",
            annotations=crash_first,
            completions=6,
            parallelism=2,
            restart_policy="OnFailure",
        ),
    )
    most_active = 0

    async def complete() -> bool:
        nonlocal most_active
        status = await job_status(client, "six")
        most_active = max(most_active, int(status.get("active") or 0))
        return has(status, "Complete")

    await eventually(complete, "job six Complete", daemons, deadline=DEADLINE)
    status = await job_status(client, "six")
    assert status["succeeded"] == 6 and "failed" not in status
    assert has(status, "SuccessCriteriaMet") and status["completionTime"]
    assert most_active <= 2
    pods = await job_pods(client, "six")
    assert len(pods) == 6 and all(phase(p) == "Succeeded" for p in pods)
    assert all(
        (p.status.container_statuses[0].restart_count or 0) >= 1 for p in pods
    )  # each retried its failed first attempt
    assert all(TRACKING_FINALIZER not in (p.metadata.finalizers or ()) for p in pods)
    rows = kubectl("get", "jobs", "six", "--no-headers").split()
    assert rows[:3] == ["six", "Complete", "6/6"]
    wide = kubectl("get", "jobs", "six", "-o", "wide")
    assert "CONTAINERS" in wide and BUSYBOX_IMAGE in wide and "controller-uid=" in wide


async def test_an_indexed_job_gives_each_pod_its_index(
    cluster, client: Client, kubectl: Kubectl, tmp_path
) -> None:
    _, daemons = cluster
    apply(
        kubectl,
        tmp_path,
        job(
            "indexed",
            "echo index $JOB_COMPLETION_INDEX",
            completions=3,
            parallelism=3,
            completionMode="Indexed",
        ),
    )

    async def complete() -> bool:
        return has(await job_status(client, "indexed"), "Complete")

    await eventually(complete, "job indexed Complete", daemons, deadline=DEADLINE)
    status = await job_status(client, "indexed")
    assert status["completedIndexes"] == "0-2" and status["succeeded"] == 3
    for pod in await job_pods(client, "indexed"):
        index = pod.metadata.annotations[COMPLETION_INDEX_ANNOTATION]
        assert pod.spec.hostname == f"indexed-{index}"
        assert pod.metadata.labels[COMPLETION_INDEX_ANNOTATION] == index
        # (simulated nodes serve no logs: the env var's value is the unit tests' and
        # the containerd walk-through's)


async def test_a_job_whose_pods_fail_stops_at_its_backoff_limit(
    cluster, client: Client, kubectl: Kubectl, tmp_path
) -> None:
    _, daemons = cluster
    apply(kubectl, tmp_path, job("doomed", "exit 3", backoffLimit=2))

    async def failed() -> bool:
        return has(await job_status(client, "doomed"), "Failed")

    await eventually(failed, "job doomed Failed", daemons, deadline=DEADLINE)
    status = await job_status(client, "doomed")
    assert status["failed"] == 3  # the first try and two retries
    condition = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert condition["reason"] == "BackoffLimitExceeded"
    pods = await job_pods(client, "doomed")
    assert len(pods) == 3 and all(phase(p) == "Failed" for p in pods)
    assert kubectl("get", "jobs", "doomed", "--no-headers").split()[1] == "Failed"


async def test_finished_pods_are_counted_once_across_a_controller_manager_restart(
    cluster, client: Client, kubectl: Kubectl, tmp_path
) -> None:
    _, daemons = cluster
    manager = daemons[-1]
    assert isinstance(manager, ControllerManagerProcess)
    apply(kubectl, tmp_path, job("counted", "sleep 1", completions=8, parallelism=2))

    async def some_succeeded() -> bool:
        return int((await job_status(client, "counted")).get("succeeded") or 0) >= 2

    await eventually(some_succeeded, "2 pods of job counted succeeded", daemons, deadline=DEADLINE)
    # killed, not stopped: whatever it was doing is cut off
    assert manager.process is not None
    manager.process.kill()
    manager.process.wait(timeout=30)

    async def finished_while_down() -> bool:
        pods = await job_pods(client, "counted")
        return any(
            phase(p) == "Succeeded" and TRACKING_FINALIZER in (p.metadata.finalizers or ())
            for p in pods
        )

    # proof the restart has something to count: a pod finished while no controller ran
    await eventually(finished_while_down, "a pod finished while down", daemons, deadline=DEADLINE)
    manager.start()

    async def complete() -> bool:
        return has(await job_status(client, "counted"), "Complete")

    await eventually(complete, "job counted Complete", daemons, deadline=DEADLINE)
    status = await job_status(client, "counted")
    pods = await job_pods(client, "counted")
    succeeded = [p for p in pods if phase(p) == "Succeeded"]
    assert status["succeeded"] == 8 == len(succeeded)  # none counted twice, none missed
    assert "failed" not in status and not status["uncountedTerminatedPods"]
    assert all(TRACKING_FINALIZER not in (p.metadata.finalizers or ()) for p in pods)


async def test_a_finished_job_with_a_ttl_goes_with_its_pods(
    cluster, client: Client, kubectl: Kubectl, tmp_path
) -> None:
    _, daemons = cluster
    apply(kubectl, tmp_path, job("brief", "echo hi", ttlSecondsAfterFinished=1))

    async def gone() -> bool:
        try:
            await client.jobs.get("brief", "default")
        except NotFound:
            return not await job_pods(client, "brief")
        return False

    await eventually(
        gone, "job brief and its pods deleted after the TTL", daemons, deadline=DEADLINE
    )


async def test_suspend_stops_the_pods_and_resume_starts_them_again(
    cluster, client: Client, kubectl: Kubectl, tmp_path
) -> None:
    _, daemons = cluster
    apply(kubectl, tmp_path, job("pausable", "sleep 600", completions=2, parallelism=2))

    async def active(count: int) -> bool:
        status = await job_status(client, "pausable")
        running = [p for p in await job_pods(client, "pausable") if phase(p) == "Running"]
        return int(status.get("active") or 0) == count and len(running) == count

    await eventually(
        lambda: active(2), "2 pods of job pausable Running", daemons, deadline=DEADLINE
    )
    first = {p.name for p in await job_pods(client, "pausable")}
    kubectl("patch", "job", "pausable", "--type=merge", "-p", '{"spec":{"suspend":true}}')

    async def suspended() -> bool:
        status = await job_status(client, "pausable")
        return has(status, "Suspended") and not await job_pods(client, "pausable")

    await eventually(suspended, "job pausable Suspended, its pods gone", daemons, deadline=DEADLINE)
    status = await job_status(client, "pausable")
    assert "failed" not in status and "active" not in status  # stopped, not failed
    assert kubectl("get", "job", "pausable", "--no-headers").split()[1] == "Suspended"

    kubectl("patch", "job", "pausable", "--type=merge", "-p", '{"spec":{"suspend":false}}')
    await eventually(lambda: active(2), "job pausable running again", daemons, deadline=DEADLINE)
    status = await job_status(client, "pausable")
    resumed = next(c for c in status["conditions"] if c["type"] == "Suspended")
    assert (resumed["status"], resumed["reason"]) == ("False", "JobResumed")
    assert not first & {p.name for p in await job_pods(client, "pausable")}  # new pods
    kubectl("delete", "job", "pausable")


async def test_an_active_deadline_fails_a_job_and_stops_its_pods(
    cluster, client: Client, kubectl: Kubectl, tmp_path
) -> None:
    _, daemons = cluster
    apply(kubectl, tmp_path, job("slow", "sleep 600", activeDeadlineSeconds=2))

    async def failed() -> bool:
        status = await job_status(client, "slow")
        return has(status, "Failed") and not any(
            phase(p) == "Running" for p in await job_pods(client, "slow")
        )

    await eventually(failed, "job slow Failed, its pod stopped", daemons, deadline=DEADLINE)
    status = await job_status(client, "slow")
    condition = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert condition["reason"] == "DeadlineExceeded"
    assert has(status, "FailureTarget")


async def test_the_pod_failure_policy_fails_a_job_on_its_exit_code(
    cluster, client: Client, kubectl: Kubectl, tmp_path
) -> None:
    _, daemons = cluster
    policy = {
        "rules": [
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
            {
                "action": "FailJob",
                "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]},
            },
        ]
    }
    apply(
        kubectl,
        tmp_path,
        job("picky", "exit 42", podFailurePolicy=policy, podReplacementPolicy="Failed"),
    )

    async def failed() -> bool:
        return has(await job_status(client, "picky"), "Failed")

    await eventually(failed, "job picky Failed", daemons, deadline=DEADLINE)
    status = await job_status(client, "picky")
    condition = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert condition["reason"] == "PodFailurePolicy"
    assert "exit code 42 matching FailJob rule at index 1" in condition["message"]
    assert status["failed"] == 1  # failed at once: backoffLimit 6 never came into it
    assert len(await job_pods(client, "picky")) == 1  # and never replaced


async def test_a_pod_killed_mid_run_is_counted_failed_and_replaced(
    cluster, client: Client, kubectl: Kubectl, tmp_path
) -> None:
    """restartPolicy Never: a pod deleted while it runs counts as one failure
    (podReplacementPolicy TerminatingOrFailed) and a new pod takes its place."""
    _, daemons = cluster
    apply(kubectl, tmp_path, job("killed", "sleep 2", completions=6, parallelism=2))

    async def running() -> list[Any]:
        return [p for p in await job_pods(client, "killed") if phase(p) == "Running"]

    await eventually(running, "a pod of job killed Running", daemons, deadline=DEADLINE)
    victim = (await running())[0]
    kubectl("delete", "pod", victim.name, "--wait=false")

    async def complete() -> bool:
        return has(await job_status(client, "killed"), "Complete")

    await eventually(complete, "job killed Complete", daemons, deadline=DEADLINE)
    status = await job_status(client, "killed")
    assert (status["succeeded"], status["failed"]) == (6, 1)
    names = {p.name for p in await job_pods(client, "killed")}
    assert victim.name not in names  # its finalizer released, the pod removed
    assert len(names) == 6
