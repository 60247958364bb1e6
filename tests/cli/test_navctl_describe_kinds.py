"""``navctl describe`` of issue 23's kinds (item 9) prints what the real kubectl prints
for the same objects on the same API server, line for line: ConfigMaps (text and
binary data), Secrets (sizes, never values), Jobs, CronJobs, DaemonSets, StatefulSets,
PersistentVolumes, PersistentVolumeClaims and StorageClasses, each with its Events.

No controllers run: the test writes the status fields and Events a controller would,
dated days back so that every age printed stays the same between the two tools' runs.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from navarch.cli.navctl import main
from navarch.testing.cluster import Kubectl

IMAGE = "127.0.0.1:5000/busybox:1"
SECRET_VALUE = "s3cret-value-never-shown"
LONG_AGO = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)


def stamp(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def template(app: str, restart: str = "Always") -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": app, "tier": "back"}, "annotations": {"team": "a"}},
        "spec": {
            "restartPolicy": restart,
            "nodeSelector": {"disk": "ssd"},
            "containers": [
                {
                    "name": "main",
                    "image": IMAGE,
                    # a script of several lines: kubectl indents each line
                    "command": ["sh", "-c", "trap 'exit 0' TERM\nsleep 1 &\nwait\n"],
                    "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}],
                    "resources": {
                        "limits": {"memory": "200Mi"},
                        "requests": {"memory": "200Mi", "cpu": "100m"},
                    },
                    "envFrom": [
                        {"configMapRef": {"name": "settings"}, "prefix": "APP_"},
                        {"secretRef": {"name": "creds", "optional": True}},
                    ],
                    "env": [
                        {"name": "MODE", "value": "fast"},
                        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                        {
                            "name": "MEM",
                            "valueFrom": {
                                "resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}
                            },
                        },
                        {
                            "name": "PASSWORD",
                            "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}},
                        },
                        {
                            "name": "COLOR",
                            "valueFrom": {
                                "configMapKeyRef": {
                                    "name": "settings",
                                    "key": "mode",
                                    "optional": True,
                                }
                            },
                        },
                    ],
                    "volumeMounts": [{"name": "conf", "mountPath": "/etc/conf"}],
                }
            ],
            "volumes": [
                {"name": "conf", "configMap": {"name": "settings"}},
                {"name": "creds", "secret": {"secretName": "creds", "optional": True}},
                {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
                {"name": "host", "hostPath": {"path": "/var/log", "type": "Directory"}},
                {"name": "untyped", "hostPath": {"path": "/srv"}},
            ],
        },
    }


def objects(suffix: str) -> list[dict[str, Any]]:
    klass = f"local-{suffix}"
    return [
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "settings", "labels": {"app": "web", "env": "prod"},
                      "annotations": {"note": "x" * 150, "short": "yes"}},
         "data": {"app.properties": "color=blue\nsize=3\n", "mode": "fast"},
         "binaryData": {"blob": base64.b64encode(b"\xff\x00\x01").decode()}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
         "type": "kubernetes.io/basic-auth",
         "stringData": {"username": "admin", "password": SECRET_VALUE}},
        {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
         "metadata": {"name": klass,
                      "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
         "provisioner": "rancher.io/local-path", "parameters": {"path": "/opt"},
         "mountOptions": ["noatime"], "allowVolumeExpansion": True,
         "reclaimPolicy": "Retain", "volumeBindingMode": "WaitForFirstConsumer"},
        {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": f"pv-{suffix}"},
         "spec": {"capacity": {"storage": "2Gi"},
                  "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
                  "storageClassName": klass, "local": {"path": "/opt/pv"},
                  "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                      {"key": "kubernetes.io/hostname", "operator": "In",
                       "values": ["node-1", "node-2"]},
                      {"key": "disk", "operator": "Exists"}]}]}}}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
         "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": klass,
                  "resources": {"requests": {"storage": "1Gi"}}}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "user"},
         "spec": {"containers": [{"name": "main", "image": IMAGE}],
                  "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]}},
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"},
         "spec": {"completions": 4, "parallelism": 2, "completionMode": "Indexed",
                  "backoffLimit": 3, "activeDeadlineSeconds": 600,
                  "ttlSecondsAfterFinished": 100, "template": template("once", "Never")}},
        {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick"},
         "spec": {"schedule": "*/5 * * * *", "concurrencyPolicy": "Forbid",
                  "startingDeadlineSeconds": 30, "suspend": True,
                  "jobTemplate": {"spec": {"parallelism": 2, "activeDeadlineSeconds": 60,
                                           "template": template("tick", "OnFailure")}}}},
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
         "spec": {"selector": {"matchLabels": {"app": "agent"}, "matchExpressions": [
                      {"key": "tier", "operator": "In", "values": ["back", "api"]}]},
                  "template": template("agent")}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
         "spec": {"replicas": 3, "serviceName": "db",
                  "selector": {"matchLabels": {"app": "db"}}, "template": template("db"),
                  "updateStrategy": {"type": "RollingUpdate",
                                     "rollingUpdate": {"partition": 1}},
                  "volumeClaimTemplates": [{"metadata": {"name": "data", "labels": {"a": "b"}},
                                            "spec": {"accessModes": ["ReadWriteOnce"],
                                                     "storageClassName": klass,
                                                     "resources": {"requests":
                                                                   {"storage": "1Gi"}}}}]}},
    ]  # fmt: skip


STATUSES = {
    ("job", "once"): {
        "startTime": stamp(LONG_AGO),
        "completionTime": stamp(LONG_AGO + dt.timedelta(minutes=3, seconds=20)),
        "active": 1,
        "succeeded": 3,
        "failed": 1,
        "ready": 1,
        "completedIndexes": "0-2",
    },
    ("cronjob", "tick"): {
        "lastScheduleTime": stamp(LONG_AGO),
        "active": [{"kind": "Job", "name": "tick-1", "namespace": "x", "apiVersion": "batch/v1"}],
    },
    ("daemonset", "agent"): {
        "desiredNumberScheduled": 3,
        "currentNumberScheduled": 3,
        "updatedNumberScheduled": 2,
        "numberAvailable": 2,
        "numberMisscheduled": 0,
        "numberReady": 2,
    },
    ("statefulset", "db"): {"replicas": 2, "readyReplicas": 1},
    ("persistentvolumeclaim", "data"): {
        "phase": "Bound",
        "capacity": {"storage": "2Gi"},
        "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
    },
}


@pytest.fixture(scope="module")
def described(api_server, tmp_path_factory) -> tuple[Path, str, str]:
    """The server with one of each kind, their statuses and an Event about each."""
    suffix = uuid.uuid4().hex[:6]
    ns = f"describe-{suffix}"
    kubectl = Kubectl(api_server.kubeconfig)
    kubectl("create", "namespace", ns)
    folder = tmp_path_factory.mktemp("describe")
    (folder / "kinds.yaml").write_text(yaml.safe_dump_all(objects(suffix)))
    kubectl("apply", "-f", str(folder / "kinds.yaml"), "-n", ns)
    for (kind, name), status in STATUSES.items():
        kubectl(
            "patch", kind, name, "-n", ns, "--subresource=status", "--type=merge",
            "-p", json.dumps({"status": status}),
        )  # fmt: skip
    # bound: the claim names the volume, the volume the claim
    kubectl("patch", "pvc", "data", "-n", ns, "--type=merge",
            "-p", json.dumps({"spec": {"volumeName": f"pv-{suffix}"}}))  # fmt: skip
    kubectl("patch", "pv", f"pv-{suffix}", "--type=merge", "-p", json.dumps(
        {"spec": {"claimRef": {"namespace": ns, "name": "data", "kind": "PersistentVolumeClaim"}}}
    ))  # fmt: skip
    events = []
    for number, target in enumerate(
        [
            ("v1", "ConfigMap", "configmap", "settings"),
            ("batch/v1", "Job", "job", "once"),
            ("batch/v1", "CronJob", "cronjob", "tick"),
            ("apps/v1", "DaemonSet", "daemonset", "agent"),
            ("apps/v1", "StatefulSet", "statefulset", "db"),
            ("v1", "PersistentVolumeClaim", "pvc", "data"),
            ("v1", "PersistentVolume", "pv", f"pv-{suffix}"),
            ("storage.k8s.io/v1", "StorageClass", "sc", f"local-{suffix}"),
        ]
    ):
        api_version, kind, word, name = target
        uid = json.loads(kubectl("get", word, name, "-n", ns, "-o", "json"))["metadata"]["uid"]
        namespaced = kind not in ("PersistentVolume", "StorageClass")
        for repeat, (reason, count) in enumerate((("Created", 1), ("Retried", 4))):
            events.append(
                {
                    "apiVersion": "v1",
                    "kind": "Event",
                    "metadata": {"name": f"e{number}-{repeat}"},
                    "involvedObject": {
                        "apiVersion": api_version,
                        "kind": kind,
                        "name": name,
                        "uid": uid,
                        **({"namespace": ns} if namespaced else {}),
                    },
                    "reason": reason,
                    "message": f"{reason} {name}  ",
                    "type": "Normal" if count == 1 else "Warning",
                    "source": {"component": f"{word}-controller"},
                    "count": count,
                    "firstTimestamp": stamp(LONG_AGO - dt.timedelta(days=2)),
                    "lastTimestamp": stamp(LONG_AGO + dt.timedelta(hours=repeat)),
                }
            )
    (folder / "events.yaml").write_text(yaml.safe_dump_all(events))
    kubectl("create", "-f", str(folder / "events.yaml"), "-n", ns)
    return api_server.kubeconfig, ns, suffix


def data_unordered(text: str) -> list[str]:
    """The description's lines, those of each Data and BinaryData section sorted:
    kubectl walks those maps in Go's random order (navctl sorts the keys)."""
    out: list[str] = []
    section: list[str] | None = None
    for line in text.split("\n"):
        if line in ("Data", "BinaryData") or line.startswith("Events:"):
            out += sorted(section or [])
            section = [] if line in ("Data", "BinaryData") else None
            out.append(line)
        elif section is not None:
            section.append(line)
        else:
            out.append(line)
    return out + sorted(section or [])


def navctl(capsys, kubeconfig: Path, ns: str, *args: str) -> str:
    capsys.readouterr()
    code = main([*args, "--kubeconfig", str(kubeconfig), "-n", ns])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


@pytest.mark.parametrize(
    "target",
    [
        "configmap/settings",
        "cm/settings",
        "secret/creds",
        "job/once",
        "cronjob/tick",
        "daemonset/agent",
        "statefulset/db",
        "pvc/data",
        "pv/pv-{suffix}",
        "sc/local-{suffix}",
    ],
)
def test_describe_prints_what_kubectl_prints(described, capsys, target):
    kubeconfig, ns, suffix = described
    target = target.format(suffix=suffix)
    ours = navctl(capsys, kubeconfig, ns, "describe", target)
    theirs = Kubectl(kubeconfig)("describe", target, "-n", ns)
    assert data_unordered(ours) == data_unordered(theirs)
    if not target.startswith("secret"):
        assert "Events:\n  Type     Reason   Age" in ours  # the events were found


def test_describe_secret_shows_sizes_never_values(described, capsys):
    kubeconfig, ns, _ = described
    out = navctl(capsys, kubeconfig, ns, "describe", "secret", "creds")
    assert SECRET_VALUE not in out and "admin" not in out
    assert f"password:  {len(SECRET_VALUE)} bytes" in out


def test_describe_every_object_of_a_kind(described, capsys):
    kubeconfig, ns, _ = described
    ours = navctl(capsys, kubeconfig, ns, "describe", "cm")
    assert data_unordered(ours) == data_unordered(Kubectl(kubeconfig)("describe", "cm", "-n", ns))
    assert ours.index("app.properties:") < ours.index("mode:")  # navctl's keys: sorted
