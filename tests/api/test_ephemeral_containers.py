"""The pods/ephemeralcontainers subresource (issue 21 item 6): kubectl debug adds an
ephemeral container with a strategic-merge PATCH there; Kubernetes' rules hold (none on
create, no ports/probes/resources, names unique, existing ones never changed or
removed, the rest of the pod untouched)."""

from __future__ import annotations

import http.client as httplib
import json
import shutil
import ssl
import subprocess
from typing import Any

import orjson
import pytest

from navarch.client.kubeconfig import load_kubeconfig

IMAGE = "127.0.0.1:5000/busybox:1"
PODS = "/api/v1/namespaces/default/pods"
STRATEGIC = "application/strategic-merge-patch+json"


@pytest.fixture(scope="module")
def kubectl(api_server):
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.fail("kubectl is not installed on this machine; these tests need it")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [binary, "--kubeconfig", str(api_server.kubeconfig), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


@pytest.fixture(scope="module")
def http(api_server):
    config = load_kubeconfig(api_server.kubeconfig)
    assert config.ca_data is not None
    context = ssl.create_default_context(cadata=config.ca_data.decode())

    def call(
        method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> tuple[int, dict[str, Any]]:
        connection = httplib.HTTPSConnection("127.0.0.1", api_server.port, context=context)
        try:
            headers = {"Authorization": f"Bearer {config.token}", "Content-Type": content_type}
            data = orjson.dumps(body) if body is not None else None
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            return response.status, orjson.loads(response.read())
        finally:
            connection.close()

    return call


def _pod(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": IMAGE}], **spec},
    }


def _debugger(name: str = "debugger", **fields: Any) -> dict[str, Any]:
    return {"name": name, "image": IMAGE, "command": ["sh"], **fields}


def _add(http, pod: str, *containers: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    patch = {"spec": {"ephemeralContainers": list(containers)}}
    return http("PATCH", f"{PODS}/{pod}/ephemeralcontainers", patch, STRATEGIC)


def _causes(answer: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["field"], c["reason"]) for c in answer["details"]["causes"]]


def test_kubectl_debug_adds_an_ephemeral_container_targeting_one(kubectl):
    assert kubectl("run", "web", f"--image={IMAGE}", "--", "sleep", "3600").returncode == 0
    debug = kubectl("debug", "web", f"--image={IMAGE}", "--target=web", "--", "sh")
    assert debug.returncode == 0, debug.stderr
    assert "panic" not in debug.stderr
    pod = json.loads(kubectl("get", "pod", "web", "-o", "json").stdout)
    [added] = pod["spec"]["ephemeralContainers"]
    assert added["targetContainerName"] == "web" and added["image"] == IMAGE
    assert added["command"] == ["sh"] and added["name"].startswith("debugger-")
    # A missing pod is a plain NotFound (kubectl read details.name and panicked).
    ghost = kubectl("debug", "ghost", f"--image={IMAGE}")
    assert ghost.returncode == 1 and 'pods "ghost" not found' in ghost.stderr, ghost.stderr


def test_get_and_put_through_the_subresource(http):
    assert http("POST", PODS, _pod("put-1"))[0] == 201
    status, pod = http("GET", f"{PODS}/put-1/ephemeralcontainers")
    assert (status, pod["kind"], pod["metadata"]["name"]) == (200, "Pod", "put-1")
    pod["spec"]["ephemeralContainers"] = [_debugger()]
    pod["spec"]["containers"][0]["image"] = "127.0.0.1:5000/other:2"  # not this subresource's
    status, written = http("PUT", f"{PODS}/put-1/ephemeralcontainers", pod)
    assert status == 200, written
    assert [c["name"] for c in written["spec"]["ephemeralContainers"]] == ["debugger"]
    assert written["spec"]["containers"][0]["image"] == IMAGE


def test_a_pod_is_not_created_with_ephemeral_containers(http):
    status, answer = http("POST", PODS, _pod("born-with", ephemeralContainers=[_debugger()]))
    assert status == 422, answer
    assert _causes(answer) == [("spec.ephemeralContainers", "FieldValueForbidden")]
    assert "cannot be set on create" in answer["message"]


def test_ephemeral_container_fields_kubernetes_refuses(http):
    assert http("POST", PODS, _pod("rules"))[0] == 201
    status, answer = _add(
        http,
        "rules",
        _debugger(
            ports=[{"containerPort": 80}],
            readinessProbe={"exec": {"command": ["true"]}},
            resources={"limits": {"cpu": "1"}},
        ),
    )
    assert status == 422, answer
    assert _causes(answer) == [
        ("spec.ephemeralContainers[0].ports", "FieldValueForbidden"),
        ("spec.ephemeralContainers[0].resources", "FieldValueForbidden"),
        ("spec.ephemeralContainers[0].readinessProbe", "FieldValueForbidden"),
    ]
    status, answer = _add(http, "rules", _debugger(targetContainerName="nope"))
    assert status == 422
    assert _causes(answer) == [
        ("spec.ephemeralContainers[0].targetContainerName", "FieldValueNotFound")
    ]
    status, answer = _add(http, "rules", _debugger(name="app"))  # a container's name
    assert status == 422
    assert _causes(answer) == [("spec.ephemeralContainers[0].name", "FieldValueDuplicate")]


def test_existing_ephemeral_containers_are_never_changed_or_removed(http):
    assert http("POST", PODS, _pod("kept"))[0] == 201
    assert _add(http, "kept", _debugger("one"))[0] == 200
    status, pod = _add(http, "kept", _debugger("two"))  # merged by name: one is kept
    assert status == 200
    assert [c["name"] for c in pod["spec"]["ephemeralContainers"]] == ["one", "two"]

    status, answer = _add(http, "kept", _debugger("one", command=["top"]))
    assert status == 422
    assert 'existing ephemeral containers "one" may not be changed' in answer["message"]

    pod["spec"]["ephemeralContainers"] = [_debugger("two")]
    status, answer = http("PUT", f"{PODS}/kept/ephemeralcontainers", pod)
    assert status == 422
    assert 'existing ephemeral containers "one" may not be removed' in answer["message"]

    # Nor through the pod itself: its spec is fixed but for images.
    status, current = http("GET", f"{PODS}/kept")
    current["spec"]["ephemeralContainers"] = current["spec"]["ephemeralContainers"][:1]
    status, answer = http("PUT", f"{PODS}/kept", current)
    assert status == 422 and answer["reason"] == "Invalid"


def test_discovery_lists_the_subresource(kubectl):
    out = kubectl("get", "--raw", "/api/v1").stdout
    [entry] = [r for r in json.loads(out)["resources"] if r["name"] == "pods/ephemeralcontainers"]
    assert (entry["kind"], sorted(entry["verbs"])) == ("Pod", ["get", "patch", "update"])
