"""examples/plugin's ``backup-operator`` sync by sync, as the core's controllers are
tested: the caches preloaded (a FakeCluster), ``sync`` called directly, the API calls
it made asserted — the plugin's kind registered in this process for the while."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from navarch.resources.registry import registry
from navarch.testing.controllers import FakeCluster

BACKUP_UID = "u-nightly"


@pytest.fixture(scope="module")
def operator(plugin_site: Path) -> Iterator[ModuleType]:
    """The plugin's operator module, its Backup kind registered in this process's
    registry (as assembling the plugins in a daemon does), removed afterwards."""
    sys.path.insert(0, str(plugin_site))
    backups = importlib.import_module("navarch_example_plugin.backups")
    registry().add(backups.BACKUPS, plugin="example")
    try:
        yield importlib.import_module("navarch_example_plugin.backup_operator")
    finally:
        registry().remove(backups.BACKUPS.group, backups.BACKUPS.plural)
        sys.path.remove(str(plugin_site))


def _backup(generation: int = 1, retain: int = 1, target: str = "web") -> dict[str, Any]:
    return {
        "apiVersion": "example.navarch.io/v1",
        "kind": "Backup",
        "metadata": {"name": "nightly", "uid": BACKUP_UID, "generation": generation},
        "spec": {"schedule": "0 3 * * *", "target": target, "retain": retain},
        "status": {"phase": "Pending"},
    }


def _finish(cluster: FakeCluster, pod: str, phase: str = "Succeeded") -> None:
    """What the agent reports when a backup pod has run."""
    stored = cluster.get("pods", pod)
    assert stored is not None
    terminated = {"exitCode": 0, "finishedAt": "2026-12-07T03:00:05Z"}
    stored["status"] = {
        "phase": phase,
        "containerStatuses": [{"name": "backup", "state": {"terminated": terminated}}],
    }
    cluster.add(stored)


async def _sync(controller: Any, cluster: FakeCluster) -> None:
    cluster.actions.clear()
    await controller.sync("default/nightly")
    cluster.sync_informers()


async def test_a_backup_gets_an_owned_pod_and_a_status_and_a_second_sync_writes_nothing(
    operator: ModuleType,
) -> None:
    cluster = FakeCluster()
    cluster.add(_backup())
    controller = operator.BackupOperator(cluster.context(operator.NAME))
    await _sync(controller, cluster)

    assert cluster.verbs("pods") == [("create", "default", "nightly-1")]
    pod = cluster.get("pods", "nightly-1")
    assert pod is not None
    [ref] = pod["metadata"]["ownerReferences"]
    assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == (
        "Backup",
        "nightly",
        BACKUP_UID,
        True,
    )
    assert cluster.verbs("backups") == [("update_status", "default", "nightly")]
    status = (cluster.get("backups", "nightly") or {})["status"]
    assert status["phase"] == "Pending" and status["observedGeneration"] == 1
    assert status["conditions"][0]["reason"] == "BackupPending"
    assert "lastBackupTime" not in status
    events = [a.body["reason"] for a in cluster.actions if a.resource == "events"]
    assert events == ["BackupStarted"]

    # level-triggered and idempotent: nothing changed, nothing written
    await _sync(controller, cluster)
    assert cluster.actions == []


async def test_a_finished_pod_sets_phase_and_last_backup_time_from_the_pod(
    operator: ModuleType,
) -> None:
    cluster = FakeCluster()
    cluster.add(_backup())
    controller = operator.BackupOperator(cluster.context(operator.NAME))
    await _sync(controller, cluster)
    _finish(cluster, "nightly-1")
    await _sync(controller, cluster)

    status = (cluster.get("backups", "nightly") or {})["status"]
    assert status["phase"] == "Succeeded"
    assert status["lastBackupTime"] == "2026-12-07T03:00:05Z"  # the pod's, not the sync's
    assert (status["conditions"][0]["status"], status["conditions"][0]["reason"]) == (
        "True",
        "BackupSucceeded",
    )
    await _sync(controller, cluster)
    assert cluster.actions == []


async def test_a_new_generation_makes_a_new_pod_and_prunes_beyond_retain(
    operator: ModuleType,
) -> None:
    cluster = FakeCluster()
    cluster.add(_backup())
    controller = operator.BackupOperator(cluster.context(operator.NAME))
    await _sync(controller, cluster)
    _finish(cluster, "nightly-1")
    await _sync(controller, cluster)

    changed = _backup(generation=2, target="db")
    changed["status"] = cluster.get("backups", "nightly")["status"]  # type: ignore[index]
    cluster.add(changed)
    await _sync(controller, cluster)

    assert ("create", "default", "nightly-2") in cluster.verbs("pods")
    assert ("delete", "default", "nightly-1") in cluster.verbs("pods")  # retain 1, finished
    status = (cluster.get("backups", "nightly") or {})["status"]
    assert status["observedGeneration"] == 2 and status["phase"] == "Pending"
    assert status["lastBackupTime"] == "2026-12-07T03:00:05Z"  # the last successful one, kept


def test_the_shared_informers_serve_the_plugin_kind_by_any_name(operator: ModuleType) -> None:
    # a short name, the kind or the plural: one informer, one watch, one cache
    cluster = FakeCluster()
    backups = cluster.informers.informer("backups")
    assert cluster.informers.informer("bk") is backups
    assert cluster.informers.informer("Backup") is backups
