"""examples/plugin, navarch-example-plugin, as a user installs it: a wheel built by
hatchling into a directory of its own (outside the workspace), found through its entry
point. ``navarch plugins`` lists it; its profile and controller resolve by name; on a
cluster of real processes whose scheduler runs its profile, pods go to the node
labelled preferred, and its controller labels Deployments with their restarts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.cluster import Kubectl, controllers_process, daemon_config
from navarch.testing.daemon import started
from navarch.testing.navarchprocess import NavarchProcess
from navarch.testing.waiting import until
from tests.examples.helpers import EXAMPLES, fast_sim_agent, pod_rows

DEADLINE = 120.0
PROFILE, CONTROLLER = "example-preferred", "restart-counter"
PREFERRED_LABEL = "example.navarch.io/preferred"
RESTARTS_LABEL = "example.navarch.io/restarts"
HOOKS = [
    "navarch_register_controllers",
    "navarch_register_resources",
    "navarch_register_scheduler_profiles",
    "navarch_score",
]
BACKUP = """
apiVersion: example.navarch.io/v1
kind: Backup
metadata: {name: nightly}
spec: {schedule: "0 3 * * *", target: web, retain: 7}
"""


def navarch(*args: str, site: Path | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAVARCH_")}
    env.pop("PYTHONPATH", None)
    if site is not None:
        env["PYTHONPATH"] = str(site)
    return subprocess.run(
        [sys.executable, "-m", "navarch.cli.navarch", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_navarch_plugins_lists_it_with_its_hooks_profile_and_controller(plugin_site):
    result = navarch("plugins", "-o", "json", site=plugin_site)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    example = rows["example"]
    assert example["distribution"] == "navarch-example-plugin"
    assert str(plugin_site) in example["source"]
    assert example["hooks"] == HOOKS
    assert f"scheduler profile {PROFILE}" in example["provides"]
    assert f"controller {CONTROLLER}" in example["provides"]
    assert "resource backups.example.navarch.io" in example["provides"]


def test_its_profile_and_controller_resolve_by_name_only_when_installed(plugin_site):
    choose = ("--set", f"scheduler.profile={PROFILE}", "--set", f"controllers.enabled={CONTROLLER}")
    installed = navarch(*choose, "config", "check", site=plugin_site)
    assert installed.returncode == 0, installed.stderr
    missing = navarch(*choose, "config", "check", site=None)
    assert missing.returncode != 0
    assert PROFILE in missing.stderr


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, plugin_site: Path):
    """A scheduler running the plugin's profile, a controller manager running its
    controller (the plugin on their PYTHONPATH), and two sim nodes, one preferred."""
    root = tmp_path_factory.mktemp("example-plugin-cluster")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", str(plugin_site))  # the daemons inherit it
        with ApiServerProcess(root / "apiserver") as server:
            scheduler_config = daemon_config(
                server, root / "scheduler" / "data", scheduler={"profile": PROFILE}
            )
            controllers = ["deployment", "replicaset", "pod-termination", CONTROLLER]
            with started(
                fast_sim_agent(root, server, node_name="ex-plain"),
                fast_sim_agent(
                    root, server, node_name="ex-preferred", labels={PREFERRED_LABEL: "true"}
                ),
                NavarchProcess(root / "scheduler", "scheduler", scheduler_config),
                controllers_process(root, server, controllers),
            ) as daemons:
                kubectl = Kubectl(server.kubeconfig, timeout=60)
                until(
                    lambda: _ready_nodes(kubectl) == {"ex-plain", "ex-preferred"},
                    "both nodes Ready",
                    daemons,
                    deadline=DEADLINE,
                )
                yield kubectl, daemons


def _ready_nodes(kubectl: Kubectl) -> set[str]:
    lines = kubectl("get", "nodes", "--no-headers").splitlines()
    return {line.split()[0] for line in lines if line.split()[1] == "Ready"}


def test_its_profile_puts_every_pod_on_the_preferred_node(cluster):
    # Under the default profile (spread) 3 pods of one Deployment share out over the
    # two nodes; under example-preferred all go to the preferred one.
    kubectl, daemons = cluster
    kubectl("apply", "-f", str(EXAMPLES / "web.yaml"))

    def placed() -> dict[str, str]:
        pods = json.loads(kubectl("get", "pods", "-l", "app=web", "-o", "json"))["items"]
        nodes = {p["metadata"]["name"]: p["spec"].get("nodeName") for p in pods}
        return nodes if len(nodes) == 3 and all(nodes.values()) else {}

    nodes = until(placed, "3 web pods bound", daemons, deadline=DEADLINE)
    assert set(nodes.values()) == {"ex-preferred"}, nodes
    decision = kubectl(
        "get",
        "pod",
        next(iter(nodes)),
        "-o",
        "jsonpath={.metadata.annotations.scheduler\\.navarch\\.io/decision}",
    )
    assert "preferred-node 100 (weight 3)" in decision, decision


def test_its_controller_labels_deployments_with_their_restarts(cluster):
    kubectl, daemons = cluster
    kubectl("apply", "-f", str(EXAMPLES / "crash.yaml"))
    kubectl("apply", "-f", str(EXAMPLES / "web.yaml"))

    def label(deployment: str) -> str:
        path = "jsonpath={.metadata.labels.example\\.navarch\\.io/restarts}"
        return kubectl("get", "deploy", deployment, "-o", path)

    count = until(
        lambda: label("crash").isdigit() and int(label("crash")) > 0 and label("crash"),
        f"the crash Deployment labelled {RESTARTS_LABEL} with its restarts",
        daemons,
        deadline=DEADLINE,
    )
    # the label follows the pods' own restart counts
    pod_restarts = sum(int(r["restarts"]) for r in pod_rows(kubectl, "-l", "app=crash"))
    assert int(count) <= pod_restarts
    until(lambda: label("web") == "0", "web labelled 0 restarts", daemons, deadline=DEADLINE)


def test_its_own_kind_is_served_with_crud_watch_table_discovery_and_openapi(cluster, tmp_path):
    # Backup (example.navarch.io/v1) comes from the plugin alone: the core has no line
    # about it, and the real kubectl serves it from discovery and OpenAPI.
    kubectl, _ = cluster
    resources = kubectl("api-resources", "--api-group=example.navarch.io", "--no-headers")
    assert resources.split() == ["backups", "bk", "example.navarch.io/v1", "true", "Backup"]
    manifest = tmp_path / "backup.yaml"
    manifest.write_text(BACKUP)
    assert "backup.example.navarch.io/nightly created" in kubectl("apply", "-f", str(manifest))
    created = json.loads(kubectl("get", "bk", "nightly", "-o", "json"))
    assert created["status"] == {"phase": "Pending"}  # the plugin's strategy
    assert created["metadata"]["generation"] == 1

    table = kubectl("get", "backups").splitlines()
    assert table[0].split() == ["NAME", "SCHEDULE", "TARGET", "RETAIN", "PHASE", "AGE"]
    assert table[1].split()[:9] == ["nightly", "0", "3", "*", "*", "*", "web", "7", "Pending"]

    kubectl("patch", "backup", "nightly", "--type=merge", "-p", '{"spec":{"retain":9}}')
    patched = json.loads(kubectl("get", "bk", "nightly", "-o", "json"))
    assert patched["spec"]["retain"] == 9 and patched["metadata"]["generation"] == 2
    selected = kubectl("get", "bk", "--field-selector=spec.target=web", "-o", "name")
    assert selected.split() == ["backup.example.navarch.io/nightly"]

    # watch: every change since the create, in order, then the stream ends
    rv = created["metadata"]["resourceVersion"]
    kubectl("delete", "bk", "nightly")
    path = f"/apis/example.navarch.io/v1/namespaces/default/backups?watch=1&resourceVersion={rv}"
    events = [
        json.loads(line)
        for line in kubectl("get", "--raw", f"{path}&timeoutSeconds=2").splitlines()
    ]
    assert [e["type"] for e in events] == ["MODIFIED", "DELETED"]
    assert {e["object"]["kind"] for e in events} == {"Backup"}

    # OpenAPI: the model's schema, as kubectl explain reads it
    explained = kubectl("explain", "backup.spec")
    assert "retain" in explained and "schedule" in explained
    document = json.loads(kubectl("get", "--raw", "/openapi/v3/apis/example.navarch.io/v1"))
    schemas = document["components"]["schemas"]
    assert "io.navarch.example.v1.Backup" in schemas
    assert "/apis/example.navarch.io/v1/namespaces/{namespace}/backups" in document["paths"]
