"""PersistentVolumes, PersistentVolumeClaims and StorageClasses on the API server
(issue 23 item 3): the real kubectl's `get pv,pvc,sc` columns, Kubernetes' validation
messages, the protection finalizers and the claim's update rule."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from navarch.client.errors import ApiException

PV = """
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-table}
spec:
  capacity: {storage: 2Gi}
  accessModes: [ReadWriteMany, ReadWriteOnce]
  storageClassName: manual
  claimRef: {namespace: default, name: data}
  hostPath: {path: /srv/pv-table}
"""
PVC = """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data-table}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: manual
  resources: {requests: {storage: 1Gi}}
"""
SC = """
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: fast-table
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: example.com/fast
volumeBindingMode: WaitForFirstConsumer
"""


@pytest.fixture(scope="module")
def kubectl(api_server, tmp_path_factory):
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.fail("kubectl is not installed on this machine; the compatibility tests need it")
    cache = tmp_path_factory.mktemp("kubectl-cache")
    base = [binary, "--kubeconfig", str(api_server.kubeconfig), "--cache-dir", str(cache)]

    def run(*args: str, check: bool = True, stdin: str | None = None):
        result = subprocess.run(
            [*base, *args], capture_output=True, text=True, timeout=60, input=stdin
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result

    return run


async def _create(resource, body, namespace=None):
    return (await resource.create(body, namespace=namespace)).to_dict()


def _rows(output: str) -> list[list[str]]:
    """The table's lines split on runs of two or more spaces (headers have spaces)."""
    import re

    return [re.split(r"\s{2,}", line.strip()) for line in output.splitlines() if line.strip()]


def test_kubectl_get_pv_pvc_sc_prints_kubernetes_columns(kubectl):
    for manifest in (PV, PVC, SC):
        kubectl("create", "-f", "-", stdin=manifest)
    out = kubectl("get", "pv/pv-table", "pvc/data-table", "sc/fast-table").stdout
    tables = [_rows(block) for block in out.strip().split("\n\n")]
    pv, pvc, sc = tables
    assert pv[0] == [
        "NAME",
        "CAPACITY",
        "ACCESS MODES",
        "RECLAIM POLICY",
        "STATUS",
        "CLAIM",
        "STORAGECLASS",
        "VOLUMEATTRIBUTESCLASS",
        "REASON",
        "AGE",
    ]
    assert pv[1][:8] == [
        "persistentvolume/pv-table",
        "2Gi",
        "RWO,RWX",
        "Retain",
        "Pending",
        "default/data",
        "manual",
        "<unset>",
    ]
    assert pvc[0] == [
        "NAME",
        "STATUS",
        "VOLUME",
        "CAPACITY",
        "ACCESS MODES",
        "STORAGECLASS",
        "VOLUMEATTRIBUTESCLASS",
        "AGE",
    ]
    # Unbound: no volume, capacity or modes (kubectl prints the bound volume's only).
    assert pvc[1][:4] == ["persistentvolumeclaim/data-table", "Pending", "manual", "<unset>"]
    assert sc[0] == [
        "NAME",
        "PROVISIONER",
        "RECLAIMPOLICY",
        "VOLUMEBINDINGMODE",
        "ALLOWVOLUMEEXPANSION",
        "AGE",
    ]
    assert sc[1][:5] == [
        "storageclass.storage.k8s.io/fast-table (default)",
        "example.com/fast",
        "Delete",
        "WaitForFirstConsumer",
        "false",
    ]
    wide = _rows(kubectl("get", "pv", "pv-table", "-o", "wide").stdout)
    assert wide[0][-1] == "VOLUMEMODE" and wide[1][-1] == "Filesystem"


async def test_claim_and_volume_get_their_protection_finalizers(client):
    pvc = await _create(
        client.persistentvolumeclaims,
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "protected"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
        namespace="default",
    )
    assert pvc["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    assert pvc["status"]["phase"] == "Pending"
    assert pvc["spec"]["volumeMode"] == "Filesystem"
    pv = await _create(
        client.persistentvolumes,
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": "protected"},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "hostPath": {"path": "/srv/protected"},
            },
        },
    )
    assert pv["metadata"]["finalizers"] == ["kubernetes.io/pv-protection"]
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert pv["status"]["phase"] == "Pending"


async def test_invalid_volume_and_claim_get_kubernetes_messages(client):
    with pytest.raises(ApiException) as caught:
        await client.persistentvolumes.create(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": "bad"},
                "spec": {
                    "capacity": {"storage": "0"},
                    "accessModes": ["ReadWriteOncePod", "ReadWriteOnce"],
                    "local": {"path": "/srv/x"},
                },
            },
        )
    message = str(caught.value)
    assert 'spec.capacity[storage]: Invalid value: "0": must be greater than zero' in message
    assert "may not use ReadWriteOncePod with other access modes" in message
    assert "spec.nodeAffinity: Required value: Local volume requires node affinity" in message
    with pytest.raises(ApiException) as caught:
        await client.persistentvolumeclaims.create(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": "bad"},
                "spec": {"resources": {}},
            },
            namespace="default",
        )
    message = str(caught.value)
    assert "spec.accessModes: Required value: at least 1 access mode is required" in message
    assert "spec.resources[storage]: Required value" in message
    with pytest.raises(ApiException) as caught:
        await client.storageclasses.create(
            {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "StorageClass",
                "metadata": {"name": "bad"},
                "provisioner": "x.io/y",
                "reclaimPolicy": "Recycle",
            },
        )
    assert 'reclaimPolicy: Unsupported value: "Recycle"' in str(caught.value)


async def test_claim_spec_is_immutable_but_volume_name_set_once(client):
    claim = await _create(
        client.persistentvolumeclaims,
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "fixed"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
        namespace="default",
    )
    claim["spec"]["accessModes"] = ["ReadWriteMany"]
    with pytest.raises(ApiException) as caught:
        (await client.persistentvolumeclaims.update(claim)).to_dict()
    assert "spec is immutable after creation" in str(caught.value)
    claim["spec"]["accessModes"] = ["ReadWriteOnce"]
    claim["spec"]["volumeName"] = "some-volume"
    claim["spec"]["storageClassName"] = "late-default"
    updated = (await client.persistentvolumeclaims.update(claim)).to_dict()
    assert updated["spec"]["volumeName"] == "some-volume"
    # A claim not yet bound may not grow either.
    updated["spec"]["resources"]["requests"]["storage"] = "2Gi"
    with pytest.raises(ApiException) as caught:
        (await client.persistentvolumeclaims.update(updated)).to_dict()
    assert "spec is immutable after creation" in str(caught.value)


async def test_bound_claim_may_grow_but_never_shrink(client):
    await client.persistentvolumeclaims.create(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "growing"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
        namespace="default",
    )
    await client.persistentvolumeclaims.patch(
        "growing", {"status": {"phase": "Bound"}}, "default", subresource="status"
    )
    grown = await client.persistentvolumeclaims.patch(
        "growing", {"spec": {"resources": {"requests": {"storage": "2Gi"}}}}, "default"
    )
    assert grown.spec.resources.requests["storage"].canonical() == "2Gi"
    with pytest.raises(ApiException) as caught:
        await client.persistentvolumeclaims.patch(
            "growing", {"spec": {"resources": {"requests": {"storage": "1Gi"}}}}, "default"
        )
    assert (
        "spec.resources.requests.storage: Forbidden: field can not be less than previous value"
        in str(caught.value)
    )
