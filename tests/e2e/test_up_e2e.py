"""End to end: ``navarch up`` on a real runtime, driven by a command-line client the
way a user drives it (issue 14).

The cluster: ``navarch up --nodes 2`` (node-1, node-2 in its process) and node-3, an
agent process of its own that joined with a node token — the node this test kills
with SIGKILL. Then, through navctl (or the real kubectl): a web Deployment of 6
host-network replicas (web_host_network.yaml) runs 2/2/2 and serves HTTP on 127.0.0.1; node-3 dies and its pods run again
on the other two; a rolling update to navarch.test/demo:2 and a rollback; logs and
exec; the deployment deleted (node-3 back first, to confirm its pods' end) leaves no
container in the runtime. Once on containerd with navctl, once on Docker with the
real kubectl.

Times are printed, never asserted (the benchmark measures them, bench/e2e.py);
every wait is bounded and generous.
"""

from __future__ import annotations

import collections
import json
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from navarch.runtime import labels
from navarch.testing.daemon import require_or_skip
from navarch.testing.dockerd import DockerdProcess, dockerd_problem
from navarch.testing.up import ClusterCli, UpProcess
from navarch.testing.waiting import until
from navarch.up.containerd import containerd_problem

pytestmark = pytest.mark.daemon

REPLICAS = 6
# docs/controllers.md: a dead node's pods run elsewhere in about 25 s; generous here
FAILOVER_DEADLINE = 240.0
DEADLINE = 240.0


@pytest.fixture
def private_dockerd() -> Iterator[DockerdProcess]:
    require_or_skip(dockerd_problem())
    directory = Path(tempfile.mkdtemp(prefix="ne", dir="/tmp"))  # short: socket path limit
    process = DockerdProcess(directory)
    try:
        process.start()
        yield process
    finally:
        process.remove()


def web_manifest(image: str) -> str:
    document = yaml.safe_load((Path(__file__).parent / "web_host_network.yaml").read_text())
    document["spec"]["replicas"] = REPLICAS
    document["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return yaml.safe_dump(document)


def live_pods(cli: ClusterCli) -> list[dict[str, Any]]:
    """The web pods not being deleted."""
    listed = cli.json("get", "pods", "-l", "app=web")
    return [p for p in listed["items"] if not p["metadata"].get("deletionTimestamp")]


def running_ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    return status.get("phase") == "Running" and ready


def all_running(cli: ClusterCli, *, image: str | None = None, avoid: str = "") -> Any:
    pods = live_pods(cli)
    if len(pods) != REPLICAS or not all(running_ready(p) for p in pods):
        return None
    if avoid and any(p["spec"].get("nodeName") == avoid for p in pods):
        return None
    if image and any(p["spec"]["containers"][0]["image"] != image for p in pods):
        return None
    return pods


def served_page(cli: ClusterCli, pod: str) -> str:
    """What the pod's httpd answers on 127.0.0.1 (its port is in its log)."""
    port = ""
    for line in cli("logs", pod).splitlines():
        if line.startswith("serving http://127.0.0.1:"):
            port = line.rsplit(":", 1)[1].strip("/")
    assert port, f"pod {pod} logged no port: {cli('logs', pod)!r}"
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as answer:
        return answer.read().decode()


def runtime_containers(up: UpProcess, dockerd: DockerdProcess | None) -> list[str]:
    """Every container the cluster's runtime holds for Navarch's pods."""
    if dockerd is not None:
        result = subprocess.run(
            ["docker", "-H", dockerd.socket_url, "ps", "-aq", "--filter", f"label={labels.NODE}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return result.stdout.split()
    socket = up.state()["runtime_options"]["socket"]
    result = subprocess.run(
        ["ctr", "--address", socket, "--namespace", "navarch", "containers", "ls", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.split()


# Each client and each runtime once: what a flow checks of the client does not depend
# on the runtime under it, nor the reverse (a third flow added no coverage).
FLOWS = [
    pytest.param("navctl", "containerd", id="navctl-containerd"),
    pytest.param("kubectl", "docker", id="kubectl-docker"),
]


@pytest.mark.parametrize(("client", "runtime"), FLOWS)
def test_a_user_runs_a_web_deployment_through_a_node_failure(
    client: str, runtime: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    dockerd = None
    options = None
    if runtime == "docker":
        dockerd = request.getfixturevalue("private_dockerd")
        options = {"socket": dockerd.socket_url}
    else:
        require_or_skip(containerd_problem())
    times: dict[str, float] = {}
    with UpProcess(tmp_path / "up", nodes=2, runtime=runtime, runtime_options=options) as up:
        worker = up.join_agent("node-3").start()
        daemons = {"up": up, "node-3": worker}
        cli = (
            ClusterCli.navctl(up.kubeconfig)
            if client == "navctl"
            else ClusterCli.kubectl(up.kubeconfig)
        )
        try:
            until(
                lambda: _ready_nodes(cli) == ["node-1", "node-2", "node-3"],
                "three nodes Ready",
                daemons,
                deadline=DEADLINE,
            )

            start = time.monotonic()
            cli("apply", "-f", "-", input=web_manifest("navarch.test/demo:1"))
            pods = until(lambda: all_running(cli), "6 web pods Running", daemons, deadline=DEADLINE)
            times["6 Running"] = time.monotonic() - start
            spread = collections.Counter(p["spec"]["nodeName"] for p in pods)
            assert spread == {"node-1": 2, "node-2": 2, "node-3": 2}, spread
            for pod in pods:
                page = until(
                    lambda name=pod["metadata"]["name"]: _try_page(cli, name),
                    f"pod {pod['metadata']['name']} serving",
                    daemons,
                    deadline=DEADLINE,
                )
                assert page == "Navarch demo, version 1\n"

            # logs and exec answer
            name = pods[0]["metadata"]["name"]
            assert "serving http://127.0.0.1:" in cli("logs", name)
            assert cli("exec", name, "--", "cat", "/var/www/index.html") == (
                "Navarch demo, version 1\n"
            )

            # node-3 dies outright: its pods run again on node-1 and node-2
            worker.kill()
            start = time.monotonic()
            until(
                lambda: all_running(cli, avoid="node-3"),
                "6 web pods Running on node-1 and node-2",
                daemons,
                deadline=FAILOVER_DEADLINE,
            )
            times["failover"] = time.monotonic() - start

            # a rolling update to demo:2, then back
            start = time.monotonic()
            cli("apply", "-f", "-", input=web_manifest("navarch.test/demo:2"))
            cli("rollout", "status", "deployment/web", "--timeout=240s", timeout=300)
            pods = until(
                lambda: all_running(cli, image="navarch.test/demo:2"),
                "6 pods of demo:2",
                daemons,
                deadline=DEADLINE,
            )
            times["rolling update"] = time.monotonic() - start
            assert (
                until(
                    lambda: _try_page(cli, pods[0]["metadata"]["name"]),
                    "an updated pod serving",
                    daemons,
                    deadline=DEADLINE,
                )
                == "Navarch demo, version 2\n"
            )
            cli("rollout", "undo", "deployment/web")
            cli("rollout", "status", "deployment/web", "--timeout=240s", timeout=300)
            pods = until(
                lambda: all_running(cli, image="navarch.test/demo:1"),
                "6 pods of demo:1 again",
                daemons,
                deadline=DEADLINE,
            )
            assert (
                until(
                    lambda: _try_page(cli, pods[0]["metadata"]["name"]),
                    "the rolled-back pod serving",
                    daemons,
                    deadline=DEADLINE,
                )
                == "Navarch demo, version 1\n"
            )

            # node-3 back (it confirms its old pods' end), the deployment deleted:
            # nothing of it is left in the runtime
            worker = up.join_agent("node-3").start()
            daemons["node-3"] = worker
            cli("delete", "deployment", "web")
            until(
                lambda: not cli.json("get", "pods", "-l", "app=web")["items"],
                "every web pod gone",
                daemons,
                deadline=DEADLINE,
            )
            until(
                lambda: runtime_containers(up, dockerd) == [],
                "no container left in the runtime",
                daemons,
                deadline=DEADLINE,
            )
        finally:
            worker.stop()
    print(f"\n{client} on {runtime}: " + ", ".join(f"{k} {v:.1f} s" for k, v in times.items()))
    assert not (tmp_path / "up" / "data").exists(), "navarch down --purge left the data"


def _ready_nodes(cli: ClusterCli) -> list[str]:
    nodes = cli.json("get", "nodes")["items"]
    return sorted(
        n["metadata"]["name"]
        for n in nodes
        if any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in n.get("status", {}).get("conditions", [])
        )
    )


def _try_page(cli: ClusterCli, pod: str) -> str | None:
    try:
        return served_page(cli, pod)
    except (OSError, AssertionError, json.JSONDecodeError):
        return None
