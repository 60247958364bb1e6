"""Server-side apply with the real kubectl and the official Python client."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config, utils
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{app: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - name: nginx
        image: {image}
        ports: [{{containerPort: 80}}]
"""


def manifest(tmp_path: Path, name: str, replicas: int = 2, image: str = "nginx:1.14.2") -> str:
    path = tmp_path / f"{name}-{replicas}-{image.replace(':', '-')}.yaml"
    path.write_text(DEPLOYMENT.format(name=name, replicas=replicas, image=image))
    return str(path)


@pytest.fixture(scope="module")
def kubectl(api_server):
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.fail("kubectl is not installed on this machine; the compatibility tests need it")

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [binary, "--kubeconfig", str(api_server.kubeconfig), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result

    return run


def get(kubectl, name: str) -> dict:
    out = kubectl("get", "deployment", name, "-o", "json", "--show-managed-fields")
    return json.loads(out.stdout)


def managers(obj: dict) -> dict[tuple[str, str], dict]:
    return {(e["manager"], e["operation"]): e for e in obj["metadata"].get("managedFields", [])}


def test_server_side_apply_twice_changes_nothing(kubectl, tmp_path):
    first = kubectl("apply", "--server-side", "-f", manifest(tmp_path, "ssa-twice"))
    assert "deployment.apps/ssa-twice serverside-applied" in first.stdout
    created = get(kubectl, "ssa-twice")
    entry = managers(created)[("kubectl", "Apply")]
    assert entry["fieldsType"] == "FieldsV1"
    assert entry["fieldsV1"]["f:spec"]["f:replicas"] == {}
    containers = entry["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert containers['k:{"name":"nginx"}']["f:image"] == {}

    kubectl("apply", "--server-side", "-f", manifest(tmp_path, "ssa-twice"))
    again = get(kubectl, "ssa-twice")
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert again["metadata"]["managedFields"] == created["metadata"]["managedFields"]


def test_a_change_by_another_manager_conflicts_until_forced(kubectl, tmp_path):
    kubectl("apply", "--server-side", "-f", manifest(tmp_path, "ssa-conflict"))
    kubectl("patch", "deployment", "ssa-conflict", "--type=merge", "-p", '{"spec":{"replicas":5}}')
    assert ("kubectl-patch", "Update") in managers(get(kubectl, "ssa-conflict"))

    refused = kubectl(
        "apply", "--server-side", "-f", manifest(tmp_path, "ssa-conflict", 3), check=False
    )
    assert refused.returncode != 0
    assert (
        'Apply failed with 1 conflict: conflict with "kubectl-patch" using apps/v1: '
        ".spec.replicas" in refused.stderr
    )
    assert get(kubectl, "ssa-conflict")["spec"]["replicas"] == 5

    # Applying the value already there is no conflict: the two managers share it.
    kubectl("apply", "--server-side", "-f", manifest(tmp_path, "ssa-conflict", 5))

    kubectl(
        "apply", "--server-side", "--force-conflicts", "-f", manifest(tmp_path, "ssa-conflict", 3)
    )
    forced = get(kubectl, "ssa-conflict")
    assert forced["spec"]["replicas"] == 3
    assert ("kubectl-patch", "Update") not in managers(forced)  # it owned nothing else


def test_a_field_no_longer_applied_is_removed(kubectl, tmp_path):
    kubectl("apply", "--server-side", "-f", manifest(tmp_path, "ssa-prune"))
    labelled = DEPLOYMENT.format(name="ssa-prune", replicas=2, image="nginx:1.14.2").replace(
        "labels: {app: ssa-prune}\nspec", "labels: {app: ssa-prune, tier: web}\nspec"
    )
    (tmp_path / "labelled.yaml").write_text(labelled)
    kubectl("apply", "--server-side", "-f", str(tmp_path / "labelled.yaml"))
    assert get(kubectl, "ssa-prune")["metadata"]["labels"]["tier"] == "web"
    kubectl("apply", "--server-side", "-f", manifest(tmp_path, "ssa-prune"))
    assert get(kubectl, "ssa-prune")["metadata"]["labels"] == {"app": "ssa-prune"}


def test_client_side_apply_keeps_working_beside_it(kubectl, tmp_path):
    created = kubectl("apply", "-f", manifest(tmp_path, "csa-beside"))
    assert "deployment.apps/csa-beside created" in created.stdout
    assert ("kubectl-client-side-apply", "Update") in managers(get(kubectl, "csa-beside"))

    kubectl("apply", "-f", manifest(tmp_path, "csa-beside", image="nginx:1.16.1"))
    kubectl("apply", "--server-side", "-f", manifest(tmp_path, "csa-beside", 4, "nginx:1.16.1"))
    after = get(kubectl, "csa-beside")
    assert after["spec"]["replicas"] == 4
    assert ("kubectl", "Apply") in managers(after)
    # kubectl then moved the client-side fields to its apply entry, with a JSON patch
    # whose precondition is a "replace" of metadata.resourceVersion
    assert ("kubectl-client-side-apply", "Update") not in managers(after)

    # and client-side apply goes on working on an object server-side apply manages
    configured = kubectl("apply", "-f", manifest(tmp_path, "csa-beside", 4, "nginx:1.17"))
    assert "configured" in configured.stdout
    final = get(kubectl, "csa-beside")
    assert final["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.17"


def test_the_python_client_create_from_yaml_with_apply(api_server, tmp_path):
    api_client = config.new_client_from_config(config_file=str(api_server.kubeconfig))
    try:
        path = manifest(tmp_path, "py-apply")
        utils.create_from_yaml(api_client, path, apply=True)
        utils.create_from_yaml(api_client, path, apply=True)  # again: unchanged
        apps = client.AppsV1Api(api_client)
        live = apps.read_namespaced_deployment("py-apply", "default")
        assert live.spec.replicas == 2
        entries = {(e.manager, e.operation) for e in live.metadata.managed_fields}
        assert ("python-client", "Apply") in entries

        deployments = DynamicClient(api_client).resources.get(
            api_version="apps/v1", kind="Deployment"
        )
        with pytest.raises(ApiException) as info:  # apply needs a field manager
            deployments.server_side_apply(
                body=yaml.safe_load(Path(path).read_text()), namespace="default"
            )
        assert info.value.status == 422
        assert "fieldManager: Required value" in info.value.body
    finally:
        api_client.close()


def test_apply_through_the_status_subresource_owns_only_status(api_server):
    api_client = config.new_client_from_config(config_file=str(api_server.kubeconfig))
    try:
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "ssa-status"},
            "spec": {"containers": [{"name": "main", "image": "busybox:1"}]},
        }
        client.CoreV1Api(api_client).create_namespaced_pod("default", pod)
        config_ = {**pod, "spec": {"containers": [{"name": "main", "image": "other:2"}]}}
        config_["status"] = {"phase": "Running"}
        pods = DynamicClient(api_client).resources.get(api_version="v1", kind="Pod")
        applied = (
            pods.subresources["status"]
            .server_side_apply(
                body=config_, name="ssa-status", namespace="default", field_manager="agent"
            )
            .to_dict()
        )
        assert applied["status"]["phase"] == "Running"
        assert applied["spec"]["containers"][0]["image"] == "busybox:1"  # status only
        (entry,) = [e for e in applied["metadata"]["managedFields"] if e["manager"] == "agent"]
        assert (entry["operation"], entry["subresource"]) == ("Apply", "status")
        assert entry["fieldsV1"] == {"f:status": {"f:phase": {}}}
    finally:
        api_client.close()


def test_a_cluster_scoped_object_is_created_and_applied_again(kubectl, tmp_path):
    path = tmp_path / "namespace.yaml"
    path.write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ssa-team\n  labels: {a: b}\n"
    )
    kubectl("apply", "--server-side", "-f", str(path))
    path.write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ssa-team\n")
    kubectl("apply", "--server-side", "-f", str(path))
    namespace = json.loads(
        kubectl("get", "namespace", "ssa-team", "-o", "json", "--show-managed-fields").stdout
    )
    assert "a" not in (namespace["metadata"].get("labels") or {})  # no longer applied
    assert namespace["status"]["phase"] == "Active"


@pytest.mark.parametrize("name", ["nginx-deployment", "node", "pod-probes"])
def test_each_fixture_manifest_applied_twice_is_unchanged(kubectl, name):
    path = str(Path(__file__).parent.parent / "fixtures" / "manifests" / f"{name}.yaml")
    kubectl("apply", "--server-side", "--field-manager=fixtures", "-f", path)
    first = json.loads(kubectl("get", "-f", path, "-o", "json").stdout)
    kubectl("apply", "--server-side", "--field-manager=fixtures", "-f", path)
    second = json.loads(kubectl("get", "-f", path, "-o", "json").stdout)
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]


NODE = """\
apiVersion: v1
kind: Node
metadata:
  name: ssa-taints
spec:
  taints: {taints}
"""


def test_node_taints_are_replaced_whole_and_an_empty_list_clears_them(kubectl, tmp_path):
    # Kubernetes' NodeSpec.Taints is atomic: one field, which an apply replaces whole. Merged
    # by key, an apply could neither drop taints another writer set nor clear the list.
    path = tmp_path / "node.yaml"

    def taints() -> list[dict]:
        node = json.loads(kubectl("get", "node", "ssa-taints", "-o", "json").stdout)
        return node["spec"].get("taints") or []

    gpu, zone = "{key: dedicated, value: gpu, effect: NoSchedule}", "{key: zone, effect: NoExecute}"
    path.write_text(NODE.format(taints=f"[{gpu}, {zone}]"))
    kubectl("create", "-f", str(path))  # the taints belong to kubectl-create
    path.write_text(NODE.format(taints="[{key: dedicated, value: cpu, effect: NoSchedule}]"))
    conflict = kubectl("apply", "--server-side", "-f", str(path), check=False)
    assert conflict.returncode != 0 and ".spec.taints" in conflict.stderr, conflict.stderr
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))
    assert taints() == [{"key": "dedicated", "value": "cpu", "effect": "NoSchedule"}]
    kubectl("taint", "node", "ssa-taints", "extra=1:NoSchedule")  # kubectl-taint's write
    path.write_text(NODE.format(taints="[]"))
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))
    assert taints() == []


def test_a_failed_json_patch_test_reads_plainly_in_kubectl(kubectl, tmp_path):
    kubectl("apply", "--server-side", "-f", manifest(tmp_path, "jp-test", replicas=7))
    result = kubectl(
        "patch",
        "deployment",
        "jp-test",
        "--type=json",
        "-p",
        '[{"op": "test", "path": "/spec/replicas", "value": 1}]',
        check=False,
    )
    assert result.returncode != 0
    assert result.stderr.strip() == (
        'The Deployment "jp-test" is invalid: spec.replicas: testing value /spec/replicas '
        "failed: test failed: the value is 7, the patch expects 1"
    )
