"""A private cluster for integration tests: a test API server's daemons as processes
(the scheduler, the controller manager, agents on the simulated runtime) and the real
kubectl pointed at it.

    with ApiServerProcess(root / "apiserver") as server:
        daemons = [
            scheduler_process(root, server),
            sim_agent_process(root, server, nodes=3, prefix="rs-sim"),
            controllers_process(root, server, ["replicaset", "pod-termination"]),
        ]
        ...
    kubectl = Kubectl(server.kubeconfig)
    kubectl("scale", "rs", "web", "--replicas=8")

Leader election is off (one copy of each: nothing to wait for); logs are INFO, JSON.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.controllermanager import ControllerManagerProcess
from navarch.testing.navarchprocess import NavarchProcess

NO_ELECTION = {"enabled": False}
CAPACITY = {"cpu": "4", "memory": "8Gi", "pods": "110"}


def daemon_config(server: ApiServerProcess, data_dir: Path, **sections: Any) -> dict[str, Any]:
    """The configuration every daemon of the cluster shares, plus ``sections``."""
    return {
        "kubeconfig": str(server.kubeconfig),
        "log": {"format": "json", "level": "INFO"},
        "leader_election": NO_ELECTION,
        "data_dir": str(data_dir),
        **sections,
    }


def scheduler_process(root: Path, server: ApiServerProcess) -> NavarchProcess:
    return NavarchProcess(
        root / "scheduler", "scheduler", daemon_config(server, root / "scheduler" / "data")
    )


def sim_agent_process(
    root: Path,
    server: ApiServerProcess,
    *,
    nodes: int = 0,
    prefix: str = "sim",
    node_name: str = "",
    lease_renew_seconds: float | None = None,
) -> NavarchProcess:
    """An agent on runtime_sim: ``nodes`` simulated nodes named ``<prefix>-N``, or (0)
    one node named ``node_name``."""
    agent: dict[str, Any] = {
        "node_ip": "127.0.0.1",
        "address": "127.0.0.1",
        "port": 0,
        "capacity": CAPACITY,
    }
    if nodes:
        agent.update(simulate=nodes, simulate_prefix=prefix)
    else:
        agent["node_name"] = node_name
    if lease_renew_seconds is not None:
        agent["lease_renew_seconds"] = lease_renew_seconds
    directory = root / (node_name or prefix)
    config = daemon_config(
        server, directory / "data", runtime={"name": "sim", "options": {}}, agent=agent
    )
    return NavarchProcess(directory, "agent", config)


def controllers_process(
    root: Path, server: ApiServerProcess, enabled: Sequence[str]
) -> ControllerManagerProcess:
    return ControllerManagerProcess(
        root / "controllers",
        server.kubeconfig,
        settings={"leader_election": NO_ELECTION, "controllers": {"enabled": list(enabled)}},
    )


class Kubectl:
    """The real kubectl with the cluster's kubeconfig: ``kubectl(*args)`` runs it and
    returns its output, failing the test on a non-zero exit (``check=False``: the
    CompletedProcess whatever the exit)."""

    def __init__(self, kubeconfig: Path, *, timeout: float = 120.0):
        binary = shutil.which("kubectl")
        if binary is None:
            import pytest

            pytest.fail("kubectl is not installed on this machine; this test needs it")
        self.binary, self.kubeconfig, self.timeout = binary, kubeconfig, timeout

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.binary, "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True,
            text=True,
            timeout=self.timeout,
        )

    def __call__(self, *args: str, stderr: bool = False) -> str:
        """Its output (``stderr``: what it printed there too, after)."""
        result = self.run(*args)
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result.stdout + (result.stderr if stderr else "")
