"""``navarch up`` stopped (SIGTERM, as Ctrl-C) or killed (SIGKILL) and started again
adopts what runs: the pod keeps its container (same containerID, no restart), on
the cluster's own containerd, which a SIGTERMed up stops and restarts (the shims keep
the containers alive meanwhile) and a killed up leaves running for the next one.
The cluster's containerd killed under a running up is started again by it (issue 21
item 13)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from navarch.testing.daemon import require_or_skip
from navarch.testing.up import ClusterCli, UpProcess
from navarch.testing.waiting import until
from navarch.up.containerd import PrivateContainerd, alive, containerd_problem

pytestmark = pytest.mark.daemon

DEADLINE = 180.0


def running_container(cli: ClusterCli) -> tuple[str, int] | None:
    pods = cli.json("get", "pods", "-l", "app=hello")["items"]
    if len(pods) != 1:
        return None
    statuses = pods[0].get("status", {}).get("containerStatuses") or []
    if not statuses or "running" not in (statuses[0].get("state") or {}):
        return None
    return statuses[0]["containerID"], statuses[0]["restartCount"]


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL], ids=["term", "kill"])
def test_up_started_again_adopts_the_running_containers(tmp_path: Path, stop_signal: int) -> None:
    require_or_skip(containerd_problem())
    up = UpProcess(tmp_path / "up", nodes=1, runtime="containerd")
    with up:
        cli = ClusterCli.kubectl(up.kubeconfig)
        cli(
            "create",
            "deployment",
            "hello",
            "--image=navarch.test/demo:1",
            "--",
            "sh",
            "-c",
            "echo started; exec sleep 3600",
        )
        first: Any = until(lambda: running_container(cli), "hello Running", [up], deadline=DEADLINE)
        containerd = PrivateContainerd(up.data_dir / "containerd")
        containerd_pid = containerd.pid()
        assert containerd_pid is not None

        assert up.process is not None
        up.process.send_signal(stop_signal)
        assert up.process.wait(timeout=90) in (0, -signal.SIGKILL)
        if stop_signal == signal.SIGTERM:
            assert containerd.pid() is None, "a stopped up stops the cluster's containerd"
        else:
            assert containerd.pid() == containerd_pid, "a killed up leaves containerd running"

        up.start()
        assert up.state()["private_containerd"] is True
        again = until(
            lambda: running_container(cli), "hello Running again", [up], deadline=DEADLINE
        )
        assert again == first, "the pod's container was replaced instead of adopted"
        assert cli("logs", "deployment/hello").count("started") == 1


def cluster_processes(data_dir: Path) -> list[str]:
    """Running processes whose command line names the cluster's data directory or
    whose working directory or root is in it: its containerd, shims, containers."""
    inside = str(data_dir.resolve())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or not alive(int(entry.name)):
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            places = [os.readlink(entry / "cwd"), os.readlink(entry / "root")]
        except OSError:
            continue
        if inside in cmdline or any(place.startswith(inside) for place in places):
            found.append(f"{entry.name}: {cmdline}")
    return found


def node_ready(cli: ClusterCli) -> bool:
    (node,) = cli.json("get", "nodes")["items"]
    conditions = {c["type"]: c["status"] for c in node["status"].get("conditions", [])}
    return conditions.get("Ready") == "True"


def test_up_brings_its_killed_containerd_back(tmp_path: Path) -> None:
    """SIGKILL the cluster's containerd: up starts it again, the node is Ready, the pod
    keeps its container (none duplicated), a new pod runs; then down --purge leaves
    no shim, container or containerd of the cluster running."""
    require_or_skip(containerd_problem())
    up = UpProcess(tmp_path / "up", nodes=1, runtime="containerd")
    with up:
        cli = ClusterCli.navctl(up.kubeconfig)
        cli("create", "deployment", "hello", "--image=navarch.test/demo:1", "--", "sleep", "3600")
        first: Any = until(lambda: running_container(cli), "hello Running", [up], deadline=DEADLINE)
        containerd = PrivateContainerd(up.data_dir / "containerd")
        killed = containerd.pid()
        assert killed is not None
        assert containerd.leftover_processes(), "the pod's shim runs in the state directory"

        os.kill(killed, signal.SIGKILL)
        until(lambda: containerd.pid() not in (None, killed), "containerd again", [up])
        until(lambda: "the cluster's containerd is back" in up.log_path.read_text(), "logged", [up])
        until(lambda: node_ready(cli), "node-1 Ready", [up], deadline=DEADLINE)
        # the agent works through the new containerd: a new pod runs beside the old one
        cli("create", "deployment", "after", "--image=navarch.test/demo:1", "--", "sleep", "3600")
        until(
            lambda: (
                len(cli.json("get", "pods", "-l", "app=after")["items"]) == 1
                and "running" in _state(cli, "after")
            ),
            "after Running",
            [up],
            deadline=DEADLINE,
        )
        assert running_container(cli) == first, "the pod's container was replaced"
        socket = up.state()["runtime_options"]["socket"]
        listed = subprocess.run(
            ["ctr", "--address", socket, "--namespace", "navarch", "containers", "ls", "-q"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert len(listed.stdout.split()) == 2, f"duplicated containers: {listed.stdout}"

        result = up.down(purge=True)
        assert result.returncode == 0, result.stderr
        assert not up.data_dir.exists()
        assert cluster_processes(tmp_path / "up") == []


def _state(cli: ClusterCli, app: str) -> dict[str, Any]:
    pods = cli.json("get", "pods", "-l", f"app={app}")["items"]
    statuses = pods[0].get("status", {}).get("containerStatuses") or [{}]
    return statuses[0].get("state") or {}
