"""The real kubectl against a Navarch API server."""

from __future__ import annotations

import json
import select
import shutil
import subprocess
from pathlib import Path

import pytest

MANIFESTS = Path(__file__).parent.parent / "fixtures" / "manifests"


@pytest.fixture(scope="module")
def kubectl(api_server):
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.fail("kubectl is not installed on this machine; the compatibility tests need it")

    def run(
        *args: str, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [binary, "--kubeconfig", str(api_server.kubeconfig), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result

    return run


def test_get_nodes_and_namespaces(kubectl):
    kubectl("create", "-f", str(MANIFESTS / "node.yaml"))
    nodes = json.loads(kubectl("get", "nodes", "-o", "json").stdout)
    assert [n["metadata"]["name"] for n in nodes["items"]] == ["worker-1"]
    assert nodes["items"][0]["status"]["allocatable"]["cpu"] == "1900m"
    assert "worker-1" in kubectl("get", "nodes").stdout
    names = kubectl("get", "namespaces", "-o", "name").stdout.split()
    assert "namespace/default" in names and "namespace/kube-node-lease" in names


def test_create_then_apply_twice(kubectl):
    created = kubectl("create", "-f", str(MANIFESTS / "nginx-deployment.yaml"))
    assert "deployment.apps/nginx-deployment created" in created.stdout
    first = kubectl("apply", "-f", str(MANIFESTS / "pod-probes.yaml"))
    assert "pod/goproxy created" in first.stdout
    second = kubectl("apply", "-f", str(MANIFESTS / "pod-probes.yaml"))
    assert "pod/goproxy unchanged" in second.stdout  # the second apply is a patch
    pod = json.loads(kubectl("get", "pod", "goproxy", "-o", "json").stdout)
    assert pod["spec"]["containers"][0]["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert "kubectl.kubernetes.io/last-applied-configuration" in pod["metadata"]["annotations"]


def test_apply_a_change_patches_the_object(kubectl, tmp_path):
    manifest = (
        (MANIFESTS / "nginx-deployment.yaml").read_text().replace("nginx:1.14.2", "nginx:1.16.1")
    )
    changed = tmp_path / "deployment.yaml"
    changed.write_text(manifest)
    kubectl("apply", "-f", str(MANIFESTS / "nginx-deployment.yaml"))
    out = kubectl("apply", "-f", str(changed))
    assert "deployment.apps/nginx-deployment configured" in out.stdout
    deployment = json.loads(kubectl("get", "deployment", "nginx-deployment", "-o", "json").stdout)
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.16.1"
    assert deployment["metadata"]["generation"] == 2


def test_get_pods_json(kubectl):
    pods = json.loads(kubectl("get", "pods", "-o", "json").stdout)
    assert pods["kind"] == "List"  # kubectl re-wraps every list as a v1 List
    assert [p["metadata"]["name"] for p in pods["items"]] == ["goproxy"]
    assert pods["items"][0]["status"]["phase"] == "Pending"


def test_scale_label_annotate(kubectl):
    kubectl("scale", "deployment", "nginx-deployment", "--replicas=5")
    deployment = json.loads(kubectl("get", "deployment", "nginx-deployment", "-o", "json").stdout)
    assert deployment["spec"]["replicas"] == 5
    kubectl("label", "pod", "goproxy", "tier=web")
    kubectl("annotate", "pod", "goproxy", "owner=team-a")
    pod = json.loads(kubectl("get", "pod", "goproxy", "-o", "json").stdout)
    assert pod["metadata"]["labels"] == {"app": "goproxy", "tier": "web"}
    assert pod["metadata"]["annotations"]["owner"] == "team-a"
    selected = kubectl("get", "pods", "-l", "tier=web", "-o", "name").stdout.split()
    assert selected == ["pod/goproxy"]


def test_watch_sees_changes_then_delete(kubectl, api_server):
    binary = shutil.which("kubectl")
    watch = subprocess.Popen(
        [
            binary,
            "--kubeconfig",
            str(api_server.kubeconfig),
            "get",
            "pods",
            "-w",
            "-o",
            "json",
            "--request-timeout=8s",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # kubectl lists before it watches: the pod printed means the watch follows from
        # the list's version, so the changes below are after it
        assert watch.stdout is not None
        ready, _, _ = select.select([watch.stdout], [], [], 30)
        assert ready, "kubectl get -w printed nothing in 30 s"
        first = watch.stdout.readline()
        kubectl("label", "pod", "goproxy", "watched=yes")
        kubectl("delete", "pod", "goproxy")
        out, _ = watch.communicate(timeout=30)
        out = first + out
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.wait()
    assert '"watched": "yes"' in out
    assert kubectl("get", "pods", "-o", "name").stdout.strip() == ""


def test_delete_deployment(kubectl):
    out = kubectl("delete", "-f", str(MANIFESTS / "nginx-deployment.yaml"))
    assert 'deployment.apps "nginx-deployment" deleted' in out.stdout
    missing = kubectl("get", "deployment", "nginx-deployment", check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr


def test_invalid_manifest_reports_the_field(kubectl, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: Bad_Name}\n"
        "spec: {containers: [{name: c, image: x, imagePulPolicy: Always}]}\n"
    )
    result = kubectl("create", "-f", str(bad), check=False)
    assert result.returncode != 0
    assert "metadata.name" in result.stderr
    assert "spec.containers[0].imagePulPolicy" in result.stderr
