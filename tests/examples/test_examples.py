"""The manifests and the configuration file under examples/: each loads as Navarch
loads it, and the workloads do what their comments promise on a cluster of real
processes (API server, scheduler, controller manager, an agent on the simulated
runtime, driven with the real kubectl): the batch pod Completes, the crashing
Deployment goes into CrashLoopBackOff with restarts, the web Deployment runs 3 pods.
(Serving HTTP needs a real runtime: the end-to-end tests cover it.)"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from navarch import api
from navarch.config import load_config
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.cluster import Kubectl, controllers_process, scheduler_process
from navarch.testing.daemon import started
from navarch.testing.waiting import until
from tests.examples.helpers import EXAMPLES, fast_sim_agent, pod_rows

# generous: several daemons share a busy machine's 2 cores
DEADLINE = 120.0
BINPACK = str(EXAMPLES / "binpack.yaml")
MANIFESTS = sorted(p.name for p in EXAMPLES.glob("*.yaml") if p.name != "binpack.yaml")


# --- files -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", MANIFESTS)
def test_manifest_loads_with_the_object_model(name):
    documents = [d for d in yaml.safe_load_all((EXAMPLES / name).read_text()) if d]
    assert documents, f"{name} holds no object"
    for document in documents:
        loaded = api.load(document)  # raises with every field error
        assert not loaded.ignored, f"{name}: fields Navarch would ignore: {loaded.ignored}"


def test_binpack_configuration_chooses_the_binpack_profile():
    config = load_config(EXAMPLES / "binpack.yaml", env={})
    assert config["scheduler.profile"] == "binpack"
    assert config.sources["scheduler.profile"].startswith("config file")


def test_binpack_configuration_passes_config_check():
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAVARCH_")}
    result = subprocess.run(
        [sys.executable, "-m", "navarch.cli.navarch", "--config", BINPACK, "config", "check"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "configuration is valid" in result.stdout


def test_readme_names_every_example():
    readme = (EXAMPLES / "README.md").read_text()
    for path in [*EXAMPLES.glob("*.yaml"), EXAMPLES / "plugin"]:
        assert f"examples/{path.name}" in readme, f"examples/README.md does not name {path.name}"


# --- on a cluster ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("examples-cluster")
    with (
        ApiServerProcess(root / "apiserver") as server,
        started(
            scheduler_process(root, server),
            # one agent of its own (not --simulate), so it serves logs
            fast_sim_agent(root, server, node_name="examples-node"),
            controllers_process(root, server, ["deployment", "replicaset", "pod-termination"]),
        ) as daemons,
    ):
        yield server, daemons


@pytest.fixture
def kubectl(cluster) -> Kubectl:
    server, _ = cluster
    return Kubectl(server.kubeconfig, timeout=60)


def test_batch_pod_completes_and_keeps_its_log(cluster, kubectl):
    _, daemons = cluster
    kubectl("apply", "-f", str(EXAMPLES / "batch.yaml"))
    until(
        lambda: [r for r in pod_rows(kubectl, "batch") if r["status"] == "Completed"],
        "the batch pod Completed",
        daemons,
        deadline=DEADLINE,
    )
    assert kubectl("get", "pod", "batch", "-o", "jsonpath={.status.phase}") == "Succeeded"
    assert kubectl("logs", "batch").split() == ["counting", "to", "3", "1", "2", "3", "done"]
    kubectl("delete", "-f", str(EXAMPLES / "batch.yaml"))


def test_crashing_deployment_goes_into_crash_loop_back_off(cluster, kubectl):
    _, daemons = cluster
    kubectl("apply", "-f", str(EXAMPLES / "crash.yaml"))
    rows = until(
        lambda: [
            r
            for r in pod_rows(kubectl, "-l", "app=crash")
            if r["status"] == "CrashLoopBackOff" and int(r["restarts"]) > 0
        ],
        "a crash pod in CrashLoopBackOff, restarted",
        daemons,
        deadline=DEADLINE,
    )
    assert rows[0]["ready"] == "0/1"
    previous = kubectl("logs", rows[0]["name"], "--previous")
    assert "failing on purpose" in previous
    kubectl("delete", "-f", str(EXAMPLES / "crash.yaml"))


def test_web_deployment_runs_three_pods(cluster, kubectl):
    _, daemons = cluster
    kubectl("apply", "-f", str(EXAMPLES / "web.yaml"))
    until(
        lambda: (
            len([r for r in pod_rows(kubectl, "-l", "app=web") if r["status"] == "Running"]) == 3
        ),
        "3 web pods Running",
        daemons,
        deadline=DEADLINE,
    )
    until(
        lambda: (
            kubectl("get", "deploy", "web", "-o", "jsonpath={.status.availableReplicas}") == "3"
        ),
        "the web Deployment 3 available",
        daemons,
        deadline=DEADLINE,
    )
    kubectl("delete", "-f", str(EXAMPLES / "web.yaml"))
