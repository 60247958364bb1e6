"""``navctl get`` of issue 23's kinds (item 9): each by its plural, singular and short
name, ``-o wide``, and ``get all``, compared with what the real kubectl prints for the
same words against the same API server (the columns are the server's Table)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from navarch.cli.navctl import main
from navarch.testing.cluster import Kubectl

IMAGE = "127.0.0.1:5000/busybox:1"


def template(app: str, restart: str = "Always") -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": app}},
        "spec": {
            "restartPolicy": restart,
            "containers": [{"name": "main", "image": IMAGE, "command": ["sleep", "1"]}],
        },
    }


def objects(suffix: str) -> list[dict[str, Any]]:
    """One of each kind (cluster-scoped names made unique per run)."""
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
         "data": {"a": "1", "b": "2"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
         "stringData": {"password": "pw"}},
        {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
         "metadata": {"name": f"local-{suffix}"}, "provisioner": "rancher.io/local-path",
         "volumeBindingMode": "WaitForFirstConsumer"},
        {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": f"pv-{suffix}"},
         "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                  "storageClassName": f"local-{suffix}", "hostPath": {"path": "/tmp/pv"}}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
         "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": f"local-{suffix}",
                  "resources": {"requests": {"storage": "1Gi"}}}},
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"},
         "spec": {"template": template("once", "Never")}},
        {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick"},
         "spec": {"schedule": "*/5 * * * *",
                  "jobTemplate": {"spec": {"template": template("tick", "OnFailure")}}}},
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
         "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": template("agent")}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
         "spec": {"replicas": 2, "serviceName": "db",
                  "selector": {"matchLabels": {"app": "db"}}, "template": template("db")}},
        {"apiVersion": "apps/v1", "kind": "ControllerRevision",
         "metadata": {"name": "agent-1", "labels": {"app": "agent"}},
         "data": {"spec": {"template": {"$patch": "replace"}}}, "revision": 1},
    ]  # fmt: skip


def cells(text: str) -> list[list[str]]:
    """Rows split on whitespace, without AGE-like cells (a second may pass between
    the two tools' runs)."""
    return [
        [c for c in line.split() if not (c[:-1].isdigit() and c[-1] in "smhd")]
        for line in text.splitlines()
    ]


@pytest.fixture(scope="module")
def cluster(api_server, tmp_path_factory) -> tuple[Path, str, str]:
    """The server with one object of each kind in a namespace of its own."""
    suffix = uuid.uuid4().hex[:6]
    ns = f"get-{suffix}"
    kubectl = Kubectl(api_server.kubeconfig)
    kubectl("create", "namespace", ns)
    path = tmp_path_factory.mktemp("kinds") / "kinds.yaml"
    path.write_text(yaml.safe_dump_all(objects(suffix)))
    kubectl("apply", "-f", str(path), "-n", ns)
    return api_server.kubeconfig, ns, suffix


def navctl(capsys, kubeconfig: Path, ns: str, *args: str) -> str:
    capsys.readouterr()
    code = main([*args, "--kubeconfig", str(kubeconfig), "-n", ns])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


WORDS = [
    ("configmaps", "configmap", "cm"),
    ("secrets", "secret"),
    ("persistentvolumeclaims", "persistentvolumeclaim", "pvc"),
    ("persistentvolumes", "persistentvolume", "pv"),
    ("storageclasses", "storageclass", "sc", "storageclasses.storage.k8s.io"),
    ("jobs", "job", "jobs.batch"),
    ("cronjobs", "cronjob", "cj"),
    ("daemonsets", "daemonset", "ds"),
    ("statefulsets", "statefulset", "sts"),
    ("controllerrevisions", "controllerrevision", "controllerrevisions.apps"),
]


@pytest.mark.parametrize("words", WORDS, ids=[w[0] for w in WORDS])
def test_each_kind_by_every_name_prints_kubectls_table(cluster, capsys, words):
    kubeconfig, ns, _ = cluster
    kubectl = Kubectl(kubeconfig)
    theirs = kubectl("get", words[0], "-n", ns)
    assert len(theirs.splitlines()) >= 2, theirs  # the object is listed
    for word in words:
        assert cells(navctl(capsys, kubeconfig, ns, "get", word)) == cells(theirs), word
    wide = ("get", words[-1], "-o", "wide")
    assert cells(navctl(capsys, kubeconfig, ns, *wide)) == cells(kubectl(*wide, "-n", ns))


def test_get_all_lists_kubectls_kinds(cluster, capsys):
    kubeconfig, ns, _ = cluster
    ours = navctl(capsys, kubeconfig, ns, "get", "all")
    assert cells(ours) == cells(Kubectl(kubeconfig)("get", "all", "-n", ns))
    named = [line.split()[0] for line in ours.splitlines() if "/" in line.split(" ")[0]]
    assert named == [
        "daemonset.apps/agent",
        "statefulset.apps/db",
        "cronjob.batch/tick",
        "job.batch/once",
    ]


def test_several_kinds_and_names_at_once(cluster, capsys):
    kubeconfig, ns, _ = cluster
    for args in (
        ("get", "cm,secret,pvc"),
        ("get", "cm/settings", "secret/creds", "ds/agent"),
        ("get", "cj", "tick", "-o", "name"),
    ):
        ours = navctl(capsys, kubeconfig, ns, *args)
        assert cells(ours) == cells(Kubectl(kubeconfig)(*args, "-n", ns)), args
