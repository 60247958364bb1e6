"""``navctl rollout status|history|undo|restart`` of DaemonSets and StatefulSets, and
``navctl scale`` of StatefulSets (issue 23 item 9), against a real API server, with the
real kubectl run on the same objects as the reference for every line printed.

No controllers run here, so each test plays the controller's part itself: it writes
the ControllerRevisions a DaemonSet or StatefulSet controller records (owned by the
object, data ``{"spec": {"template": {…, "$patch": "replace"}}}``) and the status
fields rollout status reads. The outputs then stay the same from run to run.
"""

from __future__ import annotations

import copy
import json
import queue
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from navarch.cli.navctl import main
from navarch.testing.cluster import Kubectl

IMAGE_1, IMAGE_2 = "127.0.0.1:5000/agent:1", "127.0.0.1:5000/agent:2"


class Tools:
    """navctl (in-process) and kubectl against one server, in a namespace of the test's."""

    def __init__(self, kubeconfig: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path):
        self.kubeconfig, self.capsys, self.tmp_path = kubeconfig, capsys, tmp_path
        self.kubectl_bin = Kubectl(kubeconfig)
        self.ns = f"ro-{uuid.uuid4().hex[:8]}"
        self.kubectl("create", "namespace", self.ns)

    def navctl_run(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main([*args, "--kubeconfig", str(self.kubeconfig), "-n", self.ns])
        out, err = self.capsys.readouterr()
        return code, out, err

    def navctl(self, *args: str) -> str:
        code, out, err = self.navctl_run(*args)
        assert code == 0, f"navctl {' '.join(args)}: {err}"
        return out

    def kubectl(self, *args: str) -> str:
        return self.kubectl_bin(*args, "-n", self.ns)

    def kubectl_run(self, *args: str):
        return self.kubectl_bin.run(*args, "-n", self.ns)

    def apply(self, *objects: dict[str, Any]) -> None:
        path = self.tmp_path / f"{uuid.uuid4().hex}.yaml"
        path.write_text(yaml.safe_dump_all(objects))
        self.kubectl("apply", "-f", str(path))

    def get(self, kind: str, name: str) -> dict[str, Any]:
        return json.loads(self.kubectl("get", kind, name, "-o", "json"))

    def set_status(self, kind: str, name: str, status: dict[str, Any]) -> None:
        self.kubectl(
            "patch", kind, name, "--subresource=status", "--type=merge",
            "-p", json.dumps({"status": status}),
        )  # fmt: skip

    def record_revisions(self, kind: str, name: str, templates: list[dict[str, Any]]) -> None:
        """ControllerRevisions 1…n of the object, as its controller records them; the
        first carries a change-cause."""
        owner = self.get(kind, name)
        revisions = []
        for number, template in enumerate(templates, start=1):
            metadata: dict[str, Any] = {
                "name": f"{name}-rev{number}",
                "labels": {**template["metadata"]["labels"], "controller-revision-hash": "h"},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": owner["kind"],
                        "name": name,
                        "uid": owner["metadata"]["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            }
            if number == 1:
                metadata["annotations"] = {"kubernetes.io/change-cause": "first image"}
            revisions.append(
                {
                    "apiVersion": "apps/v1",
                    "kind": "ControllerRevision",
                    "metadata": metadata,
                    "data": {"spec": {"template": {**template, "$patch": "replace"}}},
                    "revision": number,
                }
            )
        self.apply(*revisions)

    def both(self, *args: str) -> str:
        """navctl's output, asserted the same as kubectl's for the same words."""
        ours = self.navctl(*args)
        assert ours == self.kubectl(*args), args
        return ours


@pytest.fixture
def tools(api_server, capsys, tmp_path) -> Iterator[Tools]:
    yield Tools(api_server.kubeconfig, capsys, tmp_path)


def pod_template(app: str, image: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": app}},
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": image,
                    "ports": [{"containerPort": 8080}],
                    "env": [{"name": "MODE", "value": "fast"}],
                    "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": True}],
                }
            ],
            "volumes": [{"name": "data", "emptyDir": {}}],
            "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
        },
    }


def daemonset(name: str, image: str = IMAGE_2, strategy: str = "RollingUpdate") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "updateStrategy": {"type": strategy},
            "template": pod_template(name, image),
        },
    }


def statefulset(name: str, replicas: int = 3, image: str = IMAGE_2) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": pod_template(name, image),
        },
    }


def with_image(template: dict[str, Any], image: str) -> dict[str, Any]:
    changed = copy.deepcopy(template)
    changed["spec"]["containers"][0]["image"] = image
    return changed


@pytest.mark.parametrize("kind", ["daemonset", "statefulset"])
def test_history_and_undo_read_the_controller_revisions_as_kubectl(tools, kind):
    make = daemonset if kind == "daemonset" else statefulset
    tools.apply(make("app"))
    current = tools.get(kind, "app")["spec"]["template"]  # as the server defaulted it
    tools.record_revisions(kind, "app", [with_image(current, IMAGE_1), current])
    listing = tools.both("rollout", "history", f"{kind}/app")
    assert listing.splitlines()[1:4] == [
        "REVISION  CHANGE-CAUSE",
        "1         first image",
        "2         <none>",
    ]
    shown = tools.both("rollout", "history", f"{kind}/app", "--revision=1")
    assert f"{kind}.apps/app with revision #1" in shown and IMAGE_1 in shown
    # undo: revision 1's template comes back into the object
    assert tools.navctl("rollout", "undo", f"{kind}/app") == f"{kind}.apps/app rolled back\n"
    assert tools.get(kind, "app")["spec"]["template"] == with_image(current, IMAGE_1)
    assert tools.navctl("rollout", "undo", f"{kind}/app", "--to-revision=1") == (
        f"{kind}.apps/app skipped rollback (current template already matches revision 1)\n"
    )
    code, _, err = tools.navctl_run("rollout", "undo", f"{kind}/app", "--to-revision=9")
    assert code == 1
    assert err == tools.kubectl_run("rollout", "undo", f"{kind}/app", "--to-revision=9").stderr


def test_history_of_a_daemonset_without_revisions_and_of_another_owners(tools):
    tools.apply(daemonset("lonely"), daemonset("other"))
    tools.record_revisions("daemonset", "other", [tools.get("ds", "other")["spec"]["template"]])
    out = tools.navctl("rollout", "history", "ds/lonely")
    assert out == 'No rollout history found in daemonset "lonely"\n'
    code, _, err = tools.navctl_run("rollout", "undo", "ds/lonely")
    assert code == 1 and 'no rollout history found for daemonset "lonely"' in err


@pytest.mark.parametrize(
    ("status", "done"),
    [
        ({"observedGeneration": 0}, False),  # the controller has not seen the spec yet
        (
            {"observedGeneration": 1, "desiredNumberScheduled": 3, "updatedNumberScheduled": 1},
            False,
        ),
        (
            {
                "observedGeneration": 1,
                "desiredNumberScheduled": 3,
                "updatedNumberScheduled": 3,
                "numberAvailable": 2,
            },
            False,
        ),
        (
            {
                "observedGeneration": 1,
                "desiredNumberScheduled": 3,
                "updatedNumberScheduled": 3,
                "numberAvailable": 3,
            },
            True,
        ),
    ],
)
def test_daemonset_status_reads_the_status_fields_as_kubectl(tools, status, done):
    tools.apply(daemonset("agent"))
    tools.set_status("ds", "agent", {"numberMisscheduled": 0, "currentNumberScheduled": 0,
                                     "numberReady": 0, **status})  # fmt: skip
    out = tools.both("rollout", "status", "ds/agent", "--watch=false")
    assert ("successfully rolled out" in out) is done


@pytest.mark.parametrize(
    ("status", "partition", "done"),
    [
        ({"observedGeneration": 1, "replicas": 3, "readyReplicas": 1}, None, False),
        (
            {"observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "updatedReplicas": 3},
            None,
            True,
        ),
        (
            {"observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "updatedReplicas": 1},
            1,
            False,
        ),
    ],
)
def test_statefulset_status_reads_the_status_fields_as_kubectl(tools, status, partition, done):
    sts = statefulset("db")
    if partition is not None:
        sts["spec"]["updateStrategy"] = {
            "type": "RollingUpdate",
            "rollingUpdate": {"partition": partition},
        }
    tools.apply(sts)
    tools.set_status("sts", "db", status)
    out = tools.both("rollout", "status", "sts/db", "--watch=false")
    assert ("complete" in out) is done


def test_status_waits_until_the_daemonset_is_rolled_out(tools):
    tools.apply(daemonset("agent"))
    waiting = {"observedGeneration": 1, "desiredNumberScheduled": 2, "numberMisscheduled": 0,
               "currentNumberScheduled": 2, "numberReady": 0, "updatedNumberScheduled": 0}  # fmt: skip
    tools.set_status("ds", "agent", waiting)
    watcher = subprocess.Popen(
        [
            *(sys.executable, "-m", "navarch.cli.navctl", "rollout", "status", "ds/agent"),
            *("--timeout=120s", "--kubeconfig", str(tools.kubeconfig), "-n", tools.ns),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x) for x in watcher.stdout], daemon=True)
    reader.start()
    try:
        # its first line proves navctl follows the object before the status changes
        first = lines.get(timeout=60)
        assert (
            first
            == 'Waiting for daemon set "agent" rollout to finish: 0 out of 2 new pods have been updated...\n'
        )
        tools.set_status(
            "ds", "agent", {**waiting, "updatedNumberScheduled": 2, "numberAvailable": 2}
        )
        assert watcher.wait(timeout=120) == 0, watcher.stderr.read()
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    reader.join(timeout=30)
    rest = []
    while not lines.empty():
        rest.append(lines.get())
    assert rest[-1] == 'daemon set "agent" successfully rolled out\n'


def test_status_of_an_on_delete_daemonset_is_refused_as_kubectl(tools):
    tools.apply(daemonset("manual", strategy="OnDelete"))
    code, _, err = tools.navctl_run("rollout", "status", "ds/manual")
    assert code == 1
    assert "rollout status is only available for RollingUpdate strategy type" in err
    assert (
        "only available for RollingUpdate"
        in tools.kubectl_run("rollout", "status", "ds/manual").stderr
    )
    code, _, err = tools.navctl_run("rollout", "restart", "ds/manual")
    assert code == 1 and "OnDelete" in err


@pytest.mark.parametrize("kind", ["daemonset", "statefulset"])
def test_restart_sets_the_template_annotation(tools, kind):
    tools.apply((daemonset if kind == "daemonset" else statefulset)("app"))
    assert tools.navctl("rollout", "restart", f"{kind}/app") == f"{kind}.apps/app restarted\n"
    annotations = tools.get(kind, "app")["spec"]["template"]["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/restartedAt" in annotations
    code, _, err = tools.navctl_run("rollout", "pause", f"{kind}/app")
    assert code == 1 and "rollout pause works on deployments only" in err


def test_scale_a_statefulset_as_kubectl(tools):
    tools.apply(statefulset("db", replicas=1))
    assert tools.navctl("scale", "sts", "db", "--replicas=3") == "statefulset.apps/db scaled\n"
    assert tools.get("sts", "db")["spec"]["replicas"] == 3
    assert tools.navctl("scale", "statefulset/db", "--replicas=2", "--current-replicas=3") == (
        "statefulset.apps/db scaled\n"
    )
    assert tools.kubectl("scale", "sts", "db", "--replicas=4") == "statefulset.apps/db scaled\n"
    code, _, err = tools.navctl_run("scale", "ds", "x", "--replicas=2")
    assert code == 1 and "daemonsets cannot be scaled" in err
