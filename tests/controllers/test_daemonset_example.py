"""examples/daemonset.yaml (the Kubernetes documentation's fluentd-elasticsearch
DaemonSet on the demo image) applied with the real kubectl on simulated nodes, one
of them a control-plane node tainted NoSchedule: a pod on every node, that one
included (the example's tolerations), and ``kubectl rollout status`` complete."""

from __future__ import annotations

from pathlib import Path

import pytest

from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.cluster import (
    Kubectl,
    controllers_process,
    scheduler_process,
    sim_agent_process,
)
from navarch.testing.daemon import started
from navarch.testing.waiting import until

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "daemonset.yaml"
DEADLINE = 90.0
NAMESPACE = ("-n", "kube-system")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("ds-example")
    with ApiServerProcess(root / "apiserver") as server:
        control_plane = sim_agent_process(root, server, node_name="ex-control-plane")
        control_plane.config["agent"]["taints"] = [
            "node-role.kubernetes.io/control-plane:NoSchedule"
        ]
        with started(
            scheduler_process(root, server),
            sim_agent_process(root, server, nodes=2, prefix="ex-worker"),
            control_plane,
            controllers_process(root, server, ["daemonset", "garbage-collector"]),
        ) as daemons:
            yield server, daemons


def test_the_documentations_daemonset_runs_on_every_node(cluster) -> None:
    server, daemons = cluster
    kubectl = Kubectl(server.kubeconfig, timeout=DEADLINE)
    nodes = {"ex-control-plane", "ex-worker-0", "ex-worker-1"}
    until(
        lambda: set(kubectl("get", "nodes", "-o", "name").split()) == {f"node/{n}" for n in nodes},
        "three nodes registered",
        daemons,
    )
    taints = kubectl("get", "node", "ex-control-plane", "-o", "jsonpath={.spec.taints}")
    assert "node-role.kubernetes.io/control-plane" in taints
    kubectl("apply", "-f", str(EXAMPLE))

    def running_nodes() -> set[str]:
        out = kubectl(
            "get", "pods", *NAMESPACE, "-l", "name=fluentd-elasticsearch",
            "-o", "jsonpath={range .items[*]}{.spec.nodeName} {.status.phase}{'\\n'}{end}",
        )  # fmt: skip
        return {line.split()[0] for line in out.splitlines() if line.endswith(" Running")}

    until(
        lambda: running_nodes() == nodes, "a Running pod on every node", daemons, deadline=DEADLINE
    )
    out = kubectl("rollout", "status", *NAMESPACE, "ds/fluentd-elasticsearch", "--timeout=60s")
    assert "successfully rolled out" in out
    row = kubectl("get", "ds", *NAMESPACE, "fluentd-elasticsearch", "--no-headers").split()
    assert row[1:6] == ["3", "3", "3", "3", "3"], row
    kubectl("delete", "-f", str(EXAMPLE))
