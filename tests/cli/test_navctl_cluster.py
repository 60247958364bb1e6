"""navctl's resource verbs on a cluster whose pods run: an API server, ``navarch
scheduler``, ``navarch controllers`` (the garbage collector too, so deleting a
Deployment takes its pods) and an agent on the simulated runtime (two nodes). ``apply --wait`` returns once the pods are ready, ``describe`` shows the
scheduler's decision and the pod's events, ``get -w`` prints rows as pods change,
``delete`` waits until the pods are gone."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
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
from navarch.testing.waiting import until_passes

DEADLINE = 120.0  # generous: several daemons share a busy machine's 2 cores
NODES = ("cli-sim-0", "cli-sim-1")
IMAGE = "127.0.0.1:5000/web:1"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    root = tmp_path_factory.mktemp("navctl-cluster")
    with (
        ApiServerProcess(root / "apiserver") as server,
        started(
            scheduler_process(root, server),
            sim_agent_process(root, server, nodes=len(NODES), prefix="cli-sim"),
            controllers_process(
                root,
                server,
                ["deployment", "replicaset", "pod-termination", "garbage-collector"],
            ),
        ),
    ):
        yield server


class Navctl:
    def __init__(self, capsys: pytest.CaptureFixture[str], kubeconfig: Path, ns: str):
        self.capsys, self.kubeconfig, self.ns = capsys, kubeconfig, ns

    def run(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main([*args, "--kubeconfig", str(self.kubeconfig), "-n", self.ns])
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def __call__(self, *args: str) -> str:
        code, out, err = self.run(*args)
        assert code == 0, f"navctl {' '.join(args)} exited {code}: {err}"
        return out

    def command(self, *args: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "navarch.cli.navctl",
            *args,
            "--kubeconfig",
            str(self.kubeconfig),
            "-n",
            self.ns,
        ]


@pytest.fixture
def navctl(cluster, capsys) -> Navctl:
    tool = Navctl(capsys, cluster.kubeconfig, f"c-{uuid.uuid4().hex[:8]}")
    tool("create", "namespace", tool.ns)
    return tool


def _deployment(name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": IMAGE}]},
            },
        },
    }


def _pod(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": IMAGE}], **spec},
    }


def _pod_names(navctl: Navctl, selector: str) -> list[str]:
    out = navctl("get", "pods", "-l", selector, "-o", "name")
    return [line.removeprefix("pod/") for line in out.split()]


def test_apply_wait_then_get_describe_and_delete(navctl, tmp_path):
    file = tmp_path / "web.yaml"
    file.write_text(yaml.safe_dump(_deployment("web", 3)))
    code, out, err = navctl.run("apply", "-f", str(file), "--wait", "--timeout", str(DEADLINE))
    assert code == 0, err
    assert out.startswith("deployment.apps/web created\n")
    rows = navctl("get", "pods", "-o", "wide").splitlines()
    assert rows[0].split()[:6] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP"]
    assert len(rows) == 4
    assert all(row.split()[1:3] == ["1/1", "Running"] for row in rows[1:])
    assert {row.split()[6] for row in rows[1:]} <= set(NODES)
    kubectl = Kubectl(navctl.kubeconfig)
    for args in (("get", "pods", "-o", "wide"), ("get", "rs"), ("get", "nodes")):
        theirs = kubectl(*args, "-n", navctl.ns)
        assert _without_ages(navctl(*args)) == _without_ages(theirs), args

    name = _pod_names(navctl, "app=web")[0]
    described = navctl("describe", "pod", name)
    assert "Status:           Running" in described
    assert "Controlled By:    ReplicaSet/web-" in described
    assert "Scheduling:" in described and " chosen" in described  # the decision
    events = described[described.index("Events:") :]
    assert "Scheduled" in events and f"Successfully assigned {navctl.ns}/{name}" in events
    deploy = navctl("describe", "deployment", "web")
    assert "3 desired | 3 updated | 3 total | 3 available | 0 unavailable" in deploy
    assert "NewReplicaSet:   web-" in deploy

    node = navctl("describe", "node", NODES[0])
    assert node.splitlines()[0].split() == ["Name:", NODES[0]]
    assert "Non-terminated Pods:" in node

    assert navctl("delete", "deploy", "web", "--timeout", "120s") == (
        'deployment.apps "web" deleted\n'
    )
    until_passes(lambda: _no_pods(navctl, "app=web"), "no pods of web left", deadline=DEADLINE)


def _without_ages(text: str) -> list[list[str]]:
    """Rows split on whitespace without AGE-like cells (a second may pass between runs)."""
    return [[c for c in line.split() if not c[:-1].isdigit()] for line in text.splitlines()]


def _no_pods(navctl: Navctl, selector: str) -> None:
    assert _pod_names(navctl, selector) == []


def test_describe_shows_why_a_pod_fits_nowhere(navctl, tmp_path):
    file = tmp_path / "stuck.yaml"
    file.write_text(yaml.safe_dump(_pod("stuck", nodeSelector={"disk": "nowhere"})))
    navctl("apply", "-f", str(file))

    def explained() -> str:
        out = navctl("describe", "pod", "stuck")
        assert "0/2 nodes are available" in out[: out.index("Events:")]
        assert "FailedScheduling" in out[out.index("Events:") :]
        return out

    out = until_passes(explained, "the pod explained", deadline=DEADLINE)
    assert "Scheduling:" in out and "Unschedulable: 0/2 nodes are available" in out
    assert navctl("delete", "pod", "stuck") == 'pod "stuck" deleted\n'


def test_delete_of_a_running_pod_waits_until_it_is_gone(navctl, tmp_path):
    file = tmp_path / "p.yaml"
    file.write_text(yaml.safe_dump(_pod("solo")))
    navctl("apply", "-f", str(file), "--wait", "--timeout", str(DEADLINE))
    assert navctl("get", "pod", "solo").splitlines()[1].split()[2] == "Running"
    assert navctl("delete", "-f", str(file), "--grace-period=1") == 'pod "solo" deleted\n'
    code, _, err = navctl.run("get", "pod", "solo")  # gone: delete waited
    assert code == 1 and "NotFound" in err


def test_get_watch_prints_rows_as_pods_change(navctl, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAVARCH_")}
    watcher = subprocess.Popen(
        navctl.command("get", "pods", "-w", "--show-labels"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(line) for line in watcher.stdout], daemon=True
    ).start()
    try:
        file = tmp_path / "w.yaml"
        file.write_text(yaml.safe_dump(_pod("watched")))
        navctl("apply", "-f", str(file))
        seen: list[str] = []

        def row_with(*words: str) -> None:
            deadline = time.monotonic() + DEADLINE
            while not any(all(w in line for w in words) for line in seen):
                assert time.monotonic() < deadline, f"no row with {words} in {seen}"
                try:
                    seen.append(lines.get(timeout=1))
                except queue.Empty:
                    assert watcher.poll() is None, watcher.stderr and watcher.stderr.read()

        row_with("watched", "Running")  # from the list or the watch, as the race went
        # A change made now can only reach the output through the watch.
        navctl("label", "pod", "watched", "step=two")
        row_with("watched", "step=two")
        assert seen[0].split()[:3] == ["NAME", "READY", "STATUS"]
        assert seen[0].split()[-1] == "LABELS"
    finally:
        watcher.send_signal(signal.SIGINT)
        watcher.wait(timeout=30)
    assert watcher.returncode == 130  # Ctrl-C ends it; nothing else does
