"""The operator pattern end to end, with examples/plugin installed as a user installs it:
its ``backup-operator`` controller runs its own kind, ``Backup``, on a cluster of real
processes (an API server, a scheduler, a sim agent and a controller manager, the plugin
on their PYTHONPATH). A Backup created with kubectl gets a backup pod it owns and a
status written through the status subresource; a spec change advances generation and
observedGeneration and makes a new pod; deleting the Backup takes its pods with it
(the garbage collector watches the plugin's kind, which declares a policy)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.cluster import Kubectl, controllers_process, scheduler_process
from navarch.testing.daemon import started
from navarch.testing.waiting import until
from tests.examples.helpers import fast_sim_agent

DEADLINE = 120.0
OPERATOR = "backup-operator"
BACKUP_LABEL = "example.navarch.io/backup"
BACKUP = """
apiVersion: example.navarch.io/v1
kind: Backup
metadata: {name: nightly}
spec: {schedule: "0 3 * * *", target: web, retain: 1}
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, plugin_site: Path):
    root = tmp_path_factory.mktemp("example-operator-cluster")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", str(plugin_site))  # the daemons inherit it
        with (
            ApiServerProcess(root / "apiserver") as server,
            started(
                fast_sim_agent(root, server, node_name="op-node"),
                scheduler_process(root, server),
                controllers_process(
                    root, server, [OPERATOR, "garbage-collector", "pod-termination"]
                ),
            ) as daemons,
        ):
            kubectl = Kubectl(server.kubeconfig, timeout=60)
            until(
                # every node, not the one by name: it is NotFound until the agent registers
                lambda: any(
                    line.split()[:2] == ["op-node", "Ready"]
                    for line in kubectl("get", "nodes", "--no-headers").splitlines()
                ),
                "the node Ready",
                daemons,
                deadline=DEADLINE,
            )
            yield kubectl, daemons


def _get(kubectl: Kubectl, *what: str) -> dict[str, Any]:
    return json.loads(kubectl("get", *what, "-o", "json"))


def _backup_pods(kubectl: Kubectl) -> dict[str, dict[str, Any]]:
    items = _get(kubectl, "pods", "-l", f"{BACKUP_LABEL}=nightly")["items"]
    return {pod["metadata"]["name"]: pod for pod in items}


def _settled(kubectl: Kubectl, generation: int) -> dict[str, Any] | None:
    """The Backup once the operator has written the status of ``generation``'s finished
    backup; None before."""
    backup = _get(kubectl, "backup", "nightly")
    status = backup.get("status") or {}
    done = status.get("observedGeneration") == generation and status.get("phase") == "Succeeded"
    return backup if done else None


def test_the_operator_runs_a_backup_per_spec_and_its_pods_go_with_it(cluster, tmp_path):
    kubectl, daemons = cluster
    manifest = tmp_path / "backup.yaml"
    manifest.write_text(BACKUP)
    kubectl("apply", "-f", str(manifest))

    # created: the operator makes the backup pod it owns, and writes the status of the
    # finished backup through /status (the strategy keeps status out of other writes)
    backup = until(
        lambda: _settled(kubectl, 1), "the first backup Succeeded", daemons, deadline=DEADLINE
    )
    assert backup["metadata"]["generation"] == 1
    status = backup["status"]
    assert status["lastBackupTime"].endswith("Z")
    [complete] = status["conditions"]
    assert (complete["type"], complete["status"], complete["reason"]) == (
        "Complete",
        "True",
        "BackupSucceeded",
    )
    pods = _backup_pods(kubectl)
    assert list(pods) == ["nightly-1"]
    [ref] = pods["nightly-1"]["metadata"]["ownerReferences"]
    assert ref == {
        "apiVersion": "example.navarch.io/v1",
        "kind": "Backup",
        "name": "nightly",
        "uid": backup["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    assert pods["nightly-1"]["status"]["phase"] == "Succeeded"
    events = _get(kubectl, "events")["items"]
    reasons = {e["reason"] for e in events if e["involvedObject"].get("kind") == "Backup"}
    assert {"BackupStarted", "BackupSucceeded"} <= reasons, reasons
    assert "Succeeded" in kubectl("get", "bk", "nightly", "--no-headers")

    # a spec change: generation 2, a new backup pod, observedGeneration follows; with
    # retain 1 the first pod is pruned once the second has finished
    kubectl("patch", "backup", "nightly", "--type=merge", "-p", '{"spec":{"target":"db"}}')
    backup = until(
        lambda: _settled(kubectl, 2), "the second backup Succeeded", daemons, deadline=DEADLINE
    )
    assert backup["metadata"]["generation"] == 2
    until(
        lambda: list(_backup_pods(kubectl)) == ["nightly-2"],
        "only the newest backup pod kept (retain 1)",
        daemons,
        deadline=DEADLINE,
    )
    env = _backup_pods(kubectl)["nightly-2"]["spec"]["containers"][0]["env"]
    assert {"name": "BACKUP_TARGET", "value": "db"} in env

    # deleted: the garbage collector deletes the pods the Backup owned
    kubectl("delete", "backup", "nightly")
    until(
        lambda: not _backup_pods(kubectl),
        "the Backup's pods garbage-collected",
        daemons,
        deadline=DEADLINE,
    )
