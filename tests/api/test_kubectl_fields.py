"""Issue 8 items 15, 20 and 13 with the real kubectl: strict validation of the whole
PodSpec, "ignored field" warnings only for values other than Kubernetes' defaults, and
re-sending an unchanged pod."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest


@pytest.fixture(scope="module")
def kubectl(api_server):
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.fail("kubectl is not installed on this machine; the compatibility tests need it")

    def run(*args: str, stdin: str | None = None, check: bool = True):
        result = subprocess.run(
            [binary, "--kubeconfig", str(api_server.kubeconfig), *args],
            capture_output=True,
            text=True,
            timeout=60,
            input=stdin,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result

    return run


def test_kubectl_run_draws_no_ignored_field_warning(kubectl):
    result = kubectl("run", "quiet", "--image=127.0.0.1:5000/web:1")
    assert "pod/quiet created" in result.stdout
    assert "Warning" not in result.stderr, result.stderr


def test_non_default_ignored_fields_are_warned_about(kubectl):
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "loud"},
        "spec": {
            "dnsPolicy": "Default",  # acted on (the pod's resolv.conf)
            "shareProcessNamespace": True,
            "containers": [
                {
                    "name": "web",
                    "image": "web:1",
                    "securityContext": {"runAsUser": 1000},
                    "terminationMessagePolicy": "File",
                }
            ],
        },
    }
    result = kubectl("create", "-f", "-", stdin=json.dumps(pod))
    assert "ignored field spec.shareProcessNamespace" in result.stderr
    assert "dnsPolicy" not in result.stderr
    assert "ignored field spec.containers[0].securityContext" in result.stderr
    assert "terminationMessagePolicy" not in result.stderr


@pytest.mark.parametrize(
    ("container_fields", "spec_fields", "path"),
    [
        (
            {"livenessProbe": {"httpGett": {"port": 80}}},
            {},
            "spec.containers[0].livenessProbe.httpGett",
        ),
        ({}, {"volumes": [{"name": "v", "emptyDirr": {}}]}, "spec.volumes[0].emptyDirr"),
        (
            {"volumeMounts": [{"name": "nope", "mountPath": "/x"}]},
            {},
            "spec.containers[0].volumeMounts[0].name",
        ),
        ({}, {"initContainers": [{"name": "init"}]}, "spec.initContainers[0].image"),
    ],
)
def test_invalid_kept_fields_are_refused_with_their_path(
    kubectl, container_fields, spec_fields, path
):
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bad"},
        "spec": {
            "containers": [{"name": "web", "image": "web:1", **container_fields}],
            **spec_fields,
        },
    }
    result = kubectl("create", "-f", "-", stdin=json.dumps(pod), check=False)
    assert result.returncode != 0
    assert path in result.stderr, result.stderr


def test_replacing_an_unchanged_pod_manifest_is_accepted(kubectl):
    manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "same"},
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "image": "web:1",
                    "resources": {"limits": {"cpu": "0.5", "example.com/dongle": 3}},
                }
            ]
        },
    }
    kubectl("create", "-f", "-", stdin=json.dumps(manifest))
    replaced = kubectl("replace", "-f", "-", stdin=json.dumps(manifest), check=False)
    assert replaced.returncode == 0, replaced.stderr
    applied = kubectl("apply", "-f", "-", stdin=json.dumps(manifest), check=False)
    assert applied.returncode == 0, applied.stderr


DONGLE_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "dongle"},
    "spec": {
        "containers": [
            {
                "name": "web",
                "image": "127.0.0.1:5000/web:1",
                "resources": {"limits": {"cpu": "0.5", "example.com/dongle": 3}},
            }
        ]
    },
}


def test_reapplying_an_unchanged_pod_with_a_numeric_quantity(kubectl):
    kubectl("apply", "-f", "-", stdin=json.dumps(DONGLE_POD))
    again = kubectl("apply", "-f", "-", stdin=json.dumps(DONGLE_POD), check=False)
    assert again.returncode == 0, again.stderr
    assert "unchanged" in again.stdout or "configured" in again.stdout, again.stdout


def test_patching_a_quantity_to_the_same_value_in_another_form(kubectl):
    kubectl("apply", "-f", "-", stdin=json.dumps({**DONGLE_POD, "metadata": {"name": "milli"}}))
    patch = {"spec": {"containers": [{"name": "web", "resources": {"limits": {"cpu": "500m"}}}]}}
    patched = kubectl("patch", "pod", "milli", "-p", json.dumps(patch), check=False)
    assert patched.returncode == 0, patched.stderr


def _generation(kubectl, name: str) -> int:
    obj = json.loads(kubectl("get", "deployment", name, "-o", "json").stdout)
    return obj["metadata"]["generation"]


def test_replacing_or_reapplying_an_unchanged_deployment_keeps_its_generation(kubectl):
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "steady"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "steady"}},
            # Recreate with kubectl apply sends $retainKeys in its patch.
            "strategy": {"type": "Recreate"},
            "template": {
                "metadata": {"labels": {"app": "steady"}},
                "spec": {"containers": [{"name": "web", "image": "127.0.0.1:5000/web:1"}]},
            },
        },
    }
    text = json.dumps(deployment)
    kubectl("apply", "-f", "-", stdin=text)
    assert _generation(kubectl, "steady") == 1
    kubectl("replace", "-f", "-", stdin=text)
    kubectl("apply", "-f", "-", stdin=text)
    kubectl("apply", "-f", "-", stdin=text)
    assert _generation(kubectl, "steady") == 1
    changed = json.loads(text)
    changed["spec"]["replicas"] = 3
    kubectl("apply", "-f", "-", stdin=json.dumps(changed))
    assert _generation(kubectl, "steady") == 2


UNKNOWN_FIELD_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "typo"},
    "spec": {"containers": [{"name": "web", "image": "127.0.0.1:5000/web:1", "imagez": "x"}]},
}


def test_validate_modes_strict_warn_and_false(kubectl):
    text = json.dumps(UNKNOWN_FIELD_POD)
    strict = kubectl("create", "-f", "-", stdin=text, check=False)
    assert strict.returncode != 0 and 'unknown field "imagez"' in strict.stderr, strict.stderr
    warned = kubectl("create", "--validate=warn", "-f", "-", stdin=text, check=False)
    assert warned.returncode == 0, warned.stderr
    assert 'unknown field "spec.containers[0].imagez"' in warned.stderr, warned.stderr
    ignored = kubectl(
        "create",
        "--validate=false",
        "-f",
        "-",
        stdin=json.dumps({**UNKNOWN_FIELD_POD, "metadata": {"name": "typo-2"}}),
        check=False,
    )
    assert ignored.returncode == 0 and "imagez" not in ignored.stderr, ignored.stderr
    stored = json.loads(kubectl("get", "pod", "typo", "-o", "json").stdout)
    assert "imagez" not in stored["spec"]["containers"][0]


def test_diff_after_create_is_empty(kubectl):
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "quiet-lease", "namespace": "default"},
        "spec": {"holderIdentity": "me", "leaseDurationSeconds": 30},
    }
    kubectl("create", "-f", "-", stdin=json.dumps(lease))
    diff = kubectl("diff", "-f", "-", stdin=json.dumps(lease), check=False)
    assert diff.returncode == 0, diff.stdout + diff.stderr
    stored = json.loads(kubectl("get", "lease", "quiet-lease", "-o", "json").stdout)
    assert "annotations" not in stored["metadata"] and "labels" not in stored["metadata"]


def test_no_warning_about_stored_fields_the_request_did_not_send(kubectl):
    probes = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "probed"},
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "image": "127.0.0.1:5000/web:1",
                    "securityContext": {"runAsUser": 1000},
                }
            ]
        },
    }
    created = kubectl("create", "-f", "-", stdin=json.dumps(probes))
    assert "ignored field" in created.stderr  # the request sent one: said once
    annotated = kubectl("annotate", "pod", "probed", "note=hi")
    assert "ignored field" not in annotated.stderr, annotated.stderr
