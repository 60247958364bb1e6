"""The end-to-end benchmark's bookkeeping (bench/e2e_swarm.py, bench/e2e_navarch.py),
without daemons: which Swarm tasks count as running, and what the pod watch makes of
the bench Deployment's pods (Running, where, in which container, when)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The benchmarks are scripts importing their siblings by name (bench/ is no package).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from e2e_navarch import APP, ReplicaView, deployment
from e2e_swarm import running_containers, service_spec


def task(state: str, container: str, desired: str = "running") -> dict:
    return {
        "DesiredState": desired,
        "Status": {"State": state, "ContainerStatus": {"ContainerID": container}},
    }


def test_only_tasks_meant_to_run_and_running_count():
    tasks = [
        task("running", "a"),
        task("starting", "b"),
        task("running", "c", desired="shutdown"),  # being replaced
        task("failed", "d"),
        {"DesiredState": "running", "Status": {"State": "running"}},  # no container yet
    ]
    assert running_containers(tasks) == {"a"}


def test_service_spec_is_the_cli_flags():
    spec = service_spec("navarch.test/busybox:1", ["sh", "-c", "x"], 20, "net-id")
    assert spec["Mode"] == {"Replicated": {"Replicas": 20}}
    assert spec["TaskTemplate"]["Networks"] == [{"Target": "net-id"}]
    assert spec["TaskTemplate"]["ContainerSpec"]["Image"] == "navarch.test/busybox:1"


def pod(name: str, *, node: str = "", phase: str = "Pending", container: str = "", **meta):
    statuses = []
    if container:
        statuses = [{"containerID": container, "state": {"running": {}}}]
    return {
        "metadata": {"name": name, "labels": {"app": APP}, **meta},
        "spec": {"nodeName": node},
        "status": {"phase": phase, "containerStatuses": statuses},
    }


def test_replica_view_counts_running_pods_off_dead_nodes_and_not_terminating():
    view = ReplicaView()
    view.apply("ADDED", pod("a", node="n1", phase="Running", container="docker://1"))
    view.apply("ADDED", pod("b", node="n2", phase="Running", container="docker://2"))
    view.apply("ADDED", pod("c", node="n2", phase="Running", deletionTimestamp="now"))
    view.apply("ADDED", pod("d", node="n1"))
    other = pod("warm-up", node="n1", phase="Running")
    other["metadata"]["labels"] = {}
    view.apply("ADDED", other)  # not the Deployment's
    assert sorted(view.running()) == ["a", "b"]
    assert view.running(frozenset({"n2"})) == ["a"]
    assert view.pods["a"].container_id == "docker://1"
    view.apply("DELETED", pod("a"))
    assert "a" not in view.pods


def test_replica_view_keeps_when_a_pod_was_first_bound_and_running():
    view = ReplicaView()
    view.apply("ADDED", pod("a"))
    first = view.pods["a"]
    assert first.bound is None and first.running_since is None
    view.apply("MODIFIED", pod("a", node="n1"))
    bound = view.pods["a"].bound
    view.apply("MODIFIED", pod("a", node="n1", phase="Running", container="docker://1"))
    running = view.pods["a"].running_since
    assert bound is not None and running is not None and first.seen <= bound <= running
    view.apply("MODIFIED", pod("a", node="n1", phase="Running", container="docker://2"))
    again = view.pods["a"]
    assert (again.seen, again.bound, again.running_since) == (first.seen, bound, running)
    assert again.container_id == "docker://2"
    created, bound_at, running_at = view.stages(first.seen)
    assert created == 0.0 and 0.0 <= bound_at <= running_at


def test_deployment_runs_on_the_host_network_and_never_pulls():
    body = deployment("navarch.test/busybox:1", ["sleep", "3600"], 20)
    template = body["spec"]["template"]
    assert body["spec"]["replicas"] == 20
    assert template["spec"]["hostNetwork"] is True
    assert template["spec"]["containers"][0]["imagePullPolicy"] == "Never"
    assert template["metadata"]["labels"] == body["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("kind", ["ADDED", "MODIFIED"])
def test_a_pod_without_a_running_container_has_no_container_id(kind):
    view = ReplicaView()
    body = pod("a", node="n1", phase="Running")
    body["status"]["containerStatuses"] = [
        {"containerID": "docker://1", "state": {"terminated": {"exitCode": 137}}}
    ]
    view.apply(kind, body)
    assert view.pods["a"].container_id == ""
