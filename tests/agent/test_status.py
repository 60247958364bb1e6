"""Pod status as Kubernetes computes it, from runtime instances, waiting reasons and
probes (pure functions: no daemon)."""

from __future__ import annotations

import attrs
import pytest

from navarch import api
from navarch.agent.status import PodView, Waiting, phase, pod_status, qos_class
from navarch.runtime import ContainerState, ContainerStatus


def pod(restart_policy="Always", containers=("app",), **status):
    return api.load(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "uid": "u1"},
            "spec": {
                "restartPolicy": restart_policy,
                "nodeName": "n1",
                "containers": [{"name": n, "image": "127.0.0.1:5000/app:1"} for n in containers],
            },
            "status": status,
        }
    ).obj


def instance(name="app", state=ContainerState.RUNNING, attempt=0, exit_code=None, reason=""):
    return ContainerStatus(
        id=f"{name}-{attempt}",
        name=name,
        sandbox_id="s1",
        image="127.0.0.1:5000/app:1",
        state=state,
        attempt=attempt,
        started_at=1_700_000_000.0 + attempt,
        finished_at=1_700_000_005.0 + attempt if state == ContainerState.EXITED else None,
        exit_code=exit_code,
        reason=reason,
    )


def view(p, instances=None, waiting=None, ready=None):
    return PodView(
        pod=p,
        runtime_name="sim",
        instances=instances or {},
        waiting=waiting or {},
        ready=ready or {},
        started={},
        host_ip="127.0.0.1",
        pod_ip="",
        now=1_700_000_100.0,
    )


def test_nothing_started_yet_is_pending_container_creating():
    status = pod_status(view(pod()))
    assert status["phase"] == "Pending"
    (cs,) = status["containerStatuses"]
    assert cs["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert cs["restartCount"] == 0 and cs["ready"] is False
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and ready["reason"] == "ContainersNotReady"
    assert ready["message"] == "containers with unready status: [app]"


def test_running_is_ready_with_container_id_and_start_time():
    status = pod_status(view(pod(), {"app": [instance()]}))
    assert status["phase"] == "Running"
    (cs,) = status["containerStatuses"]
    assert cs["state"] == {"running": {"startedAt": "2023-11-14T22:13:20Z"}}
    assert cs["containerID"] == "sim://app-0" and cs["ready"] is True
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "Initialized": "True",
        "Ready": "True",
        "ContainersReady": "True",
        "PodScheduled": "True",
    }
    assert status["hostIP"] == "127.0.0.1" and status["qosClass"] == "BestEffort"


def test_readiness_probe_failing_keeps_ready_false_while_running():
    status = pod_status(view(pod(), {"app": [instance()]}, ready={"app": False}))
    assert status["phase"] == "Running"
    assert status["containerStatuses"][0]["ready"] is False


def test_crash_loop_back_off_shows_last_termination_and_restart_count():
    exited = instance(state=ContainerState.EXITED, attempt=3, exit_code=1)
    waiting = {"app": Waiting("CrashLoopBackOff", "back-off 40s restarting failed container")}
    status = pod_status(view(pod(), {"app": [exited]}, waiting))
    (cs,) = status["containerStatuses"]
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert cs["lastState"]["terminated"]["exitCode"] == 1
    assert cs["lastState"]["terminated"]["reason"] == "Error"
    assert cs["restartCount"] == 3
    assert status["phase"] == "Running"  # restartPolicy Always: it will run again


def test_image_pull_error_before_any_run_is_pending():
    waiting = {"app": Waiting("ErrImagePull", "manifest unknown")}
    status = pod_status(view(pod(), {}, waiting))
    assert status["phase"] == "Pending"
    assert status["containerStatuses"][0]["state"] == {
        "waiting": {"reason": "ErrImagePull", "message": "manifest unknown"}
    }


@pytest.mark.parametrize(
    ("policy", "codes", "expected"),
    [
        ("Never", [0], "Succeeded"),
        ("Never", [0, 1], "Failed"),
        ("OnFailure", [0, 0], "Succeeded"),
        ("OnFailure", [1], "Running"),
        ("Always", [0], "Running"),
    ],
)
def test_phase_of_finished_containers(policy, codes, expected):
    names = [f"c{i}" for i in range(len(codes))]
    instances = {
        n: [instance(n, ContainerState.EXITED, exit_code=code)]
        for n, code in zip(names, codes, strict=True)
    }
    status = pod_status(view(pod(policy, names), instances))
    assert status["phase"] == expected
    completed = {cs["state"]["terminated"]["reason"] for cs in status["containerStatuses"]}
    assert completed <= {"Completed", "Error"}


def test_oom_killed_reason_comes_from_the_runtime():
    exited = instance(state=ContainerState.EXITED, exit_code=137, reason="OOMKilled")
    status = pod_status(view(pod("Never"), {"app": [exited]}))
    assert status["containerStatuses"][0]["state"]["terminated"]["reason"] == "OOMKilled"
    assert status["phase"] == "Failed"


def test_a_finished_pod_stays_finished_and_not_ready():
    exited = instance(state=ContainerState.EXITED, exit_code=0)
    status = pod_status(view(pod("Never", phase="Succeeded"), {"app": [exited]}))
    assert status["phase"] == "Succeeded"
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and ready["reason"] == "PodCompleted"


def test_transition_times_are_kept_while_the_condition_holds():
    first = pod_status(view(pod(), {"app": [instance()]}))
    again = pod(conditions=first["conditions"], startTime=first["startTime"])
    later = attrs.evolve(view(again, {"app": [instance()]}), now=1_700_000_500.0)
    second = pod_status(later)
    assert second == first  # an hour later, same state: the same status, no write


def test_phase_waiting_never_ran_beats_running():
    statuses = [
        {"state": {"running": {}}, "lastState": {}},
        {"state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {}},
    ]
    assert phase("Always", statuses) == "Pending"


def test_qos_classes():
    def spec(resources):
        return api.load(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "p"},
                "spec": {"containers": [{"name": "a", "image": "i", "resources": resources}]},
            }
        ).obj.spec

    both = {"cpu": "1", "memory": "1Gi"}
    assert qos_class(spec({})) == "BestEffort"
    assert qos_class(spec({"limits": both, "requests": both})) == "Guaranteed"
    assert qos_class(spec({"limits": both})) == "Guaranteed"  # requests default to limits
    assert qos_class(spec({"requests": {"cpu": "1"}})) == "Burstable"
