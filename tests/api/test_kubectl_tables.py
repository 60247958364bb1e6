"""What the real kubectl shows: server-side printed tables, `get all`, OpenAPI-driven
apply and explain, and `describe pod` listing the pod's events."""

from __future__ import annotations

import datetime as dt
import json
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

MANIFESTS = Path(__file__).parent.parent / "fixtures" / "manifests"

POD = """
apiVersion: v1
kind: Pod
metadata:
  name: web-1
  labels: {app: web}
spec:
  nodeName: worker-1
  containers:
  - name: app
    image: nginx:1.27
"""
REPLICASET = """
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-rs
spec:
  replicas: 2
  selector: {matchLabels: {app: rs}}
  template:
    metadata: {labels: {app: rs}}
    spec:
      containers: [{name: app, image: "nginx:1.27"}]
"""
UNSERVED = """
apiVersion: v1
kind: ReplicationController
metadata:
  name: web
spec:
  selector: {app: web}
"""


@pytest.fixture(scope="module")
def kubectl(api_server, tmp_path_factory):
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.fail("kubectl is not installed on this machine; the compatibility tests need it")
    # A discovery cache of its own: another server may have used the same port before.
    cache = tmp_path_factory.mktemp("kubectl-cache")
    base = [binary, "--kubeconfig", str(api_server.kubeconfig), "--cache-dir", str(cache)]

    def run(*args: str, check: bool = True, stdin: str | None = None):
        result = subprocess.run(
            [*base, *args], capture_output=True, text=True, timeout=60, input=stdin
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result

    run.base = base
    run("create", "-f", str(MANIFESTS / "node.yaml"))
    run("create", "-f", "-", stdin=POD)
    run("apply", "-f", str(MANIFESTS / "nginx-deployment.yaml"))
    return run


def header(output: str) -> list[str]:
    return output.splitlines()[0].split()


def row(output: str, name: str) -> list[str]:
    for line in output.splitlines():
        if line.split() and line.split()[0] == name:
            return line.split()
    raise AssertionError(f"no row for {name} in:\n{output}")


def test_get_pods_shows_ready_status_restarts_age(kubectl):
    out = kubectl("get", "pods").stdout
    assert header(out) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert row(out, "web-1")[1:4] == ["0/1", "Pending", "0"]


def test_get_pods_wide_shows_ip_and_node(kubectl):
    out = kubectl("get", "pods", "-o", "wide").stdout
    assert " ".join(header(out)) == (
        "NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES"
    )
    assert row(out, "web-1")[5:7] == ["<none>", "worker-1"]


def test_status_column_follows_the_containers(kubectl):
    kubectl("create", "-f", "-", stdin=POD.replace("web-1", "web-2"))
    status = {
        "status": {
            "phase": "Running",
            "podIP": "10.1.0.9",
            "containerStatuses": [
                {
                    "name": "app",
                    "image": "nginx:1.27",
                    "imageID": "",
                    "ready": False,
                    "restartCount": 4,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                }
            ],
        }
    }
    kubectl(
        "patch", "pod", "web-2", "--subresource=status", "--type=merge", "-p", json.dumps(status)
    )
    out = kubectl("get", "pod", "web-2", "-o", "wide").stdout
    cells = row(out, "web-2")
    assert cells[1:4] == ["0/1", "CrashLoopBackOff", "4"]
    assert cells[5] == "10.1.0.9"


def test_other_kinds_have_their_columns(kubectl):
    assert header(kubectl("get", "deployments").stdout) == [
        "NAME",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "AGE",
    ]
    assert row(kubectl("get", "deployments").stdout, "nginx-deployment")[1] == "0/3"
    assert header(kubectl("get", "nodes").stdout) == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert header(kubectl("get", "namespaces").stdout) == ["NAME", "STATUS", "AGE"]
    assert row(kubectl("get", "namespaces").stdout, "default")[1] == "Active"
    kubectl("create", "-f", "-", stdin=REPLICASET)
    replicasets = kubectl("get", "replicasets", "-o", "wide").stdout
    assert header(replicasets) == [
        "NAME",
        "DESIRED",
        "CURRENT",
        "READY",
        "AGE",
        "CONTAINERS",
        "IMAGES",
        "SELECTOR",
    ]
    assert row(replicasets, "web-rs")[1] == "2"
    assert row(replicasets, "web-rs")[5:] == ["app", "nginx:1.27", "app=rs"]


def test_get_all_lists_pods_and_deployments(kubectl):
    out = kubectl("get", "all").stdout
    assert "pod/web-1" in out
    assert "deployment.apps/nginx-deployment" in out


def test_apply_of_an_unserved_kind_names_the_kind(kubectl):
    result = kubectl("apply", "-f", "-", stdin=UNSERVED, check=False)
    assert result.returncode != 0
    assert 'no matches for kind "ReplicationController" in version "v1"' in result.stderr
    assert "openapi" not in result.stderr


def test_explain_walks_the_schemas(kubectl):
    out = kubectl("explain", "pods.spec.containers").stdout
    assert "FIELD: containers <[]Container>" in out
    assert "image\t<string>" in out
    v2 = kubectl("explain", "deployments", "--output=plaintext-openapiv2").stdout
    assert "KIND:     Deployment" in v2 or "KIND:       Deployment" in v2


def test_explain_prints_kubernetes_descriptions(kubectl):
    """Issue 21 item 7: every field said <no description>."""
    for output in ("plaintext", "plaintext-openapiv2"):
        image = kubectl("explain", "pods.spec.containers.image", f"--output={output}").stdout
        assert "Container image name." in image, image
        replicas = kubectl("explain", "deployment.spec.replicas", f"--output={output}").stdout
        assert "Number of desired pods." in replicas, replicas
    fields = kubectl("explain", "deployment.spec").stdout
    assert "<no description>" not in fields, fields


def test_describe_pod_shows_its_events(kubectl):
    uid = kubectl("get", "pod", "web-1", "-o", "jsonpath={.metadata.uid}").stdout
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "web-1.failed", "namespace": "default"},
        "involvedObject": {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": "web-1",
            "namespace": "default",
            "uid": uid,
        },
        "reason": "FailedScheduling",
        "message": "0/1 nodes are available: 1 Insufficient cpu.",
        "type": "Warning",
        "source": {"component": "default-scheduler"},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }
    kubectl("create", "-f", "-", stdin=json.dumps(event))
    out = kubectl("describe", "pod", "web-1").stdout
    events = out.split("Events:", 1)[1]
    assert "<none>" not in events
    assert "FailedScheduling" in events and "Insufficient cpu" in events
    listed = kubectl("get", "events").stdout
    assert header(listed) == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert "pod/web-1" in listed


def test_watch_prints_table_rows(kubectl):
    watch = subprocess.Popen(
        [*kubectl.base, "get", "pods", "-w", "--output-watch-events", "--request-timeout=60s"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in watch.stdout], daemon=True).start()
    seen: list[list[str]] = []
    try:
        # A change must come after the watch started: change the pod until one is seen.
        deadline = time.monotonic() + 50
        value = 0
        while time.monotonic() < deadline:
            value += 1
            kubectl("label", "pod", "web-1", f"round={value}", "--overwrite")
            try:
                while True:
                    seen.append(lines.get(timeout=1).split())
            except queue.Empty:
                pass
            if any(cells[:2] == ["MODIFIED", "web-1"] for cells in seen[1:]):
                break
    finally:
        watch.kill()
        watch.wait()
    assert seen and seen[0][:4] == ["EVENT", "NAME", "READY", "STATUS"], seen
    assert any(cells[:2] == ["MODIFIED", "web-1"] for cells in seen[1:]), seen


def test_apply_computes_its_patch_from_the_served_schemas(kubectl):
    # The strategy's retainKeys: switching to Recreate drops the defaulted rollingUpdate
    # (without it the server would keep rollingUpdate and refuse the Recreate).
    manifest = (MANIFESTS / "nginx-deployment.yaml").read_text()
    recreate = manifest.replace(
        "spec:\n  replicas", "spec:\n  strategy:\n    type: Recreate\n  replicas", 1
    )
    assert recreate != manifest
    kubectl("apply", "-f", "-", stdin=recreate)
    strategy = kubectl("get", "deployment", "nginx-deployment", "-o", "jsonpath={.spec.strategy}")
    assert json.loads(strategy.stdout) == {"type": "Recreate"}
    kubectl("apply", "-f", str(MANIFESTS / "nginx-deployment.yaml"))
    strategy = kubectl("get", "deployment", "nginx-deployment", "-o", "jsonpath={.spec.strategy}")
    assert json.loads(strategy.stdout)["type"] == "RollingUpdate"
