"""The official ``kubernetes`` Python client against a Navarch API server."""

from __future__ import annotations

import threading

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException


@pytest.fixture(scope="module")
def k8s(api_server):
    api_client = config.new_client_from_config(config_file=str(api_server.kubeconfig))
    yield api_client
    api_client.close()


def _pod(name: str, labels: dict[str, str] | None = None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": "k8s-client"}},
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": "127.0.0.1:5000/busybox:1",
                    "command": ["sleep", "3600"],
                    "resources": {"requests": {"cpu": "100m", "memory": "16Mi"}},
                }
            ]
        },
    }


def test_pods_create_list_patch_watch_delete(k8s):
    core = client.CoreV1Api(k8s)
    created = core.create_namespaced_pod("default", _pod("py-1"))
    assert created.metadata.uid and created.metadata.resource_version
    assert created.spec.containers[0].resources.requests["cpu"] == "100m"
    assert created.status.phase == "Pending"

    listed = core.list_namespaced_pod("default", label_selector="app=k8s-client")
    assert [p.metadata.name for p in listed.items] == ["py-1"]

    patched = core.patch_namespaced_pod("py-1", "default", {"metadata": {"labels": {"tier": "x"}}})
    assert patched.metadata.labels == {"app": "k8s-client", "tier": "x"}

    events = []
    stream = watch.Watch()

    def later():
        core.create_namespaced_pod("default", _pod("py-2"))
        core.delete_namespaced_pod("py-2", "default")

    timer = threading.Timer(1.0, later)
    timer.start()
    for event in stream.stream(
        core.list_namespaced_pod,
        "default",
        timeout_seconds=5,
        resource_version=listed.metadata.resource_version,
    ):
        events.append((event["type"], event["object"].metadata.name))
        if len(events) == 3:
            stream.stop()
    timer.join()
    assert events == [("MODIFIED", "py-1"), ("ADDED", "py-2"), ("DELETED", "py-2")]

    core.delete_namespaced_pod("py-1", "default")
    with pytest.raises(ApiException) as info:
        core.read_namespaced_pod("py-1", "default")
    assert info.value.status == 404


def test_deployments_create_list_patch_scale_delete(k8s):
    apps = client.AppsV1Api(k8s)
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "py-web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "py-web"}},
            "template": {
                "metadata": {"labels": {"app": "py-web"}},
                "spec": {"containers": [{"name": "web", "image": "127.0.0.1:5000/web:1"}]},
            },
        },
    }
    created = apps.create_namespaced_deployment("default", body)
    assert created.spec.strategy.type == "RollingUpdate"
    assert created.spec.revision_history_limit == 10
    assert [d.metadata.name for d in apps.list_namespaced_deployment("default").items] == ["py-web"]

    patched = apps.patch_namespaced_deployment(
        "py-web",
        "default",
        {
            "spec": {
                "template": {
                    "spec": {"containers": [{"name": "web", "image": "127.0.0.1:5000/web:2"}]}
                }
            }
        },
    )
    assert patched.spec.template.spec.containers[0].image == "127.0.0.1:5000/web:2"
    assert patched.metadata.generation == 2

    scale = apps.patch_namespaced_deployment_scale("py-web", "default", {"spec": {"replicas": 4}})
    assert scale.spec.replicas == 4
    assert apps.read_namespaced_deployment("py-web", "default").spec.replicas == 4

    with pytest.raises(ApiException) as info:
        apps.create_namespaced_deployment("default", body)
    assert info.value.status == 409

    apps.delete_namespaced_deployment("py-web", "default")
    assert apps.list_namespaced_deployment("default").items == []


def test_invalid_object_is_422_with_causes(k8s):
    core = client.CoreV1Api(k8s)
    bad = _pod("py-bad")
    bad["spec"]["containers"][0]["image"] = ""
    with pytest.raises(ApiException) as info:
        core.create_namespaced_pod("default", bad)
    assert info.value.status == 422
    assert '"field":"spec.containers[0].image"' in info.value.body.replace(" ", "")
