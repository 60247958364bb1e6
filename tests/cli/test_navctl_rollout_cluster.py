"""``navctl rollout`` of DaemonSets and StatefulSets with their real controllers
(issue 23 item 9): an API server, ``navarch controllers``, ``navarch scheduler`` and
``navarch agent --runtime sim --simulate 2``. status waits for each rollout,
history lists the ControllerRevisions the controller recorded (as kubectl lists
them), undo brings the old template back and the controller renumbers its revision,
restart rolls every pod."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from navarch.cli.navctl import main
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.cluster import (
    Kubectl,
    controllers_process,
    scheduler_process,
    sim_agent_process,
)
from navarch.testing.daemon import started

CONTROLLERS = ["daemonset", "statefulset", "pod-termination", "garbage-collector"]
IMAGE_1, IMAGE_2 = "127.0.0.1:5000/app:1", "127.0.0.1:5000/app:2"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    root = tmp_path_factory.mktemp("rollout-cluster")
    with (
        ApiServerProcess(root / "apiserver") as server,
        started(
            scheduler_process(root, server),
            sim_agent_process(root, server, nodes=2, prefix="ro-sim", lease_renew_seconds=1),
            controllers_process(root, server, CONTROLLERS),
        ),
    ):
        yield server


def workload(kind: str, name: str, image: str) -> dict[str, Any]:
    labels = {"app": name}
    spec: dict[str, Any] = {
        "selector": {"matchLabels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "containers": [{"name": "main", "image": image}],
            },
        },
    }
    if kind == "StatefulSet":
        spec.update(replicas=2, serviceName=name)
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


class Tools:
    def __init__(self, server: ApiServerProcess, capsys, tmp_path: Path):
        self.kubeconfig, self.capsys, self.tmp_path = server.kubeconfig, capsys, tmp_path
        self.kubectl_bin = Kubectl(server.kubeconfig, timeout=180)
        self.ns = f"roc-{uuid.uuid4().hex[:6]}"
        self.kubectl("create", "namespace", self.ns)

    def kubectl(self, *args: str) -> str:
        return self.kubectl_bin(*args, "-n", self.ns)

    def navctl(self, *args: str) -> str:
        self.capsys.readouterr()
        code = main([*args, "--kubeconfig", str(self.kubeconfig), "-n", self.ns])
        out, err = self.capsys.readouterr()
        assert code == 0, f"navctl {' '.join(args)}: {err}"
        return out

    def apply(self, obj: dict[str, Any]) -> None:
        path = self.tmp_path / f"{uuid.uuid4().hex}.yaml"
        path.write_text(yaml.safe_dump(obj))
        self.kubectl("apply", "-f", str(path))

    def image(self, target: str) -> str:
        obj = json.loads(self.kubectl("get", target, "-o", "json"))
        return obj["spec"]["template"]["spec"]["containers"][0]["image"]


@pytest.fixture
def tools(cluster, capsys, tmp_path) -> Tools:
    return Tools(cluster, capsys, tmp_path)


@pytest.mark.parametrize(
    ("kind", "target", "done"),
    [
        ("DaemonSet", "daemonset/agent", 'daemon set "agent" successfully rolled out'),
        ("StatefulSet", "statefulset/db", "partitioned roll out complete: 2 new pods"),
    ],
)
def test_rollout_with_the_real_controller(tools, kind, target, done):
    name = target.split("/")[1]
    tools.apply(workload(kind, name, IMAGE_1))
    assert done in tools.navctl("rollout", "status", target, "--timeout=150s")
    tools.kubectl("set", "image", target, f"main={IMAGE_2}")
    assert done in tools.navctl("rollout", "status", target, "--timeout=150s")
    history = tools.navctl("rollout", "history", target)
    assert history == tools.kubectl("rollout", "history", target)
    assert [line.split()[0] for line in history.splitlines()[2:] if line] == ["1", "2"]
    assert IMAGE_1 in tools.navctl("rollout", "history", target, "--revision=1")

    assert (
        tools.navctl("rollout", "undo", target) == f"{target.replace('/', '.apps/')} rolled back\n"
    )
    assert tools.image(target) == IMAGE_1
    assert done in tools.navctl("rollout", "status", target, "--timeout=150s")
    # the controller made revision 1 the newest again, as revision 3
    history = tools.navctl("rollout", "history", target)
    assert [line.split()[0] for line in history.splitlines()[2:] if line] == ["2", "3"]

    assert tools.navctl("rollout", "restart", target).endswith("restarted\n")
    assert done in tools.navctl("rollout", "status", target, "--timeout=150s")
    history = tools.navctl("rollout", "history", target)
    assert [line.split()[0] for line in history.splitlines()[2:] if line] == ["2", "3", "4"]


def test_apply_wait_follows_daemonsets_and_statefulsets(tools):
    path = tools.tmp_path / "both.yaml"
    path.write_text(
        yaml.safe_dump_all(
            [workload("DaemonSet", "logs", IMAGE_1), workload("StatefulSet", "cache", IMAGE_1)]
        )
    )
    out = tools.navctl("apply", "-f", str(path), "--wait", "--timeout", "150")
    lines = out.splitlines()
    assert lines[:2] == ["daemonset.apps/logs created", "statefulset.apps/cache created"]
    assert 'daemonset.apps/logs: daemon set "logs" successfully rolled out' in lines
    assert any(
        line.startswith("statefulset.apps/cache: partitioned roll out complete") for line in lines
    )
