"""``navarch up`` stopped (SIGTERM, as Ctrl-C) or killed (SIGKILL) and started again
adopts what runs: the pod keeps its container (same containerID, no restart), on
the cluster's own containerd, which a SIGTERMed up stops and restarts (the shims keep
the containers alive meanwhile) and a killed up leaves running for the next one."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from navarch.testing.daemon import require_or_skip
from navarch.testing.up import ClusterCli, UpProcess
from navarch.testing.waiting import until
from navarch.up.containerd import PrivateContainerd, containerd_problem

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
